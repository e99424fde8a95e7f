"""The changes a customer may make in the customer area (SPEC.md section 9): renew, cancel, keep, auto-renewal, tickets.

Like every read of `core.customer`, each first asks `operators.require_client` what this actor
may do and finds the service in its `CustomerScope` only ("no service N" otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlmodel import Session

from svcconsole.core import actions, activity, clock, cycles, invoice_lookups, jobs, leases, lookups, parse, tickets
from svcconsole.core.customer import AUTO_RENEW_STATUSES, _scope, _uncancel_refusal, _visible, auto_renew_label, day, visible_ticket
from svcconsole.core.errors import InvalidInput, TransitionRefused
from svcconsole.core.operators import Actor
from svcconsole.core.statuses import CancelMode
from svcconsole.store.customer_scope import CustomerScope
from svcconsole.store.engine import Database
from svcconsole.store.models import Product, Service, Ticket


@dataclass(frozen=True)
class ActionResult:
    """What a customer action did, in the customer's words; `job_id` when the panel has work to do."""

    service_id: int
    message: str
    invoice_id: int | None = None
    job_id: int | None = None


def _mark_changed(service: Service, actor: Actor) -> None:
    service.version = (service.version or 0) + 1
    service.updated_at = clock.now()
    service.updated_by = actor.name


def renew(session: Session, actor: Actor, service_id: int, cycle_count: int | str = 1) -> ActionResult:
    """Bill a renewal (never a free one) on the invoice that bills it, the newest unpaid one, or a new one."""
    scope = _scope(actor, "renew-invoice", "renewing")
    count = parse.parse_int("cycles", cycle_count, minimum=1, maximum=120)
    service = _visible(session, scope, service_id, for_update=True)
    tz = lookups.timezone_of(session)
    if service.expires_at is not None:
        existing = scope.renewal_line_for_period(session, service_id, service.expires_at, invoice_lookups.OPEN_STATUSES)
        if existing is not None:
            return ActionResult(
                service_id,
                f"invoice {existing.invoice_id} already bills this renewal ({existing.amount:.2f} {service.currency}); the service is extended when it is paid",
                invoice_id=existing.invoice_id,
            )
    reused = scope.newest_open_invoice(session, invoice_lookups.InvoiceStatus.UNPAID.value, service.currency)
    old_expiry = service.expires_at
    actions.perform(session, actor, "renew-invoice", service_id, {"cycles": count, "invoice": reused.id if reused else "new"})
    assert old_expiry is not None
    line = scope.renewal_line_for_period(session, service_id, old_expiry, invoice_lookups.OPEN_STATUSES)
    assert line is not None
    unit = cycles.PER_UNIT[cycles.BillingCycle(service.billing_cycle)]
    where = f"added to invoice {line.invoice_id}" if reused else f"billed on new invoice {line.invoice_id}"
    return ActionResult(
        service_id,
        f"renewal of {count} × {unit} ({line.amount:.2f} {service.currency}) {where}; once it is paid the service runs until {day(line.period_end, tz)}",
        invoice_id=line.invoice_id,
    )


def cancel(session: Session, actor: Actor, service_id: int, mode: str, reason: str | None = None, *, claim_for: str | None = None) -> ActionResult:
    """Cancel at the end of the cycle or at once, when the service's product lets customers cancel."""
    value = (mode or "").strip().lower()
    if value not in {item.value for item in CancelMode}:
        raise InvalidInput("mode", f"{mode!r} is not a cancel mode (end-of-cycle or immediate)")
    action = "cancel-end-of-cycle" if value == CancelMode.END_OF_CYCLE.value else "cancel-immediately"
    scope = _scope(actor, action, "cancelling")
    service = _visible(session, scope, service_id, for_update=True)
    product = session.get(Product, service.product_id) if service.product_id else None
    if product is None or not product.allow_customer_cancel:
        raise TransitionRefused(service_id, service.status, "cancel", "this product cannot be cancelled from the customer area; contact support")
    text = parse.parse_text("reason", reason, max_length=2000)
    outcome = actions.perform(session, actor, action, service_id, {"reason": text}, claim_for=claim_for)
    tz = lookups.timezone_of(session)
    if action == "cancel-end-of-cycle":
        return ActionResult(service_id, f"service {service_id} will be cancelled on {day(service.cancel_at, tz)}")
    if outcome.job_id is not None:
        return ActionResult(service_id, f"service {service_id} is being cancelled", job_id=outcome.job_id)
    return ActionResult(service_id, f"service {service_id} is cancelled")


def uncancel(session: Session, actor: Actor, service_id: int) -> ActionResult:
    """Withdraw an end-of-cycle cancellation the customer asked for."""
    scope = _scope(actor, "uncancel", "withdrawing a cancellation")
    service = _visible(session, scope, service_id, for_update=True)
    why = _uncancel_refusal(session, scope, service)
    if why is not None:
        raise TransitionRefused(service_id, service.status, "withdraw the cancellation", why)
    actions.perform(session, actor, "uncancel", service_id, {})
    return ActionResult(service_id, f"the cancellation of service {service_id} is withdrawn")


def set_auto_renew(session: Session, actor: Actor, service_id: int, on: bool) -> ActionResult:
    """Turn auto-renewal on or off (renewal invoices are made for auto-renewing services only)."""
    scope = _scope(actor, "auto-renew", "changing auto-renewal")
    service = _visible(session, scope, service_id, for_update=True)
    if service.status not in AUTO_RENEW_STATUSES:
        raise TransitionRefused(service_id, service.status, "change auto-renewal", "allowed for pending, active and suspended services")
    if not cycles.is_recurring(service.billing_cycle):
        raise TransitionRefused(service_id, service.status, "change auto-renewal", f"a {service.billing_cycle} service is never renewed")
    label = auto_renew_label(on)
    if bool(service.auto_renew) == on:
        return ActionResult(service_id, f"auto-renewal of service {service_id} is already {label}")
    before = bool(service.auto_renew)
    service.auto_renew = on
    _mark_changed(service, actor)
    session.add(service)
    activity.record(session, service, actor, "auto_renew", from_status=service.status, to_status=service.status, details={"auto_renew": [before, on]})
    session.flush()
    return ActionResult(service_id, f"auto-renewal of service {service_id} is now {label}")


def carry_out(db: Database, change: Callable[[Session, str], ActionResult]) -> ActionResult:
    """Run a customer action in one transaction, then the panel job it queued, in this thread."""
    worker = leases.holder()
    result = db.transaction(lambda session: change(session, worker))
    if result.job_id is None:
        return result
    outcome = jobs.execute(db, result.job_id, worker=worker)
    if outcome is not None and outcome.status == "succeeded":
        return replace(result, message=f"service {result.service_id} is cancelled")
    return replace(result, message=f"service {result.service_id}: the cancellation is under way; support will finish it if the panel does not answer")


# ----------------------------------------------------------------------------- tickets


def check_ticket(subject: str | None, message: str | None) -> None:
    """Refuse, naming the field, a subject or first message a new ticket would not take."""
    tickets.check_subject(subject, "subject")
    tickets.check_body("message", message)


def _author(session: Session, scope: CustomerScope) -> str:
    customer = scope.customer(session)
    return customer.name if customer else "customer"


def open_ticket(session: Session, actor: Actor, service_id: int, subject: str | None, message: str | None) -> tickets.TicketResult:
    """Ask a question about one of the customer's services: a ticket `open` for support, mailed to the staff."""
    scope = _scope(actor, "ticket", "opening a ticket")
    check_ticket(subject, message)
    service = _visible(session, scope, service_id)
    now = clock.now()
    ticket = Ticket(
        service_id=service_id,
        customer_id=scope.customer_id,
        subject=subject or "",
        status=tickets.status_after(tickets.TicketStatus.OPEN.value, tickets.Event.CUSTOMER_MESSAGE),
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    session.flush()
    row = tickets.add_message(session, ticket, tickets.CUSTOMER, _author(session, scope), message or "")
    activity.record(
        session, service, actor, "ticket_open", from_status=service.status, to_status=service.status, reason=ticket.subject, details={"ticket": ticket.id}
    )
    tickets.mail_staff(session, ticket, service, row)
    return tickets.TicketResult(ticket.id or 0, service_id, ticket.status, row.id, f"ticket {ticket.id} sent; support will answer here and by mail")


def reply_ticket(session: Session, actor: Actor, ticket_id: int, message: str | None) -> tickets.TicketResult:
    """Write in one of the customer's tickets (a closed one opens again); mailed to the staff."""
    scope = _scope(actor, "ticket", "replying to a ticket")
    text = tickets.check_body("message", message)
    ticket = visible_ticket(session, scope, ticket_id, for_update=True)
    service = _visible(session, scope, ticket.service_id)
    before = ticket.status
    ticket.status = tickets.status_after(before, tickets.Event.CUSTOMER_MESSAGE)
    row = tickets.add_message(session, ticket, tickets.CUSTOMER, _author(session, scope), text)
    activity.record(
        session,
        service,
        actor,
        "ticket_reply",
        from_status=service.status,
        to_status=service.status,
        details={"ticket": ticket_id, "status": [before, ticket.status]},
    )
    tickets.mail_staff(session, ticket, service, row)
    return tickets.TicketResult(ticket_id, service.id or 0, ticket.status, row.id, f"reply sent to ticket {ticket_id}")


def close_ticket(session: Session, actor: Actor, ticket_id: int) -> tickets.TicketResult:
    """Close one of the customer's tickets (their question is settled; writing again reopens it)."""
    scope = _scope(actor, "ticket", "closing a ticket")
    ticket = visible_ticket(session, scope, ticket_id, for_update=True)
    return tickets.close_ticket(session, actor, ticket)
