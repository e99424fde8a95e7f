"""Issue 17 item 3 in the admin console: the service's overview shows the current billing
period's overage when its product meters a resource, and nothing about it otherwise."""

from __future__ import annotations

import pytest

from svcconsole.console.screens.detail import DetailScreen
from svcconsole.core import catalog as catalog_module
from svcconsole.core import usage
from tests.conftest import new_service
from tests.console.conftest import make_app, settle
from tests.console.test_detail_records import overview_line

pytestmark = pytest.mark.anyio


async def test_the_overview_shows_the_current_periods_overage(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    plain = new_service(db, admin, catalog, name="plain", status="active", expires="2026-11-25")
    db.transaction(lambda session: catalog_module.edit_product(session, admin, str(catalog.product_id), overages=["traffic_gb=100:0.05"]))
    metered = new_service(db, admin, catalog, name="metered", status="active", expires="2026-11-25")
    db.transaction(lambda session: usage.record(session, admin, metered, "traffic_gb", "130"))
    app = make_app(db, admin)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.open_service(metered)
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        assert overview_line(app.screen, "overage") == "overage 1.50 EUR (traffic_gb 130 of 100) this period (2026-10-25 to 2026-11-25)"
    db.transaction(lambda session: catalog_module.edit_product(session, admin, str(catalog.product_id), overages=["traffic_gb="]))
    app = make_app(db, admin)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.open_service(plain)
        await settle(pilot)
        with pytest.raises(AssertionError, match="no 'overage' line"):
            overview_line(app.screen, "overage")
