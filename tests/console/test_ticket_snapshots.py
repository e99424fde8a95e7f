"""Snapshots of tickets in the console: a thread (a customer's hostile text drawn inert, a reply,
an internal note marked), and the Tickets screen's list with its unread count."""

from __future__ import annotations

import pytest
from textual.widgets import TextArea

from svcconsole.core import customer, customer_actions, tickets
from tests.conftest import new_service
from tests.console.conftest import make_app, settle


@pytest.fixture
def thread(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    service_id = new_service(db, admin, catalog, name="alice web", status="active")
    other = new_service(db, admin, catalog, name="alice mail", status="active")
    with db.read() as session:
        alice = customer.open_area(session, "alice", "alice@example.com")
    ticket_id = db.transaction(
        lambda session: customer_actions.open_ticket(session, alice, service_id, "Disk full?", "My disk says 100%.\n[bold red]Is this markup?[/] \x1b[2J\tWhy?")
    ).ticket_id
    db.transaction(lambda session: tickets.reply(session, admin, ticket_id, "Customer asked twice already; check the backups job.", internal=True))
    db.transaction(lambda session: tickets.reply(session, admin, ticket_id, "The logs filled the disk: we rotated them.\nYou have 40% free now."))
    db.transaction(lambda session: customer_actions.reply_ticket(session, alice, ticket_id, "Thanks! It works."))
    db.transaction(lambda session: tickets.open_ticket(session, admin, other, "Planned maintenance", "Friday 22:00 UTC, about ten minutes."))
    return ticket_id


def _still(pilot) -> None:  # type: ignore[no-untyped-def]
    for area in pilot.app.screen.query(TextArea):
        area.cursor_blink = False


def test_snapshot_of_a_ticket_thread(db, admin, thread, snap_compare):  # type: ignore[no-untyped-def]
    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        pilot.app.open_ticket(thread)
        await settle(pilot)
        _still(pilot)

    assert snap_compare(make_app(db, admin), run_before=run, terminal_size=(100, 34))


def test_snapshot_of_the_tickets_screen(db, admin, thread, snap_compare):  # type: ignore[no-untyped-def]
    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)
        await pilot.press("f", "f", "f")
        await settle(pilot)

    assert snap_compare(make_app(db, admin), run_before=run, terminal_size=(120, 20))
