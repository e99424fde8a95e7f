"""The activity log: one row for every change, naming its actor and reason.

A change to a service has its `service_id`; a change to a customer, product, server or operator
has none, and its details name the object (`{"customer": 12, ...}`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import insert
from sqlmodel import Session, col, select

from svcconsole.core import clock
from svcconsole.store.models import Activity, Service


class Actor(Protocol):
    """Who made a change, as the log names it: an `operators.Actor` (operators sits above this
    module and writes its own changes here)."""

    @property
    def kind(self) -> str: ...

    @property
    def name(self) -> str: ...


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
) -> Activity | None:
    values: dict[str, Any] = {
        "service_id": service.id,
        "at": clock.now(),
        "actor_kind": actor.kind,
        "actor": actor.name,
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "reason": reason,
        "details": details or {},
    }
    pending = session.info.get(_BATCH)
    if pending is not None:
        pending.append(values)
        return None
    row = Activity(**values)
    session.add(row)
    return row


_BATCH = "activity_batch"


@contextmanager
def batched(session: Session) -> Iterator[list[dict[str, Any]]]:
    """Collect the rows `record` writes meanwhile and insert them in one statement at the end (a
    bulk run's chunk logs thousands); the caller gets the list, to drop rows of changes it undid."""
    rows: list[dict[str, Any]] = []
    session.info[_BATCH] = rows
    try:
        yield rows
    finally:
        del session.info[_BATCH]
    if rows:
        session.execute(insert(Activity.__table__), rows)  # type: ignore[attr-defined]  # SQLModel does not declare __table__ on table models


def history(session: Session, service_id: int, *, limit: int | None = None, before_id: int | None = None) -> list[Activity]:
    """The newest rows first, paged by id."""
    query = select(Activity).where(Activity.service_id == service_id)
    if before_id is not None:
        query = query.where(col(Activity.id) < before_id)
    query = query.order_by(col(Activity.id).desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query).all())


SUBJECTS = ("customer", "product", "server", "operator")


def record_change(
    session: Session,
    actor: Actor,
    subject: str,
    subject_id: int | str,
    action: str,
    *,
    details: dict[str, Any] | None = None,
    reason: str | None = None,
) -> Activity:
    """The row for a change to a customer, product, server or operator (`action` such as "edit")."""
    assert subject in SUBJECTS, subject
    row = Activity(
        service_id=None,
        at=clock.now(),
        actor_kind=actor.kind,
        actor=actor.name,
        action=f"{subject}_{action}",
        reason=reason,
        details={subject: subject_id, **(details or {})},
    )
    session.add(row)
    return row


def changes_of(session: Session, subject: str, subject_id: int | str, *, limit: int = 20) -> list[Activity]:
    """The rows of one customer, product, server or operator, newest first."""
    key = Activity.details[subject]
    match = key.as_integer() == subject_id if isinstance(subject_id, int) else key.as_string() == subject_id
    query = (
        select(Activity)
        .where(col(Activity.service_id).is_(None), col(Activity.action).startswith(f"{subject}_"), match)
        .order_by(col(Activity.id).desc())
        .limit(limit)
    )
    return list(session.exec(query).all())


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields whose value differs."""
    return {key: [before.get(key), value] for key, value in after.items() if before.get(key) != value}
