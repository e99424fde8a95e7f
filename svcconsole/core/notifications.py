"""The outbox: mails about services, queued in `notification` and sent by SMTP later.

Templates are plain text with `str.format` fields; `dedupe_key` keeps a notice (one expiry
notice per service, period and day count) from being queued twice. A queued mail that is no
longer true (the renewal invoice it announces was cancelled) is `dropped`: kept, with why,
and never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, col, select

from svcconsole.core import clock, cycles, invoice_lookups, renewals
from svcconsole.core import settings as settings_module
from svcconsole.core.statuses import SuspendKind
from svcconsole.store.models import Customer, Notification, Service


@dataclass(frozen=True)
class Template:
    subject: str
    body: str


TEMPLATES: dict[str, Template] = {
    "delivered": Template(
        "Your service {service_name} is ready",
        'Hello {customer_name},\n\nYour service #{service_id} "{service_name}" was delivered on {today} and is active.\n{renewal}\n',
    ),
    "suspended": Template(
        "Your service {service_name} is suspended",
        'Hello {customer_name},\n\nYour service #{service_id} "{service_name}" was suspended on {today}.\nReason: {reason}\n{payment}',
    ),
    "unsuspended": Template(
        "Your service {service_name} is active again",
        'Hello {customer_name},\n\nYour service #{service_id} "{service_name}" is active again since {today}.\n{renewal}\n',
    ),
    "renewal_invoice": Template(
        "Invoice #{invoice_id} for {service_name}",
        'Hello {customer_name},\n\nInvoice #{invoice_id} of {amount} for the renewal of service #{service_id} "{service_name}" ({period}) is due on {due}.\n',
    ),
    "expiry_notice": Template(
        "Your service {service_name} expires on {expires}",
        'Hello {customer_name},\n\nYour service #{service_id} "{service_name}" expires on {expires}, {when}. Renew it for {price} to keep it running.\n',
    ),
    "cancelled": Template(
        "Your service {service_name} is cancelled",
        'Hello {customer_name},\n\nYour service #{service_id} "{service_name}" was cancelled on {today}. {paid_until}\n'
        "It is no longer available and will not be billed again.\n",
    ),
    "terminated": Template(
        "Your service {service_name} is terminated",
        'Hello {customer_name},\n\nYour service #{service_id} "{service_name}" was terminated on {today}; '
        "its data has been removed. {paid_until}\nIt will not be billed again.\n",
    ),
    "expired": Template(
        "Your service {service_name} has expired",
        'Hello {customer_name},\n\nYour service #{service_id} "{service_name}" expired on {today}: it fell due on {expires}, '
        "was suspended as unpaid on {suspended_on} and was not renewed. It has been removed from its server "
        "and can no longer be renewed.\n",
    ),
    "manual_delivery": Template(
        "Service #{service_id} is paid and waits for delivery",
        'Invoice #{invoice_id} of {customer_name} <{customer_email}> was paid. Service #{service_id} "{service_name}" '
        "({product}) was created pending; its module delivers by hand: set it up, then run "
        "`svcconsole services deliver {service_id}`.\n",
    ),
    "health_alert": Template(
        "svcconsole: {problem}",
        "svcconsole needs an admin:\n\n{problems}\n\nRun `svcconsole health` for the figures.\n",
    ),
    "delivery_failed": Template(
        "Delivery of service #{service_id} failed",
        'Service #{service_id} "{service_name}" of {customer_name} <{customer_email}> could not be delivered (attempt {attempts}).\nError: {error}\n',
    ),
    "credentials_reset": Template(
        "A new password for {service_name}",
        'Hello {customer_name},\n\nThe password of your login "{username}" for service #{service_id} "{service_name}" was reset on {today}.\n'
        "See the new one on the service's page in your customer area.\n",
    ),
    "ticket_opened": Template(
        "[Ticket #{ticket_id}] {subject}",
        'Hello {customer_name},\n\nSupport opened ticket #{ticket_id} "{subject}" about your service #{service_id} "{service_name}":\n\n'
        "{body}\n\nRead it and answer in your customer area.\n",
    ),
    "ticket_reply": Template(
        "[Ticket #{ticket_id}] {subject}",
        'Hello {customer_name},\n\nSupport answered your ticket #{ticket_id} "{subject}" about service #{service_id} "{service_name}":\n\n'
        "{body}\n\nRead it and answer in your customer area.\n",
    ),
    "ticket_customer_message": Template(
        "Ticket #{ticket_id} from {customer_name}: {subject}",
        '{customer_name} <{customer_email}> wrote in ticket #{ticket_id} "{subject}" ({status}) about service #{service_id} "{service_name}":\n\n'
        "{body}\n\nAnswer with `svcconsole tickets reply {ticket_id} --message TEXT`, or in the console (T).\n",
    ),
    "reconcile_drift": Template(
        "svcconsole: {count} new drift between billing and the panels",
        "Reconcile found {count} new drift:\n\n{lines}\n\nRun `svcconsole reconcile` for the report, `svcconsole reconcile --apply` to fix it.\n",
    ),
}


def in_days(days: int) -> str:
    """How far a local date is from today, in words: `today`, `tomorrow`, `in 3 days`."""
    if days <= 0:
        return "today"
    if days == 1:
        return "tomorrow"
    return f"in {days} days"


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "-"


def service_context(service: Service, customer: Customer, tz: ZoneInfo | None = None) -> dict[str, Any]:
    """The fields every template may use; dates are local to `tz` (UTC when not given)."""
    zone = tz or ZoneInfo("UTC")
    return {
        "service_id": service.id,
        "service_name": service.name,
        "customer_name": customer.name,
        "customer_email": customer.email,
        "expires": _local_date(service.expires_at, zone),
        "today": _local_date(clock.now(), zone),
    }


def _local_date(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).date().isoformat() if moment else "-"


def _settings(session: Session) -> settings_module.Settings:
    cached = session.info.get("settings")
    if cached is None:
        cached = settings_module.load(session)
        session.info["settings"] = cached
    return cached


def _price(session: Session, service: Service) -> str:
    """One cycle's renewal amount, options included."""
    return f"{renewals.renewal_amount(session, service, 1):.2f} {service.currency}"


def _renewal(service: Service, expires: str, price: str) -> str:
    """What happens at the end of the service's period, as one sentence."""
    runs_until = f" It runs until {expires}." if service.expires_at else ""
    if service.billing_cycle == cycles.BillingCycle.FREE.value:
        return "It is free and is never renewed." + runs_until
    if not cycles.is_recurring(service.billing_cycle):
        return f"It was billed once ({price}) and is never renewed." + runs_until
    if service.expires_at is None:
        return f"It is billed {price} ({service.billing_cycle})."
    if not service.auto_renew:
        return f"It runs until {expires}; renew it for {price} ({service.billing_cycle}) to keep it."
    return f"It renews on {expires} for {price} ({service.billing_cycle})."


def _paid_until(service: Service, expires: str) -> str:
    if service.expires_at is None or not cycles.is_recurring(service.billing_cycle):
        return ""
    if service.expires_at <= clock.now():
        return f"Its last paid period ended on {expires}."
    return f"It was paid until {expires}."


def _payment(session: Session, service: Service, settings: settings_module.Settings, price: str) -> str:
    """For an overdue suspension: what to pay (the open invoice, or that none is open), by when, and what happens after."""
    if service.suspend_kind != SuspendKind.OVERDUE.value or service.expires_at is None:
        return ""
    tz = settings.tz
    billed = invoice_lookups.period_invoice(session, service)
    if billed is not None and billed.is_open:
        to_pay = f"To reactivate it, pay invoice #{billed.invoice.id} ({billed.amount_text})."
    elif billed is not None:
        to_pay = f"Invoice #{billed.invoice.id} for this period was cancelled and no invoice is open: contact us to renew it for {price}."
    else:
        to_pay = f"No invoice is open for it: renew it for {price} to reactivate it."
    renew_by = renewals.renewable_until(service, settings["renewal_grace_days"])
    removed_after = (service.suspended_at or clock.now()) + timedelta(days=settings["terminate_after_days"])
    return (
        f"It fell due on {_local_date(service.expires_at, tz)}. {to_pay}\n"
        f"It can be renewed until {_local_date(renew_by, tz)}; unless it is renewed, it is removed from its server after {_local_date(removed_after, tz)}.\n"
    )


def customer_context(session: Session, template: str, service: Service, customer: Customer, *, price: str | None = None) -> dict[str, Any]:
    """Every field of a customer mail about `service`: dates local to the configured time zone, amounts with options.

    `price` is one cycle's renewal amount as text, when the caller has it already (the automation reads options by chunk).
    """
    settings = _settings(session)
    context = service_context(service, customer, settings.tz)
    price = price or _price(session, service)
    context |= {
        "price": price,
        "renewal": _renewal(service, context["expires"], price),
        "paid_until": _paid_until(service, context["expires"]),
        "suspended_on": _local_date(service.suspended_at, settings.tz),
    }
    if template == "suspended":
        context["payment"] = _payment(session, service, settings, price)
    return context


def queue(
    session: Session,
    template: str,
    *,
    to_address: str,
    context: dict[str, Any],
    customer_id: int | None = None,
    service_id: int | None = None,
    dedupe_key: str | None = None,
    known_new: bool = False,
) -> Notification | None:
    """Queue one mail; None when a mail with the same `dedupe_key` was queued before.

    `known_new` skips the look-up when the caller has checked the key already (the unique
    index still refuses a duplicate).
    """
    if dedupe_key is not None and not known_new:
        existing = session.exec(select(Notification.id).where(Notification.dedupe_key == dedupe_key)).first()
        if existing is not None:
            return None
    spec = TEMPLATES[template]
    values = _Blank(context)
    row = Notification(
        customer_id=customer_id,
        service_id=service_id,
        to_address=to_address,
        template=template,
        subject=spec.subject.format_map(values),
        body=spec.body.format_map(values),
        status="queued",
        dedupe_key=dedupe_key,
        created_at=clock.now(),
    )
    session.add(row)
    return row


def notify_customer(
    session: Session, template: str, service: Service, *, dedupe_key: str | None = None, known_new: bool = False, **extra: Any
) -> Notification | None:
    """Queue `template` to the service's customer, with `customer_context` and `extra` (which wins)."""
    customer = session.get(Customer, service.customer_id)
    if customer is None:
        return None
    context = customer_context(session, template, service, customer, price=extra.get("price")) | extra
    return queue(
        session,
        template,
        to_address=customer.email,
        context=context,
        customer_id=customer.id,
        service_id=service.id,
        dedupe_key=dedupe_key,
        known_new=known_new,
    )


STATUSES = ("queued", "sending", "sent", "failed", "dropped")


def drop_queued(session: Session, template: str, key_prefix: str, why: str) -> int:
    """Mark the queued `template` mails whose dedupe key starts with `key_prefix` dropped, with `why`; how many."""
    result = session.execute(
        update(Notification)
        .where(
            col(Notification.status) == "queued",
            col(Notification.template) == template,
            col(Notification.dedupe_key).startswith(key_prefix, autoescape=True),
        )
        .values(status="dropped", last_error=why[:2000])
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult; execute() is typed as Result
