"""Issue 23's safety items: what an admin could do without meaning to, tried with the keys."""

from __future__ import annotations

import pytest
from sqlmodel import select
from textual import events

from svcconsole.console.screens.bulk import BulkRunScreen
from svcconsole.console.screens.dialogs import ActionDialog
from svcconsole.core import jobs, lookups, records
from svcconsole.modules.base import Module, ModuleError, ModuleResult, register, unregister
from svcconsole.store.models import Job
from tests.conftest import new_service
from tests.console.conftest import make_app, notifications, settle

pytestmark = pytest.mark.anyio


def service_status(db, service_id: int) -> str:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return lookups.get_service(session, service_id).status


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


class UnreachableModule(Module):
    """A module whose panel does not answer while `down` (a retryable error, as a refused connection is)."""

    name = "unreachable"
    label = "Unreachable"
    supports = frozenset({"suspend"})
    down = True

    def suspend(self, service):  # type: ignore[no-untyped-def]
        if UnreachableModule.down:
            raise ModuleError("connection refused by the panel at 127.0.0.1:9 " + "and the rest of a long error " * 6 + "END", retryable=True)
        return ModuleResult(message="suspended on the panel")


@pytest.fixture
def unreachable():  # type: ignore[no-untyped-def]
    register(UnreachableModule)
    UnreachableModule.down = True
    yield UnreachableModule
    unregister("unreachable")


def unreachable_services(db, admin, catalog, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    customer = str(catalog.customer_id)
    draft = lambda name: records.ServiceDraft(customer=customer, name=name, type="unreachable", price="5.00", cycle="monthly", external="ref")  # noqa: E731
    return [db.transaction(lambda session, name=name: records.import_service(session, admin, draft(name)).id) for name in (f"u{n}" for n in range(count))]


def bulk_rows(run) -> dict[int, tuple[str, str]]:  # type: ignore[no-untyped-def]
    from textual.widgets import DataTable

    table = run.query_one("#bulk-items", DataTable)
    rows = [table.get_row_at(index) for index in range(table.row_count)]
    return {int(str(cells[0])): (str(cells[1]), str(cells[2])) for cells in rows if str(cells[0]).isdigit()}


async def test_retry_failed_reruns_the_jobs_queued_for_their_own_retries_now(db, admin, catalog, frozen, unreachable):
    ids = unreachable_services(db, admin, catalog, 3)
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+a", "s")
        await settle(pilot)
        await pilot.click("#confirm-button")
        await settle(pilot, rounds=10)
        run = app.screen
        assert isinstance(run, BulkRunScreen)
        retrying_at = (frozen + jobs.backoff(1)).strftime("%H:%M")
        state = f"failed, retrying at {retrying_at} (attempt 1/5)"
        assert {service_id: row[0] for service_id, row in bulk_rows(run).items()} == {service_id: "failed" for service_id in ids}
        assert all(row[1].startswith(f"{state}: connection refused") for row in bulk_rows(run).values())
        assert str(run.query_one("#retry").label) == "Retry failed (3)"
        unreachable.down = False
        await pilot.click("#retry")
        await settle(pilot, rounds=10)
        assert [service_status(db, service_id) for service_id in ids] == ["suspended"] * 3
        assert {service_id: row[0] for service_id, row in bulk_rows(run).items()} == {service_id: "ok" for service_id in ids}
        assert not any("skipped" in text or "in progress" in text for _, text in notifications(app))


async def test_the_jobs_screen_says_what_the_bulk_screen_says_and_marks_retry_resolve_and_opens_a_job(db, admin, catalog, frozen, unreachable):
    from textual.widgets import DataTable

    from svcconsole.console.screens.jobs import JobDialog, JobsScreen
    from svcconsole.core import bulk

    ids = unreachable_services(db, admin, catalog, 3)
    bulk.run(db, admin, "suspend", {}, ids, selection={"ids": ids})
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("J")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, JobsScreen)
        table = screen.query_one("#jobs-table", DataTable)
        retrying_at = (frozen + jobs.backoff(1)).strftime("%H:%M")
        states = {str(table.get_row_at(index)[4]) for index in range(table.row_count)}
        assert states == {f"failed, retrying at {retrying_at} (attempt 1/5)"}
        errors = [str(table.get_row_at(index)[5]) for index in range(table.row_count)]
        assert all(error.endswith("…") and "END" not in error for error in errors)
        await pilot.press("k", "j", "k")
        assert table.cursor_row == 0
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, JobDialog)
        assert "END" in str(app.screen.query_one("#job-error Static").render())
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        unreachable.down = False
        await pilot.press("space", "space")
        await settle(pilot)
        assert len(screen.marked) == 2
        await pilot.press("r")
        await settle(pilot, rounds=10)
        assert sorted(service_status(db, service_id) for service_id in ids) == ["active", "suspended", "suspended"]
        await pilot.press("ctrl+a")
        assert len(screen.marked) == table.row_count == 3
        await pilot.press("escape", "j", "j", "space")
        assert len(screen.marked) == 1
        await pilot.press("v")
        await settle(pilot)
        app.screen.query_one("#answer").value = "checked by hand"
        await pilot.click("#ok")
        await settle(pilot)
    with db.read() as session:
        statuses = sorted(job.status for job in session.exec(select(Job)).all())
    assert statuses == ["resolved", "succeeded", "succeeded"]


@pytest.mark.parametrize("module", ["pterodactyl", "proxmox"])
async def test_the_wizard_requires_a_server_for_a_module_that_needs_one(db, admin, catalog, frozen, module):
    from textual.widgets import Button, Select

    from svcconsole.console.screens.detail import DetailScreen
    from svcconsole.console.screens.wizard import WizardScreen
    from svcconsole.core import catalog as catalog_module
    from svcconsole.store.models import Service

    server_id = db.transaction(
        lambda session: catalog_module.add_server(session, admin, name=f"{module}-1", module=module, url="http://127.0.0.1:9", credentials="token", node="1").id
    )
    app = make_app(db, admin)
    async with app.run_test(size=(100, 35)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        wizard = app.screen
        assert isinstance(wizard, WizardScreen)
        wizard.query_one("#customer").value = str(catalog.customer_id)
        wizard.query_one("#type").value = module
        await pilot.click("#next")
        await settle(pilot)
        assert wizard.step == "step2"
        assert wizard.query_one("#next", Button).disabled, "Create is allowed with no server"
        assert "required" in str(wizard.query_one("#server", Select).prompt)
        await pilot.press(*"game box")
        wizard.query_one("#price").value = "9.00"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is wizard
        assert f"a {module} service needs a server" in str(wizard.query_one("#form-error").render())
        with db.read() as session:
            assert session.exec(select(Service).where(Service.name == "game box")).first() is None
        wizard.query_one("#server").value = str(server_id)
        await settle(pilot)
        assert not wizard.query_one("#next", Button).disabled
        await pilot.click("#next")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        with db.read() as session:
            assert session.exec(select(Service).where(Service.name == "game box")).one().server_id == server_id


def test_core_refuses_a_service_of_a_module_that_needs_a_server_without_one(db, admin, catalog, frozen):
    from svcconsole.core.errors import InvalidInput

    draft = records.ServiceDraft(customer=str(catalog.customer_id), name="no server", type="proxmox", price="5.00")
    with pytest.raises(InvalidInput) as refused:
        db.transaction(lambda session: records.create_service(session, admin, draft))
    assert refused.value.field == "--server" and "needs --server" in refused.value.message


def menu_options(menu) -> dict[str, tuple[str, bool]]:  # type: ignore[no-untyped-def]
    from textual.widgets import OptionList

    options = menu.query_one(OptionList)
    return {option.id: (str(option.prompt), option.disabled) for option in (options.get_option_at_index(index) for index in range(options.option_count))}


async def test_the_b_menu_offers_what_applies_to_the_row_with_how_many_are_selected(db, admin, catalog, frozen):
    from svcconsole.console.screens.dialogs import BulkMenu

    new_service(db, admin, catalog, name="live", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        menu = app.screen
        assert isinstance(menu, BulkMenu)
        assert str(menu.query_one("#bulk-menu-selected").render()).startswith("1 service selected")
        options = menu_options(menu)
        assert options["suspend"] == ("Suspend", False)
        assert options["redeliver"] == ("Redeliver: applies to none of them", True)
        assert {name for name, (_, disabled) in options.items() if disabled} == {"unsuspend", "uncancel", "deliver", "redeliver", "delete"}


async def test_the_b_menu_counts_a_mark_all_by_status_in_one_grouped_query(demo, admin):
    from sqlalchemy import event
    from sqlmodel import func

    from svcconsole.console.screens.dialogs import BulkMenu
    from svcconsole.store.models import Service

    with demo.read() as session:
        by_status = dict(session.exec(select(Service.status, func.count()).where(Service.status != "deleted").group_by(Service.status)).all())
        scheduled = session.exec(
            select(func.count()).select_from(Service).where(Service.status.in_(("pending", "active", "suspended")), Service.cancel_at.is_not(None))
        ).one()
    total = sum(by_status.values())
    expected = {
        "suspend": by_status.get("active", 0),
        "unsuspend": by_status.get("suspended", 0),
        "terminate": sum(by_status.get(status, 0) for status in ("active", "suspended", "expired")),
        "delete": sum(by_status.get(status, 0) for status in ("cancelled", "terminated", "expired")),
        "deliver": by_status.get("pending", 0),
        "uncancel": scheduled,
    }
    app = make_app(demo, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+a")
        await settle(pilot)
        statements: list[str] = []
        listener = lambda conn, cursor, statement, *rest: statements.append(statement)  # noqa: E731
        event.listen(demo.engine, "before_cursor_execute", listener)
        try:
            await pilot.press("b")
            await settle(pilot)
        finally:
            event.remove(demo.engine, "before_cursor_execute", listener)
        menu = app.screen
        assert isinstance(menu, BulkMenu)
        assert str(menu.query_one("#bulk-menu-selected").render()).startswith(f"{total:,} services selected")
        options = menu_options(menu)
        for name, count in expected.items():
            title = options[name][0]
            assert title.endswith(f": {count:,} of {total:,}") if count else title.endswith("applies to none of them"), (name, title)
        counting = [statement for statement in statements if "FROM service" in statement]
        assert len(counting) == 1 and "GROUP BY" in counting[0]
