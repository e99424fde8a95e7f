"""What renewing a service costs and allows: its amount with options, its limits, the new expiry and the renewal record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func as sa_func
from sqlmodel import Session, func, select

from svcconsole.core import clock, cycles, parse, renewal_limits
from svcconsole.core import settings as settings_module
from svcconsole.core.lookups import day, refuse
from svcconsole.core.operators import Actor
from svcconsole.core.statuses import CancelMode, Status, SuspendKind
from svcconsole.store.models import (
    Renewal,
    Service,
    ServiceOption,
)


def renewal_limit_reached(session: Session, service: Service, cycles_wanted: int, tz: ZoneInfo) -> str | None:
    """The renewal limit that renewing by `cycles_wanted` would pass, named; None when allowed."""
    for limit in renewal_limits.limits_in_force(session, service, tz):
        if limit.would_pass(cycles_wanted):
            return renewal_limits.refusal(limit)
    return None


def renewable_until(service: Service, grace_days: int) -> datetime | None:
    return service.expires_at + timedelta(days=grace_days) if service.expires_at else None


def check_renewable(session: Session, service: Service, cycles_wanted: int, settings: settings_module.Settings) -> None:
    """Refuse a renewal the rules of SPEC.md section 4 forbid (shared with invoices)."""
    if not cycles.is_recurring(service.billing_cycle):
        raise refuse(service, "renew", f"a {service.billing_cycle} service is never renewed")
    if service.expires_at is None:
        raise refuse(service, "renew", "it has no expiry date to renew from")
    if service.status == Status.SUSPENDED.value:
        until = renewable_until(service, settings["renewal_grace_days"])
        if until is not None and clock.now() > until:
            raise refuse(service, "renew", f"renewal window closed on {day(until, settings.tz)} (renewal_grace_days={settings['renewal_grace_days']})")
    why = renewal_limit_reached(session, service, cycles_wanted, settings.tz)
    if why:
        raise refuse(service, "renew", why)
    renewed_expiry(service, cycles_wanted, settings.tz)


def bounded_expiry(service: Service, action: str, move: Callable[[], datetime], tz: ZoneInfo) -> datetime:
    """The expiry `move` computes, refused when it falls outside the dates svcconsole accepts."""
    try:
        moved: datetime | None = move()
        year = moved.astimezone(tz).year if moved is not None else 0
    except (OverflowError, ValueError):
        moved, year = None, 0
    if moved is None or not parse.FIRST_YEAR <= year <= parse.LAST_YEAR:
        raise refuse(
            service,
            action,
            f"the new expiry would be outside {parse.FIRST_YEAR}-01-01 to {parse.LAST_YEAR}-12-31 (set a date with services edit --expires)",
        )
    return moved


def renewed_expiry(service: Service, cycles_wanted: int, tz: ZoneInfo) -> datetime:
    """The expiry after renewing `cycles_wanted` cycles from the current one (within the date limits)."""
    expiry = service.expires_at
    assert expiry is not None
    return bounded_expiry(service, "renew", lambda: cycles.shift(expiry, service.billing_cycle, cycles_wanted, service.anchor_day, tz), tz)


def renewal_amount(session: Session, service: Service, cycles_wanted: int) -> Decimal:
    """What `cycles_wanted` cycles cost: the recurring price plus the options' (refused past the largest amount)."""
    options = session.exec(
        select(sa_func.coalesce(func.sum(ServiceOption.price * ServiceOption.quantity), 0)).where(ServiceOption.service_id == service.id)
    ).one()
    amount = ((service.price or Decimal("0")) + Decimal(options)).quantize(Decimal("0.01")) * cycles_wanted
    if amount > parse.MAX_MONEY:
        raise refuse(
            service,
            "renew",
            f"{cycles_wanted} cycle{'s' if cycles_wanted != 1 else ''} with the options cost {amount}, more than the largest amount ({parse.MAX_MONEY}); renew fewer cycles",
        )
    return amount


def extend_service(
    session: Session,
    actor: Actor,
    service: Service,
    cycles_wanted: int,
    amount: Decimal,
    tz: ZoneInfo,
    *,
    invoice_id: int | None = None,
) -> tuple[datetime, bool]:
    """Move the expiry by whole cycles from the old expiry and record the renewal.

    Returns the new expiry and whether an overdue suspension should now be lifted.
    """
    assert service.expires_at is not None
    old_expiry = service.expires_at
    new_expiry = renewed_expiry(service, cycles_wanted, tz)
    service.expires_at = new_expiry
    service.renewals = (service.renewals or 0) + cycles_wanted
    if service.cancel_mode == CancelMode.END_OF_CYCLE.value and service.cancel_at is not None:
        service.cancel_at = new_expiry
    for option in session.exec(select(ServiceOption).where(ServiceOption.service_id == service.id)).all():
        if option.expires_at is None or option.expires_at <= new_expiry:
            option.expires_at = new_expiry
            session.add(option)
    session.add(
        Renewal(
            service_id=service.id or 0,
            period_start=old_expiry,
            period_end=new_expiry,
            billing_cycle=service.billing_cycle,
            cycles=cycles_wanted,
            amount=amount,
            invoice_id=invoice_id,
            renewed_at=clock.now(),
            actor=actor.name,
        )
    )
    lift = service.status == Status.SUSPENDED.value and service.suspend_kind == SuspendKind.OVERDUE.value and new_expiry > clock.now()
    return new_expiry, lift
