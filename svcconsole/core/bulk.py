"""Bulk runs: one action over many services, recorded so a crash loses nothing.

The run and all its items are written before any service is touched. Services are then done
in chunks of `CHUNK` (`BATCH_CHUNK` for the database-only actions of
`actions.BATCHED_ACTIONS`), one transaction per chunk: each service's change and its item's
outcome are written together in that transaction, the whole chunk in one savepoint (done again
with a savepoint for each service when any of them is refused or fails), so a service that is
refused or fails leaves its siblings alone. A service whose module has work to do gets a job
in that transaction instead; the jobs then run a window at a time (`job_window`), and each outcome is written shortly after its module call ends (in batches, with the service's
change), so a kill leaves at most one window's calls ended on the panel but unrecorded.

After a kill, every service is either done (its item says so) or untouched (its item is
pending, its job, if any, unfinished; a chunk whose transaction had not committed is untouched
as a whole), and running the same command again resumes the unfinished run.

A run of one service is written in the same transaction as that service's change, so a
refusal raises and writes nothing at all: no run, no item.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import bindparam, insert, literal
from sqlmodel import Session, col, func, select

from svcconsole.core import actions, clock, job_queue, jobs, leases, lookups
from svcconsole.core.errors import NotFound, PermissionDenied, SvcError
from svcconsole.core.operators import Actor, require
from svcconsole.core.statuses import ACTIONS
from svcconsole.store import queries
from svcconsole.store.engine import Database, is_retryable_conflict
from svcconsole.store.models import BulkItem, BulkRun, Job, Service
from svcconsole.store.queries import ServiceFilter

log = logging.getLogger("svcconsole.bulk")

CHUNK = 200
BATCH_CHUNK = 5000
"""Services per transaction for `actions.BATCHED_ACTIONS`: their rows are read as plain tuples, so a
chunk holds little memory, and fewer commits mean fewer WAL checkpoints on SQLite (2,000 at a time
took 0.8 s of commits for 10,000 services on a 1,000,000-service file, 5,000 about 0.5 s)."""
RENEW_EVERY_SECONDS = 30.0


def job_window(concurrency: int) -> int:
    """How many of a run's jobs are handed to the runner at once, the next ones only when all are recorded.

    `jobs.run_jobs` keeps calling the panel while it writes ended calls' outcomes, so on a slow
    database ended but unrecorded calls pile up; the window bounds them (the calls in flight and
    one batch of outcomes), which is what a kill can leave done on the panel but pending here.
    """
    return concurrency + jobs.COMMIT_BATCH


@dataclass
class ItemResult:
    """How one service of a run ended: ok, failed, skipped, or pending (its job still runs)."""

    service_id: int
    outcome: str
    message: str


@dataclass(frozen=True)
class Matching:
    """Every service a filter matches but `excluded`: a selection too large to list (a mark-all).

    Its items are written by one INSERT ... SELECT, so no list of ids is ever held in memory.
    """

    service_filter: ServiceFilter
    excluded: frozenset[int] = frozenset()

    def selection(self) -> dict[str, Any]:
        """What the selection key records of it (the filter's fields, the excluded ids)."""
        fields = {name: value for name, value in vars(self.service_filter).items() if name != "terms"}
        return {"matching": fields, "excluded": sorted(self.excluded)}


@dataclass
class RunReport:
    run_id: int | None
    action: str
    items: list[ItemResult] = field(default_factory=list)
    resumed: bool = False
    totals: dict[str, int] | None = None
    """The outcome counts when the report was read without its items (`process(..., items=False)`)."""

    def count(self, outcome: str) -> int:
        if self.totals is not None:
            return self.totals.get(outcome, 0)
        return sum(1 for item in self.items if item.outcome == outcome)

    @property
    def exit_code(self) -> int:
        """0 all done, 3 some failed or skipped, 1 nothing done."""
        bad = sum(self.count(outcome) for outcome in ("failed", "skipped", "pending"))
        if not bad:
            return 0
        return 3 if self.count("ok") else 1

    def summary(self) -> str:
        parts = [f"{self.count(outcome)} {outcome}" for outcome in ("ok", "failed", "skipped", "pending") if self.count(outcome)]
        label = f"run {self.run_id}" if self.run_id else "dry run"
        total = sum(self.totals.values()) if self.totals is not None else len(self.items)
        return f"{self.action}: {total} service{'' if total == 1 else 's'}: {', '.join(parts) or 'nothing to do'} ({label})"


Progress = Callable[[ItemResult], None]


def selection_key(action: str, params: dict[str, Any], selection: Any) -> str:
    """A digest of what a command asked, so the same command finds its unfinished run."""
    text = json.dumps({"action": action, "params": params, "selection": selection}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _lease_name(run_id: int) -> str:
    return f"bulk:{run_id}"


def start(
    db: Database,
    actor: Actor,
    action: str,
    params: dict[str, Any],
    service_ids: Sequence[int] | Matching,
    *,
    selection: Any,
) -> tuple[int, bool]:
    """Write the run and its items, or adopt the same command's run that its process abandoned.

    Returns (run id, resumed). The caller holds the run's lease from here; identical commands
    running at the same time each get their own run. A new run of one service applies it here,
    in the same transaction: a refusal raises and nothing is written.
    """
    rule = ACTIONS[action]
    require(actor, rule.role, rule.title.lower())
    params = actions.validate_params(action, params)
    key = selection_key(action, params, selection)

    def work(session: Session) -> tuple[int, bool]:
        unfinished = session.exec(
            select(BulkRun).where(col(BulkRun.selection_key) == key, col(BulkRun.finished_at) == None).order_by(col(BulkRun.id))  # noqa: E711
        ).all()
        for candidate in unfinished:
            locked = session.exec(select(BulkRun).where(BulkRun.id == candidate.id).with_for_update()).one()
            session.refresh(locked)
            if locked.finished_at is None and leases.take(session, _lease_name(candidate.id or 0)):
                return candidate.id or 0, True
        run = BulkRun(
            action=action,
            params=params,
            selection_key=key,
            actor=actor.name,
            total=0 if isinstance(service_ids, Matching) else len(service_ids),
            started_at=clock.now(),
        )
        session.add(run)
        session.flush()
        alone: int | None = None
        if isinstance(service_ids, Matching):
            run.total = _insert_matching(session, run.id or 0, service_ids)
            session.add(run)
        else:
            rows: list[dict[str, Any]] = [{"run_id": run.id, "service_id": service_id, "outcome": "pending"} for service_id in dict.fromkeys(service_ids)]
            if len(rows) == 1:
                _lock_before_referencing(session, rows[0]["service_id"])
            for offset in range(0, len(rows), 5000):
                session.execute(BulkItem.__table__.insert(), rows[offset : offset + 5000])  # type: ignore[attr-defined]  # SQLModel does not declare __table__ on table models
            if len(rows) == 1:
                alone = rows[0]["service_id"]
        leases.take(session, _lease_name(run.id or 0))
        if alone is not None:
            _apply_chunk(session, actor, run.id or 0, action, params, [alone], alone=True)
        return run.id or 0, False

    return db.transaction(work)


def _lock_before_referencing(session: Session, service_id: int) -> None:
    """Lock a run's one service before its item references it. On PostgreSQL the item's foreign
    key takes a share lock on the service row, and the action's FOR UPDATE would then upgrade
    it: with several writers on one service, those upgrades deadlock each other (24 processes
    adding a day to one service did, until every retry was spent)."""
    session.exec(select(Service.id).where(Service.id == service_id).with_for_update())


def _insert_matching(session: Session, run_id: int, selection: Matching) -> int:
    """Write a pending item for every service the selection matches; returns how many."""
    chosen = queries.filtered(select(literal(run_id), Service.id, literal("pending")), selection.service_filter)
    if selection.excluded:
        chosen = chosen.where(col(Service.id).not_in(sorted(selection.excluded)))
    session.execute(insert(BulkItem).from_select(["run_id", "service_id", "outcome"], chosen))
    return session.exec(select(func.count()).select_from(BulkItem).where(BulkItem.run_id == run_id)).one()


def process(
    db: Database,
    actor: Actor,
    run_id: int,
    *,
    progress: Progress | None = None,
    concurrency: int = jobs.DEFAULT_CONCURRENCY,
    per_server: int = jobs.DEFAULT_PER_SERVER,
    items: bool = True,
) -> RunReport:
    """Apply a run's pending items, run the jobs they queued, and report every item (or, with
    `items=False`, only how many ended each way, for runs too large to hold in memory)."""
    lease_name = _lease_name(run_id)
    owner = leases.holder()
    if not db.transaction(lambda session: leases.take(session, lease_name)):
        raise SvcError(f"bulk run {run_id} is being processed by another process; wait for it or try again later")
    try:
        with db.read() as session:
            run = session.get(BulkRun, run_id)
            if run is None:
                raise NotFound(f"bulk: no run {run_id}")
            action, params = run.action, dict(run.params)
        while True:
            with db.read() as session:
                chunk = list(
                    session.exec(
                        select(BulkItem.service_id)
                        .where(BulkItem.run_id == run_id, BulkItem.outcome == "pending")
                        .where(~select(Job.id).where(Job.bulk_run_id == run_id, Job.service_id == BulkItem.service_id).exists())
                        .order_by(col(BulkItem.id))
                        .limit(BATCH_CHUNK if action in actions.BATCHED_ACTIONS else CHUNK)
                    ).all()
                )
            if not chunk:
                break
            results = db.transaction(partial(_apply_chunk, actor=actor, run_id=run_id, action=action, params=params, service_ids=chunk))
            for result in results:
                if progress is not None and result.outcome != "pending":
                    progress(result)
            db.transaction(lambda session: leases.take(session, lease_name))
        job_ids = _jobs_to_run(db, run_id)
        renewed = [time.monotonic()]

        def on_job(outcome: jobs.JobOutcome) -> None:
            if time.monotonic() - renewed[0] > RENEW_EVERY_SECONDS:
                renewed[0] = time.monotonic()
                db.transaction(lambda session: leases.take(session, lease_name, owner=owner))
            if progress is not None:
                progress(ItemResult(outcome.service_id, "ok" if outcome.status == "succeeded" else "failed", outcome.message))

        window = job_window(concurrency)
        for offset in range(0, len(job_ids), window):
            jobs.run_jobs(db, job_ids[offset : offset + window], concurrency=concurrency, per_server=per_server, progress=on_job, worker=owner)
        db.transaction(lambda session: _finish(session, run_id))
    finally:
        db.transaction(lambda session: leases.drop(session, lease_name))
    return report(db, run_id) if items else summary(db, run_id)


def _apply_chunk(
    session: Session, actor: Actor, run_id: int, action: str, params: dict[str, Any], service_ids: list[int], *, alone: bool = False
) -> list[ItemResult]:
    """Do each service in a savepoint of its own and record its outcome; `alone` raises instead.

    A batched action (actions.BATCHED_ACTIONS) does the whole chunk in one savepoint with a few
    statements; should anything but a refusal go wrong there, the chunk is done again service by
    service, so that error fails only its own service."""
    if action in actions.BATCHED_ACTIONS and not alone:
        batched = _apply_batch(session, actor, run_id, action, params, service_ids)
        if batched is not None:
            return batched
    elif not alone:
        together = _apply_together(session, actor, run_id, action, params, service_ids)
        if together is not None:
            return together
    results = []
    for service_id in service_ids:
        savepoint = session.begin_nested()
        try:
            outcome = actions.perform(session, actor, action, service_id, params, bulk_run_id=run_id, claim_for=leases.holder())
        except PermissionDenied:
            savepoint.rollback()
            raise
        except SvcError as error:
            savepoint.rollback()
            if alone:
                raise
            result = ItemResult(service_id, "skipped", error.message)
        except Exception as error:
            savepoint.rollback()
            if alone or is_retryable_conflict(error):
                raise
            result = ItemResult(service_id, "failed", _unexpected(run_id, action, service_id, error))
        else:
            savepoint.commit()
            result = ItemResult(service_id, {"queued": "pending", "skipped": "skipped"}.get(outcome.result, "ok"), outcome.message)
        results.append(result)
    _write_outcomes(session, run_id, results)
    return results


def _apply_together(session: Session, actor: Actor, run_id: int, action: str, params: dict[str, Any], service_ids: list[int]) -> list[ItemResult] | None:
    """A chunk's services done one after another in one savepoint, locked in one query; None
    (nothing written) at the first refusal or error, for the service-by-service path to do the
    chunk again with a savepoint each."""
    savepoint = session.begin_nested()
    try:
        with lookups.services_locked(session, service_ids):
            outcomes = [
                actions.perform(session, actor, action, service_id, params, bulk_run_id=run_id, claim_for=leases.holder()) for service_id in service_ids
            ]
    except PermissionDenied:
        savepoint.rollback()
        raise
    except Exception as error:
        savepoint.rollback()
        if is_retryable_conflict(error):
            raise
        return None
    savepoint.commit()
    results = [
        ItemResult(service_id, {"queued": "pending", "skipped": "skipped"}.get(outcome.result, "ok"), outcome.message)
        for service_id, outcome in zip(service_ids, outcomes, strict=True)
    ]
    _write_outcomes(session, run_id, results)
    return results


def _apply_batch(session: Session, actor: Actor, run_id: int, action: str, params: dict[str, Any], service_ids: list[int]) -> list[ItemResult] | None:
    """A chunk of a batched action in one savepoint, its outcomes in one statement; None (nothing
    written) when an unexpected error asks for the service-by-service path."""
    savepoint = session.begin_nested()
    try:
        outcomes = actions.perform_many(session, actor, action, service_ids, params)
    except PermissionDenied:
        savepoint.rollback()
        raise
    except Exception as error:
        savepoint.rollback()
        if is_retryable_conflict(error):
            raise
        return None
    savepoint.commit()
    results = [
        ItemResult(service_id, "skipped", outcome.message) if isinstance(outcome, SvcError) else ItemResult(service_id, "ok", outcome.message)
        for service_id, outcome in outcomes.items()
    ]
    _write_outcomes(session, run_id, results)
    return results


def _write_outcomes(session: Session, run_id: int, results: list[ItemResult]) -> None:
    """The items' outcomes that are known (a queued job's comes later), in one statement."""
    ended = [
        {"item_service": result.service_id, "item_outcome": result.outcome, "item_message": result.message} for result in results if result.outcome != "pending"
    ]
    if not ended:
        return
    items = BulkItem.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__ on table models
    session.execute(
        items.update()
        .where(items.c.run_id == run_id, items.c.service_id == bindparam("item_service"))
        .values(outcome=bindparam("item_outcome"), message=bindparam("item_message"), updated_at=clock.now()),
        ended,
    )


def _unexpected(run_id: int | None, action: str, service_id: int, error: Exception) -> str:
    """Log an error no rule expected (a bug, bad data) with its traceback; the item's one line."""
    log.error("bulk run %s: %s of service %s failed unexpectedly", run_id or "(dry)", action, service_id, exc_info=error)
    detail = " ".join(str(error).split())[:200]
    return f"internal error: {type(error).__name__}" + (f": {detail}" if detail else "") + " (the traceback is in the operations log)"


def _jobs_to_run(db: Database, run_id: int) -> list[int]:
    """The run's jobs not yet done: queued, claimed by this thread, or left by a dead worker."""
    now, me = clock.now(), leases.holder()
    with db.read() as session:
        rows = session.exec(
            select(col(Job.id), col(Job.status), col(Job.worker), col(Job.lease_until)).where(col(Job.bulk_run_id) == run_id).order_by(col(Job.id))
        ).all()
    return [
        job_id  # type: ignore[misc]  # a stored row's primary key is never None
        for job_id, status, worker, lease_until in rows
        if status == "queued" or (status == "running" and (worker == me or lease_until is None or lease_until < now or not leases.holder_alive(worker or "")))
    ]


def _finish(session: Session, run_id: int) -> None:
    pending = session.exec(select(func.count()).select_from(BulkItem).where(BulkItem.run_id == run_id, BulkItem.outcome == "pending")).one()
    if not pending:
        run = session.exec(select(BulkRun).where(BulkRun.id == run_id).with_for_update()).first()
        if run is not None and run.finished_at is None:
            run.finished_at = clock.now()
            session.add(run)


def outcome_counts(session: Session, run_id: int) -> dict[str, int]:
    """How many of a run's items ended each way (ok, failed, skipped, pending)."""
    rows = session.exec(select(BulkItem.outcome, func.count()).where(BulkItem.run_id == run_id).group_by(BulkItem.outcome)).all()
    return {outcome: number for outcome, number in rows}


def summary(db: Database, run_id: int) -> RunReport:
    """A run's report with its outcome counts only (no items)."""
    with db.read() as session:
        run = session.get(BulkRun, run_id)
        if run is None:
            raise NotFound(f"bulk: no run {run_id}")
        return RunReport(run_id, run.action, totals=outcome_counts(session, run_id))


def items_page(session: Session, run_id: int, outcome: str, *, after: int = 0, limit: int = 500) -> list[ItemResult]:
    """A run's items with one outcome, by service id after `after` (a keyset page)."""
    rows = session.exec(
        select(BulkItem.service_id, BulkItem.message)
        .where(BulkItem.run_id == run_id, BulkItem.outcome == outcome, BulkItem.service_id > after)
        .order_by(col(BulkItem.service_id))
        .limit(limit)
    ).all()
    return [ItemResult(service_id, outcome, message or "") for service_id, message in rows]


RETRYABLE_JOB_STATUSES = ("queued", "failed")


def item_jobs(session: Session, run_id: int, service_ids: Sequence[int]) -> dict[int, Job]:
    """The newest module job of each of these services in the run (a failed item's job says
    whether it waits for another attempt, and when)."""
    found: dict[int, Job] = {}
    wanted = sorted(set(service_ids))
    for offset in range(0, len(wanted), 500):
        chunk = wanted[offset : offset + 500]
        rows = session.exec(select(Job).where(Job.bulk_run_id == run_id, col(Job.service_id).in_(chunk)).order_by(col(Job.id))).all()
        found.update({job.service_id: job for job in rows})
    return found


@dataclass
class RetryReport:
    """What "retry failed" did: the jobs it ran again now, and the failed items with no job
    left to retry (refused before any module call), to be run again as a new run."""

    outcomes: list[jobs.JobOutcome]
    without_job: list[int]


def retry_failed(db: Database, actor: Actor, run_id: int) -> RetryReport:
    """Run again now the failed items of a run: their module jobs (failed, or queued for a later
    attempt) are retried through `job_queue.retry` and run at once; items without such a job are returned."""
    failed: list[int] = []
    with db.read() as session:
        while True:
            page = items_page(session, run_id, "failed", after=failed[-1] if failed else 0)
            failed.extend(item.service_id for item in page)
            if len(page) < 500:
                break
        retryable = {service_id: job.id for service_id, job in item_jobs(session, run_id, failed).items() if job.status in RETRYABLE_JOB_STATUSES}
    job_ids = [job_id for job_id in retryable.values() if job_id is not None]

    def requeue(session: Session) -> None:
        for job_id in job_ids:
            job_queue.retry(session, actor, job_id)

    if job_ids:
        db.transaction(requeue)
    outcomes = jobs.run_jobs(db, job_ids)
    return RetryReport(outcomes, [service_id for service_id in failed if service_id not in retryable])


def report(db: Database, run_id: int) -> RunReport:
    with db.read() as session:
        run = session.get(BulkRun, run_id)
        if run is None:
            raise NotFound(f"bulk: no run {run_id}")
        items = session.exec(
            select(BulkItem.service_id, BulkItem.outcome, BulkItem.message).where(col(BulkItem.run_id) == run_id).order_by(col(BulkItem.id))
        ).all()
        return RunReport(run_id, run.action, [ItemResult(service_id, outcome, message or "") for service_id, outcome, message in items])


def totals(db: Database, run_id: int) -> RunReport:
    """A run's outcome counts, its items left unread (a run can hold a million services)."""
    with db.read() as session:
        run = session.get(BulkRun, run_id)
        if run is None:
            raise NotFound(f"bulk: no run {run_id}")
        counts = session.exec(select(BulkItem.outcome, func.count()).where(col(BulkItem.run_id) == run_id).group_by(col(BulkItem.outcome))).all()
        return RunReport(run_id, run.action, totals={outcome: int(number) for outcome, number in counts})


def item_page(session: Session, run_id: int, *, after: int | None, limit: int) -> list[tuple[BulkItem, str | None]]:
    """A page of a run's items in id order, each with the status of its latest job (None without one; read by the job's service index)."""
    job_status = (
        select(Job.status)
        .where(col(Job.service_id) == col(BulkItem.service_id), col(Job.bulk_run_id) == run_id)
        .order_by(col(Job.id).desc())
        .limit(1)
        .correlate(BulkItem)
        .scalar_subquery()
    )
    query = select(BulkItem, job_status).where(col(BulkItem.run_id) == run_id)
    if after is not None:
        query = query.where(col(BulkItem.id) > after)
    return list(session.exec(query.order_by(col(BulkItem.id)).limit(limit)).all())


def run(
    db: Database,
    actor: Actor,
    action: str,
    params: dict[str, Any],
    service_ids: Sequence[int],
    *,
    selection: Any,
    progress: Progress | None = None,
    concurrency: int = jobs.DEFAULT_CONCURRENCY,
    per_server: int = jobs.DEFAULT_PER_SERVER,
) -> RunReport:
    """Start (or resume) a run and process it to the end."""
    run_id, resumed = start(db, actor, action, params, service_ids, selection=selection)
    result = process(db, actor, run_id, progress=progress, concurrency=concurrency, per_server=per_server)
    result.resumed = resumed
    return result


def dry_run(db: Database, actor: Actor, action: str, params: dict[str, Any], service_ids: Sequence[int], *, progress: Progress | None = None) -> RunReport:
    """What a run would do to each service: the real checks and changes, rolled back.

    Like a real run, a dry run of one service raises its refusal.
    """
    rule = ACTIONS[action]
    require(actor, rule.role, rule.title.lower())
    result = RunReport(None, action)
    ids = list(dict.fromkeys(service_ids))
    alone = len(ids) == 1
    for offset in range(0, len(ids), CHUNK):
        with db.read() as session:
            with session.begin():
                for service_id in ids[offset : offset + CHUNK]:
                    savepoint = session.begin_nested()
                    try:
                        outcome = actions.perform(session, actor, action, service_id, params)
                        item = ItemResult(service_id, "skipped" if outcome.result == "skipped" else "ok", outcome.message)
                    except PermissionDenied:
                        savepoint.rollback()
                        raise
                    except SvcError as error:
                        savepoint.rollback()
                        if alone:
                            raise
                        item = ItemResult(service_id, "skipped", error.message)
                    except Exception as error:
                        savepoint.rollback()
                        if alone or is_retryable_conflict(error):
                            raise
                        item = ItemResult(service_id, "failed", _unexpected(None, action, service_id, error))
                    else:
                        savepoint.rollback()
                    result.items.append(item)
                    if progress is not None:
                        progress(item)
                session.rollback()
    return result


def list_runs(session: Session, *, limit: int = 50, before: int | None = None) -> list[BulkRun]:
    """Bulk runs, newest first (older than id `before` when given)."""
    query = select(BulkRun) if before is None else select(BulkRun).where(BulkRun.id < before)  # type: ignore[operator]
    return list(session.exec(query.order_by(BulkRun.id.desc()).limit(limit)).all())  # type: ignore[union-attr]
