"""Money is exact on both databases (SPEC.md section 2: never float): SQLite stores integer
cents, PostgreSQL NUMERIC(12, 2); sums done in SQL come back as the `Decimal` sum of the lines,
and the list sorted by price pages in price order over the covering index."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select, text

from svcconsole.core import invoice_lookups
from svcconsole.store import queries
from svcconsole.store.invoices import invoice_totals
from svcconsole.store.models import InvoiceLine
from tests.billing.conftest import NOW, active_service

MONEY_COLUMNS = {
    "product_price": ("price", "setup_fee"),
    "service": ("price", "initial_price"),
    "service_option": ("price",),
    "renewal": ("amount",),
    "invoice_line": ("amount",),
}


def test_every_money_value_written_on_sqlite_is_an_integer_of_cents(db, admin, catalog, cli, frozen):
    if not db.is_sqlite:
        pytest.skip("PostgreSQL stores NUMERIC(12, 2), exact already; typeof() is SQLite's")
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=9), price="0.10")
    assert cli("services", "options", str(service_id), "add", "--name", "Extra IPv4", "--price", "0.10").exit_code == 0
    invoice_id = int(cli("invoices", "create", "--customer", "alice@example.com", "--renew", str(service_id)).stdout)
    assert cli("invoices", "pay", str(invoice_id)).exit_code == 0
    assert cli("services", "renew", str(service_id)).exit_code == 0

    with db.engine.connect() as connection:
        for table, columns in MONEY_COLUMNS.items():
            for column in columns:
                kinds = {row[0] for row in connection.execute(text(f"SELECT DISTINCT typeof({column}) FROM {table}"))}
                assert kinds == {"integer"}, f"{table}.{column} is stored as {kinds}"
        stored = connection.execute(text("SELECT price, initial_price FROM service WHERE id = :id"), {"id": service_id}).one()
        lines = [row[0] for row in connection.execute(text("SELECT amount FROM invoice_line ORDER BY id"))]
    assert tuple(stored) == (10, 10)
    assert lines == [20], "one renewal line: 0.10 recurring + 0.10 option, in cents"


def test_three_lines_of_ten_cents_sum_in_sql_to_exactly_thirty_cents(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=9))
    created = cli("invoices", "create", "--customer", "alice@example.com", "--option", str(service_id), "--description", "line 1", "--amount", "0.10")
    assert created.exit_code == 0, created.stderr
    invoice_id = int(created.stdout)
    for number in (2, 3):
        added = cli("invoices", "add-line", str(invoice_id), "--option", str(service_id), "--description", f"line {number}", "--amount", "0.10")
        assert added.exit_code == 0, added.stderr

    with db.read() as session:
        summed = session.execute(select(func.sum(InvoiceLine.amount)).where(InvoiceLine.invoice_id == invoice_id)).scalar_one()
        totals = invoice_totals()
        through_subquery = session.execute(select(totals.c.total).where(totals.c.invoice_id == invoice_id)).scalar_one()
        listed = [summary.total for summary in invoice_lookups.list_invoices(session) if summary.invoice.id == invoice_id]
        raw = session.execute(text("SELECT sum(amount) FROM invoice_line WHERE invoice_id = :id"), {"id": invoice_id}).scalar_one()
    for total in (summed, through_subquery, *listed):
        assert isinstance(total, Decimal) and str(total) == "0.30"
    assert listed == [Decimal("0.30")]
    if db.is_sqlite:
        assert raw == 30, "the database itself holds 30 cents, not 0.30000000000000004"
    else:
        assert raw == Decimal("0.30")
    shown = cli("invoices", "list", "--format", "json")
    assert '"total": "0.30"' in shown.stdout


def test_large_amounts_sum_exactly(db, admin, catalog, cli, frozen):
    """Near the largest amount a float has too few digits for the cents of a sum."""
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=9))
    amounts = ["9999999999.99", "0.01", "1234567.89", "0.07"]
    invoice_id = int(
        cli("invoices", "create", "--customer", "alice@example.com", "--option", str(service_id), "--description", "a", "--amount", amounts[0]).stdout
    )
    for amount in amounts[1:]:
        assert cli("invoices", "add-line", str(invoice_id), "--option", str(service_id), "--description", "b", "--amount", amount).exit_code == 0
    with db.read() as session:
        summed = session.execute(select(func.sum(InvoiceLine.amount)).where(InvoiceLine.invoice_id == invoice_id)).scalar_one()
    assert summed == sum(Decimal(amount) for amount in amounts) == Decimal("10001234567.96")


def test_the_list_sorted_by_price_pages_in_price_order(db, admin, catalog, cli, frozen):
    prices = ["19.99", "0.10", "5.00", "0.30", "19.99", "100.00", "0.20", "5.00", "12.35"]
    for number, price in enumerate(prices):
        active_service(db, admin, catalog, expires=NOW + timedelta(days=9), name=f"priced-{number}", price=price)
    expected = [service_id for _, service_id in sorted((Decimal(price), number + 1) for number, price in enumerate(prices))]

    walked: list[int] = []
    after = None
    with db.read() as session:
        while True:
            rows = queries.page(session, queries.ServiceFilter(), queries.Sort("price"), limit=2, after=after)
            if not rows:
                break
            walked += [row.id for row in rows]
            after = (rows[-1].price, rows[-1].id)
            assert all(isinstance(row.price, Decimal) for row in rows)
    assert walked == expected

    listed = cli("services", "list", "--sort", "price", "--format", "ids")
    assert listed.stdout.split() == [str(service_id) for service_id in expected]
    descending = cli("services", "list", "--sort", "price", "--desc", "--format", "ids")
    assert descending.stdout.split() == [str(service_id) for service_id in reversed(expected)]


def test_a_page_sorted_by_price_after_a_key_seeks_in_the_price_index(db, admin, catalog, frozen):
    if not db.is_sqlite:
        pytest.skip("the plan is checked on SQLite; PostgreSQL picks its plan from table statistics")
    for price in ("1.00", "2.00", "3.00"):
        active_service(db, admin, catalog, expires=NOW + timedelta(days=9), price=price)
    statements: list[tuple[str, object]] = []

    def capture(connection, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.read() as session:
            rows = queries.page(session, queries.ServiceFilter(), queries.Sort("price"), limit=5, after=(Decimal("1.00"), 1))
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert [row.price for row in rows] == [Decimal("2.00"), Decimal("3.00")]
    statement, parameters = next((statement, parameters) for statement, parameters in statements if "ORDER BY service.price" in statement)
    assert 100 in parameters, "the seek compares stored cents with cents"
    with db.engine.connect() as connection:
        plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
    assert "INDEX ix_service_sort_price (price>?)" in plan and "TEMP B-TREE" not in plan, plan
