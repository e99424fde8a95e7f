"""The automation's steps over services, 3 to 6: suspend overdue, expire, end-of-cycle cancellations, hide old services."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from svcconsole.core import (
    actions,
    invoice_lookups,
)
from svcconsole.core.automation_report import StepItem
from svcconsole.core.automation_steps import RECURRING, ChunkCache, RunContext, ServiceStep, done_item, guarded, held_back_item, ids_of, paid_past_today
from svcconsole.core.statuses import CancelMode, Status, SuspendKind
from svcconsole.store.models import Service

# 3. suspend overdue


def _suspend_before(ctx: RunContext) -> datetime:
    return ctx.now - timedelta(days=ctx.settings["suspend_after_days"])


def _suspend_rule(ctx: RunContext) -> str:
    return f"active recurring services expired before {ctx.day(_suspend_before(ctx))} (suspend_after_days={ctx.settings['suspend_after_days']}), not cancelling by now"


def _suspend_due(service: Service, ctx: RunContext) -> bool:
    cancelling_now = service.cancel_at is not None and service.cancel_at <= ctx.now
    return (
        service.status == Status.ACTIVE.value
        and service.billing_cycle in RECURRING
        and service.expires_at is not None
        and service.expires_at < _suspend_before(ctx)
        and not cancelling_now
    )


def _select_suspensions(session: Session, ctx: RunContext) -> list[int]:
    query = select(Service.id).where(
        Service.status == Status.ACTIVE.value,
        col(Service.expires_at) < _suspend_before(ctx),
        col(Service.billing_cycle).in_(RECURRING),
        or_(col(Service.cancel_at) == None, col(Service.cancel_at) > ctx.now),  # noqa: E711
    )
    return ids_of(session, query)


def _do_suspend(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int) -> StepItem | None:
    service = cache.services.get(service_id)
    if service is None or not _suspend_due(service, ctx):
        return None
    held_back = held_back_item(3, cache, service_id)
    if held_back is not None:
        return held_back
    expired = ctx.day(service.expires_at)
    why = f"expired {expired}, suspend_after_days={ctx.settings['suspend_after_days']}{_unbilled_note(session, service)}"
    outcome = actions.perform(
        session,
        ctx.actor,
        "suspend",
        service_id,
        {"kind": SuspendKind.OVERDUE.value, "reason": f"overdue: expired {expired}", "notify": True},
    )
    return done_item(3, service_id, outcome, why)


def _unbilled_note(session: Session, service: Service) -> str:
    """The period's invoice, for the reason: unpaid, cancelled by an admin with none open, or never made."""
    billed = invoice_lookups.period_invoice(session, service)
    if billed is None:
        return "; no invoice was made for this period"
    if billed.is_open:
        return f"; invoice {billed.invoice.id} is unpaid"
    return f"; invoice {billed.invoice.id} for this period was cancelled and none is open (bill it again: services renew {service.id} --invoice new)"


# 4. expire


def _expire_before(ctx: RunContext) -> datetime:
    return ctx.now - timedelta(days=ctx.settings["terminate_after_days"])


def _expire_rule(ctx: RunContext) -> str:
    return f"recurring services suspended as overdue whose expiry is before {ctx.day(_expire_before(ctx))} (terminate_after_days={ctx.settings['terminate_after_days']}), counted from the expiry; never one paid past today"


def _overdue_since(service: Service) -> datetime | None:
    """When the unpaid period began: the expiry, whenever an admin suspended the service."""
    return service.expires_at


def _is_overdue_suspension(service: Service) -> bool:
    return service.status == Status.SUSPENDED.value and service.suspend_kind == SuspendKind.OVERDUE.value and service.billing_cycle in RECURRING


def _expire_due(service: Service, ctx: RunContext) -> bool:
    since = _overdue_since(service)
    return _is_overdue_suspension(service) and since is not None and since < _expire_before(ctx)


def _select_expiries(session: Session, ctx: RunContext) -> list[int]:
    """Overdue suspensions whose expiry is past the limit, and those suspended before it (a paid-up one among them is explained, not expired)."""
    before = _expire_before(ctx)
    query = select(Service.id).where(
        Service.status == Status.SUSPENDED.value,
        Service.suspend_kind == SuspendKind.OVERDUE.value,
        Service.billing_cycle.in_(RECURRING),  # type: ignore[attr-defined]
        or_(col(Service.expires_at) < before, col(Service.suspended_at) < before),
    )
    return ids_of(session, query)


def _do_expire(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int) -> StepItem | None:
    service = cache.services.get(service_id)
    if service is None or not _is_overdue_suspension(service):
        return None
    paid = paid_past_today(4, ctx, service, "expired")
    if paid is not None:
        return paid
    if not _expire_due(service, ctx):
        return None
    held_back = held_back_item(4, cache, service_id)
    if held_back is not None:
        return held_back
    since = ctx.day(_overdue_since(service))
    outcome = actions.perform(
        session,
        ctx.actor,
        "expire",
        service_id,
        {"reason": f"suspended as overdue since {since}, more than terminate_after_days={ctx.settings['terminate_after_days']}"},
    )
    return done_item(4, service_id, outcome, f"suspended as overdue since {since}, terminate_after_days={ctx.settings['terminate_after_days']}")


# 5. end-of-cycle cancellations

CANCELLABLE = (Status.PENDING.value, Status.ACTIVE.value, Status.SUSPENDED.value)


def _cancel_rule(ctx: RunContext) -> str:
    return f"services whose cancel_at is {ctx.day(ctx.now)} or earlier"


def _cancel_due(service: Service, ctx: RunContext) -> bool:
    return service.status in CANCELLABLE and service.cancel_at is not None and service.cancel_at <= ctx.now


def _select_cancellations(session: Session, ctx: RunContext) -> list[int]:
    query = select(Service.id).where(
        Service.cancel_at != None,  # noqa: E711
        col(Service.cancel_at) <= ctx.now,
        col(Service.status).in_(CANCELLABLE),
    )
    return ids_of(session, query)


def _do_cancel(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int) -> StepItem | None:
    service = cache.services.get(service_id)
    if service is None or not _cancel_due(service, ctx):
        return None
    paid = paid_past_today(5, ctx, service, "cancelled")
    if paid is not None:
        return paid
    held_back = held_back_item(5, cache, service_id)
    if held_back is not None:
        return held_back
    asked = service.cancel_reason
    when = ctx.day(service.cancel_at)
    outcome = actions.perform(
        session,
        ctx.actor,
        "cancel-immediately",
        service_id,
        {"reason": f"end of cycle: {asked}" if asked else "end of cycle", "mode": CancelMode.IMMEDIATE.value},
    )
    return done_item(5, service_id, outcome, f"end of cycle, cancel_at {when}")


# 6. hide old expired and cancelled services


def _hide_before(ctx: RunContext) -> datetime:
    return ctx.now - timedelta(days=ctx.settings["delete_after_days"])


def _hide_rule(ctx: RunContext) -> str:
    days = ctx.settings["delete_after_days"]
    if not days:
        return "delete_after_days=0: never"
    return f"expired or cancelled before {ctx.day(_hide_before(ctx))} (delete_after_days={days})"


def _ended_at(service: Service) -> datetime | None:
    if service.status == Status.CANCELLED.value:
        return service.cancelled_at or service.cancel_at or service.expires_at
    return service.expires_at


def _hide_due(service: Service, ctx: RunContext) -> bool:
    ended = _ended_at(service)
    return (
        bool(ctx.settings["delete_after_days"])
        and service.status in {Status.EXPIRED.value, Status.CANCELLED.value}
        and ended is not None
        and ended < _hide_before(ctx)
    )


def _select_hidden(session: Session, ctx: RunContext) -> list[int]:
    if not ctx.settings["delete_after_days"]:
        return []
    cutoff = _hide_before(ctx)
    expired = select(col(Service.id)).where(col(Service.status) == Status.EXPIRED.value, col(Service.expires_at) < cutoff)
    cancelled = select(Service.id).where(
        Service.status == Status.CANCELLED.value,
        func.coalesce(Service.cancelled_at, Service.cancel_at, Service.expires_at) < cutoff,
    )
    return sorted({*ids_of(session, expired), *ids_of(session, cancelled)})


def _do_hide(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int) -> StepItem | None:
    service = cache.services.get(service_id)
    if service is None or not _hide_due(service, ctx):
        return None
    paid = paid_past_today(6, ctx, service, "hidden")
    if paid is not None:
        return paid
    held_back = held_back_item(6, cache, service_id)
    if held_back is not None:
        return held_back
    ended = ctx.day(_ended_at(service))
    was = service.status
    outcome = actions.perform(
        session,
        ctx.actor,
        "delete",
        service_id,
        {"reason": f"{was} since {ended}, more than delete_after_days={ctx.settings['delete_after_days']}"},
    )
    return done_item(6, service_id, outcome, f"{was} since {ended}, delete_after_days={ctx.settings['delete_after_days']}")


LIFECYCLE_STEPS: tuple[ServiceStep, ...] = (
    ServiceStep(3, "suspend overdue", _suspend_rule, _select_suspensions, guarded("suspend", paid_renewals=True), _do_suspend),
    ServiceStep(4, "expire", _expire_rule, _select_expiries, guarded("expire", paid_renewals=True), _do_expire),
    ServiceStep(5, "end-of-cycle cancellations", _cancel_rule, _select_cancellations, guarded("cancel-immediately"), _do_cancel),
    ServiceStep(6, "hide old services", _hide_rule, _select_hidden, guarded("delete"), _do_hide),
)
