"""The automation run (SPEC.md section 7): the cron job that bills, warns, suspends and cleans up.

The seven steps of SPEC.md section 7, each over the services its rule selects with one
indexed query: renewal invoices, expiry notices, overdue suspension, expiry, end-of-cycle
cancellation, hiding old expired or cancelled services, then the module queue and the
outbox. Before them, step 0 applies the lines of paid invoices that could not be applied when
they were paid (a renewal paid while a module job was running on the service); while such a
renewal waits, steps 3 and 4 leave its service alone and say why. Every service's change
runs through the same core functions an admin uses, as the `system` actor, in chunked
transactions with a savepoint per service; a service whose change raises is reported as
failed (the traceback goes to the operations log) and the run goes on.

Only recurring services are billed, warned, suspended as overdue and expired (steps 1 to
4): a onetime or free service is never renewed, so there is nothing to invoice, to warn
about or to be overdue on; its expiry date, if it has one, is information and the run
leaves it alone. An admin who wants it to end at that date cancels it at the end of the
cycle (step 5 then cancels it on the day), or terminates it.

Step 1 bills a period once, automatically: once an admin cancelled the period's invoice, no
run bills it again. Step 3 still suspends such a service when it falls overdue (the period
is not paid), and its reason and the customer's mail say that the period's invoice was
cancelled and none is open; an admin who wants it paid bills it again by hand
(`services renew ID --invoice new`), one who wants it free extends it (`add-days`).

The run follows the money: step 4 counts overdue time from the expiry (the unpaid period), never
from when an admin suspended, and steps 4 to 6 never expire, cancel or hide a service paid past
the run's day, whatever its suspension kind; they report it as skipped, saying why.

Steps 3 to 6 leave out a service whose last job for the same action failed for good, and
report it: a failed job stays in the queue until an admin retries or resolves it (SPEC.md
section 5), it is not queued again every run.

`at` (the CLI's `--at`) runs steps 0 to 6 as if the clock were then; step 7 always runs on
the real clock (job leases, retry times and mail dates are about real time), with the jobs
steps 0 to 6 queued and the jobs due now.

Safe to run twice at once: a run holds the `automation` lock (`core.leases.NamedLock`: an
advisory lock on PostgreSQL, a lease row renewed as the run goes on SQLite); a second run
finds it held and ends at once, doing nothing. Safe to re-run: a renewal invoice is never
made twice for one service and period, a notice never queued twice
(`notification.dedupe_key`), and each step re-checks its rule under the row lock, so a run
killed half-way and started again finishes the rest and repeats nothing.

The dry run makes every step's real checks and changes chunk by chunk, each chunk in its own
short transaction that is rolled back, without locking the chunk's rows first; each step
therefore sees the database as it is, not as the steps before it would have left it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import exists, func, or_
from sqlmodel import Session, col, select

from svcconsole.core import billing, clock, cycles, health, jobs, leases, mailer, notifications, reconcile, services
from svcconsole.core import settings as settings_module
from svcconsole.core.errors import SvcError
from svcconsole.core.operators import SYSTEM, Actor, require
from svcconsole.core.statuses import CancelMode, Status, SuspendKind, automation_role
from svcconsole.store.engine import Database
from svcconsole.store.models import Customer, InvoiceLine, Job, Notification, Service, ServiceMeta, ServiceOption

log = logging.getLogger("svcconsole.automation")
T = TypeVar("T")

CHUNK = 200
LOCK_NAME = "automation"
RECURRING = tuple(cycle.value for cycle in cycles.RECURRING)


# ----------------------------------------------------------------------------- reports


@dataclass
class StepItem:
    """What a step did (or would do) to one service, and why."""

    step: int
    service_id: int | None
    outcome: str
    message: str
    job_id: int | None = None


@dataclass
class StepReport:
    """One step: its rule with the settings in force, and one item per service it touched."""

    number: int
    title: str
    rule: str
    items: list[StepItem] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, outcome: str) -> int:
        """How many services ended with `outcome`."""
        return sum(1 for item in self.items if item.outcome == outcome)

    def summary(self, dry_run: bool = False) -> str:
        """The step's one summary line: counts by outcome, time taken and the rule in force."""
        outcomes = dict.fromkeys(item.outcome for item in self.items)
        parts = [f"{self.count(outcome)} {outcome}" for outcome in outcomes]
        verb = "would touch" if dry_run else "touched"
        return f"step {self.number} {self.title}: {verb} {len(self.items)}: {', '.join(parts) or 'nothing to do'} in {self.seconds:.2f}s [{self.rule}]"


@dataclass
class AutomationReport:
    """A whole run: when it ran as, with which settings, each step, or who held the lock."""

    at: datetime
    dry_run: bool
    settings: dict[str, str]
    steps: list[StepReport] = field(default_factory=list)
    locked_by: str | None = None
    run_id: int | None = None
    """The run's record (`automation history`)."""

    @property
    def locked_out(self) -> bool:
        """True when another run held the lock and this one did nothing."""
        return self.locked_by is not None

    @property
    def failed(self) -> list[StepItem]:
        """Every item that failed (a module job or a mail)."""
        return [item for step in self.steps for item in step.items if item.outcome == "failed"]

    @property
    def exit_code(self) -> int:
        """0 done (skips are the rules at work), 3 when a job or a mail failed."""
        return 3 if self.failed else 0

    def settings_line(self) -> str:
        """The settings in force, as one line."""
        return "settings in force: " + " ".join(f"{key}={value}" for key, value in self.settings.items())


Progress = Callable[[StepItem], None]


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


def _ids(session: Session, query: Any) -> list[int]:
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
            return services.renewal_amount(session, service, 1)
        return billing.cents(service.price or billing.ZERO)


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
    return _lock_chunk(session, ctx, [_candidate_id(candidate) or 0 for candidate in candidates])


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


def _guarded(action: str, *, paid_renewals: bool = False) -> Callable[[Session, RunContext, Sequence[Any]], ChunkCache]:
    """A chunk read that, under the chunk's lock, also finds failed `action` jobs (and paid renewals not applied yet)."""

    def prepare(session: Session, ctx: RunContext, candidates: Sequence[Any]) -> ChunkCache:
        cache = _prepare_plain(session, ctx, candidates)
        ids = list(cache.services)
        cache.failed_jobs = _failed_jobs(session, ids, action)
        if paid_renewals:
            cache.unapplied = billing.paid_unapplied_renewals(session, ids)
        return cache

    return prepare


def _held_back(step: int, cache: ChunkCache, service_id: int) -> StepItem | None:
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


def _paid_past_today(step: int, ctx: RunContext, service: Service, verb: str) -> StepItem | None:
    """A skip, explained, for a service paid past the run's day: the run follows the money, whatever the suspension kind."""
    if service.expires_at is None or service.expires_at <= ctx.now:
        return None
    kind = f" (suspended as {service.suspend_kind})" if service.status == Status.SUSPENDED.value and service.suspend_kind else ""
    return StepItem(step, service.id, "skipped", f"paid until {ctx.date(service.expires_at)}{kind}: not {verb} by the run while its paid period lasts")


def _done(step: int, service_id: int, outcome: services.Outcome, why: str) -> StepItem:
    return StepItem(step, service_id, outcome.result, f"{outcome.message} ({why})", outcome.job_id)


# 0. lines of paid invoices not applied yet


def _paid_lines_rule(ctx: RunContext) -> str:
    return "lines of paid invoices not applied yet (a renewal paid while a module job ran), while their service can take them"


def _select_paid_lines(session: Session, ctx: RunContext) -> list[tuple[int | None, int]]:
    return billing.paid_lines_to_apply(session)


def _prepare_paid_lines(session: Session, ctx: RunContext, candidates: Sequence[Any]) -> ChunkCache:
    return ChunkCache({})


def _do_paid_line(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int | None, line_id: int) -> StepItem | None:
    outcome = billing.apply_paid_line(session, ctx.actor, line_id)
    if outcome is None:
        return None
    service_id = outcome.service_id if outcome.service_id is not None else service_id
    invoice_line = session.get(InvoiceLine, line_id)
    invoice = f"invoice {invoice_line.invoice_id}" if invoice_line is not None else "its invoice"
    if not outcome.applied:
        return StepItem(0, service_id, "skipped", f"{outcome.kind} line {line_id} of {invoice} (paid) not applied: {outcome.message}; tried again next run")
    result = "queued" if outcome.job_id is not None else "ok"
    return StepItem(0, service_id, result, f"{outcome.kind} line {line_id} of {invoice} (paid) applied: {outcome.message}", outcome.job_id)


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
        col(InvoiceLine.kind) == billing.LineKind.RENEWAL.value,
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
    return _ids(session, query)


def _prepare_renewals(session: Session, ctx: RunContext, candidates: Sequence[Any]) -> ChunkCache:
    cache = _prepare_plain(session, ctx, candidates)
    ids = list(cache.services)
    cache.with_options = _with_options(session, ids)
    lines = session.exec(
        select(col(InvoiceLine.service_id), col(InvoiceLine.period_start)).where(
            col(InvoiceLine.service_id).in_(ids), col(InvoiceLine.kind) == billing.LineKind.RENEWAL.value
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
    services.check_renewable(session, service, 1, services.settings_of(session))
    line = billing.invoice_renewal(session, ctx.actor, service, 1, "new", amount=cache.amount(session, service))
    cache.billed.add((service_id, clock.as_utc(service.expires_at)))
    why = f"expires {ctx.day(line.period_start)}, within invoice_generation_days={ctx.settings['invoice_generation_days']}"
    message = f"invoice {line.invoice_id}: {billing.money_text(line.amount, service.currency)} for {ctx.date(line.period_start)} to {ctx.date(line.period_end)}"
    job_id = None
    if line.amount == billing.ZERO:
        paid = billing.pay_invoice(session, ctx.actor, line.invoice_id)
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
        when=notifications.in_days(ctx.days_until(service.expires_at)),
        expires=ctx.date(service.expires_at),
        price=billing.money_text(cache.amount(session, service), service.currency),
    )
    if queued is None:
        return None
    cache.sent_keys.add(key)
    return StepItem(
        2, service_id, "ok", f"expiry notice to {queued.to_address}: expires {ctx.day(service.expires_at)} (expiry_notice_days: {days} days before)"
    )


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
    return _ids(session, query)


def _do_suspend(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int) -> StepItem | None:
    service = cache.services.get(service_id)
    if service is None or not _suspend_due(service, ctx):
        return None
    held_back = _held_back(3, cache, service_id)
    if held_back is not None:
        return held_back
    expired = ctx.day(service.expires_at)
    why = f"expired {expired}, suspend_after_days={ctx.settings['suspend_after_days']}{_unbilled_note(session, service)}"
    outcome = services.perform(
        session,
        ctx.actor,
        "suspend",
        service_id,
        {"kind": SuspendKind.OVERDUE.value, "reason": f"overdue: expired {expired}", "notify": True},
    )
    return _done(3, service_id, outcome, why)


def _unbilled_note(session: Session, service: Service) -> str:
    """The period's invoice, for the reason: unpaid, cancelled by an admin with none open, or never made."""
    billed = billing.period_invoice(session, service)
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
    return _ids(session, query)


def _do_expire(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int) -> StepItem | None:
    service = cache.services.get(service_id)
    if service is None or not _is_overdue_suspension(service):
        return None
    paid = _paid_past_today(4, ctx, service, "expired")
    if paid is not None:
        return paid
    if not _expire_due(service, ctx):
        return None
    held_back = _held_back(4, cache, service_id)
    if held_back is not None:
        return held_back
    since = ctx.day(_overdue_since(service))
    outcome = services.perform(
        session,
        ctx.actor,
        "expire",
        service_id,
        {"reason": f"suspended as overdue since {since}, more than terminate_after_days={ctx.settings['terminate_after_days']}"},
    )
    return _done(4, service_id, outcome, f"suspended as overdue since {since}, terminate_after_days={ctx.settings['terminate_after_days']}")


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
    return _ids(session, query)


def _do_cancel(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int) -> StepItem | None:
    service = cache.services.get(service_id)
    if service is None or not _cancel_due(service, ctx):
        return None
    paid = _paid_past_today(5, ctx, service, "cancelled")
    if paid is not None:
        return paid
    held_back = _held_back(5, cache, service_id)
    if held_back is not None:
        return held_back
    asked = service.cancel_reason
    when = ctx.day(service.cancel_at)
    outcome = services.perform(
        session,
        ctx.actor,
        "cancel-immediately",
        service_id,
        {"reason": f"end of cycle: {asked}" if asked else "end of cycle", "mode": CancelMode.IMMEDIATE.value},
    )
    return _done(5, service_id, outcome, f"end of cycle, cancel_at {when}")


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
    return sorted({*_ids(session, expired), *_ids(session, cancelled)})


def _do_hide(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int) -> StepItem | None:
    service = cache.services.get(service_id)
    if service is None or not _hide_due(service, ctx):
        return None
    paid = _paid_past_today(6, ctx, service, "hidden")
    if paid is not None:
        return paid
    held_back = _held_back(6, cache, service_id)
    if held_back is not None:
        return held_back
    ended = ctx.day(_ended_at(service))
    was = service.status
    outcome = services.perform(
        session,
        ctx.actor,
        "delete",
        service_id,
        {"reason": f"{was} since {ended}, more than delete_after_days={ctx.settings['delete_after_days']}"},
    )
    return _done(6, service_id, outcome, f"{was} since {ended}, delete_after_days={ctx.settings['delete_after_days']}")


@dataclass(frozen=True)
class ServiceStep:
    """A step over services: its rule text, its candidate query, its chunk read and its per-service change."""

    number: int
    title: str
    rule: Callable[[RunContext], str]
    select: Callable[[Session, RunContext], Sequence[Any]]
    prepare: Callable[[Session, RunContext, Sequence[Any]], ChunkCache]
    apply: Callable[..., StepItem | None]


SERVICE_STEPS: tuple[ServiceStep, ...] = (
    ServiceStep(0, "paid lines", _paid_lines_rule, _select_paid_lines, _prepare_paid_lines, _do_paid_line),
    ServiceStep(1, "renewal invoices", _renewal_rule, _select_renewals, _prepare_renewals, _do_renewal),
    ServiceStep(2, "expiry notices", _notice_rule, _select_notices, _prepare_notices, _do_notice),
    ServiceStep(3, "suspend overdue", _suspend_rule, _select_suspensions, _guarded("suspend", paid_renewals=True), _do_suspend),
    ServiceStep(4, "expire", _expire_rule, _select_expiries, _guarded("expire", paid_renewals=True), _do_expire),
    ServiceStep(5, "end-of-cycle cancellations", _cancel_rule, _select_cancellations, _guarded("cancel-immediately"), _do_cancel),
    ServiceStep(6, "hide old services", _hide_rule, _select_hidden, _guarded("delete"), _do_hide),
)
QUEUE_STEP = (7, "jobs and mail", "run the module jobs this run queued and those due now, then send queued notifications (real clock)")


def _candidate_id(candidate: Any) -> int | None:
    value = candidate[0] if isinstance(candidate, tuple) else candidate
    return int(value) if value is not None else None


def _apply_one(session: Session, ctx: RunContext, step: ServiceStep, cache: ChunkCache, candidate: Any) -> StepItem | None:
    arguments = candidate if isinstance(candidate, tuple) else (candidate,)
    savepoint = session.begin_nested()
    try:
        item = step.apply(session, ctx, cache, *arguments)
    except SvcError as error:
        savepoint.rollback()
        return StepItem(step.number, _candidate_id(candidate), "skipped", error.message)
    except Exception as error:  # one bad service must not stop the run; kept in the report and the log
        savepoint.rollback()
        log.exception("automation step %s: %s raised for %r", step.number, step.title, candidate)
        return StepItem(
            step.number, _candidate_id(candidate), "failed", f"internal error: {type(error).__name__}: {error} (the traceback is in the operations log)"
        )
    savepoint.commit()
    return item


def _apply_chunk(session: Session, ctx: RunContext, step: ServiceStep, chunk: Sequence[Any]) -> list[StepItem]:
    cache = step.prepare(session, ctx, chunk)
    items = []
    for candidate in chunk:
        item = _apply_one(session, ctx, step, cache, candidate)
        if item is not None:
            items.append(item)
    return items


def _chunks(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for offset in range(0, len(values), size):
        yield values[offset : offset + size]


# ----------------------------------------------------------------------------- the run


def _settings_shown(settings: settings_module.Settings) -> dict[str, str]:
    """Every setting a step reads, as the registry declares (secrets only as set or not)."""
    return {key: settings.display(key) for key in settings_module.used_by_automation()}


def run(
    db: Database,
    actor: Actor,
    *,
    at: datetime | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    use_lock: bool = True,
) -> AutomationReport:
    """Run the steps as the system, or show what they would do (`dry_run`).

    Steps 0 to 6 act at `at` (default `clock.now()`); step 7 runs on the clock as it is.
    `actor` is the operator who started the run (it needs the automation role); the changes
    are made as `SYSTEM`. With `use_lock=False` the caller answers for exclusion (the
    idempotency keys still make a double run harmless).
    """
    require(actor, automation_role(dry_run), "a dry run of the automation" if dry_run else "running the automation")
    with db.read() as session:
        settings = settings_module.load(session)
    ctx = RunContext(clock.as_utc(at) if at is not None else clock.now(), settings, SYSTEM, dry_run)
    report = AutomationReport(ctx.now, dry_run, _settings_shown(settings))
    run_id = health.run_started(db, actor.name, at=clock.as_utc(at) if at is not None else None, dry_run=dry_run, settings=report.settings)
    report.run_id = run_id
    try:
        _run(db, ctx, report, at=at, progress=progress, use_lock=use_lock, actor=actor)
    except BaseException as error:
        health.run_ended(db, run_id, report, error=f"{type(error).__name__}: {error}")
        health.alert(db, [health.Problem("automation", f"automation: run {run_id} failed: {type(error).__name__}: {error}", f"run-failed:{run_id}")])
        raise
    health.run_ended(db, run_id, report)
    if not dry_run and not report.locked_out:
        health.alert(db, [problem for problem in health.check(db).problems if not problem.incident.startswith(("stale-run:", "no-run"))])
    return report


def _run(db: Database, ctx: RunContext, report: AutomationReport, *, at: datetime | None, progress: Progress | None, use_lock: bool, actor: Actor) -> None:
    """The run itself (`run` records it around this)."""
    dry_run = ctx.dry_run
    if dry_run:
        _dry_run(db, ctx, report, progress, at)
        log.info("automation: dry run at %s by %s (nothing changed)", ctx.now.isoformat(timespec="seconds"), actor.name)
        return
    lock = leases.NamedLock(db, LOCK_NAME)
    if use_lock and not lock.acquire():
        report.locked_by = lock.held_by
        log.info("automation: run at %s by %s: another run holds the lock (%s); nothing done", ctx.now.isoformat(timespec="seconds"), actor.name, lock.held_by)
        return
    log.info("automation: run at %s by %s; %s", ctx.now.isoformat(timespec="seconds"), actor.name, report.settings_line())
    beaten = leases.wall_clock()

    def keep_alive() -> bool:
        nonlocal beaten
        if leases.wall_clock() - beaten >= health.HEARTBEAT_EVERY and report.run_id is not None:
            health.run_beat(db, report.run_id, report)
            beaten = leases.wall_clock()
        return lock.keep_alive() if use_lock else True

    try:
        with _acting_at(at):
            for step in SERVICE_STEPS:
                if not _run_step(db, ctx, step, report, progress, keep_alive):
                    _report(report.steps[-1], [StepItem(step.number, None, "failed", f"lost the automation lock to {lock.lost_to}; run stopped")], progress)
                    return
        queued = [item.job_id for step_report in report.steps for item in step_report.items if item.job_id is not None]
        started = time.perf_counter()
        report.steps.append(_run_queue(db, queued, progress, keep_alive))
        report.steps[-1].seconds = time.perf_counter() - started
        log.info("automation: %s", report.steps[-1].summary())
        if ctx.settings["reconcile_every_hours"]:
            report.steps.append(_reconcile_step(db, ctx, progress, keep_alive))
            log.info("automation: %s", report.steps[-1].summary())
    except BaseException:
        log.exception("automation: run at %s stopped by an error; a new run finishes the rest", ctx.now.isoformat(timespec="seconds"))
        raise
    finally:
        if use_lock:
            lock.release()


@contextmanager
def _acting_at(at: datetime | None) -> Iterator[None]:
    if at is None:
        yield
        return
    with clock.frozen_at(at):
        yield


def _run_step(db: Database, ctx: RunContext, step: ServiceStep, report: AutomationReport, progress: Progress | None, keep_alive: Callable[[], bool]) -> bool:
    """One step, chunk by chunk, each in its own transaction; False when the run lost its lock."""
    started = time.perf_counter()
    step_report = StepReport(step.number, step.title, step.rule(ctx))
    report.steps.append(step_report)
    try:
        with db.read() as session:
            candidates = list(step.select(session, ctx))
        for chunk in _chunks(candidates, CHUNK):
            if not keep_alive():
                return False
            items = db.transaction(lambda session, chunk=chunk: _apply_chunk(session, ctx, step, chunk))  # type: ignore[misc]  # mypy cannot infer a lambda with a default; chunk is bound on purpose
            _report(step_report, items, progress, logged=True)
    finally:
        step_report.seconds = time.perf_counter() - started
        log.info("automation: %s", step_report.summary())
    return True


def _report(step_report: StepReport, items: Iterable[StepItem], progress: Progress | None, *, logged: bool = False) -> None:
    for item in items:
        step_report.items.append(item)
        if logged:
            log.info("automation: step %s: service %s: %s: %s", item.step, item.service_id, item.outcome, item.message)
        if progress is not None:
            progress(item)


def _run_queue(db: Database, queued: Sequence[int], progress: Progress | None, keep_alive: Callable[[], bool]) -> StepReport:
    """Step 7 on the real clock: the jobs this run queued and every job due now, then the outbox."""
    number, title, rule = QUEUE_STEP
    step_report = StepReport(number, title, rule)
    ran: set[int] = set()
    this_run = list(queued)

    def renew(_outcome: jobs.JobOutcome) -> None:
        keep_alive()

    while True:
        if not keep_alive():
            _report(step_report, [StepItem(number, None, "failed", "lost the automation lock; jobs and mail left for the next run")], progress)
            return step_report
        due = [job_id for job_id in dict.fromkeys([*this_run, *jobs.due_job_ids(db)]) if job_id not in ran]
        this_run = []
        if not due:
            break
        ran.update(due)
        outcomes = jobs.run_jobs(db, due, progress=renew)
        _report(step_report, (_job_item(outcome) for outcome in outcomes), progress)
    sent = mailer.send_queued(db, keep_alive=keep_alive)
    _report(step_report, (StepItem(number, result.service_id, result.outcome, result.message) for result in sent.items), progress, logged=True)
    for reason in (sent.not_sent_reason, sent.stopped):
        if reason:
            _report(step_report, [StepItem(number, None, "skipped", reason)], progress, logged=True)
    return step_report


RECONCILE_STEP = (settings_module.RECONCILE_STEP, "reconcile", "reconcile the panels last read reconcile_every_hours ago or more, mail new drift (real clock)")


def _reconcile_step(db: Database, ctx: RunContext, progress: Progress | None, keep_alive: Callable[[], bool]) -> StepReport:
    """Step 8, after the jobs: reconcile the panels due, mail the admin the drift first seen now,
    and apply the fixes of the kinds `reconcile_auto_apply` names (none by default)."""
    number, title, rule = RECONCILE_STEP
    step_report = StepReport(number, title, rule)
    started = time.perf_counter()
    since = clock.now()
    result = reconcile.reconcile(db, SYSTEM, due_only=True)
    items = [
        StepItem(number, None, "failed" if panel.error else "ok", panel.error or f"{panel.panel.names[0]}: {panel.resources} resources, {panel.new} new drift")
        for panel in result.panels
    ]
    auto = tuple(ctx.settings["reconcile_auto_apply"])
    reconciled = tuple(server_id for panel in result.panels if not panel.error for server_id in panel.panel.server_ids)
    if auto and reconciled and keep_alive():
        applied = reconcile.apply(db, SYSTEM, reconcile.DriftFilter(kinds=auto, server_ids=reconciled))
        items += [StepItem(number, fix.service_id, fix.outcome, f"{fix.kind}: {fix.message}") for fix in applied.results]
    if reconcile.mail_new_drift(db, since):
        sent = mailer.send_queued(db, keep_alive=keep_alive)
        items += [StepItem(number, None, item.outcome, item.message) for item in sent.items]
    _report(step_report, items, progress, logged=True)
    step_report.seconds = time.perf_counter() - started
    return step_report


def _job_item(outcome: jobs.JobOutcome) -> StepItem:
    result = {"succeeded": "ok", "queued": "retry"}.get(outcome.status, "failed")
    return StepItem(QUEUE_STEP[0], outcome.service_id, result, f"job {outcome.job_id} {outcome.status}: {outcome.message}")


class _Discard(Exception):
    """Carries a dry-run chunk's report out of its transaction, which is then rolled back."""

    def __init__(self, value: Any) -> None:
        super().__init__("dry run: rolled back")
        self.value = value


def _rolled_back(db: Database, work: Callable[[Session], T]) -> T:
    """`work` in a short write transaction that is always rolled back; its return value."""

    def discard(session: Session) -> None:
        raise _Discard(work(session))

    try:
        db.transaction(discard)
    except _Discard as kept:
        return kept.value
    raise AssertionError("unreachable")


def _dry_run(db: Database, ctx: RunContext, report: AutomationReport, progress: Progress | None, at: datetime | None) -> None:
    """Every step's real checks and changes, chunk by chunk, each chunk rolled back in its own short transaction."""
    with _acting_at(at):
        for step in SERVICE_STEPS:
            started = time.perf_counter()
            step_report = StepReport(step.number, step.title, step.rule(ctx))
            report.steps.append(step_report)
            with db.read() as session:
                candidates = list(step.select(session, ctx))
            for chunk in _chunks(candidates, CHUNK):
                items = _rolled_back(db, lambda session, chunk=chunk, step=step: _apply_chunk(session, ctx, step, chunk))  # type: ignore[misc]  # mypy cannot infer a lambda with a default; chunk is bound on purpose
                _report(step_report, [_would(item) for item in items], progress)
            step_report.seconds = time.perf_counter() - started
    report.steps.append(_preview_queue(db, ctx, progress))


def _would(item: StepItem) -> StepItem:
    if item.outcome in {"ok", "queued"}:
        return StepItem(item.step, item.service_id, f"would: {item.outcome}", item.message, item.job_id)
    return item


def _preview_queue(db: Database, ctx: RunContext, progress: Progress | None) -> StepReport:
    """What step 7 would do now, on the real clock: the jobs due and the mails queued."""
    number, title, rule = QUEUE_STEP
    step_report = StepReport(number, title, rule)
    with db.read() as session:
        due_jobs = session.exec(select(Job).where(jobs._due(clock.now())).order_by(Job.id)).all()  # type: ignore[arg-type]
        queued = session.exec(select(func.count()).select_from(Notification).where(Notification.status.in_(mailer.WAITING))).one()  # type: ignore[attr-defined]
    items = [StepItem(number, job.service_id, "would: run", f"job {job.id} {job.operation} (attempt {job.attempts + 1})") for job in due_jobs]
    host = ctx.settings["smtp_host"]
    target = f"by SMTP to {host}:{ctx.settings['smtp_port']}" if host else "nowhere: smtp_host is empty, they stay queued"
    items.append(StepItem(number, None, "would: send", f"{queued} queued notification{'s' if queued != 1 else ''} {target}"))
    _report(step_report, items, progress)
    return step_report
