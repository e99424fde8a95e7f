"""Tickets about a service: a customer and the staff write to each other (BILLmanager's "Ticket").

The status says who acts next (`status_after` is the rule):

- a customer's message leaves the ticket `open` (support must answer);
- a staff member's public message leaves it `answered` (it waits for the customer), so a
  ticket the staff open is `answered` from its first message;
- an internal note (staff only) changes nothing, on a closed ticket too;
- `close` closes an open or answered ticket; closing a closed one is refused;
- a message on a closed ticket reopens it: `open` or `answered` as above (a customer who
  writes again is heard, rather than turned away).

This module holds the staff's side; the customer's (`core.customer` reads, `core.customer_actions`
writes) follows the same rule through its helpers. Each public message queues a mail to the
other side: `ticket_opened` or `ticket_reply` to the customer, `ticket_customer_message` to the
setting `admin_email` (else `smtp_from`). A note mails no one and never reaches the customer
area, whose reads all go through `CustomerScope` (public messages only). A service given to
another customer takes its tickets out of both customers' areas (the staff keep them); a
deleted service takes no new ticket and no public reply (notes still).
Bodies are stored as given (NUL refused); whoever shows them renders them inert.

Unread counts come from each side's read mark (the newest message id that side has read):
the customer's messages after the staff's mark, the staff's public messages after the
customer's. Reading a thread moves the reader's mark; a read-only reader moves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from svcconsole.core import activity, clock, notifications, parse
from svcconsole.core.errors import InvalidInput, NotFound
from svcconsole.core.lookups import get_service, settings_of
from svcconsole.core.operators import Actor, require
from svcconsole.core.statuses import NON_TRANSITION_ROLES, Status
from svcconsole.store.models import Customer, Service, Ticket, TicketMessage


class TicketStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


STATUSES = tuple(item.value for item in TicketStatus)


class Event(StrEnum):
    """What happens to a ticket."""

    CUSTOMER_MESSAGE = "customer_message"
    STAFF_REPLY = "staff_reply"
    NOTE = "note"
    CLOSE = "close"


ADMIN = "admin"
CUSTOMER = "customer"

SUBJECT_MAX = 200
BODY_MAX = 20000
THREAD_PAGE = 200
"""The newest messages a thread shows at once; older ones are counted, not loaded."""


def status_after(current: str, event: Event) -> str:
    """The status a ticket in `current` takes after `event`; InvalidInput when the event is refused there."""
    if event is Event.CUSTOMER_MESSAGE:
        return TicketStatus.OPEN.value
    if event is Event.STAFF_REPLY:
        return TicketStatus.ANSWERED.value
    if event is Event.NOTE:
        return current
    if current == TicketStatus.CLOSED.value:
        raise InvalidInput("ID", "the ticket is closed already (a new message reopens it)")
    return TicketStatus.CLOSED.value


# ----------------------------------------------------------------------------- what is read


@dataclass(frozen=True)
class TicketLine:
    """A ticket as a list shows it; `unread` counts the messages the reader's side has not read."""

    id: int
    service_id: int
    service_name: str
    customer_id: int
    customer: str
    subject: str
    status: str
    created_at: datetime
    updated_at: datetime
    unread: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "service_id": self.service_id,
            "service": self.service_name,
            "customer_id": self.customer_id,
            "customer": self.customer,
            "subject": self.subject,
            "status": self.status,
            "unread": self.unread,
            "created_at": clock.as_utc(self.created_at).isoformat(),
            "updated_at": clock.as_utc(self.updated_at).isoformat(),
        }


@dataclass(frozen=True)
class MessageLine:
    id: int
    author_kind: str
    author: str
    body: str
    internal: bool
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "author_kind": self.author_kind,
            "author": self.author,
            "internal": self.internal,
            "at": clock.as_utc(self.at).isoformat(),
            "body": self.body,
        }


@dataclass(frozen=True)
class Thread:
    """A ticket and its newest messages, oldest first; `earlier` counts the older ones left out."""

    ticket: TicketLine
    messages: tuple[MessageLine, ...]
    earlier: int = 0


@dataclass(frozen=True)
class CustomerTicket:
    """One of a customer's tickets as they see it; `unread` counts staff replies they have not read."""

    id: int
    service_id: int
    service_name: str
    subject: str
    status: str
    created_at: datetime
    updated_at: datetime
    unread: int


@dataclass(frozen=True)
class CustomerThread:
    """A customer's ticket and its public messages, oldest first; `earlier` counts the older ones left out."""

    ticket: CustomerTicket
    messages: tuple[MessageLine, ...]
    earlier: int = 0


@dataclass(frozen=True)
class TicketResult:
    """What a change did: the ticket, its status now and the message it added (if any)."""

    ticket_id: int
    service_id: int
    status: str
    message_id: int | None
    text: str


def message_line(row: TicketMessage) -> MessageLine:
    return MessageLine(row.id or 0, row.author_kind, row.author, row.body, bool(row.internal), row.at)


def _staff_unread() -> Any:
    """Per ticket: the customer's messages after the staff's read mark."""
    return (
        select(func.count())
        .select_from(TicketMessage)
        .where(col(TicketMessage.ticket_id) == col(Ticket.id), col(TicketMessage.author_kind) == CUSTOMER, col(TicketMessage.id) > col(Ticket.admin_read_id))
        .scalar_subquery()
    )


def parse_status(field: str, text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    value = text.strip().lower()
    if value not in STATUSES:
        raise InvalidInput(field, f"{text!r} is not a ticket status ({', '.join(STATUSES)})")
    return value


Position = tuple[datetime, int]
"""Where a page of tickets ends: the last row's `updated_at` and id (lists run newest first)."""


def list_tickets(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    service_id: int | None = None,
    customer_id: int | None = None,
    limit: int = 50,
    after: Position | None = None,
) -> list[TicketLine]:
    """Tickets, most recently updated first, with the customer's messages the staff have not read."""
    require(actor, NON_TRANSITION_ROLES["read"], "reading tickets")
    query = (
        select(Ticket, col(Service.name), col(Customer.email), _staff_unread())
        .join(Service, col(Service.id) == col(Ticket.service_id))
        .join(Customer, col(Customer.id) == col(Ticket.customer_id))
    )
    if status is not None:
        query = query.where(col(Ticket.status) == status)
    if service_id is not None:
        query = query.where(col(Ticket.service_id) == service_id)
    if customer_id is not None:
        query = query.where(col(Ticket.customer_id) == customer_id)
    if after is not None:
        moment, last_id = after
        query = query.where(or_(col(Ticket.updated_at) < moment, (col(Ticket.updated_at) == moment) & (col(Ticket.id) < last_id)))
    query = query.order_by(col(Ticket.updated_at).desc(), col(Ticket.id).desc()).limit(limit)
    return [_line(ticket, name, email, unread) for ticket, name, email, unread in session.execute(query).all()]


def position(line: TicketLine) -> Position:
    return (line.updated_at, line.id)


def unread_total(session: Session, actor: Actor) -> int:
    """How many tickets hold a customer message the staff have not read (the console's badge)."""
    require(actor, NON_TRANSITION_ROLES["read"], "reading tickets")
    return int(session.execute(select(func.count()).select_from(Ticket).where(_staff_unread() > 0)).scalar_one())


def _line(ticket: Ticket, service_name: str, customer: str, unread: Any) -> TicketLine:
    return TicketLine(
        ticket.id or 0,
        ticket.service_id,
        service_name,
        ticket.customer_id,
        customer,
        ticket.subject,
        ticket.status,
        ticket.created_at,
        ticket.updated_at,
        int(unread or 0),
    )


def _ticket(session: Session, ticket_id: int, *, for_update: bool = False) -> Ticket:
    query = select(Ticket).where(col(Ticket.id) == ticket_id)
    if for_update:
        query = query.with_for_update()
    ticket = session.execute(query).scalars().first()
    if ticket is None:
        raise NotFound(f"ticket: no ticket with id {ticket_id}")
    return ticket


def thread(session: Session, actor: Actor, ticket_id: int, *, mark_read: bool = True, limit: int = THREAD_PAGE) -> Thread:
    """The ticket with its newest messages, internal notes included; reading it marks it read for the staff."""
    require(actor, NON_TRANSITION_ROLES["read"], "reading tickets")
    ticket = _ticket(session, ticket_id, for_update=mark_read and not actor.read_only)
    service = session.get(Service, ticket.service_id)
    customer = session.get(Customer, ticket.customer_id)
    line = _line(ticket, service.name if service else "-", customer.email if customer else "-", count_after(session, ticket, CUSTOMER, ticket.admin_read_id))
    query = select(TicketMessage).where(col(TicketMessage.ticket_id) == ticket_id).order_by(col(TicketMessage.id).desc()).limit(limit)
    newest_first = list(session.execute(query).scalars().all())
    earlier = count_before(session, ticket_id, newest_first[-1].id if newest_first else None, public_only=False)
    if mark_read and not actor.read_only and newest_first and (newest_first[0].id or 0) > ticket.admin_read_id:
        ticket.admin_read_id = newest_first[0].id or 0
        session.add(ticket)
        session.flush()
    return Thread(line, tuple(message_line(row) for row in reversed(newest_first)), earlier)


def count_after(session: Session, ticket: Ticket, author_kind: str, mark: int) -> int:
    """The ticket's messages by `author_kind` after the read mark `mark` (the staff's: public ones only)."""
    query = select(func.count()).select_from(TicketMessage).where(col(TicketMessage.ticket_id) == ticket.id, col(TicketMessage.author_kind) == author_kind)
    query = query.where(col(TicketMessage.id) > mark)
    if author_kind == ADMIN:
        query = query.where(col(TicketMessage.internal).is_(False))
    return int(session.execute(query).scalar_one())


def count_before(session: Session, ticket_id: int, first_id: int | None, *, public_only: bool) -> int:
    """The ticket's messages older than `first_id` (the ones a thread page left out)."""
    if first_id is None:
        return 0
    query = select(func.count()).select_from(TicketMessage).where(col(TicketMessage.ticket_id) == ticket_id, col(TicketMessage.id) < first_id)
    if public_only:
        query = query.where(col(TicketMessage.internal).is_(False))
    return int(session.execute(query).scalar_one())


# ----------------------------------------------------------------------------- staff changes


def check_subject(text: str | None, field: str = "--subject") -> str:
    """A subject as given: one line, 1 to SUBJECT_MAX characters; InvalidInput naming `field` otherwise."""
    value = parse.parse_text(field, text, required=True, max_length=SUBJECT_MAX) or ""
    if any(character in value for character in "\r\n"):
        raise InvalidInput(field, "one line (no line breaks)")
    return value


def check_body(field: str, text: str | None) -> str:
    """A message as given (blank and NUL refused, at most BODY_MAX characters)."""
    return parse.parse_text(field, text, required=True, max_length=BODY_MAX) or ""


def add_message(session: Session, ticket: Ticket, author_kind: str, author: str, body: str, *, internal: bool = False) -> TicketMessage:
    """Add a message as given; the ticket is updated, and its author's side has read up to it."""
    now = clock.now()
    row = TicketMessage(ticket_id=ticket.id or 0, author_kind=author_kind, author=author, body=body, internal=internal, at=now)
    session.add(row)
    ticket.updated_at = now
    session.add(ticket)
    session.flush()
    if author_kind == ADMIN:
        ticket.admin_read_id = max(ticket.admin_read_id, row.id or 0)
    elif not internal:
        ticket.customer_read_id = max(ticket.customer_read_id, row.id or 0)
    return row


def open_ticket(session: Session, actor: Actor, service_id: int, subject: str | None, body: str | None) -> TicketResult:
    """Open a ticket to the service's customer with a first public message (status `answered`); mails the customer."""
    require(actor, NON_TRANSITION_ROLES["tickets"], "opening a ticket")
    title = check_subject(subject)
    text = check_body("--message", body)
    service = get_service(session, service_id)
    if service.status == Status.DELETED.value:
        raise InvalidInput("--service", f"service {service_id} is deleted: its customer can no longer see it")
    now = clock.now()
    ticket = Ticket(
        service_id=service_id,
        customer_id=service.customer_id,
        subject=title,
        status=status_after(TicketStatus.OPEN.value, Event.STAFF_REPLY),
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    session.flush()
    row = add_message(session, ticket, ADMIN, actor.name, text)
    activity.record(session, service, actor, "ticket_open", from_status=service.status, to_status=service.status, reason=title, details={"ticket": ticket.id})
    _mail_customer(session, "ticket_opened", ticket, service, row)
    return TicketResult(ticket.id or 0, service_id, ticket.status, row.id, f"ticket {ticket.id} opened on service {service_id} ({ticket.status})")


def reply(session: Session, actor: Actor, ticket_id: int, body: str | None, *, internal: bool = False) -> TicketResult:
    """A staff message: public (the ticket becomes `answered`, the customer is mailed) or an internal note (nothing else changes)."""
    require(actor, NON_TRANSITION_ROLES["tickets"], "adding an internal note" if internal else "replying to a ticket")
    text = check_body("--message", body)
    ticket = _ticket(session, ticket_id, for_update=True)
    service = get_service(session, ticket.service_id)
    if not internal and service.status == Status.DELETED.value:
        raise InvalidInput("ID", f"service {service.id} is deleted: its customer can no longer read this ticket (add an internal note with --internal)")
    if not internal and service.customer_id != ticket.customer_id:
        raise InvalidInput(
            "ID",
            f"service {service.id} was given to another customer: its first customer can no longer read this ticket (add an internal note with --internal)",
        )
    before = ticket.status
    ticket.status = status_after(before, Event.NOTE if internal else Event.STAFF_REPLY)
    row = add_message(session, ticket, ADMIN, actor.name, text, internal=internal)
    action = "ticket_note" if internal else "ticket_reply"
    activity.record(
        session, service, actor, action, from_status=service.status, to_status=service.status, details={"ticket": ticket_id, "status": [before, ticket.status]}
    )
    if not internal:
        _mail_customer(session, "ticket_reply", ticket, service, row)
    what = "internal note added to" if internal else "reply added to"
    return TicketResult(ticket_id, service.id or 0, ticket.status, row.id, f"{what} ticket {ticket_id} ({ticket.status})")


def close(session: Session, actor: Actor, ticket_id: int) -> TicketResult:
    """Close an open or answered ticket (a later message reopens it)."""
    require(actor, NON_TRANSITION_ROLES["tickets"], "closing a ticket")
    ticket = _ticket(session, ticket_id, for_update=True)
    return close_ticket(session, actor, ticket)


def close_ticket(session: Session, actor: Actor, ticket: Ticket) -> TicketResult:
    """Close `ticket` (found and allowed by the caller), with its activity row."""
    before = ticket.status
    ticket.status = status_after(before, Event.CLOSE)
    ticket.updated_at = clock.now()
    session.add(ticket)
    service = session.get(Service, ticket.service_id)
    assert service is not None
    activity.record(
        session,
        service,
        actor,
        "ticket_close",
        from_status=service.status,
        to_status=service.status,
        details={"ticket": ticket.id, "status": [before, ticket.status]},
    )
    session.flush()
    return TicketResult(ticket.id or 0, ticket.service_id, ticket.status, None, f"ticket {ticket.id} closed")


def valid_id(value: Any) -> bool:
    """Whether `value` can be a row id at all (a customer's typed or crafted id that cannot is "no ticket N")."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= parse.MAX_ID


# ----------------------------------------------------------------------------- mails


def _mail_context(session: Session, ticket: Ticket, service: Service, customer: Customer, row: TicketMessage) -> dict[str, Any]:
    return notifications.service_context(service, customer, settings_of(session).tz) | {
        "ticket_id": ticket.id,
        "subject": ticket.subject,
        "status": ticket.status,
        "author": row.author,
        "body": row.body,
    }


def _mail_customer(session: Session, template: str, ticket: Ticket, service: Service, row: TicketMessage) -> None:
    customer = session.get(Customer, ticket.customer_id)
    if customer is None:
        return
    notifications.queue(
        session,
        template,
        to_address=customer.email,
        context=_mail_context(session, ticket, service, customer, row),
        customer_id=customer.id,
        service_id=service.id,
        dedupe_key=f"ticket_message:{row.id}",
        known_new=True,
        locale=notifications.customer_locale(session, customer),
    )


def mail_staff(session: Session, ticket: Ticket, service: Service, row: TicketMessage) -> None:
    settings = settings_of(session)
    address = settings["admin_email"] or settings["smtp_from"]
    customer = session.get(Customer, ticket.customer_id)
    if not address or customer is None:
        return
    notifications.queue(
        session,
        "ticket_customer_message",
        to_address=address,
        context=_mail_context(session, ticket, service, customer, row),
        service_id=service.id,
        dedupe_key=f"ticket_message:{row.id}",
        known_new=True,
    )


__all__ = [
    "STATUSES",
    "CustomerThread",
    "CustomerTicket",
    "Event",
    "MessageLine",
    "Thread",
    "TicketLine",
    "TicketResult",
    "TicketStatus",
    "add_message",
    "check_body",
    "check_subject",
    "close",
    "close_ticket",
    "count_after",
    "count_before",
    "list_tickets",
    "mail_staff",
    "message_line",
    "open_ticket",
    "reply",
    "status_after",
    "thread",
    "valid_id",
]
