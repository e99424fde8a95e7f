"""Issue 23's safety items: what an admin could do without meaning to, tried with the keys."""

from __future__ import annotations

import pytest
from textual import events

from svcconsole.core import services
from svcconsole.screens.dialogs import ActionDialog
from tests.conftest import new_service
from tests.console.conftest import make_app, notifications, settle

pytestmark = pytest.mark.anyio


def service_status(db, service_id: int) -> str:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return services.get_service(session, service_id).status


def shown_rows(screen) -> int:  # type: ignore[no-untyped-def]
    return screen.table.row_count


async def assert_nothing_can_be_marked_or_acted_on(pilot, screen) -> None:  # type: ignore[no-untyped-def]
    assert screen.filter_error is not None
    assert "'expird' is not a status" in str(screen.query_one("#filter-error").render())
    assert shown_rows(screen) == 0 and screen.total == 0
    await pilot.press("ctrl+a")
    await settle(pilot)
    assert not screen.marks
    for key in ("space", "s", "t", "b"):
        await pilot.press(key)
        await settle(pilot)
        assert pilot.app.screen is screen, f"{key} opened {pilot.app.screen!r} under an invalid filter"
    assert screen.check_action("mark_all", ()) is False
    assert screen.check_action("service_action", ("suspend",)) is False


async def test_a_pasted_invalid_filter_shows_no_rows_and_allows_no_marks_or_actions(demo, admin):
    app = make_app(demo, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert shown_rows(screen) > 0
        await pilot.press("slash")
        screen.query_one("#filter").post_message(events.Paste("status:expird"))
        await pilot.press("enter")
        await pilot.press("ctrl+a")
        await settle(pilot)
        assert not screen.marks, "ctrl+a right after Enter marked the list the invalid filter left"
        await assert_nothing_can_be_marked_or_acted_on(pilot, screen)
        await pilot.press("slash", *["backspace"] * 2, *"ed", "enter")
        await settle(pilot)
        assert screen.filter_error is None and screen.total == shown_rows(screen)
        await pilot.press("ctrl+a")
        await settle(pilot)
        assert screen.marks.count == screen.total


async def test_a_slowly_typed_invalid_filter_shows_no_rows_and_allows_no_marks_or_actions(demo, admin):
    app = make_app(demo, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("slash")
        for key in "status:expird":
            await pilot.press(key)
            await pilot.pause(0.12)
        await pilot.press("enter")
        await settle(pilot)
        await assert_nothing_can_be_marked_or_acted_on(pilot, screen)


async def test_marks_made_under_another_filter_are_shown_as_such_and_not_acted_on(demo, admin):
    app = make_app(demo, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("space", "space")
        await settle(pilot)
        assert screen.marks.count == 2
        await pilot.press("slash")
        screen.query_one("#filter").post_message(events.Paste("status:expird"))
        await pilot.press("enter")
        await settle(pilot)
        assert "2 marked under another filter (actions off)" in str(screen.query_one("#statusline").render())
        await pilot.press("s")
        await settle(pilot)
        assert not isinstance(app.screen, ActionDialog)


@pytest.mark.parametrize("marked", [1, 2])
async def test_cancel_immediately_asks_for_the_typed_word_or_count_as_terminate_does(db, admin, catalog, frozen, marked):
    ids = [new_service(db, admin, catalog, name=f"web-{n}", status="active") for n in range(2)]
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        if marked > 1:
            await pilot.press("space", "space", "up")
            await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ActionDialog)
        assert not dialog.query_one("#confirm-fields").display, "end of cycle removes nothing: no typed word"
        dialog.query_one("#mode").value = "immediate"
        await settle(pilot)
        word = "cancel" if marked == 1 else "2"
        assert dialog.query_one("#confirm-fields").display
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert app.screen is dialog, "cancel immediately ran without the typed confirmation"
        assert f"type {word} to confirm" in str(dialog.query_one("#dialog-error").render())
        assert {service_status(db, service_id) for service_id in ids} == {"active"}
        dialog.query_one("#confirm").value = word
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert app.screen is not dialog
        await settle(pilot)
        assert [service_status(db, service_id) for service_id in ids[:marked]] == ["cancelled"] * marked
