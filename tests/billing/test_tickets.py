"""Tickets about a service (issue 17 item 1): the status rule, unread counts, roles, the mails to
the other side, internal notes, and `svcconsole tickets list|show|open|reply|close`."""

from __future__ import annotations

import json

import pytest

from svcconsole.core import actions, customer, customer_actions, mailer, records, tickets
from svcconsole.core.errors import InvalidInput, NotFound, PermissionDenied
from svcconsole.core.tickets import Event
from svcconsole.store.models import Activity, Notification, Ticket, TicketMessage
from tests.billing.conftest import count, rows, set_setting
from tests.conftest import make_actor, new_service

# Written by hand from the issue and SPEC.md: a customer's message leaves the ticket open, a
# staff reply leaves it answered, a note changes nothing, close closes; a message on a closed
# ticket reopens it, closing a closed one is refused (None).
TRANSITIONS = [
    ("open", Event.CUSTOMER_MESSAGE, "open"),
    ("open", Event.STAFF_REPLY, "answered"),
    ("open", Event.NOTE, "open"),
    ("open", Event.CLOSE, "closed"),
    ("answered", Event.CUSTOMER_MESSAGE, "open"),
    ("answered", Event.STAFF_REPLY, "answered"),
    ("answered", Event.NOTE, "answered"),
    ("answered", Event.CLOSE, "closed"),
    ("closed", Event.CUSTOMER_MESSAGE, "open"),
    ("closed", Event.STAFF_REPLY, "answered"),
    ("closed", Event.NOTE, "closed"),
    ("closed", Event.CLOSE, None),
]


@pytest.mark.parametrize(("before", "event", "after"), TRANSITIONS)
def test_the_status_rule(before, event, after):
    if after is None:
        with pytest.raises(InvalidInput, match="closed already"):
            tickets.status_after(before, event)
    else:
        assert tickets.status_after(before, event) == after


@pytest.fixture
def alice(db, catalog, frozen):
    with db.read() as session:
        return customer.open_area(session, "alice", "alice@example.com")


@pytest.fixture
def web(db, admin, catalog, frozen):
    return new_service(db, admin, catalog, name="alice web", status="active")


def status_of(db, ticket_id):
    with db.read() as session:
        return session.get(Ticket, ticket_id).status


def test_a_conversation_follows_the_rule_and_mails_the_other_side(db, admin, catalog, alice, web):
    set_setting(db, "admin_email", "support@hosting.example")
    opened = db.transaction(lambda session: customer_actions.open_ticket(session, alice, web, "Disk full?", "My disk says 100%.\nWhy?"))
    assert opened.status == "open" and status_of(db, opened.ticket_id) == "open"
    [to_staff] = rows(db, Notification)
    assert (to_staff.template, to_staff.to_address) == ("ticket_customer_message", "support@hosting.example")
    assert "My disk says 100%.\nWhy?" in to_staff.body and "Disk full?" in to_staff.subject

    answered = db.transaction(lambda session: tickets.reply(session, admin, opened.ticket_id, "Logs filled it; cleaned."))
    assert answered.status == "answered"
    to_customer = rows(db, Notification, Notification.template == "ticket_reply")
    assert [mail.to_address for mail in to_customer] == ["alice@example.com"] and "Logs filled it; cleaned." in to_customer[0].body

    noted = db.transaction(lambda session: tickets.reply(session, admin, opened.ticket_id, "SECRET NOTE: repeat offender", internal=True))
    assert noted.status == "answered"
    assert count(db, Notification) == 2
    assert not any("SECRET NOTE" in mail.body for mail in rows(db, Notification))

    closed = db.transaction(lambda session: tickets.close(session, admin, opened.ticket_id))
    assert closed.status == "closed"
    again = db.transaction(lambda session: customer_actions.reply_ticket(session, alice, opened.ticket_id, "It is full again."))
    assert again.status == "open" and count(db, Notification, Notification.template == "ticket_customer_message") == 2
    actions = [row.action for row in rows(db, Activity, Activity.action.startswith("ticket_"))]
    assert actions == ["ticket_open", "ticket_reply", "ticket_note", "ticket_close", "ticket_reply"]
    assert not any("SECRET NOTE" in (row.reason or "") for row in rows(db, Activity))


def test_an_admin_opened_ticket_waits_for_the_customer_and_mails_them(db, admin, alice, web):
    result = db.transaction(lambda session: tickets.open_ticket(session, admin, web, "Planned maintenance", "We move your VM on Friday."))
    assert result.status == "answered"
    [mail] = rows(db, Notification)
    assert (mail.template, mail.to_address, mail.customer_id) == ("ticket_opened", "alice@example.com", alice.customer_id)
    assert "We move your VM on Friday." in mail.body and "Planned maintenance" in mail.subject


def test_unread_counts_per_side_and_reading_marks_them(db, admin, alice, web):
    opened = db.transaction(lambda session: customer_actions.open_ticket(session, alice, web, "Q", "first"))
    db.transaction(lambda session: customer_actions.reply_ticket(session, alice, opened.ticket_id, "second"))
    with db.read() as session:
        [line] = tickets.list_tickets(session, admin)
        assert line.unread == 2 and tickets.unread_total(session, admin) == 1
        assert customer_unread(session, alice) == (0, 0)
    db.transaction(lambda session: tickets.thread(session, admin, opened.ticket_id))
    with db.read() as session:
        assert tickets.list_tickets(session, admin)[0].unread == 0
    db.transaction(lambda session: tickets.reply(session, admin, opened.ticket_id, "answer one"))
    db.transaction(lambda session: tickets.reply(session, admin, opened.ticket_id, "note", internal=True))
    db.transaction(lambda session: tickets.reply(session, admin, opened.ticket_id, "answer two"))
    with db.read() as session:
        assert customer_unread(session, alice) == (2, 1)
    viewed = db.transaction(lambda session: customer.ticket_thread(session, alice, opened.ticket_id))
    assert [item.body for item in viewed.messages] == ["first", "second", "answer one", "answer two"]
    with db.read() as session:
        assert customer_unread(session, alice) == (0, 0)


def customer_unread(session, actor):
    """(unread staff messages on the customer's one ticket, tickets with any unread)."""
    [line] = customer.ticket_list(session, actor)
    return line.unread, customer.unread_tickets(session, actor)


def test_a_read_only_reader_moves_no_read_mark(db, admin, alice, web):
    opened = db.transaction(lambda session: customer_actions.open_ticket(session, alice, web, "Q", "first"))
    with db.read() as session:
        preview = customer.open_area(session, admin.name, "alice@example.com")
    assert preview.read_only
    db.transaction(lambda session: tickets.reply(session, admin, opened.ticket_id, "answer"))
    db.transaction(lambda session: customer.ticket_thread(session, preview, opened.ticket_id))
    with db.read() as session:
        assert customer_unread(session, alice) == (1, 1)
    with pytest.raises(PermissionDenied):
        db.transaction(lambda session: customer_actions.reply_ticket(session, preview, opened.ticket_id, "as the customer"))


def test_roles_viewer_reads_operator_writes(db, admin, alice, web):
    opened = db.transaction(lambda session: customer_actions.open_ticket(session, alice, web, "Q", "first"))
    viewer = make_actor(db, "vera", "viewer")
    operator = make_actor(db, "otto", "operator")
    with db.read() as session:
        assert [line.id for line in tickets.list_tickets(session, viewer)] == [opened.ticket_id]
    for change in (
        lambda session: tickets.reply(session, viewer, opened.ticket_id, "no"),
        lambda session: tickets.reply(session, viewer, opened.ticket_id, "no", internal=True),
        lambda session: tickets.close(session, viewer, opened.ticket_id),
        lambda session: tickets.open_ticket(session, viewer, web, "S", "no"),
    ):
        with pytest.raises(PermissionDenied, match="needs the operator role"):
            db.transaction(change)
    assert count(db, TicketMessage) == 1
    assert db.transaction(lambda session: tickets.reply(session, operator, opened.ticket_id, "yes")).status == "answered"
    assert db.transaction(lambda session: tickets.close(session, operator, opened.ticket_id)).status == "closed"


def test_staff_functions_refuse_customers_and_customer_functions_refuse_staff(db, admin, alice, web):
    with pytest.raises(PermissionDenied):
        db.transaction(lambda session: tickets.open_ticket(session, alice, web, "S", "x"))
    with pytest.raises(PermissionDenied):
        db.transaction(lambda session: customer_actions.open_ticket(session, admin, web, "S", "x"))
    assert count(db, Ticket) == 0


def test_messages_are_stored_exactly_as_given(db, admin, alice, web):
    body = "[bold red]not markup[/]\x1b[31m red?\u202e reversed\r\nline two\t{service_id} {}"
    opened = db.transaction(lambda session: customer_actions.open_ticket(session, alice, web, "[b]subject[/b] {x}", body))
    [row] = rows(db, TicketMessage)
    assert row.body == body and row.author_kind == "customer" and row.author == "Alice Martin"
    with db.read() as session:
        assert session.get(Ticket, opened.ticket_id).subject == "[b]subject[/b] {x}"


@pytest.mark.parametrize(
    ("subject", "body", "field"),
    [
        ("", "text", "--subject"),
        ("   ", "text", "--subject"),
        ("two\nlines", "text", "--subject"),
        ("x" * 201, "text", "--subject"),
        ("ok", "", "--message"),
        ("ok", " \n ", "--message"),
        ("ok", "nul\x00", "--message"),
        ("ok", "x" * 20001, "--message"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(db, admin, web, subject, body, field):
    with pytest.raises(InvalidInput) as refused:
        db.transaction(lambda session: tickets.open_ticket(session, admin, web, subject, body))
    assert refused.value.field == field and "\n" not in refused.value.message
    assert count(db, Ticket) == 0 and count(db, Notification) == 0


def test_a_deleted_service_takes_no_new_ticket_and_no_public_reply(db, admin, catalog, web, frozen):
    opened = db.transaction(lambda session: tickets.open_ticket(session, admin, web, "S", "before"))
    gone = new_service(db, admin, catalog, name="gone", status="deleted")
    with pytest.raises(InvalidInput, match=r"^--service: service .* is deleted"):
        db.transaction(lambda session: tickets.open_ticket(session, admin, gone, "S", "x"))
    db.transaction(lambda session: records.edit_service(session, admin, web, {"status": "deleted"}, reason="test"))
    with pytest.raises(InvalidInput, match="--internal"):
        db.transaction(lambda session: tickets.reply(session, admin, opened.ticket_id, "public"))
    assert db.transaction(lambda session: tickets.reply(session, admin, opened.ticket_id, "note", internal=True)).status == "answered"


def test_a_service_given_to_another_customer_takes_no_public_reply_on_its_old_tickets(db, admin, alice, web, second_customer):
    opened = db.transaction(lambda session: customer_actions.open_ticket(session, alice, web, "S", "before the sale"))
    db.transaction(lambda session: actions.perform(session, admin, "transfer", web, {"to": str(second_customer)}))
    with pytest.raises(InvalidInput, match="given to another customer"):
        db.transaction(lambda session: tickets.reply(session, admin, opened.ticket_id, "public"))
    assert db.transaction(lambda session: tickets.reply(session, admin, opened.ticket_id, "note", internal=True)).status == "open"
    assert count(db, Notification, Notification.template == "ticket_reply") == 0


# ----------------------------------------------------------------------------- SMTP


def test_the_mails_reach_a_real_smtp_server(db, admin, alice, web, smtp):
    set_setting(db, "admin_email", "support@hosting.example")
    opened = db.transaction(lambda session: customer_actions.open_ticket(session, alice, web, "Disk full?", "Line one\nLine two"))
    db.transaction(lambda session: tickets.reply(session, admin, opened.ticket_id, "Hidden note", internal=True))
    db.transaction(lambda session: tickets.reply(session, admin, opened.ticket_id, "Cleaned the logs."))
    report = mailer.send_queued(db)
    assert [item.outcome for item in report.items] == ["ok", "ok"]
    by_to = {tuple(mail["to"]): mail for mail in smtp.mailbox.messages}
    assert set(by_to) == {("support@hosting.example",), ("alice@example.com",)}
    staff, mail = by_to[("support@hosting.example",)], by_to[("alice@example.com",)]
    assert staff["subject"] == f"Ticket #{opened.ticket_id} from Alice Martin: Disk full?" and "Line one\r\nLine two" in staff["body"]
    assert mail["subject"] == f"[Ticket #{opened.ticket_id}] Disk full?" and "Cleaned the logs." in mail["body"]
    assert all("Hidden note" not in item["body"] for item in smtp.mailbox.messages)


# ----------------------------------------------------------------------------- the CLI


def test_cli_open_reply_note_close_show_and_list(db, admin, alice, web, cli):
    opened = cli("tickets", "open", "--service", str(web), "--subject", "Maintenance", "--message", "Friday 22:00", "--format", "json")
    assert opened.exit_code == 0, opened.stderr
    ticket_id = json.loads(opened.stdout)["ticket_id"]
    assert json.loads(opened.stdout)["status"] == "answered"
    db.transaction(lambda session: customer_actions.reply_ticket(session, alice, ticket_id, "OK for me\x1b[2J"))
    listed = cli("tickets", "list", "--format", "json")
    [row] = json.loads(listed.stdout)
    assert (row["id"], row["status"], row["unread"], row["customer"]) == (ticket_id, "open", 1, "alice@example.com")
    note = cli("tickets", "reply", str(ticket_id), "--message", "call him first", "--internal")
    assert note.exit_code == 0 and "internal note added to ticket" in note.stderr
    shown = cli("tickets", "show", str(ticket_id))
    assert shown.exit_code == 0, shown.stderr
    assert "OK for me\\x1b[2J" in shown.stdout and "\x1b" not in shown.stdout
    assert "internal note" in shown.stdout and "call him first" in shown.stdout
    assert json.loads(cli("tickets", "list", "--format", "json").stdout)[0]["unread"] == 0
    assert cli("tickets", "reply", str(ticket_id), "-m", "Done.").exit_code == 0
    assert cli("tickets", "close", str(ticket_id)).exit_code == 0
    again = cli("tickets", "close", str(ticket_id))
    assert again.exit_code == 2 and again.stderr.strip().count("\n") == 0 and "ID: the ticket is closed already" in again.stderr
    assert [item["id"] for item in json.loads(cli("tickets", "list", "--status", "closed", "--format", "json").stdout)] == [ticket_id]
    assert json.loads(cli("tickets", "list", "--status", "open", "--format", "json").stdout) == []
    assert cli("tickets", "list", "--customer", "alice@example.com", "--format", "ids").stdout.split() == [str(ticket_id)]
    assert cli("tickets", "list", "--service", str(web), "--format", "ids").stdout.split() == [str(ticket_id)]


def test_cli_list_pages_and_cuts(db, admin, web, cli):
    for index in range(5):
        db.transaction(lambda session: tickets.open_ticket(session, admin, web, f"t{index}", "x"))
    result = cli("tickets", "list", "--limit", "2", "--format", "ids")
    assert result.stdout.split() == ["5", "4"] and "2 of 5 shown" in result.stderr
    assert cli("tickets", "list", "--all", "--format", "ids").stdout.split() == ["5", "4", "3", "2", "1"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("tickets", "list", "--status", "pending"), "--status"),
        (("tickets", "list", "--service", "abc"), "--service"),
        (("tickets", "list", "--limit", "-1"), "--limit"),
        (("tickets", "show", "x"), "ID"),
        (("tickets", "open", "--subject", "s", "--message", "m"), "--service"),
        (("tickets", "open", "--service", "1", "--message", "m"), "--subject"),
        (("tickets", "open", "--service", "1", "--subject", "s"), "--message"),
        (("tickets", "reply", "1", "--message", ""), "--message"),
        (("tickets", "close", "0"), "ID"),
    ],
)
def test_cli_bad_input_is_one_line_naming_the_field(db, admin, web, cli, args, field):
    result = cli(*args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0 and field in result.stderr
    assert count(db, Ticket) == 0


def test_cli_unknown_ticket_is_one_line(db, admin, cli):
    result = cli("tickets", "show", "99")
    assert result.exit_code == 1 and result.stderr.strip().endswith("ticket: no ticket with id 99")


def test_unknown_ids_for_customers_are_no_ticket(db, alice, web):
    with pytest.raises(NotFound, match=r"^no ticket 5$"):
        db.transaction(lambda session: customer_actions.reply_ticket(session, alice, 5, "x"))
