"""The automation's steps over services, 0 to 2: paid lines applied and services waiting for a server placed, renewal invoices, expiry notices; and what every step reads (the run's context, a chunk's cache)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func
from sqlmodel import Session, col, select

from svcconsole.core import (
    action_base,
    actions,
    clock,
    cycles,
    invoice_lookups,
    invoices,
    lookups,
    notifications,
    orders,
    renewals,
)
from svcconsole.core import settings as settings_module
from svcconsole.core.automation_report import StepItem
from svcconsole.core.mail_templates import Money
from svcconsole.core.operators import Actor
from svcconsole.core.statuses import Status
from svcconsole.store.models import Customer, InvoiceLine, Job, Notification, Service, ServiceMeta, ServiceOption

RECURRING = tuple(cycle.value for cycle in cycles.RECURRING)


@dataclass
class RunContext:
    """What every step reads: the time the run acts at, the settings and the actor."""

    now: datetime
    settings: settings_module.Settings
    actor: Actor
    dry_run: bool = False

    def day(self, moment: datetime | None) -> str:
        """A moment as local `YYYY-MM-DD HH:MM`."""
        return moment.astimezone(self.settings.tz).strftime("%Y-%m-%d %H:%M") if moment else "-"

    def date(self, moment: datetime | None) -> str:
        """A moment as a local date."""
        return moment.astimezone(self.settings.tz).date().isoformat() if moment else "-"

    def days_until(self, moment: datetime) -> int:
        """Local calendar days from the run's day to `moment`'s (0 on the day itself)."""
        tz = self.settings.tz
        return (moment.astimezone(tz).date() - self.now.astimezone(tz).date()).days


# ----------------------------------------------------------------------------- the steps


def ids_of(session: Session, query: Any) -> list[int]:
    return list(session.exec(query.order_by(Service.id)).all())


@dataclass
class ChunkCache:
    """A chunk's services, locked in one statement, and what their step reads, in a few queries."""

    services: dict[int, Service]
    customers: list[Customer] = field(default_factory=list)
    with_options: set[int] = field(default_factory=set)
    billed: set[tuple[int, datetime]] = field(default_factory=set)
    sent_keys: set[str] = field(default_factory=set)
    quiet: set[int] = field(default_factory=set)
    failed_jobs: dict[int, int] = field(default_factory=dict)
    unapplied: dict[int, InvoiceLine] = field(default_factory=dict)

    def amount(self, session: Session, service: Service) -> Decimal:
        """One cycle's renewal amount (the options' query only for services that have options)."""
        if service.id in self.with_options:
            return renewals.renewal_amount(session, service, 1)
        return invoice_lookups.cents(service.price or invoice_lookups.ZERO)


def _lock_chunk(session: Session, ctx: RunContext, service_ids: Sequence[int]) -> ChunkCache:
    query = select(Service).where(col(Service.id).in_(list(service_ids))).order_by(col(Service.id))
    locked = session.exec(query if ctx.dry_run else query.with_for_update()).all()
    cache = ChunkCache({service.id or 0: service for service in locked})
    customer_ids = list({service.customer_id for service in locked})
    cache.customers = list(session.exec(select(Customer).where(col(Customer.id).in_(customer_ids))).all()) if customer_ids else []
    return cache


def _with_options(session: Session, service_ids: Sequence[int]) -> set[int]:
    return set(session.exec(select(col(ServiceOption.service_id)).where(col(ServiceOption.service_id).in_(list(service_ids))).distinct()).all())


def _prepare_plain(session: Session, ctx: RunContext, candidates: Sequence[Any]) -> ChunkCache:
    return _lock_chunk(session, ctx, [candidate_id(candidate) or 0 for candidate in candidates])


def _failed_jobs(session: Session, service_ids: Sequence[int], action: str) -> dict[int, int]:
    """The services whose latest job for `action` failed for good, with that job's id."""
    if not service_ids:
        return {}
    query = (
        select(col(Job.service_id), col(Job.id), col(Job.status))
        .where(col(Job.service_id).in_(list(service_ids)), col(Job.action) == action)
        .order_by(col(Job.id))
    )
    latest = {service_id: (job_id, status) for service_id, job_id, status in session.exec(query).all()}
    return {service_id: int(job_id or 0) for service_id, (job_id, status) in latest.items() if status == "failed"}


def guarded(action: str, *, paid_renewals: bool = False) -> Callable[[Session, RunContext, Sequence[Any]], ChunkCache]:
    """A chunk read that, under the chunk's lock, also finds failed `action` jobs (and paid renewals not applied yet)."""

    def prepare(session: Session, ctx: RunContext, candidates: Sequence[Any]) -> ChunkCache:
        cache = _prepare_plain(session, ctx, candidates)
        ids = list(cache.services)
        cache.failed_jobs = _failed_jobs(session, ids, action)
        if paid_renewals:
            cache.unapplied = orders.paid_unapplied_renewals(session, ids)
        return cache

    return prepare


def held_back_item(step: int, cache: ChunkCache, service_id: int) -> StepItem | None:
    """Why a due service is left alone this run: a paid renewal not applied yet, or a failed job for the action."""
    line = cache.unapplied.get(service_id)
    if line is not None:
        why = (line.details or {}).get("error")
        return StepItem(
            step, service_id, "skipped", f"invoice {line.invoice_id} is paid but its renewal (line {line.id}) is not applied yet" + (f": {why}" if why else "")
        )
    job_id = cache.failed_jobs.get(service_id)
    if job_id is not None:
        return StepItem(step, service_id, "skipped", f"job {job_id} failed; retry or resolve it")
    return None


def paid_past_today(step: int, ctx: RunContext, service: Service, verb: str) -> StepItem | None:
    """A skip, explained, for a service paid past the run's day: the run follows the money, whatever the suspension kind."""
    if service.expires_at is None or service.expires_at <= ctx.now:
        return None
    kind = f" (suspended as {service.suspend_kind})" if service.status == Status.SUSPENDED.value and service.suspend_kind else ""
    return StepItem(step, service.id, "skipped", f"paid until {ctx.date(service.expires_at)}{kind}: not {verb} by the run while its paid period lasts")


def done_item(step: int, service_id: int, outcome: action_base.Outcome, why: str) -> StepItem:
    return StepItem(step, service_id, outcome.result, f"{outcome.message} ({why})", outcome.job_id)


# 0. lines of paid invoices not applied yet


def _paid_lines_rule(ctx: RunContext) -> str:
    return (
        "lines of paid invoices not applied yet (a renewal paid while a module job ran), while their service can take them; "
        "then pending services not available (no server had room), delivered if a server has room now"
    )


def _select_paid_lines(session: Session, ctx: RunContext) -> list[tuple[int | None, int | None]]:
    """The paid lines as (service, line), then the services waiting for a server as (service, None)."""
    return [*orders.paid_lines_to_apply(session), *((service_id, None) for service_id in _select_unplaced(session, ctx))]


def _prepare_paid_lines(session: Session, ctx: RunContext, candidates: Sequence[Any]) -> ChunkCache:
    waiting = [candidate for candidate in candidates if candidate[1] is None]
    return guarded("deliver")(session, ctx, waiting) if waiting else ChunkCache({})


def _do_paid_line_or_placement(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int | None, line_id: int | None) -> StepItem | None:
    if line_id is None:
        return _do_placement(session, ctx, cache, service_id or 0)
    return _do_paid_line(session, ctx, cache, service_id, line_id)


def _do_paid_line(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int | None, line_id: int) -> StepItem | None:
    outcome = orders.apply_paid_line(session, ctx.actor, line_id)
    if outcome is None:
        return None
    service_id = outcome.service_id if outcome.service_id is not None else service_id
    invoice_line = session.get(InvoiceLine, line_id)
    invoice = f"invoice {invoice_line.invoice_id}" if invoice_line is not None else "its invoice"
    if not outcome.applied:
        return StepItem(0, service_id, "skipped", f"{outcome.kind} line {line_id} of {invoice} (paid) not applied: {outcome.message}; tried again next run")
    result = "queued" if outcome.job_id is not None else "ok"
    return StepItem(0, service_id, result, f"{outcome.kind} line {line_id} of {invoice} (paid) applied: {outcome.message}", outcome.job_id)


# 0 (then). services waiting for a server with room


def _select_unplaced(session: Session, ctx: RunContext) -> list[int]:
    query = select(Service.id).where(
        Service.status == Status.PENDING.value,
        col(Service.placement_note).is_not(None),
        col(Service.operation).is_(None),
    )
    return ids_of(session, query)


def _do_placement(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int) -> StepItem | None:
    service = cache.services.get(service_id)
    if service is None or service.status != Status.PENDING.value or service.placement_note is None or service.operation is not None:
        return None
    held_back = held_back_item(0, cache, service_id)
    if held_back is not None:
        return held_back
    waited = service.placement_note
    outcome = actions.perform(session, ctx.actor, "deliver", service_id, {})
    if outcome.result == "skipped":
        return StepItem(0, service_id, "skipped", f"still {outcome.message}")
    return done_item(0, service_id, outcome, f"placed on {service.server_name}; it waited: {waited}")


# 1. renewal invoices


def _invoice_until(ctx: RunContext) -> datetime:
    return ctx.now + timedelta(days=ctx.settings["invoice_generation_days"])


def _renewal_rule(ctx: RunContext) -> str:
    days = ctx.settings["invoice_generation_days"]
    return f"active, auto-renewing, expiring by {ctx.day(_invoice_until(ctx))} (invoice_generation_days={days}), not cancelling"


def _renewal_due(service: Service, ctx: RunContext) -> bool:
    return (
        service.status == Status.ACTIVE.value
        and bool(service.auto_renew)
        and service.cancel_at is None
        and service.billing_cycle in RECURRING
        and service.expires_at is not None
        and service.expires_at <= _invoice_until(ctx)
    )


def _select_renewals(session: Session, ctx: RunContext) -> list[int]:
    billed = exists().where(
        col(InvoiceLine.service_id) == col(Service.id),
        col(InvoiceLine.kind) == invoice_lookups.LineKind.RENEWAL.value,
        col(InvoiceLine.period_start) == col(Service.expires_at),
    )
    query = select(Service.id).where(
        Service.status == Status.ACTIVE.value,
        col(Service.expires_at) <= _invoice_until(ctx),
        Service.auto_renew == True,  # noqa: E712
        Service.cancel_at == None,  # noqa: E711
        col(Service.billing_cycle).in_(RECURRING),
        ~billed,
    )
    return ids_of(session, query)


def _prepare_renewals(session: Session, ctx: RunContext, candidates: Sequence[Any]) -> ChunkCache:
    cache = _prepare_plain(session, ctx, candidates)
    ids = list(cache.services)
    cache.with_options = _with_options(session, ids)
    lines = session.exec(
        select(col(InvoiceLine.service_id), col(InvoiceLine.period_start)).where(
            col(InvoiceLine.service_id).in_(ids), col(InvoiceLine.kind) == invoice_lookups.LineKind.RENEWAL.value
        )
    ).all()
    cache.billed = {(service_id, clock.as_utc(start)) for service_id, start in lines if service_id is not None and start is not None}
    return cache


def _do_renewal(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int) -> StepItem | None:
    service = cache.services.get(service_id)
    if service is None or not _renewal_due(service, ctx):
        return None
    assert service.expires_at is not None
    if (service_id, clock.as_utc(service.expires_at)) in cache.billed:
        return None
    renewals.check_renewable(session, service, 1, lookups.settings_of(session))
    line = invoices.invoice_renewal(session, ctx.actor, service, 1, "new", amount=cache.amount(session, service))
    cache.billed.add((service_id, clock.as_utc(service.expires_at)))
    why = f"expires {ctx.day(line.period_start)}, within invoice_generation_days={ctx.settings['invoice_generation_days']}"
    message = f"invoice {line.invoice_id}: {invoice_lookups.money_text(line.amount, service.currency)} for {ctx.date(line.period_start)} to {ctx.date(line.period_end)}"
    job_id = None
    overages = [other for other in invoice_lookups.lines_of(session, line.invoice_id) if other.kind == invoice_lookups.LineKind.OVERAGE.value]
    if overages:
        total = invoice_lookups.total_of(overages)
        message += f"; with the overage of the period that closed: {invoice_lookups.money_text(total, service.currency)}"
    if line.amount == invoice_lookups.ZERO and not overages:
        paid = orders.pay_invoice(session, ctx.actor, line.invoice_id)
        message += "; nothing to pay, renewed at once: " + "; ".join(outcome.message for outcome in paid.outcomes)
        job_id = next(iter(paid.job_ids), None)
    return StepItem(1, service_id, "ok", f"{message} ({why})", job_id)


# 2. expiry notices


def _notice_days(ctx: RunContext) -> list[int]:
    return sorted({day for day in ctx.settings["expiry_notice_days"] if day > 0}, reverse=True)


def _notice_rule(ctx: RunContext) -> str:
    days = ",".join(str(day) for day in _notice_days(ctx)) or "none"
    return f"active recurring services at {days} days before expiry (expiry_notice_days={days}), unless disable_notify_expiration=true"


def _notice_window(ctx: RunContext, days: int) -> tuple[datetime, datetime]:
    thresholds = _notice_days(ctx)
    smaller = [day for day in thresholds if day < days]
    lower = max(smaller) if smaller else 0
    return ctx.now + timedelta(days=lower), ctx.now + timedelta(days=days)


def _notices_disabled() -> Any:
    return exists().where(
        col(ServiceMeta.service_id) == col(Service.id),
        col(ServiceMeta.key) == "disable_notify_expiration",
        func.lower(ServiceMeta.value) == "true",
    )


def _notice_key(service_id: int, expires_at: datetime, days: int) -> str:
    return f"expiry:{service_id}:{clock.as_utc(expires_at).date().isoformat()}:{days}"


def _existing_keys(session: Session, keys: Iterable[str]) -> set[str]:
    wanted = list(keys)
    if not wanted:
        return set()
    return set(session.exec(select(col(Notification.dedupe_key)).where(col(Notification.dedupe_key).in_(wanted))).all())  # type: ignore[arg-type]  # rows matched by dedupe_key IN (...) have one


def _select_notices(session: Session, ctx: RunContext) -> list[tuple[int, int]]:
    due: list[tuple[int, int]] = []
    for days in _notice_days(ctx):
        after, until = _notice_window(ctx, days)
        query = select(Service.id, Service.expires_at).where(
            Service.status == Status.ACTIVE.value,
            col(Service.expires_at) > after,
            col(Service.expires_at) <= until,
            Service.cancel_at == None,  # noqa: E711
            col(Service.billing_cycle).in_(RECURRING),
            ~_notices_disabled(),
        )
        rows = list(session.exec(query.order_by(col(Service.id))).all())
        for offset in range(0, len(rows), 1000):
            keys = {_notice_key(service_id, expires_at, days): service_id for service_id, expires_at in rows[offset : offset + 1000]}  # type: ignore[arg-type]  # stored rows' ids are set; the query's range excludes NULL expiries
            sent = _existing_keys(session, keys)
            due.extend((service_id, days) for key, service_id in keys.items() if key not in sent)  # type: ignore[misc]  # a stored row's primary key is never None
    due.sort()
    return due


def _prepare_notices(session: Session, ctx: RunContext, candidates: Sequence[Any]) -> ChunkCache:
    cache = _prepare_plain(session, ctx, candidates)
    ids = list(cache.services)
    cache.with_options = _with_options(session, ids)
    cache.quiet = set(
        session.exec(
            select(ServiceMeta.service_id).where(
                col(ServiceMeta.service_id).in_(ids),
                ServiceMeta.key == "disable_notify_expiration",
                func.lower(ServiceMeta.value) == "true",
            )
        ).all()
    )
    keys = [
        _notice_key(service_id, cache.services[service_id].expires_at, days)  # type: ignore[arg-type]  # the services selected for a notice all expire
        for service_id, days in candidates
        if service_id in cache.services and cache.services[service_id].expires_at is not None
    ]
    cache.sent_keys = _existing_keys(session, keys)
    return cache


def _do_notice(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int, days: int) -> StepItem | None:
    service = cache.services.get(service_id)
    if service is None or service.expires_at is None:
        return None
    after, until = _notice_window(ctx, days)
    if (
        service.status != Status.ACTIVE.value
        or service.cancel_at is not None
        or service.billing_cycle not in RECURRING
        or not after < service.expires_at <= until
    ):
        return None
    key = _notice_key(service_id, service.expires_at, days)
    if service_id in cache.quiet or key in cache.sent_keys:
        return None
    queued = notifications.notify_customer(
        session,
        "expiry_notice",
        service,
        dedupe_key=key,
        known_new=True,
        days=ctx.days_until(service.expires_at),
        price=Money(cache.amount(session, service), service.currency),
    )
    if queued is None:
        return None
    cache.sent_keys.add(key)
    return StepItem(
        2, service_id, "ok", f"expiry notice to {queued.to_address}: expires {ctx.day(service.expires_at)} (expiry_notice_days: {days} days before)"
    )


def candidate_id(candidate: Any) -> int | None:
    value = candidate[0] if isinstance(candidate, tuple) else candidate
    return int(value) if value is not None else None


@dataclass(frozen=True)
class ServiceStep:
    """A step over services: its rule text, its candidate query, its chunk read and its per-service change."""

    number: int
    title: str
    rule: Callable[[RunContext], str]
    select: Callable[[Session, RunContext], Sequence[Any]]
    prepare: Callable[[Session, RunContext, Sequence[Any]], ChunkCache]
    apply: Callable[..., StepItem | None]


PAYMENT_STEPS: tuple[ServiceStep, ...] = (
    ServiceStep(0, "paid lines", _paid_lines_rule, _select_paid_lines, _prepare_paid_lines, _do_paid_line_or_placement),
    ServiceStep(1, "renewal invoices", _renewal_rule, _select_renewals, _prepare_renewals, _do_renewal),
    ServiceStep(2, "expiry notices", _notice_rule, _select_notices, _prepare_notices, _do_notice),
)
