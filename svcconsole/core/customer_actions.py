"""The changes a customer may make in the customer area (SPEC.md section 9): renew, cancel, keep, auto-renewal.

Like every read of `core.customer`, each first asks `operators.require_client` what this actor
may do and finds the service in its `CustomerScope` only ("no service N" otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlmodel import Session

from svcconsole.core import actions, activity, clock, cycles, i18n, invoice_lookups, jobs, leases, lookups, parse
from svcconsole.core.customer import AUTO_RENEW_STATUSES, _scope, _uncancel_refusal, _visible, auto_renew_label, day
from svcconsole.core.errors import InvalidInput, TransitionRefused
from svcconsole.core.operators import Actor
from svcconsole.core.statuses import CancelMode
from svcconsole.store.engine import Database
from svcconsole.store.models import Product, Service


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


def carry_out(db: Database, change: Callable[[Session, str], ActionResult], locale: str = i18n.DEFAULT_LOCALE) -> ActionResult:
    """Run a customer action in one transaction, then the panel job it queued, in this thread (its outcome in `locale`)."""
    tr = i18n.translator(locale)
    worker = leases.holder()
    result = db.transaction(lambda session: change(session, worker))
    if result.job_id is None:
        return result
    outcome = jobs.execute(db, result.job_id, worker=worker)
    if outcome is not None and outcome.status == "succeeded":
        return replace(result, message=tr("service {id} is cancelled").format(id=result.service_id))
    return replace(
        result, message=tr("service {id}: the cancellation is under way; support will finish it if the panel does not answer").format(id=result.service_id)
    )
