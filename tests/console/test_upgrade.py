"""The Upgrade tab: targets with their prorated amounts, launching with an invoice or without
billing through core, the upgrades in progress, and a refusal shown as the tab's error line."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import select
from textual.widgets import DataTable, Static, TabbedContent

from svcconsole.console.screens.detail import DetailScreen
from svcconsole.core import catalog as catalog_module
from svcconsole.core import lookups, upgrades
from svcconsole.store.models import Invoice, InvoiceLine, Upgrade
from svcconsole.widgets.dialogs import ConfirmDialog
from tests.conftest import new_service
from tests.console.conftest import make_app, settle

pytestmark = pytest.mark.anyio


@pytest.fixture
def targets(db, admin, catalog):  # type: ignore[no-untyped-def]
    """ "Web Pro" (12.00 a month) lists "Web Max" (22.00) and "Web Lite" (5.00) as targets."""

    def work(session):  # type: ignore[no-untyped-def]
        bigger = catalog_module.add_product(session, admin, name="Web Max", type="manual", prices=["monthly=22.00", "annually=220.00"])
        smaller = catalog_module.add_product(session, admin, name="Web Lite", type="manual", prices=["monthly=5.00"])
        catalog_module.edit_product(session, admin, str(catalog.product_id), upgrade_to=[str(bigger.id), str(smaller.id)])
        return bigger.id, smaller.id

    return db.transaction(work)


def cells(table: DataTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


async def open_upgrade_tab(pilot, app, service_id: int) -> DetailScreen:  # type: ignore[no-untyped-def]
    await settle(pilot)
    app.open_service(service_id)
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, DetailScreen)
    for _ in range(4):
        await pilot.press("right_square_bracket")
    await settle(pilot)
    return screen


async def launch(pilot, app, screen: DetailScreen, button: str, row: int = 0) -> None:  # type: ignore[no-untyped-def]
    table = screen.query_one("#upgrade-targets", DataTable)
    table.move_cursor(row=row)
    screen.query_one(button).press()
    await settle(pilot)
    assert isinstance(app.screen, ConfirmDialog)
    await pilot.click("#yes")
    await settle(pilot)


async def test_the_tab_shows_each_target_with_its_prorated_amount(db, admin, catalog, targets, frozen):
    target = new_service(db, admin, catalog, name="shop", status="active", expires="2026-12-11")
    with db.read() as session:
        quotes = upgrades.quote_upgrades(session, target)
    assert [quote.amount for quote in quotes] == [Decimal("6.67"), Decimal("0.00")]
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_upgrade_tab(pilot, app, target)
        rows = cells(screen.query_one("#upgrade-targets", DataTable))
    assert rows[0][:4] == ["Web Max", "22.00 EUR", "6.67 EUR", "20 of 30"]
    assert rows[1][:3] == ["Web Lite", "5.00 EUR", "0.00 EUR"] and "no billing only" in rows[1][4]


async def test_upgrading_without_billing_changes_the_product_at_once(db, admin, catalog, targets, frozen):
    target = new_service(db, admin, catalog, name="shop", status="active", expires="2026-12-11")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_upgrade_tab(pilot, app, target)
        await launch(pilot, app, screen, "#upgrade-no-billing")
        assert screen.detail is not None and screen.detail.service.product_name == "Web Max"
        rows = cells(screen.query_one("#upgrades-table", DataTable))
    with db.read() as session:
        after = lookups.get_service(session, target)
        [upgrade] = session.exec(select(Upgrade)).all()
    assert (after.product_name, after.price) == ("Web Max", Decimal("22.00"))
    assert (upgrade.mode, upgrade.status, upgrade.invoice_id) == ("no_billing", "done", None)
    assert rows[0][1:5] == ["Web Max", "no billing", "0.00 EUR", "done"]


async def test_upgrading_with_an_invoice_creates_it_and_lists_the_upgrade_in_progress(db, admin, catalog, targets, frozen):
    target = new_service(db, admin, catalog, name="shop", status="active", expires="2026-12-11")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_upgrade_tab(pilot, app, target)
        await launch(pilot, app, screen, "#upgrade-invoice")
        rows = cells(screen.query_one("#upgrades-table", DataTable))
    with db.read() as session:
        [invoice] = session.exec(select(Invoice)).all()
        [line] = session.exec(select(InvoiceLine)).all()
        [upgrade] = session.exec(select(Upgrade)).all()
        assert lookups.get_service(session, target).product_name == "Web Pro"
    assert (invoice.status, line.kind, line.amount) == ("unpaid", "upgrade", Decimal("6.67"))
    assert (upgrade.status, upgrade.invoice_id) == ("awaiting_payment", invoice.id)
    assert rows == [[str(upgrade.id), "Web Max", "invoice", "6.67 EUR", "awaiting payment", str(invoice.id), "2026-11-21"]]


async def test_a_refused_upgrade_is_the_tabs_error_line(db, admin, catalog, targets, frozen):
    target = new_service(db, admin, catalog, name="shop", status="active", expires="2026-12-11")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_upgrade_tab(pilot, app, target)
        await launch(pilot, app, screen, "#upgrade-invoice", row=1)
        error = screen.query_one("#upgrade-error", Static)
        assert error.display
        assert "nothing to invoice" in str(error.content)
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert screen.query_one(TabbedContent).active == "options"
    with db.read() as session:
        assert session.exec(select(Invoice)).all() == []
        assert lookups.get_service(session, target).product_name == "Web Pro"


def test_snapshot_an_upgrade_awaiting_payment_and_a_refusal(db, admin, catalog, targets, frozen, snap_compare):
    target = new_service(db, admin, catalog, name="shop", status="active", expires="2026-12-11")

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        app = pilot.app
        screen = await open_upgrade_tab(pilot, app, target)
        await launch(pilot, app, screen, "#upgrade-invoice")
        await launch(pilot, app, screen, "#upgrade-no-billing", row=1)
        app.clear_notifications()
        await settle(pilot)

    assert snap_compare(make_app(db, admin), terminal_size=(80, 24), run_before=run)
