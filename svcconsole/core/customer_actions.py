"""The changes a customer may make in the customer area (SPEC.md section 9): renew, cancel, keep,
auto-renewal, tickets, and the self-service its product's flags allow (add an option, change the
cycle, delete, power and reinstall, suspend and lift their own suspension).

Like every read of `core.customer`, each first asks `operators.require_client` what this actor
may do and finds the service in its `CustomerScope` only ("no service N" otherwise); a
self-service action then checks its product flag and the service's state in the same
transaction (`customer.self_service_refusal`), so what the screen offered is checked again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlmodel import Session

from svcconsole.core import (
    actions,
    activity,
    catalog,
    clock,
    cycles,
    i18n,
    invoice_lookups,
    invoices,
    jobs,
    leases,
    lookups,
    option_catalog,
    parse,
    tickets,
    upgrades,
)
from svcconsole.core.customer import (
    AUTO_RENEW_STATUSES,
    ENDED,
    _scope,
    _uncancel_refusal,
    _visible,
    auto_renew_label,
    cycle_choices,
    day,
    power_verbs,
    renew_price_label,
    self_service_refusal,
    visible_ticket,
)
from svcconsole.core.errors import InvalidInput, TransitionRefused
from svcconsole.core.operators import Actor
from svcconsole.core.statuses import CancelMode, SuspendKind
from svcconsole.modules import get_module
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
    done: str | None = None
    """What to say once the queued job succeeded (None: the cancellation's wording)."""
    waiting: str | None = None
    """What to say when the job did not finish at once (None: the cancellation's wording)."""


def _done_or_under_way(service_id: int, job_id: int | None, *, done: str, under_way: str, waiting: str) -> ActionResult:
    """An action done at once (no panel job: `done`), or under way until its queued job finishes."""
    return ActionResult(service_id, done if job_id is None else under_way, job_id=job_id, done=done, waiting=waiting)


def _mark_changed(service: Service, actor: Actor) -> None:
    service.version = (service.version or 0) + 1
    service.updated_at = clock.now()
    service.updated_by = actor.name


def renew(session: Session, actor: Actor, service_id: int, cycle_count: int | str = 1) -> ActionResult:
    """Bill a renewal (never a free one) on the invoice that bills it, the newest unpaid one, or a new one."""
    scope = _scope(actor, "renew-invoice", "renewing")
    count = parse.parse_int("cycles", cycle_count, minimum=1, maximum=120)
    tr, locale = i18n.translator(actor.locale), actor.locale
    service = _visible(session, scope, service_id, for_update=True, tr=tr)
    tz = lookups.timezone_of(session)
    if service.expires_at is not None:
        existing = scope.renewal_line_for_period(session, service_id, service.expires_at, invoice_lookups.OPEN_STATUSES)
        if existing is not None:
            return ActionResult(
                service_id,
                tr("invoice {number} already bills this renewal ({amount}); the service is extended when it is paid").format(
                    number=existing.invoice_id, amount=i18n.format_money(existing.amount, service.currency, locale)
                ),
                invoice_id=existing.invoice_id,
            )
    reused = scope.newest_open_invoice(session, invoice_lookups.InvoiceStatus.UNPAID.value, service.currency)
    old_expiry = service.expires_at
    actions.perform(session, actor, "renew-invoice", service_id, {"cycles": count, "invoice": reused.id if reused else "new"})
    assert old_expiry is not None
    line = scope.renewal_line_for_period(session, service_id, old_expiry, invoice_lookups.OPEN_STATUSES)
    assert line is not None
    where = tr("added to invoice {number}") if reused else tr("billed on new invoice {number}")
    return ActionResult(
        service_id,
        tr("renewal of {count} × {cycle} ({amount}) {where}; once it is paid the service runs until {date}").format(
            count=count,
            cycle=i18n.cycle_name(service.billing_cycle, tr),
            amount=i18n.format_money(line.amount, service.currency, locale),
            where=where.format(number=line.invoice_id),
            date=day(line.period_end, tz, locale),
        ),
        invoice_id=line.invoice_id,
    )


def cancel(session: Session, actor: Actor, service_id: int, mode: str, reason: str | None = None, *, claim_for: str | None = None) -> ActionResult:
    """Cancel at the end of the cycle or at once, when the service's product lets customers cancel."""
    value = (mode or "").strip().lower()
    if value not in {item.value for item in CancelMode}:
        raise InvalidInput("mode", f"{mode!r} is not a cancel mode (end-of-cycle or immediate)")
    action = "cancel-end-of-cycle" if value == CancelMode.END_OF_CYCLE.value else "cancel-immediately"
    scope = _scope(actor, action, "cancelling")
    tr = i18n.translator(actor.locale)
    service = _visible(session, scope, service_id, for_update=True, tr=tr)
    product = session.get(Product, service.product_id) if service.product_id else None
    if product is None or not product.allow_customer_cancel:
        raise TransitionRefused(service_id, service.status, "cancel", tr("this product cannot be cancelled from the customer area; contact support"))
    text = parse.parse_text("reason", reason, max_length=2000)
    outcome = actions.perform(session, actor, action, service_id, {"reason": text}, claim_for=claim_for)
    tz = lookups.timezone_of(session)
    if action == "cancel-end-of-cycle":
        return ActionResult(service_id, tr("service {id} will be cancelled on {date}").format(id=service_id, date=day(service.cancel_at, tz, actor.locale)))
    if outcome.job_id is not None:
        return ActionResult(service_id, tr("service {id} is being cancelled").format(id=service_id), job_id=outcome.job_id)
    return ActionResult(service_id, tr("service {id} is cancelled").format(id=service_id))


def uncancel(session: Session, actor: Actor, service_id: int) -> ActionResult:
    """Withdraw an end-of-cycle cancellation the customer asked for."""
    scope = _scope(actor, "uncancel", "withdrawing a cancellation")
    tr = i18n.translator(actor.locale)
    service = _visible(session, scope, service_id, for_update=True, tr=tr)
    why = _uncancel_refusal(session, scope, service, tr)
    if why is not None:
        raise TransitionRefused(service_id, service.status, "withdraw the cancellation", why)
    actions.perform(session, actor, "uncancel", service_id, {})
    return ActionResult(service_id, tr("the cancellation of service {id} is withdrawn").format(id=service_id))


def set_auto_renew(session: Session, actor: Actor, service_id: int, on: bool) -> ActionResult:
    """Turn auto-renewal on or off (renewal invoices are made for auto-renewing services only)."""
    scope = _scope(actor, "auto-renew", "changing auto-renewal")
    tr = i18n.translator(actor.locale)
    service = _visible(session, scope, service_id, for_update=True, tr=tr)
    if service.status not in AUTO_RENEW_STATUSES:
        raise TransitionRefused(service_id, service.status, "change auto-renewal", tr("allowed for pending, active and suspended services"))
    if not cycles.is_recurring(service.billing_cycle):
        raise TransitionRefused(service_id, service.status, "change auto-renewal", tr("this service is not renewed"))
    label = auto_renew_label(on, actor.locale)
    if bool(service.auto_renew) == on:
        return ActionResult(service_id, tr("auto-renewal of service {id} is already {state}").format(id=service_id, state=label))
    before = bool(service.auto_renew)
    service.auto_renew = on
    _mark_changed(service, actor)
    session.add(service)
    activity.record(session, service, actor, "auto_renew", from_status=service.status, to_status=service.status, details={"auto_renew": [before, on]})
    session.flush()
    return ActionResult(service_id, tr("auto-renewal of service {id} is now {state}").format(id=service_id, state=label))


# ----------------------------------------------------------------------------- self-service


def _product_of(session: Session, service: Service) -> Product | None:
    return session.get(Product, service.product_id) if service.product_id else None


def _checked(session: Session, actor: Actor, service_id: int, action: str, what: str, doing: str) -> Service:
    """The customer's service, locked, once the product's flag and the service's state allow `action` now."""
    scope = _scope(actor, action, doing)
    service = _visible(session, scope, service_id, for_update=True)
    why = self_service_refusal(session, service, _product_of(session, service), action)
    if why is not None:
        raise TransitionRefused(service_id, service.status, what, why)
    return service


def buy_option(session: Session, actor: Actor, service_id: int, choice: str) -> ActionResult:
    """Bill an option from the product's catalogue for the rest of the period, on a new invoice; paying it adds the option."""
    service = _checked(session, actor, service_id, "buy-option", "add an option", "adding an option")
    product = _product_of(session, service)
    assert product is not None
    chosen = option_catalog.choose(session, product, str(choice or ""))
    if chosen.quantity == 0:
        raise InvalidInput("option", f"a quantity of 0 chooses nothing (accepted for {chosen.name!r}: 1 or more)")
    scope = _scope(actor, "buy-option", "adding an option")
    if chosen.name in {option.name for option in scope.options(session, service_id)}:
        raise TransitionRefused(service_id, service.status, "add an option", f"the service has {chosen.name!r} already")
    for line in scope.option_lines(session, service_id, invoice_lookups.OPEN_STATUSES):
        if str((line.details or {}).get(invoices.BOUGHT_OPTION, "")).split("=")[0] == chosen.name:
            raise TransitionRefused(
                service_id, service.status, "add an option", f"invoice {line.invoice_id} bills {chosen.name!r} already; it is added when paid"
            )
    remaining = upgrades.remaining_of(session, service)
    amount = upgrades.prorate(invoice_lookups.ZERO, chosen.total, remaining.current_days, remaining.cycle_days, remaining.whole_cycles)
    if amount <= invoice_lookups.ZERO:
        raise TransitionRefused(service_id, service.status, "add an option", "nothing is left of the paid period; renew first")
    tz = lookups.timezone_of(session)
    invoice = invoices.new_invoice(session, service.customer_id, service.currency)
    description = f"Option {chosen.text} for #{service_id} {service.name}: {remaining.text} until {day(service.expires_at, tz)}"
    line = invoices.add_bought_option_line(
        session, actor, invoice, service, choice=chosen.text, description=description, amount=amount, period_end=service.expires_at
    )
    tr = i18n.translator(actor.locale)
    text = tr(
        "option {option}: invoice {invoice} bills {amount} for the rest of the period; the option is added when it is paid, then {renewal} with each renewal"
    )
    return ActionResult(
        service_id,
        text.format(
            option=chosen.text,
            invoice=invoice.id,
            amount=i18n.format_money(line.amount, service.currency, actor.locale),
            renewal=i18n.format_money(chosen.total, service.currency, actor.locale),
        ),
        invoice_id=invoice.id,
    )


def change_cycle(session: Session, actor: Actor, service_id: int, cycle: str) -> ActionResult:
    """Renew at another cycle the product has a price for, from the next renewal on (the paid period is kept)."""
    service = _checked(session, actor, service_id, "change-cycle", "change the cycle", "changing the renewal cycle")
    offers = dict(cycle_choices(session, service))
    wanted = (cycle or "").strip().lower()
    if wanted not in offers:
        accepted = ", ".join(offers) or "none"
        raise InvalidInput("cycle", f"{cycle!r} is not a cycle this service can renew at (accepted: {accepted})")
    scope = _scope(actor, "change-cycle", "changing the renewal cycle")
    if service.expires_at is not None:
        billed = scope.renewal_line_for_period(session, service_id, service.expires_at, invoice_lookups.OPEN_STATUSES)
        if billed is not None:
            raise TransitionRefused(
                service_id,
                service.status,
                "change the cycle",
                f"invoice {billed.invoice_id} bills the next renewal already; pay it first, the change then applies after it",
            )
    before_cycle, before_price = service.billing_cycle, service.price
    service.billing_cycle = wanted
    service.price = catalog.product_price(session, service.product_id or 0, wanted).price  # type: ignore[union-attr]  # cycle_choices found it
    _mark_changed(service, actor)
    session.add(service)
    activity.record(
        session,
        service,
        actor,
        "cycle",
        from_status=service.status,
        to_status=service.status,
        details={"billing_cycle": [before_cycle, wanted], "price": [str(before_price), str(service.price)]},
    )
    session.flush()
    tz = lookups.timezone_of(session)
    tr, locale = i18n.translator(actor.locale), actor.locale
    price = renew_price_label(service.price, service.currency, wanted, locale)
    if service.expires_at:
        text = tr("service {id} renews at {price} from the renewal on {date}").format(id=service_id, price=price, date=day(service.expires_at, tz, locale))
    else:
        text = tr("service {id} renews at {price} from the next renewal").format(id=service_id, price=price)
    return ActionResult(service_id, text)


def delete(session: Session, actor: Actor, service_id: int, reason: str | None = None, *, claim_for: str | None = None) -> ActionResult:
    """BILLmanager's deletion: an ended (cancelled, expired, terminated) service is deleted; a running one is cancelled now, then deleted."""
    service = _checked(session, actor, service_id, "delete", "delete", "deleting a service")
    text = parse.parse_text("reason", reason, max_length=2000)
    tr = i18n.translator(actor.locale)
    done = tr("service {id} is deleted").format(id=service_id)
    waiting = tr("service {id}: the deletion is under way; support will finish it if the panel does not answer").format(id=service_id)
    if service.status in ENDED:
        outcome = actions.perform(session, actor, "delete", service_id, {"reason": text}, claim_for=claim_for)
    else:
        outcome = actions.perform(session, actor, "cancel-immediately", service_id, {"reason": text, "then_delete": True}, claim_for=claim_for)
    return _done_or_under_way(service_id, outcome.job_id, done=done, under_way=tr("service {id} is being deleted").format(id=service_id), waiting=waiting)


def power(session: Session, actor: Actor, service_id: int, verb: str, *, claim_for: str | None = None) -> ActionResult:
    """Start, stop or restart the service with its module's own signal, through the job queue."""
    service = _checked(session, actor, service_id, "power", f"{verb or 'power'}", "power actions")
    wanted = (verb or "").strip().lower()
    offered = power_verbs(service.type)
    if wanted not in offered:
        module = get_module(service.type).label or service.type
        raise InvalidInput("power", f"{verb!r} is not a power action of this {module} service (accepted: {', '.join(offered)})")
    signal = get_module(service.type).customer_power[wanted]
    outcome = actions.perform(session, actor, "power", service_id, {"signal": signal, "verb": wanted}, claim_for=claim_for)
    tr = i18n.translator(actor.locale)
    named = {"id": service_id, "action": tr(wanted)}
    return ActionResult(
        service_id,
        tr("service {id}: {action} queued").format(**named),
        job_id=outcome.job_id,
        done=tr("service {id}: {action} sent to the panel").format(**named),
        waiting=tr("service {id}: {action} is queued; the panel did not answer yet").format(**named),
    )


def reinstall(session: Session, actor: Actor, service_id: int, confirmation: str, *, claim_for: str | None = None) -> ActionResult:
    """Reinstall the service (its data is lost) once the customer typed its name to confirm."""
    service = _checked(session, actor, service_id, "reinstall", "reinstall", "reinstalling")
    if (confirmation or "").strip() != service.name.strip():
        raise InvalidInput("confirmation", "type the service's name exactly to confirm the reinstall")
    outcome = actions.perform(session, actor, "reinstall", service_id, {"reason": "reinstalled by the customer"}, claim_for=claim_for)
    tr = i18n.translator(actor.locale)
    return ActionResult(
        service_id,
        tr("service {id}: reinstall queued").format(id=service_id),
        job_id=outcome.job_id,
        done=tr("service {id} is being reinstalled").format(id=service_id),
        waiting=tr("service {id}: the reinstall is queued; the panel did not answer yet").format(id=service_id),
    )


def suspend(session: Session, actor: Actor, service_id: int, reason: str | None = None, *, claim_for: str | None = None) -> ActionResult:
    """Suspend the service at the customer's request (kind `client`, which the customer may lift)."""
    _checked(session, actor, service_id, "suspend", "suspend", "suspending")
    text = parse.parse_text("reason", reason, max_length=2000)
    outcome = actions.perform(session, actor, "suspend", service_id, {"kind": SuspendKind.CLIENT.value, "reason": text}, claim_for=claim_for)
    tr = i18n.translator(actor.locale)
    return _done_or_under_way(
        service_id,
        outcome.job_id,
        done=tr("service {id} is suspended; resume it when you want").format(id=service_id),
        under_way=tr("service {id} is being suspended").format(id=service_id),
        waiting=tr("service {id}: the suspension is queued; the panel did not answer yet").format(id=service_id),
    )


def lift_suspension(session: Session, actor: Actor, service_id: int, *, claim_for: str | None = None) -> ActionResult:
    """Lift the customer's own (`client`) suspension; any other kind only support lifts."""
    _checked(session, actor, service_id, "unsuspend", "resume", "resuming")
    outcome = actions.perform(session, actor, "unsuspend", service_id, {"reason": "resumed by the customer"}, claim_for=claim_for)
    tr = i18n.translator(actor.locale)
    return _done_or_under_way(
        service_id,
        outcome.job_id,
        done=tr("service {id} is active again").format(id=service_id),
        under_way=tr("service {id} is being resumed").format(id=service_id),
        waiting=tr("service {id}: resuming is queued; the panel did not answer yet").format(id=service_id),
    )


def carry_out(db: Database, change: Callable[[Session, str], ActionResult], locale: str = i18n.DEFAULT_LOCALE) -> ActionResult:
    """Run a customer action in one transaction, then the panel job it queued, in this thread (its outcome in `locale`)."""
    tr = i18n.translator(locale)
    worker = leases.holder()
    result = db.transaction(lambda session: change(session, worker))
    if result.job_id is None:
        return result
    outcome = jobs.execute(db, result.job_id, worker=worker)
    if outcome is not None and outcome.status == "succeeded":
        return replace(result, message=result.done or tr("service {id} is cancelled").format(id=result.service_id))
    return replace(
        result,
        message=result.waiting
        or tr("service {id}: the cancellation is under way; support will finish it if the panel does not answer").format(id=result.service_id),
    )


# ----------------------------------------------------------------------------- tickets


def _ticket_text(tr: i18n.Translate, field: str, text: str | None, most: int, *, one_line: bool = False) -> str:
    """A ticket's subject or message as the customer typed it (tickets.check_subject's and
    check_body's rules), refused naming `field` in the customer's language."""
    if text is None or not text.strip():
        raise InvalidInput(field, tr("a value is required"))
    if "\x00" in text:
        raise InvalidInput(field, tr("NUL characters are not accepted"))
    if len(text) > most:
        raise InvalidInput(field, tr("too long ({length} characters; at most {most})").format(length=len(text), most=most))
    if one_line and any(character in text for character in "\r\n"):
        raise InvalidInput(field, tr("one line (no line breaks)"))
    return text


def check_ticket(subject: str | None, message: str | None, tr: i18n.Translate = i18n.untranslated) -> None:
    """Refuse, naming the field, a subject or first message a new ticket would not take (in `tr`'s language)."""
    _ticket_text(tr, tr("subject"), subject, tickets.SUBJECT_MAX, one_line=True)
    _ticket_text(tr, tr("message"), message, tickets.BODY_MAX)


def _author(session: Session, scope: CustomerScope) -> str:
    customer = scope.customer(session)
    return customer.name if customer else "customer"


def open_ticket(session: Session, actor: Actor, service_id: int, subject: str | None, message: str | None) -> tickets.TicketResult:
    """Ask a question about one of the customer's services: a ticket `open` for support, mailed to the staff."""
    scope = _scope(actor, "ticket", "opening a ticket")
    check_ticket(subject, message, i18n.translator(actor.locale))
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
    tr = i18n.translator(actor.locale)
    text = _ticket_text(tr, tr("message"), message, tickets.BODY_MAX)
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
    return tickets.TicketResult(ticket_id, service.id or 0, ticket.status, row.id, tr("reply sent to ticket {id}").format(id=ticket_id))


def close_ticket(session: Session, actor: Actor, ticket_id: int) -> tickets.TicketResult:
    """Close one of the customer's tickets (their question is settled; writing again reopens it)."""
    scope = _scope(actor, "ticket", "closing a ticket")
    ticket = visible_ticket(session, scope, ticket_id, for_update=True)
    if ticket.status == tickets.TicketStatus.CLOSED.value:
        tr = i18n.translator(actor.locale)
        raise InvalidInput(tr("ticket"), tr("the ticket is closed already (a new message reopens it)"))
    return tickets.close_ticket(session, actor, ticket)
