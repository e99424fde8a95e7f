"""Marks on the service list: explicit ids, or "every row matching a filter" minus exclusions.

A mark-all is kept as its filter and the rows unmarked since, never as a list of loaded rows;
its ids are streamed with `queries.iter_ids` in a worker when an action runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from svcconsole.store import queries
from svcconsole.store.queries import ServiceFilter
from svcconsole.store.window import count_matching


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
    """The services an action applies to, and how many of them the current filter hides."""

    ids: list[int]
    hidden: int
    marked: bool


def resolve(session: Session, marks: Marks, current: ServiceFilter, cursor_id: int | None) -> ResolvedSelection:
    """The ids of the marked services (or the cursor row), with the hidden-by-filter count."""
    if not marks:
        return ResolvedSelection([cursor_id] if cursor_id is not None else [], 0, False)
    if marks.all_filter is not None:
        ids = [identifier for identifier in queries.iter_ids(session, marks.all_filter) if identifier not in marks.excluded]
        if marks.all_filter == current:
            return ResolvedSelection(ids, 0, True)
    else:
        ids = sorted(marks.ids)
    visible = count_matching(session, current, ids)
    return ResolvedSelection(ids, len(ids) - visible, True)
