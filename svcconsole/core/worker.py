"""`svcconsole worker`: run the module queue as a long-lived service.

On PostgreSQL any number of workers share the queue (each claims with SKIP LOCKED and a
lease); on SQLite one worker at a time holds the queue through a lease row, renewed before
each claim: a worker that finds it taken over (a batch outlasted the lease) stops claiming.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from svcconsole.core import health, jobs, leases
from svcconsole.core.errors import SvcError
from svcconsole.store.engine import Database

log = logging.getLogger("svcconsole.worker")

SQLITE_QUEUE_LEASE = "worker:queue"


def _lost_queue(db: Database, done: int) -> SvcError:
    """The error of a SQLite worker whose queue lease another worker took over."""
    with db.read() as session:
        holder = leases.describe(session, SQLITE_QUEUE_LEASE) or "nobody (the lease was dropped)"
    log.error("worker: lost this SQLite database's queue to %s after %s jobs; stopped claiming work", holder, done)
    return SvcError(f"worker: lost this SQLite database's queue to {holder} after {done} jobs; stopped claiming work (one worker at a time on SQLite)")


def run_worker(
    db: Database,
    *,
    stop: threading.Event,
    once: bool = False,
    interval: float = 2.0,
    concurrency: int = jobs.DEFAULT_CONCURRENCY,
    per_server: int = jobs.DEFAULT_PER_SERVER,
    on_outcome: Callable[[jobs.JobOutcome], None] | None = None,
) -> int:
    """Run due jobs until `stop` is set (or the queue is drained, with `once`); returns jobs run.

    On SQLite, raises `SvcError` when another worker holds the queue, at start or later.
    """
    worker = leases.holder()
    if db.is_sqlite and not db.transaction(lambda session: leases.take(session, SQLITE_QUEUE_LEASE)):
        raise SvcError("worker: another worker holds this SQLite database's queue (one at a time on SQLite)")
    done = 0
    started = leases.wall_clock()
    beaten = started - health.HEARTBEAT_EVERY
    try:
        while not stop.is_set():
            if leases.wall_clock() - beaten >= health.HEARTBEAT_EVERY:
                health.worker_beat(db, jobs_done=done, started_at=started)
                beaten = leases.wall_clock()
            if db.is_sqlite and not db.transaction(lambda session: leases.take(session, SQLITE_QUEUE_LEASE)):
                raise _lost_queue(db, done)
            claimed = jobs.claim_due(db, worker, limit=concurrency * 4)
            if claimed:
                done += len(jobs.run_jobs(db, claimed, concurrency=concurrency, per_server=per_server, progress=on_outcome, worker=worker))
                continue
            if once:
                break
            stop.wait(interval)
    finally:
        health.worker_beat(db, jobs_done=done, started_at=started, stopped=True)
        if db.is_sqlite:
            db.transaction(lambda session: leases.drop(session, SQLITE_QUEUE_LEASE))
    return done
