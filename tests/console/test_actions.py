"""Actions through their modals change the store as the CLI would; refusals, read-only, bulk runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from svcconsole.console.screens.bulk import BulkRunScreen
from svcconsole.console.screens.dialogs import ActionDialog
from svcconsole.core import clock, lookups, records
from svcconsole.modules.base import Module, ModuleError, ModuleResult, register, unregister
from svcconsole.store.models import Activity, Job, Service
from tests.conftest import make_actor, new_service
from tests.console.conftest import make_app, notifications, settle

pytestmark = pytest.mark.anyio


def service(db, service_id: int) -> Service:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return lookups.get_service(session, service_id)


def last_activity(db, service_id: int) -> Activity:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return session.exec(select(Activity).where(Activity.service_id == service_id).order_by(Activity.id.desc())).first()


async def test_suspend_through_its_modal_changes_the_store_like_the_cli(db, admin, catalog, frozen):
    target = new_service(db, admin, catalog, name="web", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ActionDialog)
        assert "Suspend service" in str(dialog.query_one("#question").render())
        dialog.query_one("#kind").value = "abuse"
        dialog.query_one("#reason").value = "spam reports"
        dialog.query_one("#notify").value = True
        await pilot.click("#confirm-button")
        await settle(pilot)
        after = service(db, target)
        assert (after.status, after.suspend_kind, after.suspend_reason) == ("suspended", "abuse", "spam reports")
        activity = last_activity(db, target)
        assert (activity.action, activity.actor, activity.details["notify"]) == ("suspend", admin.name, True)
        assert any("suspended" in text for severity, text in notifications(app) if severity == "information")


async def test_a_refused_action_is_an_error_and_changes_nothing(db, admin, catalog, frozen):
    target = new_service(db, admin, catalog, name="gone", status="terminated")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("space", "s")
        await settle(pilot)
        await pilot.click("#confirm-button")
        await settle(pilot)
        errors = [text for severity, text in notifications(app) if severity == "error"]
        assert any(f"service {target} is terminated: cannot suspend" in text for text in errors)
        assert service(db, target).status == "terminated"


async def test_terminate_needs_the_typed_word_and_focuses_its_first_field(db, admin, catalog, frozen):
    target = new_service(db, admin, catalog, name="old", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        dialog = app.screen
        assert dialog.focused.id == "reason"
        dialog.query_one("#confirm").value = "yes"
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert "type terminate to confirm" in str(dialog.query_one("#dialog-error").render())
        assert service(db, target).status == "active"
        dialog.query_one("#confirm").value = "terminate"
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert service(db, target).status == "terminated"


async def test_mark_all_applies_to_every_matching_row_with_the_count_typed(db, admin, catalog, frozen):
    ids = [new_service(db, admin, catalog, name=f"svc-{index}", status="active") for index in range(45)]
    other = new_service(db, admin, catalog, name="other", status="suspended")
    app = make_app(db, admin, page_size=10)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"status:active", "enter")
        await settle(pilot)
        await pilot.press("ctrl+a")
        await pilot.press("plus")
        await settle(pilot)
        dialog = app.screen
        assert "Add days to 45 marked services?" in str(dialog.query_one("#question").render())
        dialog.query_one("#days").value = "5"
        await pilot.click("#confirm-button")
        await settle(pilot, rounds=10)
        run = app.screen
        assert isinstance(run, BulkRunScreen)
        assert run.run.finished and run.run.totals == {"ok": 45}
        expected = clock.as_utc(service(db, other).expires_at) + timedelta(days=5)
        for identifier in ids:
            assert clock.as_utc(service(db, identifier).expires_at) == expected
        assert clock.as_utc(service(db, other).expires_at) == expected - timedelta(days=5)


async def test_the_dialog_counts_marks_hidden_by_the_filter(db, admin, catalog, frozen):
    first = new_service(db, admin, catalog, name="alpha", status="active")
    new_service(db, admin, catalog, name="beta", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("space", "space")
        await pilot.press("slash", *"beta", "enter")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        question = str(app.screen.query_one("#question").render())
        assert "Delete 2 marked services? (1 currently hidden by filter)" in question
        assert app.screen.focused.id == "reason"
        await pilot.press("escape")
        assert service(db, first).status == "active"


async def test_read_only_turns_every_action_off(db, catalog, frozen):
    from svcconsole.core.context import acting_operator

    actor = acting_operator(db, read_only=True)
    target = new_service(db, acting_operator(db), catalog, name="web", status="active")
    app = make_app(db, actor)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "READ-ONLY" in str(app.screen.query_one("#title").render())
        assert app.screen.check_action("service_action", ("suspend",)) is False
        assert app.screen.check_action("new_service", ()) is False
        await pilot.press("s", "t", "n", "b", "plus")
        await settle(pilot)
        assert not isinstance(app.screen, ActionDialog)
        assert service(db, target).status == "active"
        assert service(db, target).version == 2


async def test_a_viewer_gets_permission_errors_not_actions(db, catalog, frozen):
    viewer = make_actor(db, "vera", "viewer")
    app = make_app(db, viewer)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.check_action("service_action", ("suspend",)) is False


async def test_an_operator_is_refused_terminate_with_an_error(db, admin, catalog, frozen):
    target = new_service(db, admin, catalog, name="web", status="active")
    operator = make_actor(db, "otto", "operator")
    app = make_app(db, operator)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        app.screen.query_one("#confirm").value = "terminate"
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert any("needs the admin role" in text for severity, text in notifications(app) if severity == "error")
        assert service(db, target).status == "active"


def result_rows(run: BulkRunScreen) -> list[tuple[int, str, str]]:
    """The result list of a bulk run's screen: (service id, outcome, message) per row."""
    from textual.widgets import DataTable

    table = run.query_one("#bulk-items", DataTable)
    rows = [table.get_row_at(index) for index in range(table.row_count)]
    return [(int(str(cells[0])), str(cells[1]), str(cells[2])) for cells in rows if str(cells[0]).isdigit()]


class FlakyModule(Module):
    """A test module whose suspend fails for the services named in `failing`."""

    name = "flaky"
    label = "Flaky"
    supports = frozenset({"suspend"})
    failing: set[int] = set()

    def suspend(self, service):  # type: ignore[no-untyped-def]
        if service.id in FlakyModule.failing:
            raise ModuleError(f"panel refused service {service.id}")
        return ModuleResult(message="suspended on the panel")


@pytest.fixture
def flaky():  # type: ignore[no-untyped-def]
    register(FlakyModule)
    FlakyModule.failing = set()
    yield FlakyModule
    unregister("flaky")


async def test_a_bulk_run_reports_failures_and_retries_them(db, admin, catalog, frozen, flaky):
    from svcconsole.core import catalog as catalog_module

    customer = str(catalog.customer_id)
    draft = lambda name: records.ServiceDraft(customer=customer, name=name, type="flaky", price="5.00", cycle="monthly", external="ref")  # noqa: E731
    ids = [db.transaction(lambda session, name=name: records.import_service(session, admin, draft(name)).id) for name in ("f1", "f2", "f3")]
    terminated = new_service(db, admin, catalog, name="t", status="terminated")
    flaky.failing = {ids[1]}
    assert catalog_module is not None
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+a", "s")
        await settle(pilot)
        app.screen.query_one("#reason").value = "maintenance"
        await pilot.click("#confirm-button")
        await settle(pilot, rounds=10)
        run = app.screen
        assert isinstance(run, BulkRunScreen)
        shown = result_rows(run)
        assert {service_id: outcome for service_id, outcome, _ in shown} == {ids[0]: "ok", ids[1]: "failed", ids[2]: "ok", terminated: "skipped"}
        assert [outcome for _, outcome, _ in shown] == ["failed", "skipped", "ok", "ok"], "failed first, then skipped"
        retry = run.query_one("#retry")
        assert (str(retry.label), retry.disabled) == ("Retry failed (1)", False)
        messages = {service_id: message for service_id, _, message in shown}
        assert "panel refused" in messages[ids[1]]
        assert "terminated" in messages[terminated]
        assert service(db, ids[1]).status == "active"
        flaky.failing = set()
        await pilot.click("#retry")
        await settle(pilot, rounds=10)
        assert run.run.totals == {"ok": 3, "skipped": 1}, "the failed item's job ran again in the same run"
        assert {service_id: outcome for service_id, outcome, _ in result_rows(run)} == {ids[0]: "ok", ids[1]: "ok", ids[2]: "ok", terminated: "skipped"}
        assert service(db, ids[1]).status == "suspended"


async def test_the_jobs_screen_retries_and_resolves(db, admin, catalog, frozen, flaky):
    customer = str(catalog.customer_id)
    draft = lambda name: records.ServiceDraft(customer=customer, name=name, type="flaky", price="5.00", cycle="monthly", external="ref")  # noqa: E731
    first, second = (db.transaction(lambda session, name=name: records.import_service(session, admin, draft(name)).id) for name in ("j1", "j2"))
    flaky.failing = {first, second}
    from svcconsole.core import bulk

    bulk.run(db, admin, "suspend", {}, [first, second], selection={"ids": [first, second]})
    with db.read() as session:
        failed = {job.service_id: job.id for job in session.exec(select(Job)).all()}
    flaky.failing = set()
    app = make_app(db, admin)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        await pilot.press("J")
        await settle(pilot)
        table = app.screen.query_one("#jobs-table")
        assert table.row_count == 2
        table.move_cursor(row=table.get_row_index(str(failed[first])))
        await pilot.press("r")
        await settle(pilot)
        assert service(db, first).status == "suspended"
        table.move_cursor(row=table.get_row_index(str(failed[second])))
        await pilot.press("v")
        await settle(pilot)
        app.screen.query_one("#answer").value = "done by hand"
        await pilot.click("#ok")
        await settle(pilot)
        with db.read() as session:
            assert session.get(Job, failed[second]).status == "resolved"
        assert last_activity(db, second).reason == "done by hand"


def footer_keys(app) -> set[str]:  # type: ignore[no-untyped-def]
    from textual.widgets._footer import FooterKey

    return {key.key for key in app.screen.query(FooterKey)}


def footer_fits(app) -> bool:  # type: ignore[no-untyped-def]
    from textual.widgets._footer import FooterKey

    return max(key.region.right for key in app.screen.query(FooterKey)) <= app.size.width


SERVICE_KEYS = {"s", "u", "c", "r", "t", "x", "plus", "minus"}


async def test_the_list_footer_shows_the_actions_that_apply_to_the_row_or_the_marks(db, admin, catalog, frozen):
    from svcconsole.widgets.service_table import ServiceTable

    new_service(db, admin, catalog, name="live", status="active")
    new_service(db, admin, catalog, name="held", status="suspended")
    new_service(db, admin, catalog, name="over", status="terminated")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert footer_keys(app) & SERVICE_KEYS == {"s", "c", "r", "t", "plus", "minus"}
        assert "escape" not in footer_keys(app)
        assert footer_fits(app)
        await pilot.press("down")
        await settle(pilot)
        assert footer_keys(app) & SERVICE_KEYS == {"u", "c", "r", "t", "plus", "minus"}
        await pilot.press("down")
        await settle(pilot)
        assert footer_keys(app) & SERVICE_KEYS == {"x"}
        await pilot.press("s")
        await settle(pilot)
        assert not isinstance(app.screen, ActionDialog), "a key that does not apply does nothing"
        app.screen.query_one(ServiceTable).move_cursor(0)
        await pilot.press("space")
        await settle(pilot)
        assert footer_keys(app) & SERVICE_KEYS == SERVICE_KEYS
        assert "escape" in footer_keys(app)
        assert footer_fits(app)


async def test_the_detail_footer_offers_unsuspend_on_a_suspended_service(db, admin, catalog, frozen):
    from svcconsole.console.screens.detail import DetailScreen

    target = new_service(db, admin, catalog, name="held", status="suspended")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_service(target)
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        assert footer_keys(app) & SERVICE_KEYS == {"u", "c", "r", "t", "plus", "minus"}
        assert footer_fits(app)


async def test_escape_closes_an_action_dialog_and_changes_nothing(db, admin, catalog, frozen):
    target = new_service(db, admin, catalog, name="web", status="active")
    before = service(db, target)
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, ActionDialog)
        app.screen.query_one("#reason").value = "typed, then changed my mind"
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, ActionDialog), "escape (the dialog scope's cancel key) closes the dialog"
    after = service(db, target)
    assert (after.status, after.version) == (before.status, before.version)
