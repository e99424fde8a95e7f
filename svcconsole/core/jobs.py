"""The module queue: claim a job, call the module outside any transaction, apply the outcome.

A job is claimed with a lease; a job whose lease ran out (its process died) is claimed again,
and the adapters' idempotency makes the second attempt safe. Every claim counts an attempt; a
job whose lease runs out after its last attempt fails for good ("worker lost N times") instead
of running again. While a module call runs, its worker renews the lease; the outcome of a call
whose worker lost its claim meanwhile (another worker took the job over) is not applied.

The service's status is checked against the job's action (SPEC.md section 3) twice: when the
job is claimed, before any module call (a first run, a retry, a reclaim), and when its outcome
is written. When the status no longer allows the action, the job ends `resolved` with a reason
that names the service, its status and the action, the service's activity log says so, and
nothing of the action is applied. A delivery that succeeds resolves the service's older failed
and queued deliveries.

Failures that a retry can help go back to the queue with exponential backoff; the others stay
`failed` for an admin. An outcome that cannot be saved is tried again in a transaction of its
own, and if that fails too the job is failed with the save's error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from svcconsole.core import action_base, actions, clock, leases, lookups, placement
from svcconsole.core.job_claims import WORKERS_LOST, LeaseKeeper, bulk_items_batched, finish_bulk_item, mark_claimed, workers_lost
from svcconsole.core.logs import redact
from svcconsole.core.operators import job_actor
from svcconsole.core.statuses import ACTIONS
from svcconsole.modules import CustomerRef, Module, ModuleError, ModuleResult, ProductRef, ServiceRef, get_module
from svcconsole.modules.base import Checkpoint
from svcconsole.store.engine import Database
from svcconsole.store.models import Customer, Job, Product, Server, Service

log = logging.getLogger("svcconsole.jobs")

BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
DEFAULT_CONCURRENCY = 8
DEFAULT_PER_SERVER = 8


def worker_id() -> str:
    return leases.holder()


@dataclass
class JobOutcome:
    """How one run of a job ended."""

    job_id: int
    service_id: int
    status: str
    message: str
    bulk_run_id: int | None = None


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    seconds = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    if retry_after is not None:
        seconds = max(seconds, retry_after)
    return timedelta(seconds=seconds)


Claimed = tuple[Job, ServiceRef, str]

SUPERSEDED_BY_SUCCESS = frozenset({"activation"})
"""Operations whose success makes the service's older failed and queued jobs of the same
operation moot (a delivery that worked needs no older delivery retried)."""


def _claim(session: Session, job_id: int, worker: str) -> Claimed | JobOutcome | None:
    """Claim the job for `worker`: its snapshot to call the module with, or the outcome written
    instead of a call (its service's status no longer allows it, or its workers died too often)."""
    now = clock.now()
    job = session.exec(select(Job).where(Job.id == job_id).with_for_update()).first()
    if job is None:
        return None
    reclaim = job.status == "running" and (job.lease_until is None or job.lease_until < now or not leases.holder_alive(job.worker or ""))
    if not (job.status == "queued" or reclaim):
        return None
    if reclaim and job.attempts >= job.max_attempts:
        return _fail_lost(session, job, now)
    mark_claimed(job, worker, now)
    session.add(job)
    service = session.get(Service, job.service_id)
    if service is None:
        return None
    refused = _resolve_if_refused(session, job, service)
    if refused is not None:
        return refused
    return job, lookups.service_ref(session, service), service.type


def _fail_lost(session: Session, job: Job, now: Any) -> JobOutcome:
    """Fail for good a job whose lease ran out once more after its last attempt."""
    lost = workers_lost(job) + 1
    message = f"worker lost {lost} times (attempt {job.attempts} of {job.max_attempts}); not run again"
    job.params = {**(job.params or {}), WORKERS_LOST: lost}
    job.status = "failed"
    job.last_error = message
    job.lease_until = None
    job.updated_at = now
    session.add(job)
    actions.record_module_failure(session, job, message, final=True)
    finish_bulk_item(session, job, "failed", message)
    log.warning("job %s: %s", job.id, message)
    return JobOutcome(job.id or 0, job.service_id, "failed", message, job.bulk_run_id)


def _not_applied(session: Session, job: Job, service: Service, reason: str, details: dict[str, Any] | None = None) -> JobOutcome:
    """End a job whose service's status no longer allows its action: resolved, with the reason
    kept on the job and logged on the service; nothing of the action is applied."""
    job.status = "resolved"
    job.last_error = reason
    job.lease_until = None
    job.updated_at = clock.now()
    session.add(job)
    actions.record_job_not_applied(session, job, service, reason, details)
    finish_bulk_item(session, job, "skipped", reason)
    return JobOutcome(job.id or 0, job.service_id, "resolved", reason, job.bulk_run_id)


def _resolve_if_refused(session: Session, job: Job, service: Service) -> JobOutcome | None:
    """Before the module call: the job resolved without a call when its action is no longer allowed."""
    refusal = actions.job_refusal(service, job)
    if refusal is None:
        return None
    return _not_applied(session, job, service, f"{refusal}; not run")


def _already_claimed(db: Database, job_id: int, worker: str) -> tuple[Job, ServiceRef, str, bool] | None:
    """The job and its snapshot when `worker` claimed it already (no write needed), and whether
    its service's status still allows its action, read in one query: the customer, product and
    server come with the service, so `service_ref` finds them in the session instead of asking
    the database three more times (a bulk run does this per job)."""
    with db.read() as session:
        found = session.exec(
            select(Job, Service, Customer, Product, Server)  # type: ignore[call-overload]  # sqlmodel's select() is typed for at most four columns
            .join(Service, Service.id == Job.service_id)
            .join(Customer, Customer.id == Service.customer_id)
            .outerjoin(Product, Product.id == Service.product_id)
            .outerjoin(Server, Server.id == Service.server_id)
            .where(Job.id == job_id)
        ).first()
        if found is None:
            return None
        job, service = found[0], found[1]
        if job.status != "running" or job.worker != worker:
            return None
        return job, lookups.service_ref(session, service), service.type, actions.job_refusal(service, job) is None


def _resolve_claimed_if_refused(session: Session, job_id: int, worker: str, attempt: int) -> tuple[bool, JobOutcome | None]:
    """For a job `worker` claimed already: (still held, the outcome written when its action is no longer allowed)."""
    job = session.exec(select(Job).where(Job.id == job_id).with_for_update()).one()
    if (job.status, job.worker, job.attempts) != ("running", worker, attempt):
        return False, None
    service = lookups.get_service(session, job.service_id, for_update=True)
    return True, _resolve_if_refused(session, job, service)


def call_module(module: Module, job: Job, ref: ServiceRef, checkpoint: Checkpoint, forget_external: Callable[[], None]) -> ModuleResult:
    """Run the module operation a job stands for."""
    operation = job.operation
    if operation == "create":
        placement.check_node_room(module, ref)
        return module.create(ref, checkpoint=checkpoint)
    if operation == "redeliver":
        if ref.external and module.supports_operation("terminate"):
            try:
                module.terminate(ref, force=True)
            except ModuleError as error:
                if error.status != 404:
                    raise
        forget_external()
        return module.create(dataclasses.replace(ref, external={}), checkpoint=checkpoint)
    if operation == "terminate":
        return module.terminate(ref, force=bool(job.params.get("force")))
    if operation == "transfer":
        target = job.params.get("_customer_ref")
        return module.transfer(ref, CustomerRef(**target) if target else ref.customer)
    if operation == "change_package":
        return module.change_package(ref, ProductRef(**job.params["_product_ref"]))
    if operation == "add_option":
        return module.add_option(ref, dict(job.params["_option"]))
    if operation == "power":
        return module.power(ref, str(job.params["signal"]))
    return getattr(module, operation)(ref)


def _external_writer(db: Database, service_id: int, *, replace: bool) -> Callable[[dict[str, Any]], None]:
    """A function that stores module data on the service in its own transaction (kept after a crash)."""

    def save(external: dict[str, Any]) -> None:
        def work(session: Session) -> None:
            service = session.exec(select(Service).where(Service.id == service_id).with_for_update()).one()
            action_base.store_external(service, external, replace=replace)
            session.add(service)

        db.transaction(work)

    return save


@dataclass
class _Called:
    """A module call that has ended, waiting for its outcome to be written."""

    job_id: int
    result: ModuleResult | None
    error: ModuleError | None
    worker: str = ""
    attempt: int = 0
    written: JobOutcome | None = None
    """The outcome written already instead of a call (the action was no longer allowed)."""


def _call(db: Database, job_id: int, worker: str, keeper: LeaseKeeper) -> _Called | None:
    """Claim a job (unless `worker` holds it already), check that its service's status still
    allows its action, and make its module call outside any transaction."""
    claimed: Claimed | JobOutcome | None
    already = _already_claimed(db, job_id, worker)
    if already is None:
        claimed = db.transaction(lambda session: _claim(session, job_id, worker))
    else:
        job, ref, module_name, allowed = already
        claimed = job, ref, module_name
        if not allowed:
            held, ended = db.transaction(lambda session: _resolve_claimed_if_refused(session, job_id, worker, job.attempts))
            claimed = ended if ended is not None else claimed if held else None
    if claimed is None:
        return None
    if isinstance(claimed, JobOutcome):
        return _Called(job_id, None, None, worker, written=claimed)
    job, ref, module_name = claimed
    module = get_module(module_name)
    log.info("job %s: %s %s for service %s (attempt %s)", job.id, job.operation, module.name, job.service_id, job.attempts)
    keeper.hold(job_id, job.attempts)
    try:
        result = call_module(
            module, job, ref, _external_writer(db, job.service_id, replace=False), lambda: _external_writer(db, job.service_id, replace=True)({})
        )
        return _Called(job_id, result, None, worker, job.attempts)
    except ModuleError as error:
        return _Called(job_id, None, error, worker, job.attempts)
    except Exception as error:  # a module bug must not kill the run; keep it as the job's error
        log.exception("job %s: module %s raised", job.id, module.name)
        return _Called(job_id, None, ModuleError(f"{module.name}: unexpected error: {type(error).__name__}: {error}", retryable=False), worker, job.attempts)
    finally:
        keeper.release(job_id)


def _record(session: Session, called: _Called, locked: Job | None = None) -> JobOutcome | None:
    """Write how a module call ended: the action applied, or the error kept and a retry planned;
    the job resolved and nothing applied when the service's status no longer allows the action.
    `locked` is the job's row when the caller locked it already.

    None, and nothing written, when the call's worker lost its claim meanwhile (its lease ran
    out and another worker took the job, or an admin resolved it).
    """
    current = locked or session.exec(select(Job).where(Job.id == called.job_id).with_for_update()).one()
    if (current.status, current.worker, current.attempts) != ("running", called.worker, called.attempt):
        log.warning(
            "job %s: attempt %s by %s lost its claim (now %s, attempt %s by %s); its outcome is not applied",
            called.job_id,
            called.attempt,
            called.worker,
            current.status,
            current.attempts,
            current.worker,
        )
        return None
    now = clock.now()
    current.updated_at = now
    current.lease_until = None
    error = called.error
    service = lookups.get_service(session, current.service_id, for_update=True)
    refusal = actions.job_refusal(service, current)
    if refusal is not None:
        if error is None:
            assert called.result is not None
            reason = f"{refusal}; its {current.operation} call was made and its outcome not applied"
            details = {"message": called.result.message, "external": called.result.external}
        else:
            reason = f"{refusal}; its {current.operation} call failed and is not retried"
            details = {"error": redact(error.message)}
        return _not_applied(session, current, service, reason, details)
    if error is None:
        assert called.result is not None
        message = actions.apply_after_module(session, current, called.result)
        current.status = "succeeded"
        current.last_error = None
        finish_bulk_item(session, current, "ok", message)
        session.add(current)
        superseded = _resolve_superseded(session, current)
        if superseded:
            message += f"; older jobs resolved: {', '.join(str(job_id) for job_id in superseded)}"
        return JobOutcome(current.id or 0, current.service_id, "succeeded", message, current.bulk_run_id)
    if error.code == "rate_limited" and error.retry_after is not None:
        return _reschedule_rate_limited(current, now, error)
    if error.code == placement.NOT_AVAILABLE_CODE:
        return _not_placed(session, current, service, error)
    retry = error.retryable and current.attempts < current.max_attempts
    error_text = redact(error.message)
    current.last_error = error_text
    if retry:
        current.status = "queued"
        current.next_attempt_at = now + backoff(current.attempts, error.retry_after)
        message = f"{error_text} (attempt {current.attempts} of {current.max_attempts}; retrying after {current.next_attempt_at.isoformat(timespec='seconds')})"
    else:
        current.status = "failed"
        message = error_text
    actions.record_module_failure(session, current, error_text, final=not retry, external=error.external)
    finish_bulk_item(session, current, "failed", message)
    session.add(current)
    return JobOutcome(current.id or 0, current.service_id, current.status, message, current.bulk_run_id)


def _resolve_superseded(session: Session, succeeded: Job) -> list[int]:
    """Resolve the service's older failed and queued jobs of the same operation, when this
    job's success makes them moot (see `SUPERSEDED_BY_SUCCESS`); returns their ids. One that
    another transaction holds is left to its own run, which finds the service delivered."""
    rule = ACTIONS.get(succeeded.action)
    if rule is None or rule.operation not in SUPERSEDED_BY_SUCCESS:
        return []
    same_operation = [name for name, other in ACTIONS.items() if other.operation == rule.operation]
    older = session.exec(
        select(Job)
        .where(
            Job.service_id == succeeded.service_id,
            col(Job.id) < (succeeded.id or 0),
            col(Job.status).in_(("failed", "queued")),
            col(Job.action).in_(same_operation),
        )
        .with_for_update(skip_locked=True)
    ).all()
    message = f"superseded: job {succeeded.id} ({succeeded.action}) succeeded"
    for job in older:
        job.status = "resolved"
        job.last_error = message
        job.updated_at = clock.now()
        session.add(job)
        finish_bulk_item(session, job, "skipped", message)
    return [job.id or 0 for job in older]


def _not_placed(session: Session, job: Job, service: Service, error: ModuleError) -> JobOutcome:
    """A delivery whose node had no room: no panel call was made, the job is resolved, and the
    service waits, pending and not available, for the automation run to place it again."""
    reason = redact(error.message)
    job.status = "resolved"
    job.last_error = reason
    session.add(job)
    if actions.operation_held_by(session, service, job):
        service.operation = None
    actor = job_actor(job)
    placement.remember_short(session, service)
    placement.hold(session, actor, service, reason.removeprefix(f"{placement.NOT_AVAILABLE}: "))
    finish_bulk_item(session, job, "skipped", reason)
    return JobOutcome(job.id or 0, job.service_id, "resolved", reason, job.bulk_run_id)


def _reschedule_rate_limited(job: Job, now: datetime, error: ModuleError) -> JobOutcome:
    """A panel's 429 whose Retry-After is longer than the adapter sleeps through: the job waits in
    the queue until then (holding no worker), and the attempt is not counted as a failure."""
    job.status = "queued"
    job.next_attempt_at = now + timedelta(seconds=float(error.retry_after or 0))
    job.max_attempts += 1
    message = f"{redact(error.message)}; rescheduled at {job.next_attempt_at.isoformat(timespec='seconds')}"
    job.last_error = message
    return JobOutcome(job.id or 0, job.service_id, job.status, message, job.bulk_run_id)


def _fail_unsaved(session: Session, called: _Called, failure: str) -> JobOutcome | None:
    """Fail a job whose outcome could not be saved, keeping what its call did and why the save failed."""
    job = session.exec(select(Job).where(Job.id == called.job_id).with_for_update()).one()
    if (job.status, job.worker, job.attempts) != ("running", called.worker, called.attempt):
        return None
    call = f"failed: {redact(called.error.message)}" if called.error is not None else "succeeded"
    message = f"its {job.operation} call {call}, but saving the outcome failed: {failure}"
    job.status = "failed"
    job.last_error = message
    job.lease_until = None
    job.updated_at = clock.now()
    session.add(job)
    finish_bulk_item(session, job, "failed", message)
    return JobOutcome(job.id or 0, job.service_id, "failed", message, job.bulk_run_id)


def _save_failure(error: Exception) -> str:
    """What a failed save says: the database's own error, first line (the wrapper's text goes on
    with the SQL and its parameters)."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    first = (str(cause).strip().splitlines() or [""])[0]
    return redact(f"{type(cause).__name__}: {first}")[:500]


def _record_alone(db: Database, called: _Called) -> JobOutcome | None:
    """Write one outcome in its own transaction; when that fails, fail the job with the error in another."""
    if called.written is not None:
        return called.written
    try:
        return db.transaction(lambda session: _record(session, called))
    except Exception as error:
        log.exception("job %s: writing its outcome failed; the job is failed", called.job_id)
        failure = _save_failure(error)
    try:
        return db.transaction(lambda session: _fail_unsaved(session, called, failure))
    except Exception:
        log.exception("job %s: failing it after its outcome could not be saved failed too", called.job_id)
        return None


def _record_batch(db: Database, batch: list[_Called]) -> list[JobOutcome]:
    """Write several outcomes in one transaction (`_record_together`); should any of them fail,
    write the batch again with each outcome in a savepoint of its own (`_record_each`)."""
    to_write = [called for called in batch if called.written is None]
    written = [called.written for called in batch if called.written is not None]
    if not to_write:
        return written
    try:
        return written + db.transaction(lambda session: _record_together(session, to_write))
    except Exception:
        log.warning("writing %s outcomes together failed; writing each in a savepoint of its own", len(to_write), exc_info=True)
    return written + _record_each(db, to_write)


def _record_together(session: Session, batch: list[_Called]) -> list[JobOutcome]:
    """Write the outcomes with a few statements: the jobs locked in one query, their services in
    another, then every row written together when the transaction ends. Each outcome is still
    checked against its job's claim and its service's status as they are now (`_record`)."""
    query = select(Job).where(col(Job.id).in_([called.job_id for called in batch])).order_by(col(Job.id)).with_for_update()
    held = {job.id: job for job in session.exec(query.execution_options(populate_existing=True)).all()}
    outcomes = []
    with lookups.services_locked(session, [job.service_id for job in held.values()]), bulk_items_batched(session):
        for called in batch:
            outcome = _record(session, called, held[called.job_id])
            if outcome is not None:
                outcomes.append(outcome)
    return outcomes


def _record_each(db: Database, batch: list[_Called]) -> list[JobOutcome]:
    """Write several outcomes in one transaction, each in a savepoint so one bad row spoils none;
    an outcome whose savepoint failed is written again in its own transaction (`_record_alone`)."""

    def work(session: Session) -> tuple[list[JobOutcome], list[_Called]]:
        outcomes, unsaved = [], []
        for called in batch:
            savepoint = session.begin_nested()
            try:
                outcome = _record(session, called)
                savepoint.commit()
                if outcome is not None:
                    outcomes.append(outcome)
            except Exception:
                savepoint.rollback()
                log.exception("job %s: writing its outcome failed; trying it in a transaction of its own", called.job_id)
                unsaved.append(called)
        return outcomes, unsaved

    try:
        outcomes, unsaved = db.transaction(work)
    except Exception:
        log.exception("writing a batch of %s outcomes failed; writing each alone", len(batch))
        outcomes, unsaved = [], batch
    for called in unsaved:
        outcome = _record_alone(db, called)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def execute(db: Database, job_id: int, *, worker: str | None = None) -> JobOutcome | None:
    """Run one job to its end (or back to the queue); None if another worker holds it (or took it over)."""
    owner = worker or worker_id()
    keeper = LeaseKeeper(db, owner)
    try:
        called = _call(db, job_id, owner, keeper)
    finally:
        keeper.close()
    if called is None:
        return None
    outcome = _record_alone(db, called)
    if outcome is None:
        return None
    log.info("job %s: %s: %s", outcome.job_id, outcome.status, outcome.message)
    return outcome


COMMIT_BATCH = 64


def run_jobs(
    db: Database,
    job_ids: Iterable[int],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    per_server: int = DEFAULT_PER_SERVER,
    progress: Callable[[JobOutcome], None] | None = None,
    worker: str | None = None,
) -> list[JobOutcome]:
    """Run jobs with bounded concurrency overall and per server; outcomes in completion order.

    Module calls run in a thread pool; their outcomes are written by this thread in batched
    transactions, so the database sees one writer however many calls are in flight.
    """
    ids = list(job_ids)
    if not ids:
        return []
    owner = worker or worker_id()
    with db.read() as session:
        servers = dict(session.exec(select(col(Job.id), col(Job.server_id)).where(col(Job.id).in_(ids))).all())
    limits: dict[int | None, threading.Semaphore] = {}
    lock = threading.Lock()
    ended: queue.Queue[_Called | None] = queue.Queue()
    keeper = LeaseKeeper(db, owner)

    def call_one(job_id: int) -> None:
        with lock:
            gate = limits.setdefault(servers.get(job_id), threading.Semaphore(per_server))
        try:
            with gate:
                ended.put(_call(db, job_id, owner, keeper))
        except BaseException:
            ended.put(None)
            raise

    outcomes: list[JobOutcome] = []
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(ids)))) as pool, contextlib.closing(keeper):
        futures = [pool.submit(call_one, job_id) for job_id in ids]
        remaining = len(ids)
        while remaining:
            batch = [ended.get()]
            while len(batch) < COMMIT_BATCH:
                try:
                    batch.append(ended.get_nowait())
                except queue.Empty:
                    break
            remaining -= len(batch)
            called = [item for item in batch if item is not None]
            if not called:
                continue
            written = _record_batch(db, called)
            for outcome in written:
                log.info("job %s: %s: %s", outcome.job_id, outcome.status, outcome.message)
                outcomes.append(outcome)
                if progress is not None:
                    progress(outcome)
        for future in futures:
            future.result()
    return outcomes


def _due(now: Any, dead_workers: Sequence[str] = ()) -> Any:
    lost = or_(col(Job.lease_until) < now, col(Job.worker).in_(dead_workers)) if dead_workers else col(Job.lease_until) < now
    return or_(
        (Job.status == "queued") & ((Job.next_attempt_at == None) | (Job.next_attempt_at <= now)),  # noqa: E711
        and_(col(Job.status) == "running", lost),
    )


def dead_workers_here(session: Session) -> list[str]:
    """The workers of running jobs that were processes on this host and are gone: their jobs are
    taken over at once, without waiting for the lease (a worker on another host is known dead
    only when its lease runs out)."""
    here = f"{socket.gethostname()}:%"
    holders = session.exec(select(col(Job.worker)).where(Job.status == "running", col(Job.worker).like(here)).distinct()).all()
    return [holder for holder in holders if holder and not leases.holder_alive(holder)]


def claim_due(db: Database, worker: str, *, limit: int) -> list[int]:
    """Claim up to `limit` due jobs for `worker`.

    On PostgreSQL the rows are locked with SKIP LOCKED, so workers on several hosts never
    claim the same job; if a worker dies, another takes its jobs over at once when it ran on
    this host, else when its lease runs out. A job
    whose lease ran out after its last attempt is failed for good instead of claimed.
    """
    now = clock.now()

    def work(session: Session) -> list[int]:
        query = select(Job).where(_due(now, dead_workers_here(session))).order_by(col(Job.id)).limit(limit).with_for_update(skip_locked=True)
        claimed = []
        for job in session.exec(query).all():
            if job.status == "running" and job.attempts >= job.max_attempts:
                _fail_lost(session, job, now)
                continue
            mark_claimed(job, worker, now)
            session.add(job)
            claimed.append(job.id or 0)
        return claimed

    return db.transaction(work)


def due_job_ids(db: Database, *, limit: int = 1000) -> list[int]:
    """Queued jobs whose time has come, and running jobs whose worker died (lease ran out)."""
    now = clock.now()
    with db.read() as session:
        query = select(col(Job.id)).where(_due(now)).order_by(col(Job.id)).limit(limit)
        return list(session.exec(query).all())  # type: ignore[arg-type]  # a stored row's primary key is never None
