"""Marks on the service list: explicit ids, or "every row matching a filter" minus exclusions.

A mark-all is kept as its filter and the rows unmarked since, never as a list of loaded rows;
an action on it is a `bulk.Matching` selection, whose items the database writes itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlmodel import Session, col

from svcconsole.core.bulk import Matching
from svcconsole.store import queries
from svcconsole.store.models import Service
from svcconsole.store.queries import ServiceFilter


@dataclass
class Marks:
    """What is marked: `ids`, or all rows matching `all_filter` (counted `all_count`) but `excluded`."""

    ids: set[int] = field(default_factory=set)
    all_filter: ServiceFilter | None = None
    all_count: int = 0
    excluded: set[int] = field(default_factory=set)

    @property
    def count(self) -> int:
        if self.all_filter is not None:
            return max(self.all_count - len(self.excluded), 0)
        return len(self.ids)

    def __bool__(self) -> bool:
        return self.count > 0

    def clear(self) -> None:
        self.ids.clear()
        self.all_filter = None
        self.all_count = 0
        self.excluded.clear()

    def is_marked(self, service_id: int, current: ServiceFilter) -> bool:
        if self.all_filter is not None:
            return self.all_filter == current and service_id not in self.excluded
        return service_id in self.ids

    def toggle(self, service_id: int, current: ServiceFilter) -> None:
        if self.all_filter is not None and self.all_filter == current:
            if service_id in self.excluded:
                self.excluded.discard(service_id)
            else:
                self.excluded.add(service_id)
            return
        if self.all_filter is not None:
            return
        if service_id in self.ids:
            self.ids.discard(service_id)
        else:
            self.ids.add(service_id)

    def mark_all(self, current: ServiceFilter, count: int) -> None:
        self.ids.clear()
        self.excluded.clear()
        self.all_filter = current
        self.all_count = count

    def set_all_count(self, current: ServiceFilter, count: int) -> None:
        if self.all_filter == current:
            self.all_count = count


@dataclass
class ResolvedSelection:
    """The services an action applies to (listed `ids`, or a `matching` mark-all), how many,
    and how many of them the current filter hides."""

    ids: list[int] | None
    matching: Matching | None
    count: int
    hidden: int
    marked: bool


def _count(session: Session, filters: tuple[ServiceFilter, ...], ids: list[int] | None = None) -> int:
    """How many services match every filter (and are among `ids`, when given, counted in chunks)."""
    query = select(func.count()).select_from(Service)
    for service_filter in filters:
        query = queries.filtered(query, service_filter)
    if ids is None:
        return session.execute(query).scalar_one()
    return sum(session.execute(query.where(col(Service.id).in_(ids[offset : offset + 500]))).scalar_one() for offset in range(0, len(ids), 500))


def resolve(session: Session, marks: Marks, current: ServiceFilter, cursor_id: int | None) -> ResolvedSelection:
    """What the marks (or the cursor row) select, with the hidden-by-filter count, by counting:
    a mark-all is never turned into a list of ids."""
    if not marks:
        ids = [cursor_id] if cursor_id is not None else []
        return ResolvedSelection(ids, None, len(ids), 0, False)
    if marks.all_filter is not None:
        excluded = sorted(marks.excluded)
        matching = Matching(marks.all_filter, frozenset(excluded))
        total = _count(session, (marks.all_filter,)) - _count(session, (marks.all_filter,), excluded)
        if marks.all_filter == current:
            return ResolvedSelection(None, matching, total, 0, True)
        visible = _count(session, (marks.all_filter, current)) - _count(session, (marks.all_filter, current), excluded)
        return ResolvedSelection(None, matching, total, total - visible, True)
    ids = sorted(marks.ids)
    return ResolvedSelection(ids, None, len(ids), len(ids) - _count(session, (current,), ids), True)


SelectionCounts = dict[tuple[str, bool], int]
"""How many selected services are in each (status, has a cancellation date) pair."""


def _grouped(session: Session, service_filter: ServiceFilter | None, ids: list[int] | None = None) -> SelectionCounts:
    """How many services match the filter (and are among `ids`, counted 500 at a time) in each
    status, split by whether a cancellation is scheduled (uncancel needs one)."""
    scheduled = col(Service.cancel_at).is_not(None)
    query = select(col(Service.status), scheduled, func.count()).select_from(Service)
    if service_filter is not None:
        query = queries.filtered(query, service_filter)
    query = query.group_by(Service.status, scheduled)
    chunks = [None] if ids is None else [ids[offset : offset + 500] for offset in range(0, len(ids), 500)]
    counts: SelectionCounts = {}
    for chunk in chunks:
        chosen = query if chunk is None else query.where(Service.id.in_(chunk))  # type: ignore[union-attr]
        for status, has_cancel_at, number in session.execute(chosen).all():
            key = (status, bool(has_cancel_at))
            counts[key] = counts.get(key, 0) + number
    return counts


def status_counts(session: Session, marks: Marks, cursor_id: int | None) -> SelectionCounts:
    """How many of the selected services (the marks, or the cursor row) are in each status, by
    grouped counts: a mark-all is one GROUP BY over its filter, less its unmarked rows."""
    if not marks:
        return _grouped(session, None, [cursor_id]) if cursor_id is not None else {}
    if marks.all_filter is not None:
        counts = _grouped(session, marks.all_filter)
        for key, number in _grouped(session, marks.all_filter, sorted(marks.excluded)).items():
            counts[key] -= number
        return {key: number for key, number in counts.items() if number > 0}
    return _grouped(session, None, sorted(marks.ids))
