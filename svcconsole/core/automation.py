"""The automation run (SPEC.md section 7): the cron job that bills, warns, suspends and cleans up.

The seven steps of SPEC.md section 7, each over the services its rule selects with one
indexed query: renewal invoices, expiry notices, overdue suspension, expiry, end-of-cycle
cancellation, hiding old expired or cancelled services, then the module queue and the
outbox. Before them, step 0 applies the lines of paid invoices that could not be applied when
they were paid (a renewal paid while a module job was running on the service); while such a
renewal waits, steps 3 and 4 leave its service alone and say why. Every service's change
runs through the same core functions an admin uses, as the `system` actor, in chunked
transactions; a service whose change raises is reported as failed (the traceback goes to the
operations log) and the run goes on. A chunk runs first without savepoints (two round trips
per service fewer); if one of its services raises, that transaction is rolled back and the
chunk runs again with a savepoint per service, so the others are kept (see `_run_chunk`).

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
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func
from sqlmodel import Session, select

from svcconsole.core import clock, health, jobs, leases, mailer, reconcile, usage
from svcconsole.core import settings as settings_module
from svcconsole.core.automation_lifecycle import LIFECYCLE_STEPS
from svcconsole.core.automation_report import AutomationReport, StepItem, StepReport
from svcconsole.core.automation_steps import PAYMENT_STEPS, ChunkCache, RunContext, ServiceStep, candidate_id
from svcconsole.core.errors import SvcError
from svcconsole.core.operators import SYSTEM, Actor, require
from svcconsole.core.statuses import automation_role
from svcconsole.store.engine import Database
from svcconsole.store.models import Job, Notification

log = logging.getLogger("svcconsole.automation")
T = TypeVar("T")

CHUNK = 200
LOCK_NAME = "automation"


Progress = Callable[[StepItem], None]


SERVICE_STEPS: tuple[ServiceStep, ...] = (*PAYMENT_STEPS, *LIFECYCLE_STEPS)
QUEUE_STEP = (7, "jobs and mail", "run the module jobs this run queued and those due now, then send queued notifications (real clock)")


def _apply_one(session: Session, ctx: RunContext, step: ServiceStep, cache: ChunkCache, candidate: Any) -> StepItem | None:
    arguments = candidate if isinstance(candidate, tuple) else (candidate,)
    savepoint = session.begin_nested()
    try:
        item = step.apply(session, ctx, cache, *arguments)
    except SvcError as error:
        savepoint.rollback()
        return StepItem(step.number, candidate_id(candidate), "skipped", error.message)
    except Exception as error:  # one bad service must not stop the run; kept in the report and the log
        savepoint.rollback()
        log.exception("automation step %s: %s raised for %r", step.number, step.title, candidate)
        return StepItem(
            step.number, candidate_id(candidate), "failed", f"internal error: {type(error).__name__}: {error} (the traceback is in the operations log)"
        )
    savepoint.commit()
    return item


def _apply_chunk(session: Session, ctx: RunContext, step: ServiceStep, chunk: Sequence[Any]) -> list[StepItem]:
    """The chunk's services without a savepoint each; the first one that raises rolls back them all (`_run_chunk`)."""
    cache = step.prepare(session, ctx, chunk)
    items = []
    for candidate in chunk:
        arguments = candidate if isinstance(candidate, tuple) else (candidate,)
        try:
            item = step.apply(session, ctx, cache, *arguments)
            session.flush()
        except Exception as error:
            raise _ServiceRaised(candidate) from error
        if item is not None:
            items.append(item)
    return items


def _apply_chunk_in_savepoints(session: Session, ctx: RunContext, step: ServiceStep, chunk: Sequence[Any]) -> list[StepItem]:
    """The chunk's services each in a savepoint of its own: one that raises is reported and the others are kept."""
    cache = step.prepare(session, ctx, chunk)
    items = []
    for candidate in chunk:
        item = _apply_one(session, ctx, step, cache, candidate)
        if item is not None:
            items.append(item)
    return items


class _ServiceRaised(Exception):
    """A service of a chunk run without savepoints raised: the chunk's transaction is rolled back."""


def _run_chunk(db: Database, ctx: RunContext, step: ServiceStep, chunk: Sequence[Any]) -> list[StepItem]:
    """One chunk in one transaction: at once when no service raises, else again with a savepoint per service.

    A savepoint and its release are two round trips per service, more than a quarter of a
    run's statements on PostgreSQL, there only for the rare service that raises. So the chunk
    runs first without them; when a service raises (a refusal or an error), the whole
    transaction is rolled back, nothing of it is kept, and the chunk runs again as before,
    each service in a savepoint of its own. The second run locks and reads the chunk afresh,
    so every service is still checked as it is when its change is made, and the report is the
    one the savepoint run alone would give. A chunk with a refusal costs its work twice; a
    run has few of them.
    """
    try:
        return db.transaction(lambda session: _apply_chunk(session, ctx, step, chunk))
    except _ServiceRaised:
        return db.transaction(lambda session: _apply_chunk_in_savepoints(session, ctx, step, chunk))


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
        report.steps.append(_usage_step(progress, db, keep_alive))
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
            _report(step_report, _run_chunk(db, ctx, step, chunk), progress, logged=True)
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


USAGE_STEP = (
    settings_module.USAGE_STEP,
    "usage",
    "read the usage of active and suspended services whose product meters a resource, into their current billing period (real clock)",
)


def _usage_step(progress: Progress | None, db: Database, keep_alive: Callable[[], bool]) -> StepReport:
    """Step 9, last: each metered service's usage read from its panel (`core.usage`); the renewal
    invoice of a later run bills the overage of a period once it closed."""
    number, title, rule = USAGE_STEP
    step_report = StepReport(number, title, rule)
    started = time.perf_counter()
    outcomes = usage.read_all(db, keep_alive)
    _report(step_report, [StepItem(number, outcome.service_id, outcome.outcome, outcome.message) for outcome in outcomes], progress, logged=True)
    step_report.seconds = time.perf_counter() - started
    return step_report


def _job_item(outcome: jobs.JobOutcome) -> StepItem:
    result = {"succeeded": "ok", "queued": "retry", "resolved": "skipped"}.get(outcome.status, "failed")
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
                items = _rolled_back(db, lambda session, chunk=chunk, step=step: _apply_chunk_in_savepoints(session, ctx, step, chunk))  # type: ignore[misc]  # mypy cannot infer a lambda with a default; chunk is bound on purpose
                _report(step_report, [_would(item) for item in items], progress)
            step_report.seconds = time.perf_counter() - started
    report.steps.append(_preview_queue(db, ctx, progress))
    report.steps.append(_preview_usage(db, progress))


def _preview_usage(db: Database, progress: Progress | None) -> StepReport:
    """What step 9 would do: how many metered services it would read (no panel is called)."""
    number, title, rule = USAGE_STEP
    step_report = StepReport(number, title, rule)
    with db.read() as session:
        metered = usage.count_metered(session)
    if metered:
        _report(
            step_report,
            [StepItem(number, None, "would: read", f"the usage of {metered} metered service{'s' if metered != 1 else ''} from their panels")],
            progress,
        )
    return step_report


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
