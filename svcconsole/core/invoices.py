"""Billing on invoices: new invoices, renewal and option lines, the renew-invoice action and what its jobs leave on the line."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from svcconsole.core import activity, clock, cycles, notifications, parse, usage
from svcconsole.core.action_base import ActionContext, ActionImpl
from svcconsole.core.errors import SvcError
from svcconsole.core.invoice_lookups import (
    OPEN_STATUSES,
    OPEN_UPGRADE_STATUSES,
    InvoiceStatus,
    LineKind,
    UpgradeStatus,
    cents,
    get_invoice,
    local_day,
    money_text,
    renewal_line_for_period,
)
from svcconsole.core.lookups import iso, refuse, settings_of, timezone_of
from svcconsole.core.mail_templates import Money
from svcconsole.core.operators import Actor
from svcconsole.core.renewals import check_renewable, renewal_amount, renewed_expiry
from svcconsole.store.models import (
    Invoice,
    InvoiceLine,
    Job,
    Service,
    Upgrade,
)

# ----------------------------------------------------------------------------- invoices and lines


def new_invoice(session: Session, customer_id: int, currency: str, *, due_at: datetime | None = None) -> Invoice:
    """A new, empty, unpaid invoice."""
    now = clock.now()
    invoice = Invoice(customer_id=customer_id, status=InvoiceStatus.UNPAID.value, currency=currency, due_at=due_at or now, created_at=now)
    session.add(invoice)
    session.flush()
    return invoice


def parse_invoice_ref(field: str, text: str | int) -> str | int:
    """`new`, or an invoice id."""
    value = str(text).strip().lower()
    if value == "new":
        return "new"
    return parse.parse_id(field, value)


def open_invoice_for(session: Session, invoice_id: int, customer_id: int, currency: str) -> Invoice:
    """An existing invoice that a line for `customer_id` in `currency` may be added to (locked)."""
    invoice = get_invoice(session, invoice_id, for_update=True)
    if invoice.status not in OPEN_STATUSES:
        raise SvcError(f"invoice {invoice_id} is {invoice.status}: lines can only be added to an unpaid invoice")
    if invoice.customer_id != customer_id:
        raise SvcError(f"invoice {invoice_id} belongs to customer {invoice.customer_id}, not {customer_id}")
    if invoice.currency != currency:
        raise SvcError(f"invoice {invoice_id} is in {invoice.currency}, not {currency}")
    return invoice


def record_on_service(session: Session, actor: Actor, service: Service, action: str, details: dict[str, Any], reason: str | None = None) -> None:
    activity.record(session, service, actor, action, from_status=service.status, to_status=service.status, reason=reason, details=details)


def _renewal_period(session: Session, service: Service, cycle_count: int) -> tuple[datetime, datetime]:
    assert service.expires_at is not None
    tz = timezone_of(session)
    return service.expires_at, renewed_expiry(service, cycle_count, tz)


def check_renewal_invoice(session: Session, service: Service, cycle_count: int, invoice_ref: str | int) -> None:
    """Refuse a renewal invoice the rules forbid, or one that would bill a period twice."""
    check_renewable(session, service, cycle_count, settings_of(session))
    assert service.expires_at is not None
    existing = renewal_line_for_period(session, service.id or 0, service.expires_at, statuses=OPEN_STATUSES)
    if existing is not None:
        raise refuse(
            service,
            "renew by invoice",
            f"invoice {existing.invoice_id} already bills the period from {local_day(service.expires_at, session)} (unpaid); pay or cancel it first",
        )
    if invoice_ref != "new":
        open_invoice_for(session, int(invoice_ref), service.customer_id, service.currency)


def add_renewal_line(session: Session, actor: Actor, service: Service, cycle_count: int, invoice: Invoice, *, amount: Decimal | None = None) -> InvoiceLine:
    """Bill `cycle_count` cycles of `service` on `invoice`, with an `overage` line for each closed
    period not billed yet (`core.usage`), record it, and mail the customer.

    `amount` is what `renewal_amount` gives, when the caller computed it already.
    """
    start, end = _renewal_period(session, service, cycle_count)
    amount = renewal_amount(session, service, cycle_count) if amount is None else cents(amount)
    unit = cycles.PER_UNIT[cycles.BillingCycle(service.billing_cycle)]
    line = InvoiceLine(
        invoice_id=invoice.id or 0,
        service_id=service.id,
        kind=LineKind.RENEWAL.value,
        description=f"Renewal of #{service.id} {service.name}: {local_day(start, session)} to {local_day(end, session)} ({cycle_count} x {unit})"[:500],
        amount=amount,
        period_start=start,
        period_end=end,
        details={"cycles": cycle_count},
    )
    session.add(line)
    session.flush()
    usage.add_overage_lines(session, actor, service, invoice)
    record_on_service(
        session,
        actor,
        service,
        "renewal_invoiced",
        {
            "invoice": invoice.id,
            "line": line.id,
            "cycles": cycle_count,
            "amount": str(amount),
            "period_start": iso(start),
            "period_end": iso(end),
        },
    )
    tz = timezone_of(session)
    notifications.notify_customer(
        session,
        "renewal_invoice",
        service,
        dedupe_key=f"{renewal_mail_prefix(invoice.id or 0)}{service.id}:{start.date().isoformat()}",
        known_new=True,
        invoice_id=invoice.id,
        amount=Money(amount, service.currency),
        period_start=notifications.local_date(start, tz),
        period_end=notifications.local_date(end, tz),
        due=notifications.local_date(invoice.due_at, tz),
    )
    return line


def renewal_mail_prefix(invoice_id: int) -> str:
    """The start of the dedupe key of every renewal_invoice mail about `invoice_id`."""
    return f"renewal_invoice:{invoice_id}:"


def void_invoice(session: Session, invoice: Invoice, why: str) -> None:
    """Mark an unpaid invoice cancelled: its lines never apply, its open upgrades are cancelled
    and its unsent renewal mails dropped (with `why`). The caller checked it may be cancelled."""
    now = clock.now()
    invoice.status = InvoiceStatus.CANCELLED.value
    invoice.cancelled_at = now
    session.add(invoice)
    for upgrade in session.exec(select(Upgrade).where(col(Upgrade.invoice_id) == invoice.id, col(Upgrade.status).in_(OPEN_UPGRADE_STATUSES))).all():
        upgrade.status = UpgradeStatus.CANCELLED.value
        upgrade.completed_at = now
        session.add(upgrade)
    notifications.drop_queued(session, "renewal_invoice", renewal_mail_prefix(invoice.id or 0), why)


def invoice_renewal(
    session: Session, actor: Actor, service: Service, cycle_count: int, invoice_ref: str | int, *, amount: Decimal | None = None
) -> InvoiceLine:
    """Put a renewal of `service` on a new invoice or on an unpaid one of the same customer."""
    if invoice_ref == "new":
        invoice = new_invoice(session, service.customer_id, service.currency, due_at=service.expires_at)
    else:
        invoice = open_invoice_for(session, int(invoice_ref), service.customer_id, service.currency)
    return add_renewal_line(session, actor, service, cycle_count, invoice, amount=amount)


def _renew_invoice_params(ctx: ActionContext) -> tuple[int, str | int]:
    cycle_count = parse.parse_int("cycles", ctx.params.get("cycles", 1), minimum=1, maximum=120)
    invoice_ref = parse_invoice_ref("--invoice", ctx.params.get("invoice", "new"))
    return cycle_count, invoice_ref


def _check_renew_invoice(ctx: ActionContext) -> None:
    cycle_count, invoice_ref = _renew_invoice_params(ctx)
    check_renewal_invoice(ctx.session, ctx.service, cycle_count, invoice_ref)


def _apply_renew_invoice(ctx: ActionContext) -> str:
    cycle_count, invoice_ref = _renew_invoice_params(ctx)
    line = invoice_renewal(ctx.session, ctx.actor, ctx.service, cycle_count, invoice_ref)
    assert line.period_end is not None
    return (
        f"invoice {line.invoice_id}: {money_text(line.amount, ctx.service.currency)} for {cycle_count} cycle{'s' if cycle_count != 1 else ''}; "
        f"expires {local_day(line.period_end, ctx.session)} once paid"
    )


def _no_module_call(ctx: ActionContext) -> str | None:
    return None


def add_option_line(session: Session, actor: Actor, invoice: Invoice, service: Service, *, description: str, amount: str) -> InvoiceLine:
    """Bill an extra for a service (an option) on an open invoice; paying it changes nothing else."""
    if invoice.customer_id != service.customer_id:
        raise SvcError(f"invoice {invoice.id} belongs to customer {invoice.customer_id}, not service {service.id}'s customer {service.customer_id}")
    if invoice.currency != service.currency:
        raise SvcError(f"invoice {invoice.id} is in {invoice.currency}, not {service.currency}")
    text = parse.parse_text("--description", description, required=True, max_length=500) or ""
    line = InvoiceLine(
        invoice_id=invoice.id or 0,
        service_id=service.id,
        kind=LineKind.OPTION.value,
        description=text,
        amount=parse.parse_money("--amount", amount),
        details={},
    )
    session.add(line)
    session.flush()
    record_on_service(session, actor, service, "option_invoiced", {"invoice": invoice.id, "line": line.id, "amount": str(line.amount)})
    return line


BOUGHT_OPTION = "option"
"""The key of an option line's details that names the catalogue choice it buys (`NAME=VALUE`): paying the line adds the option."""


def add_bought_option_line(
    session: Session, actor: Actor, invoice: Invoice, service: Service, *, choice: str, description: str, amount: Decimal, period_end: datetime | None
) -> InvoiceLine:
    """Bill an option chosen from the catalogue for the rest of the period; the option is added when the line is paid."""
    line = InvoiceLine(
        invoice_id=invoice.id or 0,
        service_id=service.id,
        kind=LineKind.OPTION.value,
        description=description[:500],
        amount=cents(amount),
        period_start=clock.now(),
        period_end=period_end,
        details={BOUGHT_OPTION: choice},
    )
    session.add(line)
    session.flush()
    record_on_service(session, actor, service, "option_invoiced", {"invoice": invoice.id, "line": line.id, "amount": str(line.amount), "option": choice})
    return line


def _line_of_job(session: Session, job: Job) -> InvoiceLine | None:
    line_id = (job.params or {}).get("line_id")
    return session.get(InvoiceLine, int(line_id)) if line_id is not None else None


def renewal_job_succeeded(session: Session, job: Job) -> None:
    line = _line_of_job(session, job)
    if line is None or line.applied_at is not None:
        return
    line.applied_at = clock.now()
    line.details = {key: value for key, value in (line.details or {}).items() if key not in {"error", "attempted_at"}}
    session.add(line)


def renewal_job_failed(session: Session, job: Job, error: str) -> None:
    line = _line_of_job(session, job)
    if line is None or line.applied_at is not None:
        return
    line.details = {**(line.details or {}), "job": job.id, "error": f"renewal job {job.id} failed: {error}", "attempted_at": iso(clock.now())}
    session.add(line)


RENEW_INVOICE = ActionImpl(_check_renew_invoice, _apply_renew_invoice, _no_module_call)
"""The renew-invoice action: bill the renewal on an invoice; paying it renews."""
