"""The automation run (SPEC.md section 7): the cron job that bills, warns, suspends and cleans up.

Seven steps in order, each over the services its rule selects with one indexed query:
renewal invoices, expiry notices, overdue suspension, expiry, end-of-cycle cancellation,
hiding old expired or cancelled services, then the module queue and the outbox. Every
service's change runs through the same core functions an admin uses, as the `system` actor,
in chunked transactions with a savepoint per service.

Safe to run twice at once: a run holds a lock (a session advisory lock on PostgreSQL, a lease
row on SQLite); a second run finds it held and ends at once, doing nothing. Safe to re-run:
a renewal invoice is never made twice for one service and period, a notice never queued
twice (`notification.dedupe_key`), and each step re-checks its rule under the row lock, so a
run killed half-way and started again finishes the rest and repeats nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, or_, text
from sqlmodel import Session, select

from svcconsole.core import billing, clock, cycles, jobs, mailer, notifications, services
from svcconsole.core import settings as settings_module
from svcconsole.core.errors import SvcError
from svcconsole.core.operators import SYSTEM, Actor, require
from svcconsole.core.statuses import NON_TRANSITION_ROLES, CancelMode, Status, SuspendKind
from svcconsole.store.engine import Database
from svcconsole.store.models import Customer, InvoiceLine, Job, Lease, Notification, Service, ServiceMeta, ServiceOption

log = logging.getLogger("svcconsole.automation")

CHUNK = 200
LOCK_NAME = "automation"
LEASE = timedelta(minutes=10)
RECURRING = tuple(cycle.value for cycle in cycles.RECURRING)
SETTING_KEYS = (
    "invoice_generation_days",
    "expiry_notice_days",
    "suspend_after_days",
    "terminate_after_days",
    "delete_after_days",
    "renewal_grace_days",
    "timezone",
    "currency",
)


# ----------------------------------------------------------------------------- reports


@dataclass
class StepItem:
    """What a step did (or would do) to one service, and why."""

    step: int
    service_id: int | None
    outcome: str
    message: str


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

    def day(self, moment: datetime | None) -> str:
        """A moment as local `YYYY-MM-DD HH:MM`."""
        return moment.astimezone(self.settings.tz).strftime("%Y-%m-%d %H:%M") if moment else "-"

    def date(self, moment: datetime | None) -> str:
        """A moment as a local date."""
        return moment.astimezone(self.settings.tz).date().isoformat() if moment else "-"


# ----------------------------------------------------------------------------- the lock


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"svcconsole:{name}".encode()).digest()[:8], "big", signed=True)


def _holder_is_dead(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class RunLock:
    """A named lock held for one run (wall-clock lease, unaffected by `--at`).

    PostgreSQL: a session advisory lock on a connection kept open for the run; it dies with
    the process. SQLite: a `lease` row taken in a `BEGIN IMMEDIATE` transaction, renewed as the
    run goes; a holder that died is replaced once its lease runs out, or at once when it ran
    on this host and its process is gone.
    """

    def __init__(self, db: Database, name: str = LOCK_NAME) -> None:
        self.db = db
        self.name = name
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held_by: str | None = None
        self._connection: Any = None

    def acquire(self) -> bool:
        """Take the lock if free; False (and `held_by` set) when another run holds it."""
        if self.db.is_postgresql:
            connection = self.db.engine.connect()
            taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _advisory_key(self.name)}).scalar()
            connection.commit()
            if not taken:
                connection.close()
                self.held_by = "another session (PostgreSQL advisory lock)"
                return False
            self._connection = connection
            return True
        return bool(self.db.transaction(self._take_lease))

    def _take_lease(self, session: Session) -> bool:
        now = _wall_clock()
        lease = session.get(Lease, self.name)
        if lease is not None and lease.holder != self.holder and clock.as_utc(lease.expires_at) > now and not _holder_is_dead(lease.holder):
            self.held_by = f"{lease.holder} since {clock.as_utc(lease.acquired_at).isoformat(timespec='seconds')}"
            return False
        if lease is None:
            session.add(Lease(name=self.name, holder=self.holder, acquired_at=now, expires_at=now + LEASE))
        else:
            lease.holder, lease.acquired_at, lease.expires_at = self.holder, now, now + LEASE
            session.add(lease)
        return True

    def renew(self) -> None:
        """Extend the lease while the run goes on (nothing to do on PostgreSQL)."""
        if self.db.is_postgresql:
            return

        def work(session: Session) -> None:
            lease = session.get(Lease, self.name)
            if lease is not None and lease.holder == self.holder:
                lease.expires_at = _wall_clock() + LEASE
                session.add(lease)

        self.db.transaction(work)

    def release(self) -> None:
        """Give the lock back."""
        if self.db.is_postgresql:
            if self._connection is not None:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _advisory_key(self.name)})
                self._connection.commit()
                self._connection.close()
                self._connection = None
            return

        def work(session: Session) -> None:
            lease = session.get(Lease, self.name)
            if lease is not None and lease.holder == self.holder:
                session.delete(lease)

        self.db.transaction(work)


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

    def amount(self, session: Session, service: Service) -> Decimal:
        """One cycle's renewal amount (the options' query only for services that have options)."""
        if service.id in self.with_options:
            return services.renewal_amount(session, service, 1)
        return billing.cents(service.price or billing.ZERO)


def _lock_chunk(session: Session, service_ids: Sequence[int]) -> ChunkCache:
    locked = session.exec(select(Service).where(Service.id.in_(list(service_ids))).order_by(Service.id).with_for_update()).all()  # type: ignore[union-attr,arg-type]
    cache = ChunkCache({service.id or 0: service for service in locked})
    customer_ids = list({service.customer_id for service in locked})
    cache.customers = list(session.exec(select(Customer).where(Customer.id.in_(customer_ids))).all()) if customer_ids else []  # type: ignore[union-attr]
    return cache


def _with_options(session: Session, service_ids: Sequence[int]) -> set[int]:
    return set(session.exec(select(ServiceOption.service_id).where(ServiceOption.service_id.in_(list(service_ids))).distinct()).all())  # type: ignore[attr-defined]


def _prepare_plain(session: Session, ctx: RunContext, candidates: Sequence[Any]) -> ChunkCache:
    return _lock_chunk(session, [_candidate_id(candidate) for candidate in candidates])


def _done(step: int, service_id: int, outcome: services.Outcome, why: str) -> StepItem:
    return StepItem(step, service_id, outcome.result, f"{outcome.message} ({why})")


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
        InvoiceLine.service_id == Service.id,
        InvoiceLine.kind == billing.LineKind.RENEWAL.value,
        InvoiceLine.period_start == Service.expires_at,
    )
    query = select(Service.id).where(
        Service.status == Status.ACTIVE.value,
        Service.expires_at <= _invoice_until(ctx),  # type: ignore[operator]
        Service.auto_renew == True,  # noqa: E712
        Service.cancel_at == None,  # noqa: E711
        Service.billing_cycle.in_(RECURRING),  # type: ignore[attr-defined]
        ~billed,
    )
    return _ids(session, query)


def _prepare_renewals(session: Session, ctx: RunContext, candidates: Sequence[Any]) -> ChunkCache:
    cache = _prepare_plain(session, ctx, candidates)
    ids = list(cache.services)
    cache.with_options = _with_options(session, ids)
    lines = session.exec(
        select(InvoiceLine.service_id, InvoiceLine.period_start).where(InvoiceLine.service_id.in_(ids), InvoiceLine.kind == billing.LineKind.RENEWAL.value)  # type: ignore[union-attr]
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
    if line.amount == billing.ZERO:
        paid = billing.pay_invoice(session, ctx.actor, line.invoice_id)
        message += "; nothing to pay, renewed at once: " + "; ".join(outcome.message for outcome in paid.outcomes)
    return StepItem(1, service_id, "ok", f"{message} ({why})")


# 2. expiry notices


def _notice_days(ctx: RunContext) -> list[int]:
    return sorted({day for day in ctx.settings["expiry_notice_days"] if day > 0}, reverse=True)


def _notice_rule(ctx: RunContext) -> str:
    days = ",".join(str(day) for day in _notice_days(ctx)) or "none"
    return f"active services at {days} days before expiry (expiry_notice_days={days}), unless disable_notify_expiration=true"


def _notice_window(ctx: RunContext, days: int) -> tuple[datetime, datetime]:
    thresholds = _notice_days(ctx)
    smaller = [day for day in thresholds if day < days]
    lower = max(smaller) if smaller else 0
    return ctx.now + timedelta(days=lower), ctx.now + timedelta(days=days)


def _notices_disabled() -> Any:
    return exists().where(
        ServiceMeta.service_id == Service.id,
        ServiceMeta.key == "disable_notify_expiration",
        func.lower(ServiceMeta.value) == "true",
    )


def _notice_key(service_id: int, expires_at: datetime, days: int) -> str:
    return f"expiry:{service_id}:{clock.as_utc(expires_at).date().isoformat()}:{days}"


def _existing_keys(session: Session, keys: Iterable[str]) -> set[str]:
    wanted = list(keys)
    if not wanted:
        return set()
    return set(session.exec(select(Notification.dedupe_key).where(Notification.dedupe_key.in_(wanted))).all())  # type: ignore[union-attr,arg-type]


def _select_notices(session: Session, ctx: RunContext) -> list[tuple[int, int]]:
    due: list[tuple[int, int]] = []
    for days in _notice_days(ctx):
        after, until = _notice_window(ctx, days)
        query = select(Service.id, Service.expires_at).where(
            Service.status == Status.ACTIVE.value,
            Service.expires_at > after,  # type: ignore[operator]
            Service.expires_at <= until,  # type: ignore[operator]
            Service.cancel_at == None,  # noqa: E711
            ~_notices_disabled(),
        )
        rows = list(session.exec(query.order_by(Service.id)).all())
        for offset in range(0, len(rows), 1000):
            keys = {_notice_key(service_id, expires_at, days): service_id for service_id, expires_at in rows[offset : offset + 1000]}
            sent = _existing_keys(session, keys)
            due.extend((service_id, days) for key, service_id in keys.items() if key not in sent)
    due.sort()
    return due


def _prepare_notices(session: Session, ctx: RunContext, candidates: Sequence[Any]) -> ChunkCache:
    cache = _prepare_plain(session, ctx, candidates)
    ids = list(cache.services)
    cache.with_options = _with_options(session, ids)
    cache.quiet = set(
        session.exec(
            select(ServiceMeta.service_id).where(
                ServiceMeta.service_id.in_(ids),  # type: ignore[attr-defined]
                ServiceMeta.key == "disable_notify_expiration",
                func.lower(ServiceMeta.value) == "true",
            )
        ).all()
    )
    keys = [
        _notice_key(service_id, cache.services[service_id].expires_at, days)  # type: ignore[arg-type]
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
    if service.status != Status.ACTIVE.value or service.cancel_at is not None or not after < service.expires_at <= until:
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
        days=days,
        expires=ctx.date(service.expires_at),
        price=billing.money_text(cache.amount(session, service), service.currency),
    )
    if queued is None:
        return None
    cache.sent_keys.add(key)
    return StepItem(2, service_id, "ok", f"expiry notice to {queued.to_address}: expires {ctx.day(service.expires_at)} (expiry_notice_days: {days} days before)")


# 3. suspend overdue


def _suspend_before(ctx: RunContext) -> datetime:
    return ctx.now - timedelta(days=ctx.settings["suspend_after_days"])


def _suspend_rule(ctx: RunContext) -> str:
    return f"active services expired before {ctx.day(_suspend_before(ctx))} (suspend_after_days={ctx.settings['suspend_after_days']}), not cancelling by now"


def _suspend_due(service: Service, ctx: RunContext) -> bool:
    cancelling_now = service.cancel_at is not None and service.cancel_at <= ctx.now
    return service.status == Status.ACTIVE.value and service.expires_at is not None and service.expires_at < _suspend_before(ctx) and not cancelling_now


def _select_suspensions(session: Session, ctx: RunContext) -> list[int]:
    query = select(Service.id).where(
        Service.status == Status.ACTIVE.value,
        Service.expires_at < _suspend_before(ctx),  # type: ignore[operator]
        or_(Service.cancel_at == None, Service.cancel_at > ctx.now),  # type: ignore[operator]  # noqa: E711
    )
    return _ids(session, query)


def _do_suspend(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int) -> StepItem | None:
    service = cache.services.get(service_id)
    if service is None or not _suspend_due(service, ctx):
        return None
    expired = ctx.day(service.expires_at)
    outcome = services.perform(
        session, ctx.actor, "suspend", service_id,
        {"kind": SuspendKind.OVERDUE.value, "reason": f"overdue: expired {expired}", "notify": True},
    )
    return _done(3, service_id, outcome, f"expired {expired}, suspend_after_days={ctx.settings['suspend_after_days']}")


# 4. expire


def _expire_before(ctx: RunContext) -> datetime:
    return ctx.now - timedelta(days=ctx.settings["terminate_after_days"])


def _expire_rule(ctx: RunContext) -> str:
    return f"suspended as overdue before {ctx.day(_expire_before(ctx))} (terminate_after_days={ctx.settings['terminate_after_days']})"


def _overdue_since(service: Service) -> datetime | None:
    return service.suspended_at or service.expires_at


def _expire_due(service: Service, ctx: RunContext) -> bool:
    since = _overdue_since(service)
    return (
        service.status == Status.SUSPENDED.value
        and service.suspend_kind == SuspendKind.OVERDUE.value
        and since is not None
        and since < _expire_before(ctx)
    )


def _select_expiries(session: Session, ctx: RunContext) -> list[int]:
    query = select(Service.id).where(
        Service.status == Status.SUSPENDED.value,
        Service.suspend_kind == SuspendKind.OVERDUE.value,
        func.coalesce(Service.suspended_at, Service.expires_at) < _expire_before(ctx),
    )
    return _ids(session, query)


def _do_expire(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int) -> StepItem | None:
    service = cache.services.get(service_id)
    if service is None or not _expire_due(service, ctx):
        return None
    since = ctx.day(_overdue_since(service))
    outcome = services.perform(
        session, ctx.actor, "expire", service_id,
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
        Service.cancel_at <= ctx.now,  # type: ignore[operator]
        Service.status.in_(CANCELLABLE),  # type: ignore[attr-defined]
    )
    return _ids(session, query)


def _do_cancel(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int) -> StepItem | None:
    service = cache.services.get(service_id)
    if service is None or not _cancel_due(service, ctx):
        return None
    asked = service.cancel_reason
    when = ctx.day(service.cancel_at)
    outcome = services.perform(
        session, ctx.actor, "cancel-immediately", service_id,
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
    expired = select(Service.id).where(Service.status == Status.EXPIRED.value, Service.expires_at < cutoff)  # type: ignore[operator]
    cancelled = select(Service.id).where(
        Service.status == Status.CANCELLED.value,
        func.coalesce(Service.cancelled_at, Service.cancel_at, Service.expires_at) < cutoff,
    )
    return sorted({*_ids(session, expired), *_ids(session, cancelled)})


def _do_hide(session: Session, ctx: RunContext, cache: ChunkCache, service_id: int) -> StepItem | None:
    service = cache.services.get(service_id)
    if service is None or not _hide_due(service, ctx):
        return None
    ended = ctx.day(_ended_at(service))
    was = service.status
    outcome = services.perform(
        session, ctx.actor, "delete", service_id,
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
    ServiceStep(1, "renewal invoices", _renewal_rule, _select_renewals, _prepare_renewals, _do_renewal),
    ServiceStep(2, "expiry notices", _notice_rule, _select_notices, _prepare_notices, _do_notice),
    ServiceStep(3, "suspend overdue", _suspend_rule, _select_suspensions, _prepare_plain, _do_suspend),
    ServiceStep(4, "expire", _expire_rule, _select_expiries, _prepare_plain, _do_expire),
    ServiceStep(5, "end-of-cycle cancellations", _cancel_rule, _select_cancellations, _prepare_plain, _do_cancel),
    ServiceStep(6, "hide old services", _hide_rule, _select_hidden, _prepare_plain, _do_hide),
)
QUEUE_STEP = (7, "jobs and mail", "retry due module jobs, then send queued notifications")


def _candidate_id(candidate: Any) -> int:
    return int(candidate[0]) if isinstance(candidate, tuple) else int(candidate)


def _apply_one(session: Session, ctx: RunContext, step: ServiceStep, cache: ChunkCache, candidate: Any) -> StepItem | None:
    arguments = candidate if isinstance(candidate, tuple) else (candidate,)
    savepoint = session.begin_nested()
    try:
        item = step.apply(session, ctx, cache, *arguments)
    except SvcError as error:
        savepoint.rollback()
        return StepItem(step.number, _candidate_id(candidate), "skipped", error.message)
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
    return {key: settings.display(key) for key in SETTING_KEYS}


def run(
    db: Database,
    actor: Actor,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    use_lock: bool = True,
) -> AutomationReport:
    """Run the seven steps at `clock.now()` as the system, or show what they would do (`dry_run`).

    `actor` is the operator who started the run (it needs the automation role); the changes
    are made as `SYSTEM`. With `use_lock=False` the caller answers for exclusion (the
    idempotency keys still make a double run harmless).
    """
    require(actor, NON_TRANSITION_ROLES["automation"], "running the automation")
    with db.read() as session:
        settings = settings_module.load(session)
    ctx = RunContext(clock.now(), settings, SYSTEM)
    report = AutomationReport(ctx.now, dry_run, _settings_shown(settings))
    if dry_run:
        _dry_run(db, ctx, report, progress)
        log.info("automation: dry run at %s by %s (nothing changed)", ctx.now.isoformat(timespec="seconds"), actor.name)
        return report
    lock = RunLock(db)
    if use_lock and not lock.acquire():
        report.locked_by = lock.held_by
        log.info("automation: run at %s by %s: another run holds the lock (%s); nothing done", ctx.now.isoformat(timespec="seconds"), actor.name, lock.held_by)
        return report
    log.info("automation: run at %s by %s; %s", ctx.now.isoformat(timespec="seconds"), actor.name, report.settings_line())
    try:
        for step in SERVICE_STEPS:
            started = time.perf_counter()
            step_report = StepReport(step.number, step.title, step.rule(ctx))
            report.steps.append(step_report)
            with db.read() as session:
                candidates = list(step.select(session, ctx))
            for chunk in _chunks(candidates, CHUNK):
                items = db.transaction(lambda session, chunk=chunk, step=step: _apply_chunk(session, ctx, step, chunk))  # type: ignore[misc]
                _report(step_report, items, progress, logged=True)
                if use_lock:
                    lock.renew()
            step_report.seconds = time.perf_counter() - started
            log.info("automation: %s", step_report.summary())
        started = time.perf_counter()
        report.steps.append(_run_queue(db, ctx, progress))
        report.steps[-1].seconds = time.perf_counter() - started
        log.info("automation: %s", report.steps[-1].summary())
    except BaseException:
        log.exception("automation: run at %s stopped by an error; a new run finishes the rest", ctx.now.isoformat(timespec="seconds"))
        raise
    finally:
        if use_lock:
            lock.release()
    return report


def _report(step_report: StepReport, items: Iterable[StepItem], progress: Progress | None, *, logged: bool = False) -> None:
    for item in items:
        step_report.items.append(item)
        if logged:
            log.info("automation: step %s: service %s: %s: %s", item.step, item.service_id, item.outcome, item.message)
        if progress is not None:
            progress(item)


def _run_queue(db: Database, ctx: RunContext, progress: Progress | None) -> StepReport:
    number, title, rule = QUEUE_STEP
    step_report = StepReport(number, title, rule)
    ran: set[int] = set()
    while True:
        due = [job_id for job_id in jobs.due_job_ids(db) if job_id not in ran]
        if not due:
            break
        ran.update(due)
        outcomes = jobs.run_jobs(db, due)
        _report(step_report, (_job_item(outcome) for outcome in outcomes), progress)
    sent = mailer.send_queued(db)
    _report(step_report, (StepItem(number, result.service_id, result.outcome, result.message) for result in sent.items), progress, logged=True)
    if sent.not_sent_reason:
        _report(step_report, [StepItem(number, None, "skipped", sent.not_sent_reason)], progress, logged=True)
    return step_report


def _job_item(outcome: jobs.JobOutcome) -> StepItem:
    result = {"succeeded": "ok", "queued": "retry"}.get(outcome.status, "failed")
    return StepItem(QUEUE_STEP[0], outcome.service_id, result, f"job {outcome.job_id} {outcome.status}: {outcome.message}")


def _dry_run(db: Database, ctx: RunContext, report: AutomationReport, progress: Progress | None) -> None:
    """Every step's real checks and changes in one transaction, rolled back at the end."""
    with db.read() as session:
        with session.begin():
            for step in SERVICE_STEPS:
                started = time.perf_counter()
                step_report = StepReport(step.number, step.title, step.rule(ctx))
                report.steps.append(step_report)
                for chunk in _chunks(list(step.select(session, ctx)), CHUNK):
                    _report(step_report, [_would(item) for item in _apply_chunk(session, ctx, step, chunk)], progress)
                step_report.seconds = time.perf_counter() - started
            report.steps.append(_preview_queue(session, ctx, progress))
            session.rollback()


def _would(item: StepItem) -> StepItem:
    if item.outcome in {"ok", "queued"}:
        return StepItem(item.step, item.service_id, f"would: {item.outcome}", item.message)
    return item


def _preview_queue(session: Session, ctx: RunContext, progress: Progress | None) -> StepReport:
    number, title, rule = QUEUE_STEP
    step_report = StepReport(number, title, rule)
    due_jobs = session.exec(
        select(Job).where(
            or_(
                (Job.status == "queued") & ((Job.next_attempt_at == None) | (Job.next_attempt_at <= ctx.now)),  # type: ignore[operator]  # noqa: E711
                (Job.status == "running") & (Job.lease_until < ctx.now),  # type: ignore[operator]
            )
        ).order_by(Job.id)  # type: ignore[arg-type]
    ).all()
    items = [StepItem(number, job.service_id, "would: run", f"job {job.id} {job.operation} (attempt {job.attempts + 1})") for job in due_jobs]
    queued = session.exec(select(func.count()).select_from(Notification).where(Notification.status == "queued")).one()
    host = ctx.settings["smtp_host"]
    target = f"by SMTP to {host}:{ctx.settings['smtp_port']}" if host else "nowhere: smtp_host is empty, they stay queued"
    items.append(StepItem(number, None, "would: send", f"{queued} queued notification{'s' if queued != 1 else ''} {target}"))
    _report(step_report, items, progress)
    return step_report
