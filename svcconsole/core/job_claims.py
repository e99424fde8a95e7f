"""Claiming a module job: the lease its worker holds (and keeps renewing), the count of workers lost on it, its bulk item's outcome."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlmodel import Session, col

from svcconsole.core import clock
from svcconsole.store.engine import Database
from svcconsole.store.models import BulkItem, Job

log = logging.getLogger("svcconsole.jobs")

LEASE = timedelta(minutes=10)
RENEW_EVERY_SECONDS = 60.0
"""Wall-clock seconds between lease renewals of the jobs whose module calls are running."""

WORKERS_LOST = "_workers_lost"
"""The job parameter that counts the claims whose worker died or lost its lease."""


def mark_claimed(job: Job, worker: str, now: Any) -> None:
    """Make `worker` the job's runner for one more attempt, under a lease; a job taken over
    from a worker that died counts the loss."""
    if job.status == "running":
        job.params = {**(job.params or {}), WORKERS_LOST: workers_lost(job) + 1}
    job.status = "running"
    job.attempts += 1
    job.worker = worker
    job.lease_until = now + LEASE
    job.updated_at = now


def workers_lost(job: Job) -> int:
    """How many of the job's claims ended with their worker gone (its lease ran out)."""
    return int((job.params or {}).get(WORKERS_LOST, 0))


def finish_bulk_item(session: Session, job: Job, outcome: str, message: str) -> None:
    """Write the outcome of the job's item in its bulk run, when it belongs to one (at the end
    of `bulk_items_batched`, when inside one)."""
    if job.bulk_run_id is None:
        return
    pending = session.info.get(_ITEMS_BATCH)
    if pending is not None:
        pending.append({"item_run": job.bulk_run_id, "item_service": job.service_id, "item_outcome": outcome, "item_message": message})
        return
    session.execute(
        update(BulkItem)
        .where(col(BulkItem.run_id) == job.bulk_run_id, col(BulkItem.service_id) == job.service_id)
        .values(outcome=outcome, message=message, updated_at=clock.now())
    )


_ITEMS_BATCH = "bulk_item_batch"


@contextmanager
def bulk_items_batched(session: Session) -> Iterator[None]:
    """Collect the outcomes `finish_bulk_item` writes meanwhile and write them in one statement at
    the end (a batch of job outcomes, instead of a round trip each)."""
    rows: list[dict[str, Any]] = []
    session.info[_ITEMS_BATCH] = rows
    try:
        yield
    finally:
        del session.info[_ITEMS_BATCH]
    if rows:
        items = BulkItem.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__ on table models
        session.execute(
            items.update()
            .where(items.c.run_id == bindparam("item_run"), items.c.service_id == bindparam("item_service"))
            .values(outcome=bindparam("item_outcome"), message=bindparam("item_message"), updated_at=clock.now()),
            rows,
        )


class LeaseKeeper:
    """Renews the leases of one worker's running calls every `RENEW_EVERY_SECONDS`, in a thread."""

    def __init__(self, db: Database, worker: str) -> None:
        self.db = db
        self.worker = worker
        self._held: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, job_id: int, attempt: int) -> None:
        """Keep renewing the job's lease while its attempt `attempt` runs."""
        with self._lock:
            self._held[job_id] = attempt
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"lease-keeper-{self.worker}", daemon=True)
                self._thread.start()

    def release(self, job_id: int) -> None:
        with self._lock:
            self._held.pop(job_id, None)

    def _run(self) -> None:
        while not self._stop.wait(RENEW_EVERY_SECONDS):
            self.renew()

    def renew(self) -> int:
        """Push on the lease of every held job this worker still holds; returns how many."""
        with self._lock:
            held = dict(self._held)
        if not held:
            return 0

        def work(session: Session) -> int:
            until = clock.now() + LEASE
            renewed = 0
            for job_id, attempt in held.items():
                result = session.execute(
                    update(Job)
                    .where(col(Job.id) == job_id, col(Job.worker) == self.worker, col(Job.attempts) == attempt, col(Job.status) == "running")
                    .values(lease_until=until)
                )
                renewed += result.rowcount or 0  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult; execute() is typed as Result
            return renewed

        try:
            return self.db.transaction(work)
        except Exception:  # a failed renewal is tried again at the next tick
            log.exception("renewing the leases of %s failed", self.worker)
            return 0

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
