"""Reading the module queue: the jobs list of the CLI, the console and a service's page."""

from __future__ import annotations

from sqlmodel import Session, col, select

from svcconsole.store.models import Job


def list_jobs(session: Session, *, status: str | None = None, service_id: int | None = None, limit: int = 100, before: int | None = None) -> list[Job]:
    """Jobs, newest first (older than id `before` when given)."""
    query = select(Job)
    if before is not None:
        query = query.where(Job.id < before)  # type: ignore[operator]
    if status:
        query = query.where(Job.status == status)
    if service_id:
        query = query.where(Job.service_id == service_id)
    return list(session.exec(query.order_by(col(Job.id).desc()).limit(limit)).all())
