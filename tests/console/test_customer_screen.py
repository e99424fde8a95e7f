"""The Customer screen (issue 16, item 7): `p` on a service opens its customer's profile (from the
list and the detail), their services in the paged list scoped to them, their invoices and changes;
`e` edits the customer as `customers edit` does; the palette opens a customer by email."""

from __future__ import annotations

import pytest
from textual.widgets import Static, TabbedContent

from svcconsole.console.commands import ConsoleCommands
from svcconsole.console.screens.customer import CustomerEditDialog, CustomerScreen
from svcconsole.console.screens.detail import DetailScreen
from svcconsole.core import actions, activity, invoices
from svcconsole.core import catalog as catalog_core
from svcconsole.store.models import Customer, Service
from svcconsole.widgets.records import RecordTable
from tests.conftest import new_service
from tests.console.conftest import make_app, notifications, settle, until

pytestmark = pytest.mark.anyio


@pytest.fixture
def two_customers(db, admin, catalog):  # type: ignore[no-untyped-def]
    """Alice with two services and an invoice; Bruno with one service, moved to him from Alice."""
    bruno = db.transaction(lambda session: catalog_core.add_customer(session, admin, name="Bruno Rossi", email="bruno@example.com", company="Rossi SRL")).id
    web = new_service(db, admin, catalog, name="alice-web", status="active")
    new_service(db, admin, catalog, name="alice-mail", status="suspended")
    moved = new_service(db, admin, catalog, name="was-alices", status="active")

    def bill(session):  # type: ignore[no-untyped-def]
        service = session.get(Service, web)
        invoices.add_renewal_line(session, admin, service, 1, invoices.new_invoice(session, service.customer_id, service.currency))

    db.transaction(bill)
    db.transaction(lambda session: actions.perform(session, admin, "transfer", moved, {"to": "bruno@example.com", "reason": "sold"}))
    return bruno, web, moved


def profile_title(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one("#title", Static).render())


async def test_p_on_the_list_opens_the_customer_with_only_their_services(db, admin, catalog, two_customers, frozen):
    _, _, moved = two_customers
    app = make_app(db, admin)
    async with app.run_test(size=(110, 30)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CustomerScreen) and screen.customer_id == catalog.customer_id
        assert "Alice Martin" in profile_title(app) and "2 services" in profile_title(app)
        assert screen.total == 2
        names = {screen.table.window.row(position).name for position in range(2)}
        assert names == {"alice-web", "alice-mail"}
        invoices_shown = screen.query_one("#customer-invoice-table", RecordTable)
        assert invoices_shown.row_count == 1
        changes = screen.query_one("#customer-change-table", RecordTable)
        texts = [str(changes.get_row_at(index)[2]) for index in range(changes.row_count)]
        assert f"service #{moved} transferred to bruno@example.com" in texts

        await pilot.press("right_curly_bracket")
        await settle(pilot)
        assert screen.query_one("#customer-tabs", TabbedContent).active == "customer-invoices"
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, CustomerScreen)


async def test_p_on_the_detail_and_the_filter_stays_within_the_customer(db, admin, catalog, two_customers, frozen):
    bruno, _, moved = two_customers
    app = make_app(db, admin)
    async with app.run_test(size=(110, 30)) as pilot:
        await settle(pilot)
        app.open_service(moved)
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("p")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CustomerScreen) and screen.customer_id == bruno
        assert "Rossi SRL" in profile_title(app)
        await pilot.press("slash", *"mail", "enter")
        await settle(pilot)
        assert screen.total == 0, "Alice's services never show on Bruno's profile"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen) and screen.total == 1
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen) and app.screen.service_id == moved


async def test_edit_the_customer_from_their_screen(db, admin, catalog, two_customers, frozen):
    app = make_app(db, admin)
    async with app.run_test(size=(110, 30)) as pilot:
        await settle(pilot)
        app.open_customer(catalog.customer_id)
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, CustomerEditDialog)
        dialog.query_one("#email").value = "not an email"
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert "Email" in str(dialog.query_one("#dialog-error").render())
        dialog.query_one("#email").value = "bruno@example.com"
        dialog.query_one("#notes").value = "pays late, call first"
        await pilot.click("#confirm-button")
        await settle(pilot)
        errors = [text for severity, text in notifications(app) if severity == "error"]
        assert any("already the email of customer" in text for text in errors), errors
        with db.read() as session:
            assert session.get(Customer, catalog.customer_id).notes is None, "a refused edit changes nothing"

        await pilot.press("e")
        await settle(pilot)
        dialog = app.screen
        dialog.query_one("#notes").value = "pays late, call first"
        dialog.query_one("#company").value = "Martin & Co"
        await pilot.click("#confirm-button")
        await settle(pilot)
        with db.read() as session:
            customer = session.get(Customer, catalog.customer_id)
            [edit] = [row for row in activity.changes_of(session, "customer", catalog.customer_id) if row.action == "customer_edit"]
        assert (customer.notes, customer.company, customer.email) == ("pays late, call first", "Martin & Co", "alice@example.com")
        assert edit.details["notes"] == [None, "pays late, call first"]
        assert await until(pilot, lambda: "pays late, call first" in str(app.screen.query_one("#customer-notes", Static).render()))


async def test_a_viewer_sees_the_profile_but_cannot_edit(db, admin, catalog, two_customers, frozen):
    from tests.conftest import make_actor

    viewer = make_actor(db, "vera", "viewer")
    app = make_app(db, viewer)
    async with app.run_test(size=(110, 30)) as pilot:
        await settle(pilot)
        app.open_customer(catalog.customer_id)
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)


async def test_the_palette_opens_a_customer_by_email(db, admin, catalog, two_customers, frozen):
    bruno, _, _ = two_customers
    app = make_app(db, admin)
    async with app.run_test(size=(110, 30)) as pilot:
        await settle(pilot)
        provider = ConsoleCommands(app.screen)
        hits = [hit async for hit in provider.search("bruno@")]
        [hit] = [hit for hit in hits if "open customer" in str(hit.text)]
        assert str(hit.text) == "open customer bruno@example.com"
        hit.command()
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen) and app.screen.customer_id == bruno
        nobody = [hit async for hit in provider.search("nobody@example.com")]
        assert not [hit for hit in nobody if "open customer" in str(hit.text)]
