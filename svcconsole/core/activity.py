"""The activity log: one row for every change to a service, naming its actor and reason."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from svcconsole.core import clock
from svcconsole.core.operators import Actor
from svcconsole.store.models import Activity, Service


def record(
    session: Session,
    service: Service,
    actor: Actor,
    action: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> Activity:
    row = Activity(
        service_id=service.id,
        at=clock.now(),
        actor_kind=actor.kind,
        actor=actor.name,
        action=action,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        details=details or {},
    )
    session.add(row)
    return row


def history(session: Session, service_id: int, *, limit: int | None = None, before_id: int | None = None) -> list[Activity]:
    """The newest rows first, paged by id."""
    query = select(Activity).where(Activity.service_id == service_id)
    if before_id is not None:
        query = query.where(Activity.id < before_id)
    query = query.order_by(Activity.id.desc())  # type: ignore[union-attr]
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query).all())
