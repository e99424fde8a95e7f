"""Issue 23's consistency, keys and words items, tried with the keys an admin would press."""

from __future__ import annotations

import pytest

from tests.conftest import new_service
from tests.console.conftest import make_app, settle

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


async def test_enter_moves_to_the_next_field_and_runs_the_action_only_from_the_last(db, admin, catalog, frozen):
    from textual.widgets import Button, Select
    from textual.widgets._select import SelectCurrent

    from svcconsole.console.screens.dialogs import ActionDialog
    from svcconsole.core import lookups

    target = new_service(db, admin, catalog, name="web", status="active")

    def status() -> str:
        with db.read() as session:
            return lookups.get_service(session, target).status

    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ActionDialog) and dialog.focused.id == "kind"
        kind = dialog.query_one("#kind", Select)
        focused_look = kind.query_one(SelectCurrent).styles.background
        await pilot.press("enter")
        await settle(pilot)
        assert not kind.expanded, "enter opened the dropdown"
        assert dialog.focused.id == "reason"
        assert kind.query_one(SelectCurrent).styles.background != focused_look, "a focused dropdown looks like an unfocused one"
        await pilot.press(*"maintenance", "enter")
        await settle(pilot)
        assert dialog.focused.id == "notify" and app.screen is dialog and status() == "active"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is not dialog and status() == "suspended"

        await pilot.press("r")
        await settle(pilot)
        renew = app.screen
        assert renew.focused.id == "cycles"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is renew and renew.focused.id != "cycles", "enter in cycles ran the renewal"
        await pilot.press("escape")
        await settle(pilot)

        await pilot.press("t")
        await settle(pilot)
        terminate = app.screen
        assert terminate.focused.id == "reason"
        assert {str(button.label) for button in terminate.query(Button)} == {"Back", "Terminate"}
        await pilot.press("enter")
        assert terminate.focused.id == "confirm"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is terminate and "type terminate to confirm" in str(terminate.query_one("#dialog-error").render())
        await pilot.press(*"terminate", "enter")
        await settle(pilot)
        assert status() == "terminated"


async def test_the_dismiss_button_never_clashes_with_cancel_service(db, admin, catalog, frozen):
    from textual.widgets import Button

    new_service(db, admin, catalog, name="web", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert [str(button.label) for button in app.screen.query(Button)] == ["Back", "Cancel service"]
        assert app.screen.focused.id == "mode"
