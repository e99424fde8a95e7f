"""Lists: `--format ids` (made for pipes) prints every matching row by default; a table, JSON or
CSV shows 100 and says on stderr when it cut; every list reads the database in keyset pages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from svcconsole.cli import output
from svcconsole.core import catalog as catalog_module
from svcconsole.store import queries
from svcconsole.store.models import BulkRun, Customer, Invoice, Job, Notification, Product, Server, Service
from svcconsole.store.queries import ServiceFilter
from tests.conftest import new_service

CUT = "100 of 120 shown; --limit N or --all"


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine runs during the test."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def test_ids_list_every_matching_service_and_the_other_formats_cut_at_100_and_say_so(cli, db, admin, catalog, frozen):
    active = [new_service(db, admin, catalog, status="active", name=f"web-{n}") for n in range(120)]
    pending = [new_service(db, admin, catalog, name=f"new-{n}") for n in range(30)]

    every = cli("services", "list", "--format", "ids")
    assert every.exit_code == 0 and every.lines == [str(i) for i in active + pending], "150 of 150 matching rows"
    assert every.stderr == ""
    assert cli("services", "list", "--status", "active", "--format", "ids").lines == [str(i) for i in active]

    table = cli("services", "list", "--status", "active")
    assert table.exit_code == 0 and [int(line.split()[0]) for line in table.lines[1:]] == active[:100]
    assert table.stderr.strip() == CUT
    listed = cli("services", "list", "--status", "active", "--format", "json")
    assert [row["id"] for row in json.loads(listed.stdout)] == active[:100] and listed.stderr.strip() == CUT
    csv_rows = cli("services", "list", "--status", "active", "--format", "csv")
    assert len(csv_rows.lines) == 101 and csv_rows.stderr.strip() == CUT

    whole = cli("services", "list", "--status", "active", "--all")
    assert [int(line.split()[0]) for line in whole.lines[1:]] == active and whole.stderr == ""
    assert len(json.loads(cli("services", "list", "--all", "--format", "json").stdout)) == 150
    cut_ids = cli("services", "list", "--format", "ids", "--limit", "5")
    assert cut_ids.lines == [str(i) for i in active[:5]] and cut_ids.stderr.strip() == "5 of 150 shown; --limit N or --all"
    refused = cli("services", "list", "--limit", "5", "--all")
    assert refused.exit_code == 2 and "--limit" in refused.stderr


def test_a_cut_at_a_million_rows_counts_no_further_than_its_cap(cli, db, admin, catalog, frozen, monkeypatch):
    monkeypatch.setattr(output, "COUNT_CAP", 25)
    ids = [new_service(db, admin, catalog, status="active", name=f"web-{n}") for n in range(40)]
    cut = cli("services", "list", "--limit", "10")
    assert len(cut.lines) == 11 and cut.stderr.strip() == "10 of more than 25 shown; --limit N or --all"
    assert cli("services", "list", "--limit", "20").stderr.strip() == "20 of more than 25 shown; --limit N or --all"
    db.transaction(lambda session: [catalog_module.add_customer(session, admin, name=f"C {n}", email=f"c{n}@example.org") for n in range(30)])
    assert cli("customers", "list", "--limit", "10").stderr.strip() == "10 of more than 25 shown; --limit N or --all"
    monkeypatch.setattr(output, "COUNT_CAP", 40)
    assert cli("customers", "list", "--limit", "24").stderr.strip() == "24 of 31 shown; --limit N or --all"
    assert cli("services", "list", "--limit", "20").stderr.strip() == "20 of 40 shown; --limit N or --all"
    with db.read() as session:
        assert queries.count_up_to(session, ServiceFilter(), 25) == 26, "the count stops one past its cap"
        assert queries.count_up_to(session, ServiceFilter(), 100) == len(ids) == 40


def test_the_services_list_reads_keyset_pages_of_a_bounded_size(cli, db, admin, catalog, frozen, statements, monkeypatch):
    monkeypatch.setattr(output, "PAGE_ROWS", 7)
    ids = [new_service(db, admin, catalog, status="active", name=f"web-{n}") for n in range(30)]
    statements.clear()
    assert cli("services", "list", "--format", "ids").lines == [str(i) for i in ids]
    pages = [sql for sql in statements if re.search(r"\bFROM service\b", sql) and "LIMIT" in sql]
    assert len(pages) == 30 // 7 + 1, "5 pages of at most 7 rows, not one query for every row"
    assert all("COUNT" not in sql.upper() for sql in pages)


def make_rows(cli, db, admin) -> None:  # type: ignore[no-untyped-def]
    """More than 7 rows of everything a list shows: customers, products, servers, invoices, jobs, mails, bulk runs."""
    assert cli("seed", "demo", "--services", "400", "--customers", "60").exit_code == 0
    db.transaction(
        lambda session: [catalog_module.add_server(session, admin, name=f"extra-{n}", module="manual", url=f"https://extra-{n}.example.net") for n in range(5)]
    )
    with db.read() as session:
        suspended_manual = session.exec(select(Service.id).where(Service.status == "suspended", Service.type == "manual").order_by(col(Service.id))).all()
        active = session.exec(
            select(Service.id).where(Service.status == "active", col(Service.expires_at).is_not(None)).order_by(col(Service.id)).limit(9)
        ).all()
        customers = session.exec(select(Customer.email).order_by(col(Customer.id)).limit(9)).all()
    assert cli("services", "unsuspend", "--status", "suspended", "--yes").exit_code in (1, 3)
    assert len(suspended_manual) > 7
    for service_id in active:
        assert cli("services", "add-days", str(service_id), "--days", "1").exit_code == 0
    for email in customers:
        assert cli("invoices", "create", "--customer", email, "--order", "Web Hosting Pro").exit_code == 0


LISTS = [
    (["customers", "list"], Customer, "customer", True),
    (["products", "list"], Product, "product", False),
    (["servers", "list"], Server, "server", False),
    (["invoices", "list"], Invoice, "invoice", True),
    (["jobs", "list"], Job, "job", True),
    (["notify", "list"], Notification, "notification", True),
    (["services", "bulk", "list"], BulkRun, "bulk_run", True),
]


def test_every_list_with_ids_streams_every_row_in_keyset_pages_and_says_when_a_limit_cuts(cli, db, admin, statements, monkeypatch):
    make_rows(cli, db, admin)
    monkeypatch.setattr(output, "PAGE_ROWS", 7)
    for command, model, table, newest_first in LISTS:
        with db.read() as session:
            expected = session.exec(select(model.id).order_by(col(model.id).desc() if newest_first else col(model.id))).all()
        assert len(expected) > 7, command
        statements.clear()
        every = cli(*command, "--format", "ids")
        assert every.exit_code == 0 and every.lines == [str(i) for i in expected] and every.stderr == "", command
        pages = [sql for sql in statements if re.search(rf"\bFROM {table}\b", sql) and "LIMIT" in sql]
        assert len(pages) == len(expected) // 7 + 1, (command, len(pages))

        cut = cli(*command, "--limit", "3")
        assert cut.exit_code == 0 and len(cut.lines) == 4, (command, cut.stdout)
        assert cut.stderr.strip() == f"3 of {len(expected)} shown; --limit N or --all", command
        whole = cli(*command, "--all", "--format", "json")
        assert [row["id"] for row in json.loads(whole.stdout)] == list(expected) and whole.stderr == "", command
