"""Keyset pages and filters return exactly what a naive full sort would, page after page."""

import re
from datetime import timedelta

import pytest
from sqlmodel import select

from svcconsole.core import clock, filters
from svcconsole.core.errors import InvalidInput
from svcconsole.core.seed import seed_demo
from svcconsole.store import queries
from svcconsole.store.models import Customer, Service
from svcconsole.store.queries import ServiceFilter, Sort

ATTRIBUTE = {"customer": "customer_name", "product": "product_name", "server": "server_name", "cycle": "billing_cycle", "expires": "expires_at"}
CYCLES_BY_LENGTH = ["weekly", "monthly", "quarterly", "semiannually", "annually", "biennially", "triennially", "onetime", "free"]
"""SPEC's cycles from the shortest to the longest, the ones that never renew last (issue 23 item 12)."""


def natural(name):
    """Names in natural order: numbers compared by value (every number padded to 20 digits)."""
    return re.sub(r"[0-9]+", lambda number: number.group(0).zfill(20), name.lower())


def sort_value(row, column):
    if column == "name":
        return natural(row.name)
    if column == "cycle":
        return CYCLES_BY_LENGTH.index(row.billing_cycle)
    return getattr(row, ATTRIBUTE.get(column, column))


def naive(db, service_filter, sort):
    with db.read() as session:
        rows = session.exec(select(Service)).all()
        allowed = set(session.execute(queries.filtered(select(Service.id), service_filter)).scalars())
    rows = [row for row in rows if row.id in allowed]
    present = sorted(
        (row for row in rows if sort_value(row, sort.column) is not None), key=lambda row: (sort_value(row, sort.column), row.id), reverse=sort.descending
    )
    missing = sorted((row for row in rows if sort_value(row, sort.column) is None), key=lambda row: row.id, reverse=sort.descending)
    return [row.id for row in present + missing]


def paged(db, service_filter, sort, size):
    result, after = [], None
    with db.read() as session:
        while True:
            rows = queries.page(session, service_filter, sort, after=after, limit=size)
            result += [row.id for row in rows]
            if len(rows) < size:
                return result
            after = queries.sort_key(rows[-1], sort)


@pytest.fixture
def seeded(db, frozen):
    seed_demo(db, services=300, customers=40, random_seed=7)
    return db


@pytest.mark.parametrize("column", list(queries.SORT_COLUMNS))
@pytest.mark.parametrize("descending", [False, True])
def test_keyset_pages_match_a_full_sort(seeded, column, descending):
    sort = Sort(column, descending)
    assert paged(seeded, ServiceFilter(), sort, 37) == naive(seeded, ServiceFilter(), sort)


@pytest.mark.parametrize(
    "text", ["status:active", "status:suspended,expired cycle:monthly", "product:vps", "server:ptero", "expires<30d", "nova", "type:manual expires>2027-01-01"]
)
def test_filtered_pages_match_a_full_sort(seeded, text):
    with seeded.read() as session:
        service_filter = filters.parse_filter(session, text)
    for sort in (Sort("expires"), Sort("customer", True)):
        expected = naive(seeded, service_filter, sort)
        assert paged(seeded, service_filter, sort, 25) == expected
        with seeded.read() as session:
            assert queries.count(session, service_filter) == len(expected)


def test_deleted_services_are_hidden_unless_asked(seeded):
    with seeded.read() as session:
        everything = session.exec(select(Service.id, Service.status)).all()
        shown = set(queries.iter_ids(session, ServiceFilter(), batch=50))
        deleted = set(queries.iter_ids(session, ServiceFilter(statuses=("deleted",))))
    assert shown == {row.id for row in everything if row.status != "deleted"}
    assert deleted == {row.id for row in everything if row.status == "deleted"} and deleted


def test_counts_by_status_ignore_the_status_term(seeded):
    with seeded.read() as session:
        service_filter = filters.parse_filter(session, "status:active cycle:monthly")
        counts = queries.counts_by_status(session, service_filter)
        monthly = session.exec(select(Service.status).where(Service.billing_cycle == "monthly", Service.status != "deleted")).all()
    assert counts == {status: monthly.count(status) for status in set(monthly)}


@pytest.mark.parametrize("term", ["nova", "ova-1", "kowalski", "@example", "e", "vps", "9", "paper 4gb"])
def test_search_finds_exactly_the_services_whose_text_contains_the_term(seeded, term):
    with seeded.read() as session:
        rows = session.execute(
            select(Service.id, Service.name, Service.customer_name, Service.product_name, Service.uuid, Service.status, Customer.email).join(
                Customer, Customer.id == Service.customer_id
            )
        ).all()
        expected = sorted(
            row.id
            for row in rows
            if row.status != "deleted"
            and (term in f"{row.name} {row.customer_name} {row.email} {row.product_name or ''} {row.uuid}".lower() or (term.isdigit() and row.id == int(term)))
        )
        service_filter = filters.parse_filter(session, term)
        assert sorted(queries.iter_ids(session, service_filter)) == expected
        assert queries.count(session, service_filter) == len(expected)
    assert expected


def test_a_selective_term_is_answered_from_the_index_on_sqlite(seeded, monkeypatch):
    from svcconsole.store import search

    monkeypatch.setattr(search, "SELECTIVE_LIMIT", 50)
    with seeded.read() as session:
        service_filter = filters.parse_filter(session, "kowalski")
        broad = filters.parse_filter(session, "example")
    if seeded.is_sqlite:
        assert service_filter.search_ids is not None and 0 < len(service_filter.search_ids) <= 50
    assert broad.search_ids is None


def test_search_text_follows_renames(db, admin, catalog, frozen):
    from svcconsole.core import catalog as catalog_module
    from svcconsole.core import records
    from tests.conftest import new_service

    target = new_service(db, admin, catalog, name="Blue Falcon")

    def found(text):
        with db.read() as session:
            return target in list(queries.iter_ids(session, filters.parse_filter(session, text)))

    assert found("falcon") and found("alice martin") and found("web pro")
    db.transaction(lambda session: records.edit_service(session, admin, target, {"name": "Red Kestrel"}))
    db.transaction(lambda session: catalog_module.edit_customer(session, admin, str(catalog.customer_id), name="Zora Quill", email="zora@quill.example"))
    db.transaction(lambda session: catalog_module.edit_product(session, admin, str(catalog.product_id), name="Hosting Max"))
    assert not found("falcon") and not found("alice") and not found("web pro")
    assert found("kestrel") and found("zora quill") and found("@quill.exa") and found("hosting max")


def test_free_text_matches_id_uuid_name_customer_email_and_product(db, admin, catalog, frozen):
    from tests.conftest import new_service

    target = new_service(db, admin, catalog, name="Blue Falcon")
    new_service(db, admin, catalog, name="other")
    with db.read() as session:
        service = session.get(Service, target)
        for text in ("falcon", service.uuid[:8], str(target), "alice@exam", "web pro", "ALICE"):
            ids = list(queries.iter_ids(session, filters.parse_filter(session, text)))
            assert target in ids, text
        assert list(queries.iter_ids(session, filters.parse_filter(session, "falcon"))) == [target]


def test_like_wildcards_in_search_are_literal(db, admin, catalog, frozen):
    from tests.conftest import new_service

    percent = new_service(db, admin, catalog, name="100% uptime")
    new_service(db, admin, catalog, name="plain")
    with db.read() as session:
        assert list(queries.iter_ids(session, filters.parse_filter(session, "%"))) == [percent]
        assert list(queries.iter_ids(session, filters.parse_filter(session, "_"))) == []


def test_expires_terms(db, admin, catalog, frozen):
    from tests.conftest import new_service

    soon = new_service(db, admin, catalog, expires="2026-11-25")
    late = new_service(db, admin, catalog, expires="2027-11-25")
    with db.read() as session:
        assert list(queries.iter_ids(session, filters.parse_filter(session, "expires<7d"))) == [soon]
        assert list(queries.iter_ids(session, filters.parse_filter(session, "expires>2027-01-01"))) == [late]
    assert clock.now() + timedelta(days=7) > clock.now()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour:red", "unknown key 'colour'"),
        ("status:sleeping", "not a status"),
        ("cycle:daily", "not a billing cycle"),
        ("status:", "needs a value"),
        ("id:abc", "not an id"),
        ("type:cpanel", "not a module"),
        ("expires<soon", "not a valid date"),
    ],
)
def test_filter_errors_name_the_term(db, text, message):
    with db.read() as session, pytest.raises(InvalidInput, match=message):
        filters.parse_filter(session, text)


def test_unknown_product_matches_nothing(seeded):
    with seeded.read() as session:
        assert queries.count(session, filters.parse_filter(session, "product:nonexistent")) == 0


@pytest.mark.parametrize("term", ["²", "١٢", "１２", "2147483648", "99999999999", "123456789012"])
def test_a_search_term_is_an_id_only_when_it_is_ascii_digits_within_the_id_range(seeded, term):
    with seeded.read() as session:
        assert queries.count(session, ServiceFilter(search=term)) == 0
        assert queries.page(session, ServiceFilter(search=term), Sort("id"), limit=5) == []


def test_a_search_for_an_id_finds_that_service(seeded):
    with seeded.read() as session:
        assert [row.id for row in queries.page(session, ServiceFilter(search="12", include_deleted=True), Sort("id"), limit=500) if row.id == 12] == [12]


def test_glob_wildcards_in_an_indexed_search_are_literal(db, admin, catalog, frozen):
    from tests.conftest import new_service

    odd = new_service(db, admin, catalog, name="Promo*[50%]?_x")
    new_service(db, admin, catalog, name="Promo-50x")
    with db.read() as session:
        for text in ("o*[50", "[50%]", "%]?_", "PROMO*"):
            assert list(queries.iter_ids(session, filters.parse_filter(session, text))) == [odd], text
        assert list(queries.iter_ids(session, filters.parse_filter(session, "promo"))) == sorted([odd, odd + 1])


def test_the_selective_search_uses_the_trigram_index_on_sqlite(seeded):
    from sqlalchemy import event

    from svcconsole.store import search

    if not seeded.is_sqlite:
        pytest.skip("the FTS5 trigram table is SQLite's; PostgreSQL's pg_trgm plan is the planner's choice")
    seen = []

    def note(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if search.FTS_TABLE in statement:
            seen.append((statement, parameters))

    event.listen(seeded.engine, "before_cursor_execute", note)
    try:
        with seeded.read() as session:
            assert search.matching_ids(session, "kowalski"), "the term finds services"
    finally:
        event.remove(seeded.engine, "before_cursor_execute", note)
    statement, parameters = seen[-1]
    with seeded.engine.connect() as connection:
        plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    assert any(":G" in row[-1] or ":L" in row[-1] for row in plan), f"the trigram index answers the query matching_ids runs: {plan}"


@pytest.mark.parametrize("term", ["\U00063471?  5 ", "\uffff[x] ab", "bücher?", "中文*文"])
def test_a_term_with_a_glob_character_and_wide_characters_is_searched_without_crashing(seeded, term):
    """SQLite 3.40's FTS5 trigram GLOB crashed the process on `*\\uffff[?]  5 *`: such terms are scanned."""
    with seeded.read() as session:
        service_filter = filters.with_search(session, ServiceFilter(), term)
        assert service_filter.search_ids is None
        assert queries.page(session, service_filter, Sort("id"), limit=5) == []
