"""The renew modal: renew now (cycles, the price or free) and into an invoice (a new one, or an
unpaid invoice of the customer picked from a list read in a worker), from the list and the detail."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import select
from textual.widgets import Input, Select

from svcconsole.console.screens.bulk import BulkRunScreen
from svcconsole.console.screens.detail import DetailScreen
from svcconsole.console.screens.dialogs import ActionDialog
from svcconsole.core import actions, invoices, lookups, orders, records
from svcconsole.core import catalog as catalog_module
from svcconsole.store.models import Invoice, InvoiceLine
from tests.conftest import new_service
from tests.console.conftest import make_app, notifications, settle

pytestmark = pytest.mark.anyio


def stored(db, service_id: int):  # type: ignore[no-untyped-def]
    with db.read() as session:
        return lookups.get_service(session, service_id)


def renewal_lines(db, service_id: int) -> list[InvoiceLine]:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return list(session.exec(select(InvoiceLine).where(InvoiceLine.service_id == service_id, InvoiceLine.kind == "renewal")).all())


async def open_renew(pilot, app) -> ActionDialog:  # type: ignore[no-untyped-def]
    await pilot.press("r")
    await settle(pilot)
    dialog = app.screen
    assert isinstance(dialog, ActionDialog)
    return dialog


async def test_renew_now_free_records_a_renewal_of_amount_zero(db, admin, catalog, frozen):
    target = new_service(db, admin, catalog, name="shop", status="active")
    before = stored(db, target).expires_at
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        dialog = await open_renew(pilot, app)
        assert dialog.query_one("#renew-mode", Select).value == "now"
        assert dialog.query_one("#renew-invoice-fields").display is False
        dialog.query_one("#cycles", Input).value = "2"
        dialog.query_one("#amount", Select).value = "free"
        await pilot.click("#confirm-button")
        await settle(pilot)
    with db.read() as session:
        [renewal] = records.renewals_of(session, target)
    assert (renewal.cycles, renewal.amount, renewal.invoice_id) == (2, Decimal("0.00"), None)
    assert stored(db, target).expires_at > before
    assert renewal_lines(db, target) == []


async def test_renew_now_records_the_price_by_default(db, admin, catalog, frozen):
    target = new_service(db, admin, catalog, name="shop", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_renew(pilot, app)
        await pilot.click("#confirm-button")
        await settle(pilot)
    with db.read() as session:
        [renewal] = records.renewals_of(session, target)
    assert (renewal.cycles, renewal.amount) == (1, Decimal("12.00"))


async def test_renew_into_a_new_invoice_from_the_renewals_tab_bills_and_leaves_the_expiry(db, admin, catalog, frozen):
    target = new_service(db, admin, catalog, name="shop", status="active")
    before = stored(db, target).expires_at
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_service(target)
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        detail.query_one("#renew-into-invoice").press()
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ActionDialog)
        assert dialog.query_one("#renew-mode", Select).value == "invoice"
        assert dialog.query_one("#renew-now-fields").display is False
        assert dialog.query_one("#invoice", Select).value == "new"
        dialog.query_one("#cycles", Input).value = "3"
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert any(f"service {target}: invoice" in text for severity, text in notifications(app) if severity == "information")
        shown = [str(cell) for cell in detail.query_one("#renewals-table").get_row_at(0)]
        assert shown[0] == "awaiting payment" and shown[2:4] == ["3", "36.00"] and shown[4].endswith("(unpaid)")
    [line] = renewal_lines(db, target)
    assert (line.amount, line.details["cycles"]) == (Decimal("36.00"), 3)
    with db.read() as session:
        invoice = session.get(Invoice, line.invoice_id)
        assert records.renewals_of(session, target) == []
    assert (invoice.status, invoice.customer_id) == ("unpaid", catalog.customer_id)
    assert stored(db, target).expires_at == before


async def test_renew_into_an_existing_unpaid_invoice_picked_from_the_list(db, admin, catalog, frozen):
    target = new_service(db, admin, catalog, name="shop", status="active")

    def three_invoices(session):  # type: ignore[no-untyped-def]
        other = catalog_module.add_customer(session, admin, name="Bruno Rossi", email="bruno@example.com")
        mine = invoices.new_invoice(session, catalog.customer_id, "EUR")
        paid = invoices.new_invoice(session, catalog.customer_id, "EUR")
        paid.status = "paid"
        foreign = invoices.new_invoice(session, other.id, "EUR")
        return mine.id, paid.id, foreign.id

    mine, _paid, _foreign = db.transaction(three_invoices)
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        dialog = await open_renew(pilot, app)
        dialog.query_one("#renew-mode", Select).value = "invoice"
        await settle(pilot)
        offered = [value for _, value in dialog.query_one("#invoice", Select)._options]
        assert offered == ["new", str(mine)]
        dialog.query_one("#invoice", Select).value = str(mine)
        await pilot.click("#confirm-button")
        await settle(pilot)
    [line] = renewal_lines(db, target)
    assert line.invoice_id == mine and line.amount == Decimal("12.00")
    with db.read() as session:
        assert len(session.exec(select(Invoice)).all()) == 3


async def test_renewing_several_services_into_invoices_makes_one_new_invoice_each(db, admin, catalog, frozen):
    first = new_service(db, admin, catalog, name="one", status="active")
    second = new_service(db, admin, catalog, name="two", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("space", "down", "space")
        dialog = await open_renew(pilot, app)
        assert dialog.service_id is None
        dialog.query_one("#renew-mode", Select).value = "invoice"
        await settle(pilot)
        assert [value for _, value in dialog.query_one("#invoice", Select)._options] == ["new"]
        await pilot.click("#confirm-button")
        await settle(pilot)
        run = app.screen
        assert isinstance(run, BulkRunScreen)
        assert run.run.finished and run.run.totals == {"ok": 2}
    invoice_ids = {renewal_lines(db, service_id)[0].invoice_id for service_id in (first, second)}
    assert len(invoice_ids) == 2


async def test_a_refused_renewal_into_an_invoice_is_an_error(db, admin, catalog, frozen):
    target = new_service(db, admin, catalog, name="shop", status="active")
    db.transaction(lambda session: actions.perform(session, admin, "renew-invoice", target, {"cycles": 1, "invoice": "new"}))
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        dialog = await open_renew(pilot, app)
        dialog.query_one("#renew-mode", Select).value = "invoice"
        await settle(pilot)
        await pilot.click("#confirm-button")
        await settle(pilot)
        errors = [text for severity, text in notifications(app) if severity == "error"]
        assert any("already bills the period" in text for text in errors), errors
    assert len(renewal_lines(db, target)) == 1


def test_snapshot_renew_into_an_existing_invoice(db, admin, catalog, frozen, snap_compare):
    target = new_service(db, admin, catalog, name="shop", status="active")
    request = orders.LineRequest(option_service=target, description="Backup slot", amount="3.00")
    db.transaction(lambda session: orders.create_invoice(session, admin, str(catalog.customer_id), request).id)

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        pilot.app.screen.query_one("#renew-mode", Select).value = "invoice"
        await settle(pilot)
        pilot.app.screen.query_one("#cycles", Input).cursor_blink = False
        pilot.app.screen.query_one("#invoice", Select).focus()
        await pilot.press("space")
        await settle(pilot)

    assert snap_compare(make_app(db, admin), terminal_size=(80, 24), run_before=run)
