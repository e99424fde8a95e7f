"""Tickets in the customer area are scoped in the store: a customer reads and writes only their own
tickets, about services they still see, and never a staff note. Hand-picked cases first, then
generated ids and texts (hypothesis) over the same shop."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlmodel import select

from svcconsole.core import actions, customer, customer_actions, records, tickets, transfers
from svcconsole.core.errors import InvalidInput, NotFound
from svcconsole.store.customer_scope import CustomerScope
from svcconsole.store.models import Ticket, TicketMessage
from tests.client.test_customer_hostile_input import IDS, PROPERTY, assert_one_line_refusal
from tests.reliability.support import fingerprint
from tests.reliability.test_hostile_input import HOSTILE

SECRET = "STAFF-NOTE: do not tell the customer about the refund limit"


@dataclass
class Tickets:
    alice_web: int
    alice_old: int
    bob_web: int


@pytest.fixture
def tickets_of(db, admin, shop):
    """A ticket of Alice's on "alice web" with a staff reply and a staff note, one on her cancelled
    service, and one of Bob's."""
    alice_web = db.transaction(lambda session: customer_actions.open_ticket(session, shop.alice_actor, shop.alice["web"], "Disk?", "alice asks")).ticket_id
    db.transaction(lambda session: tickets.reply(session, admin, alice_web, "support answers"))
    db.transaction(lambda session: tickets.reply(session, admin, alice_web, SECRET, internal=True))
    alice_old = db.transaction(lambda session: tickets.open_ticket(session, admin, shop.alice["old"], "Refund", "about the refund")).ticket_id
    bob_web = db.transaction(
        lambda session: customer_actions.open_ticket(session, shop.bob_actor, shop.bob["web"], "Bob's secret", "bob's own words")
    ).ticket_id
    return Tickets(alice_web, alice_old, bob_web)


def bodies(thread) -> list[str]:  # type: ignore[no-untyped-def]
    return [item.body for item in thread.messages]


def test_each_customer_lists_only_their_own_tickets(db, shop, tickets_of):
    with db.read() as session:
        assert {line.id for line in customer.ticket_list(session, shop.alice_actor)} == {tickets_of.alice_web, tickets_of.alice_old}
        assert [line.id for line in customer.ticket_list(session, shop.bob_actor)] == [tickets_of.bob_web]
        assert customer.ticket_list(session, shop.alice_actor, service_id=shop.bob["web"]) == []


def test_customer_b_cannot_read_or_write_a_ticket_of_customer_a(db, shop, tickets_of):
    before = fingerprint(db)
    for read_or_write in (
        lambda session: customer.ticket_thread(session, shop.bob_actor, tickets_of.alice_web),
        lambda session: customer_actions.reply_ticket(session, shop.bob_actor, tickets_of.alice_web, "hijack"),
        lambda session: customer_actions.close_ticket(session, shop.bob_actor, tickets_of.alice_web),
        lambda session: customer_actions.open_ticket(session, shop.bob_actor, shop.alice["web"], "S", "on alice's service"),
    ):
        with pytest.raises(NotFound, match=r"^no (ticket|service) \d+$"):
            db.transaction(read_or_write)
    assert fingerprint(db) == before


def test_internal_notes_never_reach_any_customer_read(db, shop, tickets_of):
    thread = db.transaction(lambda session: customer.ticket_thread(session, shop.alice_actor, tickets_of.alice_web))
    assert bodies(thread) == ["alice asks", "support answers"]
    with db.read() as session:
        scope = CustomerScope(shop.alice_id)
        for limit in (1, 2, 50):
            assert SECRET not in [row.body for row in scope.ticket_messages(session, tickets_of.alice_web, limit=limit)]
        assert [line.unread for line in customer.ticket_list(session, shop.alice_actor) if line.id == tickets_of.alice_web] == [0]
        detail = customer.service_detail(session, shop.alice_actor, shop.alice["web"])
    assert SECRET not in repr(detail)


def test_a_note_added_after_the_customer_read_counts_nothing_unread(db, admin, shop, tickets_of):
    db.transaction(lambda session: customer.ticket_thread(session, shop.alice_actor, tickets_of.alice_web))
    db.transaction(lambda session: tickets.reply(session, admin, tickets_of.alice_web, "another note", internal=True))
    with db.read() as session:
        assert customer.unread_tickets(session, shop.alice_actor) == 1  # the refund ticket only, never read


def test_a_deleted_or_transferred_service_takes_its_tickets_out_of_the_customer_area(db, admin, shop, tickets_of):
    db.transaction(lambda session: records.edit_service(session, admin, shop.alice["old"], {"status": "deleted"}, reason="test"))
    with db.read() as session:
        assert [line.id for line in customer.ticket_list(session, shop.alice_actor)] == [tickets_of.alice_web]
    with pytest.raises(NotFound):
        db.transaction(lambda session: customer.ticket_thread(session, shop.alice_actor, tickets_of.alice_old))
    with db.read() as session:
        target = transfers.parse_target(session, str(shop.bob_id))
    db.transaction(lambda session: actions.perform(session, admin, "transfer", shop.alice["web"], {"to": str(target.id)}))
    with db.read() as session:
        assert customer.ticket_list(session, shop.alice_actor) == []
        assert [line.id for line in customer.ticket_list(session, shop.bob_actor)] == [tickets_of.bob_web]


@PROPERTY
@given(ticket_id=IDS | st.sampled_from(["bob", "alice web", "alice old"]))
@example(ticket_id="bob")
def test_any_ticket_id_is_the_customers_own_ticket_or_no_ticket(db, shop, tickets_of, ticket_id):
    named = {"bob": tickets_of.bob_web, "alice web": tickets_of.alice_web, "alice old": tickets_of.alice_old}
    target = named.get(ticket_id, ticket_id) if isinstance(ticket_id, str) else ticket_id
    own = {tickets_of.alice_web, tickets_of.alice_old}
    try:
        thread = db.transaction(lambda session: customer.ticket_thread(session, shop.alice_actor, target))
    except NotFound as error:
        assert target not in own and error.message == f"no ticket {target}"
    else:
        assert target in own and SECRET not in bodies(thread) and "bob's own words" not in bodies(thread)
    if target in own:
        return
    before = fingerprint(db)
    for change in (
        lambda session: customer_actions.reply_ticket(session, shop.alice_actor, target, "x"),
        lambda session: customer_actions.close_ticket(session, shop.alice_actor, target),
    ):
        with pytest.raises(NotFound, match=f"^no ticket {target}$"):
            db.transaction(change)
    assert fingerprint(db) == before


TEXTS = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40), st.just(""), st.just("x" * 20001))


@PROPERTY
@given(subject=TEXTS, body=TEXTS, service=st.sampled_from(["web", "gone", "bob web"]))
@example(subject="[b]x[/b]", body="\x1b[2J[red]boom[/red]", service="web")
@example(subject="ok", body="nul\x00", service="web")
def test_any_crafted_ticket_is_stored_as_given_or_refused_in_one_line(db, shop, subject, body, service):
    service_id = shop.bob["web"] if service == "bob web" else shop.alice[service]
    before = fingerprint(db)
    try:
        result = db.transaction(lambda session: customer_actions.open_ticket(session, shop.alice_actor, service_id, subject, body))
    except InvalidInput as error:
        assert_one_line_refusal(error)
        assert fingerprint(db) == before
        return
    except NotFound as error:
        assert service != "web" and error.message == f"no service {service_id}"
        assert fingerprint(db) == before
        return
    assert service == "web"
    with db.read() as session:
        stored = session.get(Ticket, result.ticket_id)
        assert (stored.subject, stored.customer_id) == (subject, shop.alice_id)
        [message] = session.exec(select(TicketMessage).where(TicketMessage.ticket_id == result.ticket_id)).all()
        assert message.body == body
