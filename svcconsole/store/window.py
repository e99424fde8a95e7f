"""A window over the service list: row positions mapped to keyset pages, with a bounded cache.

The console's virtual table asks "which rows are at positions 500,000 to 500,040?" and this
class answers from a cache of pages, loading missing pages from the database. A page next to
a cached one is loaded by keyset (after the last key of the page before it, or before the first
key of the page after it); a page far from every known page is found by a seek, then keyset
from there. The seek differs by database:

- SQLite: one OFFSET query over the sort's covering index, from the nearer end of the list
  (SQLite skips index entries quickly: about 25 ms to reach row 500,000 of 1,000,000).
- PostgreSQL: no OFFSET (it walks and checks every skipped row). A sampled seek table, every
  `stride`-th key of the order read in one pass, is built once per filter and sort; a jump
  starts at the sample before the wanted row and reads fewer than `stride` keys from there.

Nothing here imports textual, so the strategy can be tested and benchmarked alone. Ordering
matches `queries.page`: rows whose sort column is NULL come after the others, ordered by id in
the same direction, so every query stays on an index of (column, id, status).
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlmodel import Session, col

from svcconsole.store import queries
from svcconsole.store.engine import Database
from svcconsole.store.models import Service
from svcconsole.store.queries import LIST_COLUMNS, SORT_COLUMNS, ServiceFilter, Sort

Key = tuple[Any, int]
NULLABLE_SORTS = frozenset({"product", "server", "expires"})
SAMPLES_PER_SEGMENT = 2000


@dataclass(frozen=True)
class SeekSamples:
    """Every `stride`-th key of one segment of the order: `keys[i]` is at offset (i + 1) * stride - 1."""

    stride: int
    keys: tuple[Key, ...]


@dataclass(frozen=True)
class PageBounds:
    """The keys of the first and last rows of a page, kept after the rows are evicted."""

    first: Key
    last: Key
    size: int


class ServiceWindow:
    """Rows by position for one filter and sort, paged by keyset, with at most `max_pages` in memory."""

    def __init__(
        self,
        db: Database,
        *,
        page_size: int = 100,
        max_pages: int = 12,
        walk_limit: int = 3,
        max_bounds: int = 20_000,
        columns: Sequence[Any] = LIST_COLUMNS,
    ) -> None:
        self.db = db
        self.page_size = page_size
        self.max_pages = max_pages
        self.walk_limit = walk_limit
        self.max_bounds = max_bounds
        self.columns = tuple(columns)
        self.service_filter = ServiceFilter()
        self.sort = Sort()
        self.generation = 0
        self.total: int | None = None
        self.stats: Counter[str] = Counter()
        self._pages: OrderedDict[int, list[Any]] = OrderedDict()
        self._bounds: OrderedDict[int, PageBounds] = OrderedDict()
        self._non_null: int | None = None
        self._samples: dict[bool, SeekSamples] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ configuration

    def configure(self, service_filter: ServiceFilter, sort: Sort) -> int:
        """Show another filter or sort: forget every page; returns the new generation."""
        if sort.column not in SORT_COLUMNS:
            raise KeyError(sort.column)
        with self._lock:
            self.service_filter = service_filter
            self.sort = sort
            self.generation += 1
            self.total = None
            self._non_null = None
            self._samples = {}
            self._pages.clear()
            self._bounds.clear()
            return self.generation

    def invalidate(self) -> int:
        """Forget the rows (the data changed) but keep the filter and sort."""
        return self.configure(self.service_filter, self.sort)

    def set_total(self, total: int, generation: int) -> bool:
        """Record the row count computed for `generation`; False when it is stale."""
        with self._lock:
            if generation != self.generation:
                return False
            self.total = total
            return True

    # ------------------------------------------------------------------ reading the cache

    def page_of(self, position: int) -> int:
        return position // self.page_size

    def row(self, position: int) -> Any | None:
        """The cached row at `position`, or None when its page is not loaded."""
        with self._lock:
            page = self._pages.get(position // self.page_size)
            if page is None:
                return None
            offset = position % self.page_size
            return page[offset] if offset < len(page) else None

    def rows(self, start: int, stop: int) -> list[Any | None]:
        return [self.row(position) for position in range(max(start, 0), max(stop, 0))]

    def missing_pages(self, start: int, stop: int) -> list[int]:
        """Pages covering positions [start, stop) that are not in memory."""
        start = max(start, 0)
        if self.total is not None:
            stop = min(stop, self.total)
        if stop <= start:
            return []
        with self._lock:
            return [page for page in range(self.page_of(start), self.page_of(stop - 1) + 1) if page not in self._pages]

    @property
    def rows_in_memory(self) -> int:
        with self._lock:
            return sum(len(page) for page in self._pages.values())

    @property
    def pages_in_memory(self) -> list[int]:
        with self._lock:
            return sorted(self._pages)

    # ------------------------------------------------------------------ loading

    def load(self, start: int, stop: int, *, generation: int | None = None, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Make the rows at [start, stop) available; False when the window was reconfigured meanwhile."""
        wanted_generation = self.generation if generation is None else generation
        for page in self.missing_pages(start, stop):
            if cancelled() or wanted_generation != self.generation:
                return False
            if not self._load_page(page, wanted_generation):
                return False
        return wanted_generation == self.generation

    def load_around(self, position: int, service_id: int, *, generation: int | None = None) -> bool:
        """Load the page holding `position`, known to be service `service_id`'s, by keyset from
        that service (no seek); False when the window was reconfigured or the rows moved meanwhile."""
        wanted_generation = self.generation if generation is None else generation
        page = self.page_of(position)
        with self._lock:
            if page in self._pages:
                return wanted_generation == self.generation
        offset = position % self.page_size
        column = SORT_COLUMNS[self.sort.column]
        with self.db.read() as session:
            found = session.execute(select(column, col(Service.id)).where(col(Service.id) == service_id)).first()
            if found is None:
                return False
            key: Key = (found[1], found[1]) if self.sort.column == "id" else (found[0], found[1])
            before = self._backward(session, key, max(offset, 1)) if position > 0 else []
            head = before[len(before) - offset :] if offset else []
            if len(head) != offset or (position > 0 and not before):
                return False
            start = self._key(before[-1]) if before else None
            rows = self._forward(session, start)[: self.page_size]
        rows = head + rows[: self.page_size - offset]
        if len(rows) <= offset or rows[offset].id != service_id:
            return False
        return self._store(page, rows, wanted_generation)

    def _load_page(self, page: int, generation: int) -> bool:
        with self._lock:
            if page in self._pages:
                self._pages.move_to_end(page)
                return True
            plan = self._plan(page)
        kind, source = plan
        with self.db.read() as session:
            if kind == "first":
                rows = self._forward(session, None)
                return self._store(page, rows, generation)
            if kind == "after":
                rows = self._forward(session, source)
                return self._store(page, rows, generation)
            if kind == "before":
                rows = self._backward(session, source, self.page_size)
                return self._store(page, rows, generation)
            if kind == "walk":
                start_page, step = source
                current = start_page
                while current != page:
                    current += step
                    loaded = self._load_neighbour(session, current, step, generation)
                    if loaded is None:
                        break
                    if not loaded:
                        return False
                else:
                    return True
            anchor = self._seek(session, page * self.page_size - 1)
            self.stats["seek"] += 1
            if anchor is None:
                return self._store(page, [], generation)
            rows = self._forward(session, anchor)
            return self._store(page, rows, generation)

    def _load_neighbour(self, session: Session, page: int, step: int, generation: int) -> bool | None:
        """Load `page` from the page before it in the walk; None when that page's keys are unknown."""
        with self._lock:
            if page in self._pages:
                return True
            neighbour = self._bounds.get(page - step)
        if page == 0:
            rows = self._forward(session, None)
        elif neighbour is None or (step > 0 and neighbour.size < self.page_size):
            return None
        elif step > 0:
            rows = self._forward(session, neighbour.last)
        else:
            rows = self._backward(session, neighbour.first, self.page_size)
        return self._store(page, rows, generation)

    def _plan(self, page: int) -> tuple[str, Any]:
        if page == 0:
            return ("first", None)
        before = self._bounds.get(page - 1)
        if before is not None and before.size == self.page_size:
            return ("after", before.last)
        after = self._bounds.get(page + 1)
        if after is not None:
            return ("before", after.first)
        nearest: int | None = -1 if page <= self.walk_limit else None
        for known in self._bounds:
            distance = abs(known - page)
            if distance <= self.walk_limit and (nearest is None or distance < abs(nearest - page)):
                nearest = known
        if nearest is not None:
            return ("walk", (nearest, 1 if nearest < page else -1))
        return ("seek", None)

    def _store(self, page: int, rows: list[Any], generation: int) -> bool:
        with self._lock:
            if generation != self.generation:
                return False
            self._pages[page] = rows
            self._pages.move_to_end(page)
            while len(self._pages) > self.max_pages:
                self._pages.popitem(last=False)
            if rows:
                self._bounds[page] = PageBounds(self._key(rows[0]), self._key(rows[-1]), len(rows))
                self._bounds.move_to_end(page)
                while len(self._bounds) > self.max_bounds:
                    self._bounds.popitem(last=False)
            if len(rows) < self.page_size and (rows or page == 0):
                self.total = page * self.page_size + len(rows)
            return True

    def _key(self, row: Any) -> Key:
        return queries.sort_key(row, self.sort)

    # ------------------------------------------------------------------ queries

    def _forward(self, session: Session, after: Key | None) -> list[Any]:
        self.stats["forward"] += 1
        return queries.page(session, self.service_filter, self.sort, after=after, limit=self.page_size, columns=self.columns)

    def _backward(self, session: Session, before: Key, limit: int) -> list[Any]:
        """The `limit` rows just before `before`, in list order (the mirror of `queries.page`)."""
        self.stats["backward"] += 1
        column = SORT_COLUMNS[self.sort.column]
        descending = self.sort.descending
        base = queries.filtered(select(*self.columns), self.service_filter)
        before_value, before_id = before
        if self.sort.column == "id":
            query = base.where(col(Service.id) > before_id if descending else col(Service.id) < before_id)
            order = col(Service.id).asc() if descending else col(Service.id).desc()
            return list(reversed(session.execute(query.order_by(order).limit(limit)).all()))
        reverse_order = (column.asc(), col(Service.id).asc()) if descending else (column.desc(), col(Service.id).desc())
        rows: list[Any] = []
        if before_value is None:
            query = base.where(column.is_(None), col(Service.id) > before_id if descending else col(Service.id) < before_id)
            order = col(Service.id).asc() if descending else col(Service.id).desc()
            rows = list(session.execute(query.order_by(order).limit(limit)).all())
            if len(rows) < limit:
                tail = base.where(column.is_not(None)).order_by(*reverse_order).limit(limit - len(rows))
                rows += list(session.execute(tail).all())
        else:
            key, position = tuple_(column, Service.id), (before_value, before_id)
            query = base.where(column.is_not(None), key > position if descending else key < position)
            rows = list(session.execute(query.order_by(*reverse_order).limit(limit)).all())
        return list(reversed(rows))

    def _ordered_keys(self, session: Session, *, reverse: bool, null_segment: bool) -> Any:
        """A key query over one segment of the order (or its reverse)."""
        keys, order = self._segment_order(reverse=reverse, null_segment=null_segment)
        return keys.order_by(*order)

    def _segment_order(self, *, reverse: bool, null_segment: bool) -> tuple[Any, list[Any]]:
        """The (value, id) keys of one segment, unordered, and the ORDER BY that walks it."""
        column = SORT_COLUMNS[self.sort.column]
        descending = self.sort.descending != reverse
        by_id = [col(Service.id).desc() if descending else col(Service.id).asc()]
        if self.sort.column == "id":
            return queries.filtered(select(col(Service.id), col(Service.id)), self.service_filter), by_id
        keys = queries.filtered(select(column, col(Service.id)), self.service_filter)
        if null_segment:
            return keys.where(column.is_(None)), by_id
        return keys.where(column.is_not(None)), [column.desc() if descending else column.asc(), *by_id]

    def _non_null_count(self, session: Session) -> int:
        if self.sort.column not in NULLABLE_SORTS:
            return self.total if self.total is not None else queries.count(session, self.service_filter)
        if self._non_null is None:
            column = SORT_COLUMNS[self.sort.column]
            counted = queries.filtered(select(func.count()).select_from(Service), self.service_filter)
            if self.total is None:
                self._non_null = session.execute(counted.where(column.is_not(None))).scalar_one()
            else:
                self._non_null = self.total - session.execute(counted.where(column.is_(None))).scalar_one()
        return self._non_null

    def _seek(self, session: Session, position: int) -> Key | None:
        """The key of the row at `position`: by samples on PostgreSQL, by one OFFSET query elsewhere."""
        if position < 0:
            return None
        total = self.total
        segment_size: int | None
        if self.sort.column in NULLABLE_SORTS:
            non_null = self._non_null_count(session)
            if position < non_null:
                segment_start, segment_size, null_segment = 0, non_null, False
            else:
                segment_start, segment_size, null_segment = non_null, (total - non_null) if total is not None else None, True
        else:
            segment_start, segment_size, null_segment = 0, total, False
        offset = position - segment_start
        if self.db.is_postgresql:
            return self._seek_by_samples(session, offset, null_segment)
        reverse = segment_size is not None and offset > segment_size // 2
        if reverse:
            assert segment_size is not None
            offset = segment_size - 1 - offset
            if offset < 0:
                return None
        query = self._ordered_keys(session, reverse=reverse, null_segment=null_segment).limit(1).offset(offset)
        return self._as_key(session.execute(query).first())

    def _as_key(self, found: Any) -> Key | None:
        if found is None:
            return None
        value, service_id = found
        return (service_id, service_id) if self.sort.column == "id" else (value, service_id)

    def prepare_seeks(self) -> None:
        """Build the seek samples of the current order ahead of a deep jump (PostgreSQL only; call
        it from a worker: it reads every key of the list once)."""
        if not self.db.is_postgresql:
            return
        generation = self.generation
        with self.db.read() as session:
            for null_segment in (False, True) if self.sort.column in NULLABLE_SORTS else (False,):
                if generation != self.generation:
                    return
                self._segment_samples(session, null_segment)

    def _segment_samples(self, session: Session, null_segment: bool) -> SeekSamples:
        with self._lock:
            samples = self._samples.get(null_segment)
            generation = self.generation
        if samples is not None:
            return samples
        size = self._segment_size(session, null_segment)
        stride = max(self.page_size, size // SAMPLES_PER_SEGMENT + 1)
        keys, order = self._segment_order(reverse=False, null_segment=null_segment)
        numbered = keys.add_columns(func.row_number().over(order_by=order).label("position")).subquery()
        value, service_id = list(numbered.c)[:2]
        sampled = select(value, service_id).where(numbered.c.position % stride == 0).order_by(numbered.c.position)
        samples = SeekSamples(stride, tuple((row[0], row[1]) for row in session.execute(sampled).all()))
        self.stats["samples"] += 1
        with self._lock:
            if generation == self.generation:
                self._samples[null_segment] = samples
        return samples

    def _segment_size(self, session: Session, null_segment: bool) -> int:
        non_null = self._non_null_count(session)
        if not null_segment:
            return non_null
        total = self.total if self.total is not None else queries.count(session, self.service_filter)
        return total - non_null

    def _seek_by_samples(self, session: Session, offset: int, null_segment: bool) -> Key | None:
        """The key at `offset` of a segment: from the sample before it, fewer than `stride` keys on."""
        samples = self._segment_samples(session, null_segment)
        index = min((offset + 1) // samples.stride, len(samples.keys)) - 1
        start = samples.keys[index] if index >= 0 else None
        remaining = offset - ((index + 1) * samples.stride - 1)
        if remaining == 0:
            return self._as_key(start)
        query = self._ordered_keys(session, reverse=False, null_segment=null_segment)
        if start is not None:
            query = query.where(self._after(start, null_segment))
        keys = session.execute(query.limit(remaining)).all()
        return self._as_key(keys[-1]) if len(keys) == remaining else None

    def _after(self, key: tuple[Any, int], null_segment: bool) -> ColumnElement[bool]:
        """Rows after `key` in the segment's order."""
        value, service_id = key
        if self.sort.column == "id" or null_segment:
            return col(Service.id) < service_id if self.sort.descending else col(Service.id) > service_id
        column = SORT_COLUMNS[self.sort.column]
        pair, position = tuple_(column, Service.id), (value, service_id)
        return pair < position if self.sort.descending else pair > position


def restrict_to_ids(service_filter: ServiceFilter, ids: Sequence[int]) -> ServiceFilter:
    """`service_filter` narrowed to `ids` (intersected with any ids it already names)."""
    wanted = tuple(ids)
    if service_filter.ids:
        allowed = set(service_filter.ids)
        wanted = tuple(identifier for identifier in wanted if identifier in allowed)
    return replace(service_filter, ids=wanted, matches_nothing=service_filter.matches_nothing or not wanted)


def count_matching(session: Session, service_filter: ServiceFilter, ids: Sequence[int], *, chunk: int = 500) -> int:
    """How many of `ids` match `service_filter`, counted in bounded chunks."""
    matching = 0
    for offset in range(0, len(ids), chunk):
        part = ids[offset : offset + chunk]
        matching += queries.count(session, restrict_to_ids(service_filter, part))
    return matching


__all__ = ["PageBounds", "ServiceWindow", "count_matching", "restrict_to_ids"]
