"""The outbox: mails about services, queued in `notification` and sent by SMTP later.

A mail is rendered when it is queued, from its template file in the customer's locale
(`core.mail_templates`: built-in files, or the admin's in the config directory); the context
holds facts (local dates, `Money`, kinds of sentence), and each template words them.
`dedupe_key` keeps a notice (one expiry notice per service, period and day count) from being
queued twice. A queued mail that is no longer true (the renewal invoice it announces was
cancelled) is `dropped`: kept, with why, and never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, col, select

from svcconsole.core import clock, cycles, i18n, invoice_lookups, logins, mail_templates, renewals
from svcconsole.core import settings as settings_module
from svcconsole.core.errors import InvalidInput, NotFound
from svcconsole.core.mail_templates import Money, RenderedMail
from svcconsole.core.statuses import SuspendKind
from svcconsole.store.models import Customer, Notification, Service

ADMIN_LOCALE = "en"
"""Mails to the admin (health, failed delivery, manual delivery, drift) are in English, as the admin screens."""


@dataclass(frozen=True)
class Template:
    subject: str
    body: str


TEMPLATES: dict[str, Template] = {}
"""Templates not moved to files yet: `str.format` fields, English only, a missing field shown as `-`.
Every built-in mail is a file in svcconsole/templates/mail; port one here by writing its files."""


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "-"


def local_date(moment: datetime | None, tz: ZoneInfo) -> date | None:
    """A stored moment as the local calendar date (the templates' `date` filter words it)."""
    return moment.astimezone(tz).date() if moment else None


def service_context(service: Service, customer: Customer, tz: ZoneInfo | None = None) -> dict[str, Any]:
    """The fields every template may use; dates are local to `tz` (UTC when not given)."""
    zone = tz or ZoneInfo("UTC")
    return {
        "service_id": service.id,
        "service_name": service.name,
        "customer_name": customer.name,
        "customer_email": customer.email,
        "expires": local_date(service.expires_at, zone),
        "today": local_date(clock.now(), zone),
    }


def _settings(session: Session) -> settings_module.Settings:
    cached = session.info.get("settings")
    if cached is None:
        cached = settings_module.load(session)
        session.info["settings"] = cached
    return cached


def _price(session: Session, service: Service) -> Money:
    """One cycle's renewal amount, options included."""
    return Money(renewals.renewal_amount(session, service, 1), service.currency)


def renewal_kind(service: Service) -> str:
    """Which sentence tells what happens at the end of the period: free, once, open (no end date), manual, auto."""
    if service.billing_cycle == cycles.BillingCycle.FREE.value:
        return "free"
    if not cycles.is_recurring(service.billing_cycle):
        return "once"
    if service.expires_at is None:
        return "open"
    return "auto" if service.auto_renew else "manual"


def paid_until_kind(service: Service) -> str:
    """`ended` (the last paid period is over), `until` (paid until the expiry) or empty (nothing to say)."""
    if service.expires_at is None or not cycles.is_recurring(service.billing_cycle):
        return ""
    return "ended" if service.expires_at <= clock.now() else "until"


def _payment(session: Session, service: Service, settings: settings_module.Settings) -> dict[str, Any] | None:
    """For an overdue suspension: the invoice to pay (open, or cancelled, or none), by when, and when it is removed."""
    if service.suspend_kind != SuspendKind.OVERDUE.value or service.expires_at is None:
        return None
    tz = settings.tz
    billed = invoice_lookups.period_invoice(session, service)
    renew_by = renewals.renewable_until(service, settings["renewal_grace_days"])
    removed_after = (service.suspended_at or clock.now()) + timedelta(days=settings["terminate_after_days"])
    return {
        "fell_due": local_date(service.expires_at, tz),
        "invoice_id": billed.invoice.id if billed is not None else None,
        "invoice_open": billed is not None and billed.is_open,
        "amount": Money(billed.line.amount, billed.invoice.currency) if billed is not None else None,
        "renew_by": local_date(renew_by, tz),
        "removed_after": local_date(removed_after, tz),
    }


def customer_context(session: Session, template: str, service: Service, customer: Customer, *, price: Money | None = None) -> dict[str, Any]:
    """Every field of a customer mail about `service`: dates local to the configured time zone, amounts with options.

    `price` is one cycle's renewal amount, when the caller has it already (the automation reads options by chunk).
    """
    settings = _settings(session)
    context = service_context(service, customer, settings.tz)
    context |= {
        "price": price or _price(session, service),
        "cycle": service.billing_cycle,
        "renewal_kind": renewal_kind(service),
        "paid_until_kind": paid_until_kind(service),
        "suspended_on": local_date(service.suspended_at, settings.tz),
    }
    if template == "suspended":
        context["payment"] = _payment(session, service, settings)
    return context


def customer_locale(session: Session, customer: Customer) -> str:
    """The language of `customer`'s mails: their own, else the `default_locale` setting."""
    return i18n.locale_of(customer.locale, _settings(session)["default_locale"])


def render(template: str, context: dict[str, Any], locale: str = ADMIN_LOCALE) -> RenderedMail:
    """The subject and body of `template` for `locale`; a template only in `TEMPLATES` renders with `str.format`, in English."""
    if template in TEMPLATES and template not in mail_templates.template_names():
        spec = TEMPLATES[template]
        values = _Blank(context)
        return RenderedMail(subject=spec.subject.format_map(values), body=spec.body.format_map(values), source="TEMPLATES")
    return mail_templates.render(template, locale, context)


CUSTOMER_TEMPLATES = frozenset(
    {
        "delivered",
        "suspended",
        "unsuspended",
        "renewal_invoice",
        "expiry_notice",
        "cancelled",
        "terminated",
        "expired",
        "credentials_reset",
        "ticket_opened",
        "ticket_reply",
    }
)
"""The mails a customer reads (in their locale); the others go to the admin, in English."""


def preview(session: Session, template: str, service: Service, locale: str | None = None) -> RenderedMail:
    """What `template` about `service` would say, rendered as it would be queued now (nothing is queued).

    The fields a real mail takes from its occasion are read from the service where it holds them (its open
    renewal invoice, its login, its suspension reason, its days to expiry), else shown as `-`.
    """
    known = set(mail_templates.template_names()) | set(TEMPLATES)
    if template not in known:
        raise InvalidInput("TEMPLATE", f"{template!r} is not a mail template ({', '.join(sorted(known))})")
    customer = session.get(Customer, service.customer_id)
    if customer is None:
        raise NotFound(f"service {service.id}: its customer is gone")
    if locale is None:
        locale = customer_locale(session, customer) if template in CUSTOMER_TEMPLATES else ADMIN_LOCALE
    context = customer_context(session, "suspended", service, customer) | _occasion(session, service, customer)
    return render(template, context, locale)


def _occasion(session: Session, service: Service, customer: Customer) -> dict[str, Any]:
    """The fields a mail takes from its occasion, as the service holds them now."""
    tz = _settings(session).tz
    billed = invoice_lookups.period_invoice(session, service)
    login = logins.read(service)
    days = (service.expires_at.astimezone(tz).date() - clock.now().astimezone(tz).date()).days if service.expires_at else 0
    return {
        "reason": service.suspend_reason or "-",
        "invoice_id": billed.invoice.id if billed is not None else "-",
        "amount": Money(billed.line.amount, billed.invoice.currency) if billed is not None else _price(session, service),
        "period_start": local_date(billed.line.period_start if billed is not None else service.expires_at, tz),
        "period_end": local_date(billed.line.period_end if billed is not None else _next_expiry(service, tz), tz),
        "due": local_date(billed.invoice.due_at if billed is not None else service.expires_at, tz),
        "days": max(days, 0),
        "username": login.username if login is not None else "-",
        "product": service.product_name or "-",
        "attempts": service.delivery_attempts,
        "error": "-",
        "problem": "-",
        "problems": "-",
        "count": 0,
        "lines": "-",
        "ticket_id": "-",
        "subject": "-",
        "status": "-",
        "author": "-",
        "body": "-",
    }


def _next_expiry(service: Service, tz: ZoneInfo) -> datetime | None:
    """Where one more cycle would take the service (None when it does not renew)."""
    if service.expires_at is None or not cycles.is_recurring(service.billing_cycle):
        return None
    return renewals.renewed_expiry(service, 1, tz)


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
    locale: str = ADMIN_LOCALE,
) -> Notification | None:
    """Queue one mail, rendered in `locale`; None when a mail with the same `dedupe_key` was queued before.

    `known_new` skips the look-up when the caller has checked the key already (the unique
    index still refuses a duplicate).
    """
    if dedupe_key is not None and not known_new:
        existing = session.exec(select(Notification.id).where(Notification.dedupe_key == dedupe_key)).first()
        if existing is not None:
            return None
    mail = render(template, context, locale)
    row = Notification(
        customer_id=customer_id,
        service_id=service_id,
        to_address=to_address,
        template=template,
        subject=mail.subject,
        body=mail.body,
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
        locale=customer_locale(session, customer),
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
