"""A snapshot of a ticket as the customer reads it: their text drawn inert, support's replies,
no staff note, the state, and the reply box (80x24, frozen time)."""

from __future__ import annotations

from textual.widgets import TextArea

from svcconsole.client.screens import ClientTicketScreen
from svcconsole.core import customer_actions, tickets
from tests.client.test_client_area import make_client
from tests.console.conftest import settle


def test_snapshot_of_a_ticket_in_the_customer_area(db, admin, shop, snap_compare):  # type: ignore[no-untyped-def]
    def conversation(session):  # type: ignore[no-untyped-def]
        opened = customer_actions.open_ticket(session, shop.alice_actor, shop.alice["web"], "Site slow?", "Pages take 10 s.\n[red]not markup[/] \x1b[2J")
        tickets.reply(session, admin, opened.ticket_id, "STAFF-ONLY: check his plan", internal=True)
        tickets.reply(session, admin, opened.ticket_id, "We moved you to a faster node.\nTry again?")
        return opened.ticket_id

    ticket_id = db.transaction(conversation)

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        pilot.app.push_screen(ClientTicketScreen(ticket_id))
        await settle(pilot)
        for area in pilot.app.screen.query(TextArea):
            area.cursor_blink = False

    assert snap_compare(make_client(db, shop.alice_actor), run_before=run, terminal_size=(80, 24))
