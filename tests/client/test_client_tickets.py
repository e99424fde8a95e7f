"""Tickets in the customer area, driven by Pilot: on a service's detail the customer asks a
question (a ticket, mailed to the staff), reads the thread (never a staff note; text drawn inert),
replies, sees the state and closes it; an operator's preview reads but writes nothing; another
customer's ticket cannot be opened."""

from __future__ import annotations

import pytest
from sqlmodel import select
from textual.widgets import DataTable, TabbedContent, TextArea

from svcconsole.client.dialogs import TicketDialog
from svcconsole.client.screens import ClientDetailScreen, ClientTicketScreen
from svcconsole.core import customer_actions, tickets
from svcconsole.store.models import Notification, Ticket, TicketMessage
from tests.billing.conftest import set_setting
from tests.client.conftest import client_of
from tests.client.test_client_area import errors, everything_shown, make_client, plain
from tests.console.conftest import settle

pytestmark = pytest.mark.anyio

STAFF_NOTE = "STAFF-ONLY: he asked for a refund twice"


def messages_of(db, ticket_id):  # type: ignore[no-untyped-def]
    with db.read() as session:
        rows = session.exec(select(TicketMessage).where(TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)).all()
        return [(row.author_kind, row.internal, row.body) for row in rows]


def table_rows(app, selector: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    table = app.screen.query_one(selector, DataTable)
    return [[plain(cell).strip() for cell in table.get_row(key)] for key in table.rows]


async def open_tickets_tab(app, pilot, service_id: int) -> None:  # type: ignore[no-untyped-def]
    await settle(pilot)
    app.open_service(service_id)
    await settle(pilot)
    assert isinstance(app.screen, ClientDetailScreen)
    app.screen.query_one("#tabs", TabbedContent).active = "tickets"
    await settle(pilot)


async def test_ask_read_reply_and_close_from_the_service(db, admin, shop):
    set_setting(db, "admin_email", "support@hosting.example")
    web = shop.alice["web"]
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(110, 32)) as pilot:
        await open_tickets_tab(app, pilot, web)
        assert "No tickets yet" in table_rows(app, "#tickets-table")[0][1]
        await pilot.press("t")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, TicketDialog)
        dialog.query_one("#ticket-subject").value = "[b]Slow[/b] site"
        dialog.query_one("#ticket-message").value = "Pages take 10 s \x1b[31m since Monday."
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert isinstance(app.screen, ClientDetailScreen)
        with db.read() as session:
            [ticket] = session.exec(select(Ticket)).all()
        assert (ticket.service_id, ticket.customer_id, ticket.status, ticket.subject) == (web, shop.alice_id, "open", "[b]Slow[/b] site")
        [row] = table_rows(app, "#tickets-table")
        assert row[:4] == [f"#{ticket.id}", "[b]Slow[/b] site", "waiting for our answer", "-"]

        db.transaction(lambda session: tickets.reply(session, admin, ticket.id, "We moved you to a faster node."))
        db.transaction(lambda session: tickets.reply(session, admin, ticket.id, STAFF_NOTE, internal=True))
        app.screen.reload()
        await settle(pilot)
        [row] = table_rows(app, "#tickets-table")
        assert row[2:4] == ["answered", "1"]

        table = app.screen.query_one("#tickets-table", DataTable)
        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ClientTicketScreen)
        shown = everything_shown(app)
        assert "Pages take 10 s \\x1b[31m since Monday." in shown and "\x1b" not in shown
        assert "We moved you to a faster node." in shown and "Support (root)" in shown
        assert STAFF_NOTE not in shown and "STAFF-ONLY" not in shown

        app.screen.query_one(TextArea).text = "Much better, thanks.\nBye"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "Much better, thanks." in everything_shown(app)
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert "closed" in everything_shown(app)
        await pilot.press("escape")
        await settle(pilot)
        [row] = table_rows(app, "#tickets-table")
        assert row[2:4] == ["closed", "-"]
    assert messages_of(db, ticket.id) == [
        ("customer", False, "Pages take 10 s \x1b[31m since Monday."),
        ("admin", False, "We moved you to a faster node."),
        ("admin", True, STAFF_NOTE),
        ("customer", False, "Much better, thanks.\nBye"),
    ]
    with db.read() as session:
        staff_mails = session.exec(select(Notification).where(Notification.template == "ticket_customer_message")).all()
        assert [mail.to_address for mail in staff_mails] == ["support@hosting.example"] * 2
        assert session.get(Ticket, ticket.id).status == "closed"


async def test_a_blank_question_is_refused_in_the_dialog_and_writes_nothing(db, shop):
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(110, 32)) as pilot:
        await open_tickets_tab(app, pilot, shop.alice["web"])
        await pilot.click("#new-ticket")
        await settle(pilot)
        app.screen.query_one("#ticket-subject").value = "Question"
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert isinstance(app.screen, TicketDialog)
        assert "message: a value is required" in plain(app.screen.query_one("#dialog-error").content)
    with db.read() as session:
        assert session.exec(select(Ticket)).all() == []


async def test_an_operator_preview_reads_tickets_but_writes_nothing(db, admin, shop):
    ticket_id = db.transaction(lambda session: tickets.open_ticket(session, admin, shop.alice["web"], "Maintenance", "Friday night.")).ticket_id
    preview = client_of(db, admin.name, "alice@example.com")
    app = make_client(db, preview)
    async with app.run_test(size=(110, 32)) as pilot:
        await open_tickets_tab(app, pilot, shop.alice["web"])
        assert app.screen.query_one("#new-ticket").disabled
        app.push_screen(ClientTicketScreen(ticket_id))
        await settle(pilot)
        assert "Friday night." in everything_shown(app)
        assert app.screen.query_one(TextArea).disabled
        await pilot.press("ctrl+s", "ctrl+l")
        await settle(pilot)
    with db.read() as session:
        ticket = session.get(Ticket, ticket_id)
        assert (ticket.status, ticket.customer_read_id) == ("answered", 0)
    assert len(messages_of(db, ticket_id)) == 1


async def test_another_customers_ticket_is_no_ticket(db, admin, shop):
    bobs = db.transaction(lambda session: customer_actions.open_ticket(session, shop.bob_actor, shop.bob["web"], "Bob's", "bob's secret words")).ticket_id
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        app.push_screen(ClientTicketScreen(bobs))
        await settle(pilot)
        assert "bob's secret words" not in everything_shown(app)
        assert errors(app) == [f"no ticket {bobs}"]
