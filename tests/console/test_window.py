"""The headless list window: positions, the page cache, deep jumps, sort and filter changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import col

from svcconsole.core import seed
from svcconsole.store import queries
from svcconsole.store.models import Service
from svcconsole.store.queries import ServiceFilter, Sort
from svcconsole.store.window import ServiceWindow, count_matching

SERVICES = 600


@pytest.fixture
def seeded(db, frozen):
    seed.seed_demo(db, services=SERVICES, random_seed=7)
    return db


def full_order(db, service_filter: ServiceFilter, sort: Sort) -> list[int]:
    with db.read() as session:
        return [row.id for row in queries.page(session, service_filter, sort, limit=10_000)]


def window_for(db, service_filter=ServiceFilter(), sort=Sort(), **options) -> ServiceWindow:
    window = ServiceWindow(db, page_size=options.pop("page_size", 25), max_pages=options.pop("max_pages", 4), **options)
    generation = window.configure(service_filter, sort)
    with db.read() as session:
        window.set_total(queries.count(session, service_filter), generation)
    return window


def ids_at(window: ServiceWindow, start: int, stop: int) -> list[int]:
    assert window.load(start, stop)
    return [row.id for row in window.rows(start, stop) if row is not None]


@pytest.mark.parametrize(
    "sort",
    [Sort("id"), Sort("id", True), Sort("expires"), Sort("expires", True), Sort("product", True), Sort("customer"), Sort("price", True), Sort("status")],
    ids=lambda sort: f"{sort.column}-{'desc' if sort.descending else 'asc'}",
)
def test_every_position_matches_the_full_order_whatever_the_path(seeded, sort):
    expected = full_order(seeded, ServiceFilter(), sort)
    window = window_for(seeded, sort=sort)
    assert window.total == len(expected)
    for start in (len(expected) - 10, 300, 290, 275, 0, 40, 520, 495, 130):
        assert ids_at(window, start, start + 10) == expected[start : start + 10], start


def test_a_deep_jump_seeks_once_then_scrolls_by_keyset_both_ways(seeded):
    expected = full_order(seeded, ServiceFilter(), Sort("expires"))
    window = window_for(seeded, sort=Sort("expires"), walk_limit=1)
    assert ids_at(window, 400, 420) == expected[400:420]
    assert window.stats["seek"] == 1
    for start in range(380, 300, -20):
        assert ids_at(window, start, start + 20) == expected[start : start + 20]
    for start in range(420, 520, 20):
        assert ids_at(window, start, start + 20) == expected[start : start + 20]
    assert window.stats["seek"] == 1
    assert window.stats["backward"] >= 3


def test_the_cache_never_holds_more_than_its_bound(seeded):
    window = window_for(seeded, page_size=20, max_pages=3)
    for start in range(0, SERVICES, 15):
        window.load(start, start + 15)
        assert window.rows_in_memory <= 3 * 20
        assert len(window.pages_in_memory) <= 3


def test_a_new_filter_or_sort_forgets_the_pages_and_stale_loads_are_dropped(seeded):
    window = window_for(seeded)
    old_generation = window.generation
    ids_at(window, 0, 10)
    active = ServiceFilter(statuses=("active",))
    new_generation = window.configure(active, Sort("name"))
    assert new_generation != old_generation
    assert window.rows_in_memory == 0
    assert window.row(0) is None
    assert window.load(0, 10, generation=old_generation) is False
    assert not window.set_total(5, old_generation)
    expected = full_order(seeded, active, Sort("name"))
    assert ids_at(window, 0, 10) == expected[:10]
    with seeded.read():
        statuses = {row.status for row in window.rows(0, 10)}
    assert statuses == {"active"}


def test_the_total_is_learnt_from_a_short_last_page(seeded):
    window = ServiceWindow(seeded, page_size=50)
    window.configure(ServiceFilter(statuses=("pending",)), Sort())
    window.load(0, 200)
    assert window.total == len(full_order(seeded, ServiceFilter(statuses=("pending",)), Sort()))
    assert window.missing_pages(0, 10_000) == []


def test_count_matching_counts_ids_that_pass_the_filter(seeded):
    everything = full_order(seeded, ServiceFilter(), Sort())
    active = set(full_order(seeded, ServiceFilter(statuses=("active",)), Sort()))
    with seeded.read() as session:
        assert count_matching(session, ServiceFilter(statuses=("active",)), everything, chunk=97) == len(active)


@pytest.mark.parametrize("sort", [Sort("id", True), Sort("expires"), Sort("server", True)], ids=lambda sort: sort.column)
def test_deep_jumps_use_seek_samples_and_no_offset_on_postgresql(seeded, sort):
    from sqlalchemy import event

    statements: list[str] = []

    def record(connection, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement.upper())

    expected = full_order(seeded, ServiceFilter(), sort)
    window = window_for(seeded, sort=sort, walk_limit=0)
    event.listen(seeded.engine, "before_cursor_execute", record)
    try:
        window.prepare_seeks()
        for start in (333, 517, 71, 589):
            assert ids_at(window, start, start + 5) == expected[start : start + 5], start
    finally:
        event.remove(seeded.engine, "before_cursor_execute", record)
    assert window.stats["seek"] == 4
    if seeded.is_postgresql:
        assert [statement for statement in statements if "OFFSET" in statement] == []
        assert window.stats["samples"] == (2 if sort.column in ("expires", "server") else 1)
        assert sum("ROW_NUMBER" in statement for statement in statements) == window.stats["samples"]
    else:
        assert window.stats["samples"] == 0


@pytest.mark.parametrize(
    "sort",
    [Sort("id", True), Sort("expires"), Sort("expires", True), Sort("product"), Sort("customer", True), Sort("name"), Sort("price")],
    ids=lambda sort: f"{sort.column}-{'desc' if sort.descending else 'asc'}",
)
def test_a_followed_service_is_found_where_the_full_order_has_it_and_its_page_loads_without_a_seek(seeded, sort):
    active = ServiceFilter(statuses=("active", "suspended"))
    expected = full_order(seeded, active, sort)
    window = window_for(seeded, active, sort)
    for position in (0, 1, 24, 25, 26, len(expected) // 2, len(expected) - 1):
        service_id = expected[position]
        with seeded.read() as session:
            assert queries.position_of(session, active, sort, service_id) == position, (position, service_id)
        window.invalidate()
        window.set_total(len(expected), window.generation)
        assert window.load_around(position, service_id)
        assert (
            ids_at(window, position - position % 25, min(position - position % 25 + 25, len(expected)))
            == expected[position - position % 25 : position - position % 25 + 25]
        )
        assert ids_at(window, max(position - 30, 0), position + 30) == expected[max(position - 30, 0) : position + 30]
    assert window.stats["seek"] == 0
    with seeded.read() as session:
        outside = session.execute(select(Service.id).where(col(Service.status).not_in(active.statuses))).scalars().first()
        assert outside is not None and queries.position_of(session, active, sort, outside) is None


def test_a_followed_position_that_cannot_be_the_service_s_is_refused_and_loads_as_usual(seeded):
    expected = full_order(seeded, ServiceFilter(), Sort("customer"))
    window = window_for(seeded, sort=Sort("customer"))
    assert not window.load_around(5, expected[2])
    assert not window.load_around(7, 10**9)
    assert window.rows_in_memory == 0
    assert ids_at(window, 0, 10) == expected[0:10]
