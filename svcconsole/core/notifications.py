"""The outbox: mails about services, queued in `notification` and sent by SMTP later.

Templates are plain text with `str.format` fields; `dedupe_key` keeps a notice (one expiry
notice per service, period and day count) from being queued twice. A queued mail that is no
longer true (the renewal invoice it announces was cancelled) is `dropped`: kept, with why,
and never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, select

from svcconsole.core import clock
from svcconsole.core import settings as settings_module
from svcconsole.store.models import Customer, Notification, Service


@dataclass(frozen=True)
class Template:
    subject: str
    body: str


TEMPLATES: dict[str, Template] = {
    "delivered": Template(
        "Your service {service_name} is ready",
        "Hello {customer_name},\n\nYour service #{service_id} \"{service_name}\" has been delivered and is active.\n"
        "It renews on {expires} for {price}.\n",
    ),
    "suspended": Template(
        "Your service {service_name} is suspended",
        "Hello {customer_name},\n\nYour service #{service_id} \"{service_name}\" was suspended on {today}.\n"
        "Reason: {reason}\n",
    ),
    "unsuspended": Template(
        "Your service {service_name} is active again",
        "Hello {customer_name},\n\nYour service #{service_id} \"{service_name}\" is active again.\n",
    ),
    "renewal_invoice": Template(
        "Invoice #{invoice_id} for {service_name}",
        "Hello {customer_name},\n\nInvoice #{invoice_id} of {amount} for the renewal of service #{service_id} "
        "\"{service_name}\" ({period}) is due on {due}.\n",
    ),
    "expiry_notice": Template(
        "Your service {service_name} expires on {expires}",
        "Hello {customer_name},\n\nYour service #{service_id} \"{service_name}\" expires on {expires}, {when}. "
        "Renew it for {price} to keep it running.\n",
    ),
    "cancelled": Template(
        "Your service {service_name} is cancelled",
        "Hello {customer_name},\n\nYour service #{service_id} \"{service_name}\" was cancelled on {today}.\n",
    ),
    "terminated": Template(
        "Your service {service_name} is terminated",
        "Hello {customer_name},\n\nYour service #{service_id} \"{service_name}\" was terminated on {today}; "
        "its data has been removed.\n",
    ),
    "manual_delivery": Template(
        "Service #{service_id} is paid and waits for delivery",
        "Invoice #{invoice_id} of {customer_name} <{customer_email}> was paid. Service #{service_id} \"{service_name}\" "
        "({product}) was created pending; its module delivers by hand: set it up, then run "
        "`svcconsole services deliver {service_id}`.\n",
    ),
    "delivery_failed": Template(
        "Delivery of service #{service_id} failed",
        "Service #{service_id} \"{service_name}\" of {customer_name} <{customer_email}> could not be delivered "
        "(attempt {attempts}).\nError: {error}\n",
    ),
}


def in_days(days: int) -> str:
    """How far a local date is from today, in words: `today`, `tomorrow`, `in 3 days`."""
    if days <= 0:
        return "today"
    if days == 1:
        return "tomorrow"
    return f"in {days} days"


class _Blank(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return "-"


def service_context(service: Service, customer: Customer, tz: ZoneInfo | None = None) -> dict[str, Any]:
    """The fields every template may use; dates are local to `tz` (UTC when not given)."""
    zone = tz or ZoneInfo("UTC")
    expires = service.expires_at.astimezone(zone).date().isoformat() if service.expires_at else "-"
    return {
        "service_id": service.id,
        "service_name": service.name,
        "customer_name": customer.name,
        "customer_email": customer.email,
        "expires": expires,
        "price": f"{service.price} {service.currency}",
        "today": clock.now().astimezone(zone).date().isoformat(),
    }


def _timezone(session: Session) -> ZoneInfo:
    cached = session.info.get("settings")
    if cached is None:
        cached = settings_module.load(session)
        session.info["settings"] = cached
    return cached.tz


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


def notify_customer(session: Session, template: str, service: Service, *, dedupe_key: str | None = None, known_new: bool = False, **extra: Any) -> Notification | None:
    customer = session.get(Customer, service.customer_id)
    if customer is None:
        return None
    context = service_context(service, customer, _timezone(session)) | extra
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


STATUSES = ("queued", "sent", "failed", "dropped")


def drop_queued(session: Session, template: str, key_prefix: str, why: str) -> int:
    """Mark the queued `template` mails whose dedupe key starts with `key_prefix` dropped, with `why`; how many."""
    result = session.execute(
        update(Notification)
        .where(
            Notification.status == "queued",  # type: ignore[arg-type]
            Notification.template == template,  # type: ignore[arg-type]
            Notification.dedupe_key.startswith(key_prefix, autoescape=True),  # type: ignore[union-attr]
        )
        .values(status="dropped", last_error=why[:2000])
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
