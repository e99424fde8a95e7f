"""Issue 23 items 15 and 14: a key that does not apply says why instead of doing nothing, the
read-only footers drop the action keys, and in the Options and Metadata fields `[` `]` and
escape behave as in the other tabs (escape leaves the field first)."""

from __future__ import annotations

import pytest

from tests.conftest import make_actor, new_service
from tests.console.conftest import make_app, notifications, settle

pytestmark = pytest.mark.anyio


async def test_a_service_action_that_does_not_apply_says_why(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    new_service(db, admin, catalog, name="web", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        said = [message for severity, message in notifications(app) if severity == "warning"]
        assert any("Unsuspend does not apply to an active service" in message and "suspended" in message for message in said), said


def footer_text(app) -> str:  # type: ignore[no-untyped-def]
    from textual.widgets._footer import FooterKey

    return " ".join(f"{key.key_display} {key.description}" for key in app.screen.query(FooterKey))


async def test_in_read_only_mode_the_footers_drop_the_action_keys_and_a_key_says_why(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    target = new_service(db, admin, catalog, name="web", status="active")
    viewer = make_actor(db, "vera", "viewer")
    app = make_app(db, viewer)
    async with app.run_test(size=(160, 35)) as pilot:
        await settle(pilot)
        shown = footer_text(app)
        assert "Suspend" not in shown and "Renew" not in shown and "Terminate" not in shown, shown
        await pilot.press("s")
        await settle(pilot)
        said = [message for _, message in notifications(app)]
        assert any("Suspend is off: vera is a viewer" in message for message in said), said
        app.open_service(target)
        await settle(pilot)
        shown = footer_text(app)
        assert "Suspend" not in shown and "Edit" not in shown and "Renew" not in shown, shown


async def test_in_the_detail_a_service_action_that_does_not_apply_says_why(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    target = new_service(db, admin, catalog, name="web", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        app.open_service(target)
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        said = [message for severity, message in notifications(app) if severity == "warning"]
        assert any("Unsuspend does not apply to an active service" in message for message in said), said


@pytest.mark.parametrize(("tab", "field", "table"), [("options", "#option-name", "#options-table"), ("metadata", "#meta-value", "#meta-table")])
async def test_in_a_field_of_options_and_metadata_brackets_change_tab_and_escape_leaves_the_field_first(db, admin, catalog, frozen, tab, field, table):  # type: ignore[no-untyped-def]
    from svcconsole.console.screens.detail import DetailScreen

    target = new_service(db, admin, catalog, name="web", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        app.open_service(target)
        await settle(pilot)
        screen = app.screen
        tabs = screen.query_one("#tabs")
        tabs.active = tab
        await settle(pilot)
        screen.query_one(field).focus()
        await pilot.press("a", "right_square_bracket")
        await settle(pilot)
        assert tabs.active != tab and screen.query_one(field).value == "a", "] was typed into the field"
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert tabs.active == tab
        screen.query_one(field).focus()
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen and isinstance(screen, DetailScreen), "escape left the detail from a field"
        assert screen.focused is screen.query_one(table)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is not screen
