"""Bulk runs in the console: a mark-all is never listed, results are read a page at a time,
and the run goes on in the background while the admin keeps working."""

from __future__ import annotations

import threading

import pytest
from textual.command import CommandPalette
from textual.widgets import DataTable

from svcconsole.console.screens import bulk as bulk_screen
from svcconsole.console.screens.bulk import BulkRunScreen, rest_line
from svcconsole.console.screens.services import ServicesScreen
from svcconsole.core import bulk, lookups, records
from svcconsole.modules.base import Module, ModuleResult, register, unregister
from svcconsole.store import queries
from svcconsole.store.queries import ServiceFilter
from svcconsole.widgets.status_tabs import StatusTabs
from tests.conftest import new_service
from tests.console.conftest import make_app, notifications, settle

pytestmark = pytest.mark.anyio


def status(db, service_id: int) -> str:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return lookups.get_service(session, service_id).status


def test_a_matching_selection_writes_its_items_in_the_database(db, admin, catalog, frozen):
    active = [new_service(db, admin, catalog, name=f"a{index}", status="active") for index in range(5)]
    new_service(db, admin, catalog, name="other", status="suspended")
    selection = bulk.Matching(ServiceFilter(statuses=("active",)), frozenset({active[0]}))
    run_id, resumed = bulk.start(db, admin, "suspend", {}, selection, selection=selection.selection())
    assert not resumed
    report = bulk.process(db, admin, run_id, items=False)
    assert report.items == [] and report.totals == {"ok": 4}
    assert [status(db, identifier) for identifier in active] == ["active"] + ["suspended"] * 4
    with db.read() as session:
        assert [item.service_id for item in bulk.items_page(session, run_id, "ok", limit=2)] == active[1:3]
        assert [item.service_id for item in bulk.items_page(session, run_id, "ok", after=active[2])] == active[3:]


async def test_a_mark_all_runs_without_listing_its_ids(db, admin, catalog, frozen, monkeypatch):
    active = [new_service(db, admin, catalog, name=f"a{index}", status="active") for index in range(12)]
    new_service(db, admin, catalog, name="held", status="suspended")
    started: list[object] = []
    processed: list[bool] = []
    start, process = bulk.start, bulk.process

    def spying_start(db_, actor, action, params, target, *, selection):  # type: ignore[no-untyped-def]
        started.append(target)
        return start(db_, actor, action, params, target, selection=selection)

    def spying_process(*args, items=True, **options):  # type: ignore[no-untyped-def]
        processed.append(items)
        return process(*args, items=items, **options)

    def no_listing(*_, **__):  # type: ignore[no-untyped-def]
        raise AssertionError("a mark-all was turned into a list of ids")

    monkeypatch.setattr(bulk, "start", spying_start)
    monkeypatch.setattr(bulk, "process", spying_process)
    monkeypatch.setattr(queries, "iter_ids", no_listing)
    app = make_app(db, admin, page_size=5)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"status:active", "enter")
        await settle(pilot)
        await pilot.press("ctrl+a", "space")
        await pilot.press("slash")
        app.screen.query_one("#filter").value = f"id:{active[0]},{active[1]},{active[2]},{active[3]}"
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        question = str(app.screen.query_one("#question").render())
        assert "Suspend 11 marked services? (8 currently hidden by filter)" in question
        await pilot.click("#confirm-button")
        await settle(pilot, rounds=10)
        assert isinstance(app.screen, BulkRunScreen)
        assert app.screen.run.totals == {"ok": 11}
    assert len(started) == 1 and isinstance(started[0], bulk.Matching)
    assert processed == [False]
    assert [status(db, identifier) for identifier in active] == ["active"] + ["suspended"] * 11


async def test_past_the_shown_rows_the_list_says_what_the_rest_are(db, admin, catalog, frozen, monkeypatch):
    monkeypatch.setattr(bulk_screen, "SHOWN_ITEMS", 3)
    monkeypatch.setattr(bulk_screen, "PAGE", 2)
    active = [new_service(db, admin, catalog, name=f"a{index}", status="active") for index in range(3)]
    gone = [new_service(db, admin, catalog, name=f"t{index}", status="terminated") for index in range(3)]
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+a", "s")
        await settle(pilot)
        await pilot.click("#confirm-button")
        await settle(pilot, rounds=10)
        run = app.screen
        assert isinstance(run, BulkRunScreen)
        table = run.query_one("#bulk-items", DataTable)
        cells = [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]
        assert [row[:2] for row in cells[:3]] == [[str(identifier), "skipped"] for identifier in gone]
        assert cells[3][0] == "…"
        assert cells[3][2] == f"3 more: 3 ok (svcconsole services bulk show {run.run.run_id})"
    assert all(status(db, identifier) == "suspended" for identifier in active)


def test_the_rest_line_names_each_outcome_left_out():
    line = rest_line({"ok": 5000, "skipped": 300, "pending": 2}, {"ok": 1698, "skipped": 300, "pending": 2}, 7)
    assert line.plain == "3,302 more: 3,302 ok (svcconsole services bulk show 7)"
    line = rest_line({"failed": 2500, "skipped": 10, "ok": 4}, {"failed": 2000}, 8)
    assert line.plain == "514 more: 4 ok, 500 failed, 10 skipped (svcconsole services bulk show 8)"


class GatedModule(Module):
    """Suspends only once `gate` is set, so a test can look at a run while it goes on."""

    name = "gated"
    label = "Gated"
    supports = frozenset({"suspend"})
    gate = threading.Event()

    def suspend(self, service):  # type: ignore[no-untyped-def]
        GatedModule.gate.wait(20)
        return ModuleResult(message="suspended on the panel")


@pytest.fixture
def gated():  # type: ignore[no-untyped-def]
    register(GatedModule)
    GatedModule.gate = threading.Event()
    yield GatedModule
    GatedModule.gate.set()
    unregister("gated")


async def test_the_run_goes_on_after_its_screen_is_closed_and_can_be_shown_again(db, admin, catalog, frozen, gated):
    draft = lambda name: records.ServiceDraft(customer=str(catalog.customer_id), name=name, type="gated", price="5.00", cycle="monthly", external="ref")  # noqa: E731
    ids = [db.transaction(lambda session, name=name: records.import_service(session, admin, draft(name)).id) for name in ("g1", "g2")]
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+a", "s")
        await settle(pilot)
        await pilot.click("#confirm-button")
        await pilot.pause(0.5)
        assert isinstance(app.screen, BulkRunScreen) and app.screen.run.running
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ServicesScreen)
        assert "bulk suspend 0/2" in str(app.screen.query_one("#statusline").render())
        await pilot.press("right_square_bracket")
        await pilot.pause(0.3)
        assert app.screen.query_one(StatusTabs).active == "pending"
        gated.gate.set()
        await settle(pilot, rounds=10)
        assert [status(db, identifier) for identifier in ids] == ["suspended", "suspended"]
        assert any("bulk suspend: 2 ok" in text for _, text in notifications(app))
        assert "bulk" not in str(app.screen.query_one("#statusline").render())
        await pilot.press("B")
        await settle(pilot)
        assert isinstance(app.screen, BulkRunScreen) and app.screen.run.totals == {"ok": 2}
        await pilot.press("escape")
        await pilot.press("colon")
        await pilot.pause(0.1)
        assert CommandPalette.is_open(app)
        await pilot.press(*"bulk: last run")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, BulkRunScreen)
