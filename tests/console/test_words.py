"""Issue 23 item 16: the console speaks its own language: field labels instead of CLI options,
no raw names, activity rows naming the key and value they changed, and plain help words."""

from __future__ import annotations

import pytest

from svcconsole.core import records
from svcconsole.widgets.help import HelpScreen
from tests.conftest import new_service
from tests.console.conftest import make_app, settle

pytestmark = pytest.mark.anyio


async def test_a_bad_value_names_the_field_as_the_console_labels_it(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    new_service(db, admin, catalog, name="web", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("plus")
        await settle(pilot)
        dialog = app.screen
        dialog.query_one("#days").value = "0"
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert app.screen is dialog
        shown = str(dialog.query_one("#dialog-error").render())
        assert "Days: 0 is too small" in shown and "--days" not in shown, shown


async def test_activity_rows_name_the_key_and_value_of_metadata_and_overrides(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    target = new_service(db, admin, catalog, name="web", status="active")
    db.transaction(lambda session: records.meta_set(session, admin, target, "max_renewals", "3"))
    db.transaction(lambda session: records.edit_service(session, admin, target, {"status": "suspended"}, reason="chargeback"))
    app = make_app(db, admin)
    async with app.run_test(size=(160, 35)) as pilot:
        await settle(pilot)
        app.open_service(target)
        await settle(pilot)
        table = app.screen.query_one("#activity-table")
        actions = [str(table.get_row_at(row)[2]) for row in range(table.row_count)]
        assert "metadata set: max_renewals = 3" in actions, actions
        override = next(action for action in actions if action.startswith("status override"))
        assert override.startswith("status override: active → suspended; "), override
        assert override.endswith("…"), "a long action ends with an ellipsis"
        table.move_cursor(row=actions.index(override))
        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        from svcconsole.console.screens.full_text import FullTextDialog

        assert isinstance(app.screen, FullTextDialog)
        whole = " ".join(str(widget.render()) for widget in app.screen.query(".full-text-section"))
        assert "Suspend kind - → admin" in whole and "Suspend reason - → chargeback" in whole
        assert not any("meta_set" in action or "status_override" in action for action in actions), actions


async def test_the_help_and_dialogs_speak_plainly(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    from svcconsole.console.actions import REGISTRY, SCOPES
    from svcconsole.widgets.help import help_table
    from tests.console.test_screens import plain

    new_service(db, admin, catalog, name="web", status="active")
    text = plain(help_table(REGISTRY, SCOPES))
    assert "the this service" not in text and "registry" not in text
    assert "applied to this service" in text
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        assert "closes" in str(app.screen.query_one("#help-title").render())
        await pilot.press("escape")
        await pilot.press("c")
        await settle(pilot)
        shown = " ".join(str(widget.render()) for widget in app.screen.query("Static"))
        assert "cancel_at" not in shown and "= expiry" not in shown
