"""Help in columns on one 120x35 screen with a search box; the mouse: a column header sorts,
a tab opens (issue 18)."""

from __future__ import annotations

import pytest
from rich.console import Console
from sqlalchemy import func
from sqlmodel import select
from textual.widgets import Input, Static, TabbedContent

from svcconsole.console.screens.customer import CustomerScreen
from svcconsole.console.screens.services import ServicesScreen
from svcconsole.store.models import Service
from svcconsole.widgets.help import HelpScreen
from svcconsole.widgets.service_table import MARK_WIDTH, ServiceTable
from svcconsole.widgets.status_tabs import StatusTabs
from tests.conftest import make_actor
from tests.console.conftest import make_app, settle
from tests.console.test_snapshots import interact

pytestmark = pytest.mark.anyio


def shown_text(static: Static, width: int = 118) -> str:
    console = Console(width=width, record=True)
    console.print(static.content)
    return console.export_text()


async def test_help_fits_120x35_and_searches_every_screens_keys(demo) -> None:
    alice = make_actor(demo, "alice", "admin")
    app = make_app(demo, alice)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        box = screen.query_one("#help")
        assert box.size.height <= 35 and box.max_scroll_y == 0  # no scrolling: it all fits
        text = shown_text(screen.query_one("#help-table", Static))
        assert "Suspend" in text and "Mark all" in text and "Last row" in text  # the list's, the table's and app keys
        assert "Reconcile" not in text  # the drift screen's keys wait for a search
        await pilot.press("slash", *"reconcile")
        await settle(pilot)
        found = shown_text(screen.query_one("#help-table", Static))
        assert "Reconcile" in found and "Drift (reconcile)" in found
        assert "Suspend" not in found
        screen.query_one("#help-search", Input).value = "teleport"
        await settle(pilot)
        assert "no key matches 'teleport'" in shown_text(screen.query_one("#help-table", Static))
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ServicesScreen)


def header_x(table: ServiceTable, key: str) -> int:
    x = MARK_WIDTH
    for column, width in table.column_layout.columns:
        if column.key == key:
            return x + 1
        x += width + 1
    raise AssertionError(f"{key} is not in view")


async def test_clicking_a_column_header_sorts_by_it_and_again_reverses(demo) -> None:
    alice = make_actor(demo, "alice", "admin")
    app = make_app(demo, alice)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(ServiceTable)
        await pilot.click(ServiceTable, offset=(header_x(table, "name"), 0))
        await settle(pilot)
        assert (app.screen.sort.column, app.screen.sort.descending) == ("name", False)
        first = table.window.row(0)
        with demo.read() as session:
            smallest = session.exec(select(func.min(Service.name_sort)).where(Service.status != "deleted")).one()
        assert first.name_sort == smallest
        await pilot.click(ServiceTable, offset=(header_x(table, "name"), 0))
        await settle(pilot)
        assert (app.screen.sort.column, app.screen.sort.descending) == ("name", True)
        await pilot.click(ServiceTable, offset=(header_x(table, "expires"), 0))
        await settle(pilot)
        assert (app.screen.sort.column, app.screen.sort.descending) == ("expires", False)


async def test_clicking_a_status_tab_opens_it(demo) -> None:
    alice = make_actor(demo, "alice", "admin")
    app = make_app(demo, alice)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        tabs = app.screen.query_one(StatusTabs)
        x = 0
        for key, label in tabs._labels():
            if key == "suspended":
                break
            x += len(label) + 1
        await pilot.click(StatusTabs, offset=(x + 2, 0))
        await settle(pilot)
        assert app.screen.tab == "suspended"
        assert app.screen.total == app.screen.by_status["suspended"]
        assert {row.status for row in (app.screen.table.window.row(position) for position in range(app.screen.total)) if row is not None} == {"suspended"}


async def test_clicking_a_tab_of_the_customer_profile_opens_it(demo) -> None:
    alice = make_actor(demo, "alice", "admin")
    app = make_app(demo, alice)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        await pilot.click("#--content-tab-customer-activity")
        await settle(pilot)
        assert app.screen.query_one("#customer-tabs", TabbedContent).active == "customer-activity"


class TestSnapshots:
    def test_help_120x35(self, demo, snap_compare):  # type: ignore[no-untyped-def]
        alice = make_actor(demo, "alice", "admin")
        assert snap_compare(make_app(demo, alice), terminal_size=(120, 35), run_before=interact("question_mark"))
