"""The admin detail and the customer's detail are one frame with shared tables, paging and Panel view,
and the customer's copy of each shows no staff field."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from textual.widgets import Button

from svcconsole.client.app import ClientApp
from svcconsole.client.screens import ClientDetailScreen
from svcconsole.console.screens.detail import DetailScreen
from svcconsole.core import actions, customer, customer_actions, records
from svcconsole.widgets.detail_frame import TabbedDetail
from svcconsole.widgets.panel_state import PanelStateView
from svcconsole.widgets.records import PagedRecords, RecordTable
from tests.console.conftest import make_app, settle

pytestmark = pytest.mark.anyio


def many_history_rows(db, shop, count: int) -> None:  # type: ignore[no-untyped-def]
    for index in range(count):
        db.transaction(lambda session: customer_actions.set_auto_renew(session, shop.alice_actor, shop.alice["web"], index % 2 == 1))


def table_columns(table: RecordTable) -> list[str]:
    return [str(column.label) for column in table.columns.values()]


async def test_both_details_page_their_history_with_the_same_widget(db, admin, shop):
    many_history_rows(db, shop, 60)
    area = ClientApp(db, shop.alice_actor, tz=ZoneInfo("UTC"))
    async with area.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        area.open_service(shop.alice["web"])
        await settle(pilot)
        screen = area.screen
        assert isinstance(screen, ClientDetailScreen) and isinstance(screen, TabbedDetail)
        history = screen.query_one(PagedRecords)
        assert history.table.row_count == customer.HISTORY_PAGE and not screen.query_one("#history-more", Button).disabled
        screen.query_one("#tabs").active = "history"
        await settle(pilot)
        await pilot.click("#history-more")
        await settle(pilot)
        total = history.table.row_count
        assert total > customer.HISTORY_PAGE and screen.query_one("#history-more", Button).disabled
        assert table_columns(history.table) == ["at", "by", "what", "status", "your note"]
    console = make_app(db, admin)
    async with console.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        console.open_service(shop.alice["web"])
        await settle(pilot)
        screen = console.screen
        assert isinstance(screen, DetailScreen) and isinstance(screen, TabbedDetail)
        activity = screen.query_one(PagedRecords)
        assert activity.table.row_count == 50
        screen.query_one("#tabs").active = "activity"
        await settle(pilot)
        await pilot.click("#activity-more")
        await settle(pilot)
        assert activity.table.row_count >= total and screen.query_one("#activity-more", Button).disabled
        assert table_columns(activity.table) == ["at", "by", "action", "status", "reason"]


async def test_the_customers_tables_are_the_shared_ones_without_staff_columns(db, admin, shop):
    db.transaction(lambda session: records.option_add(session, admin, shop.alice["web"], name="backups", price="2.00"))
    db.transaction(lambda session: actions.perform(session, admin, "renew", shop.alice["web"], {"cycles": 1}))
    area = ClientApp(db, shop.alice_actor, tz=ZoneInfo("UTC"))
    async with area.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        area.open_service(shop.alice["web"])
        await settle(pilot)
        screen = area.screen
        renewals, options = screen.query_one("#renewals-table", RecordTable), screen.query_one("#options-table", RecordTable)
        assert table_columns(renewals) == ["renewed", "period", "periods", "amount", "invoice"]
        assert table_columns(options) == ["name", "value", "qty", "price", "expires"]
        assert [str(cell) for cell in renewals.get_row_at(0)][2:4] == ["1", "14.00 EUR"]
        assert screen.query(PanelStateView)
    console = make_app(db, admin)
    async with console.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        console.open_service(shop.alice["web"])
        await settle(pilot)
        screen = console.screen
        renewals, options = screen.query_one("#renewals-table", RecordTable), screen.query_one("#options-table", RecordTable)
        assert table_columns(renewals) == ["renewed", "period", "cycles", "amount", "invoice", "by"]
        assert table_columns(options) == ["id", "name", "value", "qty", "price", "expires"]
        assert str(renewals.get_row_at(0)[5]) == admin.name
        assert screen.query(PanelStateView)


async def test_an_answer_to_an_earlier_read_never_replaces_a_later_one(db, admin, shop):
    from svcconsole.client.messages import DetailLoaded
    from svcconsole.console.messages import ServiceLoaded
    from svcconsole.console.screens.detail import read_detail

    web = shop.alice["web"]
    with db.read() as session:
        stale_customer_view = customer.service_detail(session, shop.alice_actor, web)
        stale_staff_view = read_detail(session, web)
    db.transaction(lambda session: records.edit_service(session, admin, web, {"name": "renamed web"}))
    area = ClientApp(db, shop.alice_actor, tz=ZoneInfo("UTC"))
    async with area.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        area.open_service(web)
        await settle(pilot)
        screen = area.screen
        screen.reload()
        await settle(pilot)
        assert screen.detail.service.name == "renamed web"
        screen.post_message(DetailLoaded(stale_customer_view, screen.load_generation - 1))
        await settle(pilot)
        assert screen.detail.service.name == "renamed web"
    console = make_app(db, admin)
    async with console.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        console.open_service(web)
        await settle(pilot)
        screen = console.screen
        screen.reload()
        await settle(pilot)
        screen.post_message(ServiceLoaded(stale_staff_view, screen.load_generation - 1))
        await settle(pilot)
        assert screen.detail.service.name == "renamed web"
