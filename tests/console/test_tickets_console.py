"""Tickets in the admin console: `T` and the palette open the Tickets screen, its list shows the
customer's unread messages, Enter opens the thread (bodies inert, notes marked), and a reply, an
internal note and closing change the store as `svcconsole tickets` does; a viewer reads only. The
service detail and the Customer screen each have a Tickets tab."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, TabbedContent, TextArea

from svcconsole.console.screens.customer import CustomerScreen
from svcconsole.console.screens.detail import DetailScreen
from svcconsole.console.screens.tickets import NewTicketDialog, TicketList, TicketsScreen, TicketThreadScreen
from svcconsole.core import customer, customer_actions
from svcconsole.store.models import Notification, Ticket, TicketMessage
from svcconsole.widgets import words
from tests.conftest import make_actor, new_service
from tests.console.conftest import make_app, notifications, settle

pytestmark = pytest.mark.anyio

HOSTILE_BODY = "[bold red]not markup[/]\x1b[2J cleared?\nsecond line"


@pytest.fixture
def asked(db, admin, catalog, frozen):
    """Alice asked about "alice web" (a hostile body); returns (service id, ticket id)."""
    service_id = new_service(db, admin, catalog, name="alice web", status="active")
    with db.read() as session:
        alice = customer.open_area(session, "alice", "alice@example.com")
    ticket_id = db.transaction(lambda session: customer_actions.open_ticket(session, alice, service_id, "Disk full?", HOSTILE_BODY)).ticket_id
    return service_id, ticket_id


def cells(table: DataTable) -> list[list[str]]:  # type: ignore[type-arg]
    return [[str(getattr(cell, "plain", cell)) for cell in table.get_row_at(index)] for index in range(table.row_count)]


def stored(db, ticket_id):  # type: ignore[no-untyped-def]
    with db.read() as session:
        ticket = session.get(Ticket, ticket_id)
        messages = session.exec(TicketMessage.__table__.select().where(TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)).all()
        return ticket.status, [(row.author_kind, row.internal, row.body) for row in messages]


async def test_T_lists_open_tickets_with_unread_and_enter_reads_replies_notes_and_closes(db, admin, asked):
    _, ticket_id = asked
    app = make_app(db, admin)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)
        assert isinstance(app.screen, TicketsScreen)
        [row] = cells(app.screen.query_one(DataTable))
        assert row[:3] == [f"#{ticket_id}", "open", "1 new"] and "Disk full?" in row[5]
        await pilot.press("enter")
        await settle(pilot)
        thread = app.screen
        assert isinstance(thread, TicketThreadScreen)
        shown = str(thread.query_one("#ticket-messages").render())
        assert "[bold red]not markup[/]\\x1b[2J cleared?" in shown and "second line" in shown and "\x1b" not in shown

        thread.query_one(TextArea).text = "SECRET: refund limit reached"
        await pilot.press("ctrl+n")
        await settle(pilot)
        thread.query_one(TextArea).text = "We cleaned the logs.\nIt is fine now."
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "internal note" in str(thread.query_one("#ticket-messages").render())
        await pilot.press("ctrl+l")
        await settle(pilot)
        status, messages = stored(db, ticket_id)
        assert status == "closed"
        assert messages == [
            ("customer", False, HOSTILE_BODY),
            ("admin", True, "SECRET: refund limit reached"),
            ("admin", False, "We cleaned the logs.\nIt is fine now."),
        ]
        with db.read() as session:
            mails = session.exec(Notification.__table__.select().where(Notification.template == "ticket_reply")).all()
        assert len(mails) == 1 and "SECRET" not in mails[0].body
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, TicketsScreen)
        assert cells(app.screen.query_one(DataTable))[0][3].startswith("no open tickets")
        await pilot.press("f", "f")
        await settle(pilot)
        [row] = cells(app.screen.query_one(DataTable))
        assert row[:3] == [f"#{ticket_id}", "closed", "-"]


async def test_an_empty_reply_is_refused_in_one_line_and_writes_nothing(db, admin, asked):
    _, ticket_id = asked
    app = make_app(db, admin)
    async with app.run_test(size=(120, 34)) as pilot:
        app.open_ticket(ticket_id)
        await settle(pilot)
        app.screen.query_one(TextArea).text = "   "
        await pilot.press("ctrl+s")
        await settle(pilot)
        errors = [text for severity, text in notifications(app) if severity == "error"]
        assert any(text == "Message: a value is required" for text in errors), errors
    assert len(stored(db, ticket_id)[1]) == 1


async def test_a_viewer_reads_a_thread_but_cannot_write(db, admin, asked):
    _, ticket_id = asked
    viewer = make_actor(db, "vera", "viewer")
    app = make_app(db, viewer)
    async with app.run_test(size=(120, 34)) as pilot:
        app.open_ticket(ticket_id)
        await settle(pilot)
        assert "cleared?" in str(app.screen.query_one("#ticket-messages").render())
        assert app.screen.query_one(TextArea).disabled
        await pilot.press("ctrl+s", "ctrl+l")
        await settle(pilot)
    assert stored(db, ticket_id)[0] == "open"


async def test_the_palette_opens_the_tickets_screen(db, admin, asked):
    app = make_app(db, admin)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(pilot)
        await pilot.press("colon")
        await settle(pilot)
        await pilot.press(*"go: tickets")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TicketsScreen)


async def test_the_service_detail_has_a_tickets_tab_that_opens_a_ticket(db, admin, catalog, asked):
    service_id, ticket_id = asked
    other = new_service(db, admin, catalog, name="other", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(120, 34)) as pilot:
        app.open_service(service_id)
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        app.screen.query_one("#tabs", TabbedContent).active = "tickets"
        await settle(pilot)
        listed = app.screen.query_one("#service-tickets", TicketList)
        assert [row[0] for row in cells(listed.table)] == [f"#{ticket_id}"]
        await pilot.click("#ticket-new")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, NewTicketDialog)
        dialog.query_one("#ticket-subject").value = "Two\u202e lines?"
        dialog.query_one("#ticket-message").value = "Planned maintenance on Friday."
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        listed = app.screen.query_one("#service-tickets", TicketList)
        listed.status_filter = None
        listed.reload()
        await settle(pilot)
        assert len(cells(listed.table)) == 2
    with db.read() as session:
        newest = session.get(Ticket, ticket_id + 1)
    assert (newest.service_id, newest.status, newest.subject) == (service_id, "answered", "Two\u202e lines?")
    app = make_app(db, admin)
    async with app.run_test(size=(120, 34)) as pilot:
        app.open_service(other)
        await settle(pilot)
        app.screen.query_one("#tabs", TabbedContent).active = "tickets"
        await settle(pilot)
        assert cells(app.screen.query_one("#service-tickets", TicketList).table)[0][3] == "no tickets"


async def test_the_customer_screen_has_a_tickets_tab(db, admin, catalog, asked):
    _, ticket_id = asked
    app = make_app(db, admin)
    async with app.run_test(size=(120, 34)) as pilot:
        app.open_customer(catalog.customer_id)
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        await pilot.press("right_curly_bracket", "right_curly_bracket", "right_curly_bracket")
        await settle(pilot)
        assert app.screen.query_one("#customer-tabs", TabbedContent).active == "customer-tickets"
        listed = app.screen.query_one("#customer-ticket-list", TicketList)
        assert [row[0] for row in cells(listed.table)] == [f"#{ticket_id}"]
        listed.table.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TicketThreadScreen) and app.screen.ticket_id == ticket_id


def test_the_activity_names_the_ticket():
    assert words.activity_action("ticket_note", {"ticket": 7, "status": ["open", "open"]}) == "ticket internal note #7"
    assert words.activity_action("ticket_open", {"ticket": 3}) == "ticket opened #3"
