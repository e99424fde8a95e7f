"""Claiming a module job: the lease its worker holds, and the count of workers lost on it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from svcconsole.store.models import Job

LEASE = timedelta(minutes=10)

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
