"""The module queue as an admin sees it: list and read jobs, retry a failed one, resolve one by hand."""

from __future__ import annotations

from sqlmodel import Session, select

from svcconsole.core import actions, activity, clock
from svcconsole.core.errors import NotFound, SvcError
from svcconsole.core.job_claims import finish_bulk_item
from svcconsole.core.operators import Actor, require
from svcconsole.core.statuses import ACTIONS, NON_TRANSITION_ROLES
from svcconsole.store.models import Job, Service


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job: no job with id {job_id}")
    return job


def retry(session: Session, actor: Actor, job_id: int) -> Job:
    """Put a failed job back in the queue, to run now (its run checks the service's status again)."""
    require(actor, NON_TRANSITION_ROLES["jobs"], "retrying a job")
    job = session.exec(select(Job).where(Job.id == job_id).with_for_update()).first()
    if job is None:
        raise NotFound(f"job: no job with id {job_id}")
    if job.status not in {"failed", "queued"}:
        raise SvcError(f"job {job_id} is {job.status}: only failed or queued jobs can be retried")
    job.status = "queued"
    job.next_attempt_at = clock.now()
    job.max_attempts = max(job.max_attempts, job.attempts + 1)
    job.updated_at = clock.now()
    session.add(job)
    service = session.get(Service, job.service_id)
    if service is not None and service.operation is None and actions.job_refusal(service, job) is None:
        service.operation = ACTIONS[job.action].operation if job.action in ACTIONS else job.operation
        session.add(service)
    return job


def resolve(session: Session, actor: Actor, job_id: int, note: str | None = None) -> Job:
    """Mark a job handled by hand: it leaves the queue and the service's operation is cleared."""
    require(actor, NON_TRANSITION_ROLES["jobs"], "resolving a job")
    job = session.exec(select(Job).where(Job.id == job_id).with_for_update()).first()
    if job is None:
        raise NotFound(f"job: no job with id {job_id}")
    if job.status in {"succeeded", "resolved"}:
        raise SvcError(f"job {job_id} is {job.status} already")
    job.status = "resolved"
    job.updated_at = clock.now()
    session.add(job)
    service = session.get(Service, job.service_id)
    if service is not None:
        service.operation = None
        session.add(service)
        activity.record(
            session,
            service,
            actor,
            "job_resolved",
            from_status=service.status,
            to_status=service.status,
            reason=note,
            details={"job": job_id, "operation": job.operation},
        )
    finish_bulk_item(session, job, "failed", f"resolved by {actor.name}" + (f": {note}" if note else ""))
    return job
