"""Issue 23's consistency, keys and words items, tried with the keys an admin would press."""

from __future__ import annotations

import pytest

from tests.conftest import new_service
from tests.console.conftest import make_app, notifications, settle

pytestmark = pytest.mark.anyio


async def test_the_status_deleted_filter_lists_the_deleted_services(db, admin, catalog, frozen):
    new_service(db, admin, catalog, name="live", status="active")
    gone = new_service(db, admin, catalog, name="gone", status="deleted")
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.total == 1
        await pilot.press("slash", *"status:deleted", "enter")
        await settle(pilot)
        assert screen.filter_error is None
        assert screen.total == screen.table.row_count == 1
        assert (screen.table.window.row(0).id, screen.table.window.row(0).status) == (gone, "deleted")
        assert screen.query_one("#tabs").counts["all"] == 1
        await pilot.press("escape")
        await settle(pilot)
        assert screen.total == 1 and screen.table.window.row(0).status == "active"
