"""`db upgrade` keeps every row of a database made by the first released schema, and
`db backup` writes a consistent copy while another process keeps writing.

The old database is real revision 0001 (alembic `upgrade(db, "0001")`), filled with what the
application writes: a database at head is filled through the CLI and core (every table gets
rows), then its rows are copied, column by column as revision 0001 has them, into the old one.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Column, MetaData, Numeric, Table, func, inspect, select, text
from sqlalchemy.engine import make_url

from svcconsole.core import actions, clock, leases, logins
from svcconsole.core.context import open_database
from svcconsole.modules import Credentials, external_key
from svcconsole.store import schema
from svcconsole.store.engine import Database, DuplicateValue
from svcconsole.store.models import (
    MONEY,
    Drift,
    InvoiceLine,
    Money,
    PanelResourceRow,
    ProductPrice,
    RateBucket,
    Renewal,
    Server,
    Service,
    ServiceOption,
    Upgrade,
    metadata,
)
from tests.conftest import FROZEN_NOW, Cli, _admin_engine, new_service, postgres_base_url
from tests.reliability.support import finish, run_cli, spawn_cli, stop, wait_until

OLD_MONEY = Numeric(12, 2)


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it (no template): a new file, or a new PostgreSQL database."""
    base = postgres_base_url()
    if base is None:
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    name = f"svct_old_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = _admin_engine(base)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fill_every_table(db: Database, admin, cli) -> None:  # type: ignore[no-untyped-def]
    """Rows in every table, written the way the application writes them."""
    with clock.frozen_at(FROZEN_NOW):
        assert cli("seed", "demo", "--services", "150", "--seed", "7").exit_code == 0
        assert cli("settings", "set", "invoice_generation_days", "10").exit_code == 0
        assert cli("services", "meta", "3", "set", "max_renewals", "5").exit_code == 0
        assert cli("customers", "edit", "1", "--notes", "pays by bank transfer").exit_code == 0
        assert cli("services", "add-days", "1", "2", "--days", "3", "--yes").exit_code == 0
        assert cli("services", "renew", "4", "--free").exit_code in (0, 1)
        assert cli("products", "options", "1", "add", "--name", "Backup slots", "--min", "0", "--max", "5", "--price", "1.25").exit_code == 0
        result = cli("automation", "run", "--at", (FROZEN_NOW + timedelta(days=20)).isoformat())
        assert result.exit_code in (0, 3), result.stderr
    worker = cli("worker", "--once")
    assert worker.exit_code in (0, 3), worker.stderr
    with db.read() as session:
        upgradable = session.execute(
            text("SELECT s.id, p.upgrade_targets FROM service s JOIN product p ON p.id = s.product_id WHERE s.status = 'active' AND s.type = 'manual'")
        ).all()
    service_id, targets = next((sid, t) for sid, t in upgradable if t and t != "[]")
    target = (targets if isinstance(targets, list) else __import__("json").loads(targets))[0]
    with clock.frozen_at(FROZEN_NOW):
        result = cli("services", "upgrade", str(service_id), "--to", str(target), "--billing", "invoice")
        assert result.exit_code == 0, result.stderr
        assert cli("services", "abuse", str(service_id), "--note", "spam reported by a network").exit_code == 0
        assert cli("services", "edit", str(service_id), "--domain", "bücher.example").exit_code == 0

    def satellites(session):  # type: ignore[no-untyped-def]
        service = session.get(Service, 5)
        actions.queue_job(session, admin, service, "suspend", "suspend", {"kind": "admin"})
        logins.store(service, Credentials("user5", "provisioned-by-a-module"))
        leases.take(session, "migration-test")
        session.add(RateBucket(key="k" * 64, tokens=3.5, updated_at=FROZEN_NOW))
        server_id = service.server_id or session.execute(select(Server.id)).scalar()
        session.add(
            PanelResourceRow(
                server_id=server_id, key="42", name="by hand", owner_email="x@example.com", suspended=True, limits={"memory": 1024}, seen_at=FROZEN_NOW
            )
        )
        session.add(
            Drift(kind="status", server_id=server_id, service_id=5, external="42", field="suspended", billing="active", panel="suspended",
                  fix="unsuspend on the panel", first_seen=FROZEN_NOW, last_seen=FROZEN_NOW, resolved_at=FROZEN_NOW)
        )  # fmt: skip

    db.transaction(satellites)
    with db.engine.connect() as connection:
        empty = [name for name, table in metadata.tables.items() if connection.execute(text(f"SELECT count(*) FROM {name}")).scalar() == 0]
    assert empty == [], f"fill these tables too: {empty}"


def as_stored_before_0004(column_type):  # type: ignore[no-untyped-def]
    """The type a column had before revision 0004 (money was NUMERIC(12, 2) on SQLite too)."""
    return OLD_MONEY if isinstance(column_type, Money) else column_type


def copy_rows(source: Database, target: Database) -> None:
    """Copy every row into `target` (a schema older than 0004), keeping only the columns it has."""
    target_columns = {name: {column["name"] for column in inspect(target.engine).get_columns(name)} for name in inspect(target.engine).get_table_names()}
    with source.engine.connect() as reader, target.engine.begin() as writer:
        for table in metadata.sorted_tables:
            if table.name not in target_columns:
                continue
            kept = [column for column in table.columns if column.name in target_columns[table.name]]
            narrowed = Table(table.name, MetaData(), *[Column(column.name, column.type, primary_key=column.primary_key) for column in kept])
            old = Table(table.name, MetaData(), *[Column(column.name, as_stored_before_0004(column.type), primary_key=column.primary_key) for column in kept])
            rows = [dict(row._mapping) for row in reader.execute(narrowed.select())]
            if rows:
                writer.execute(old.insert(), rows)
            if target.is_postgresql and "id" in narrowed.c:
                writer.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM {table.name}))"))


def snapshot(db: Database, tables: dict[str, list[str]], *, money_type) -> dict[str, list[tuple]]:  # type: ignore[type-arg, no-untyped-def]
    """The raw stored values of the given columns of every table, in key order; money columns
    read as `Decimal` through `money_type` (the only columns revision 0004 rewrites, on SQLite)."""
    result = {}
    with db.engine.connect() as connection:
        for name, columns in tables.items():
            keys = [column.name for column in metadata.tables[name].primary_key.columns]
            quoted = ", ".join(f'"{column}"' for column in columns)
            money = {column: money_type for column in columns if isinstance(metadata.tables[name].c[column].type, Money)}
            query = text(f"SELECT {quoted} FROM {name} ORDER BY {', '.join(keys)}")
            result[name] = [tuple(row) for row in connection.execute(query.columns(**money) if money else query)]
    return result


def test_db_upgrade_from_the_first_schema_keeps_every_row_and_search_finds_old_rows(db, admin, cli, empty_url, tmp_path):
    fill_every_table(db, admin, cli)
    old = Database(empty_url)
    try:
        schema.upgrade(old, "0001")
        assert schema.current_revision(old) == "0001"
        copy_rows(db, old)
        existing = set(inspect(old.engine).get_table_names())
        old_tables = {
            name: [column["name"] for column in inspect(old.engine).get_columns(name)]
            for name in metadata.tables
            if name in existing and name != "alembic_version"
        }
        before = snapshot(old, old_tables, money_type=OLD_MONEY)
    finally:
        old.dispose()
    key_file = db.sqlite_file.with_name(db.sqlite_file.name + ".key") if db.sqlite_file else None
    if key_file is not None and key_file.exists():
        shutil.copy(key_file, tmp_path / "old.db.key")

    later = Cli(empty_url)
    refused = later("services", "list")
    assert refused.exit_code == 1 and "run `svcconsole db upgrade`" in refused.stderr

    upgraded = run_cli(empty_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "upgraded from 0001 to" in upgraded.stderr

    new = open_database(empty_url)
    try:
        assert schema.check(new).ok, schema.check(new)
        after = snapshot(new, old_tables, money_type=MONEY)
        for name in old_tables:
            assert len(after[name]) == len(before[name]), name
            assert after[name] == before[name], f"{name}: rows changed by the upgrade"
        with new.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT s.id, s.name, s.uuid, s.search_text, c.email FROM service s JOIN customer c ON c.id = s.customer_id ORDER BY s.id")
            ).all()
        assert rows and all(row.search_text == row.search_text.lower() and row.name.lower() in row.search_text and row.email in row.search_text for row in rows)
        sample = rows[len(rows) // 2]
        for term in (sample.uuid[:13], sample.email, sample.name):
            found = later("services", "list", "--search", term, "--limit", "0", "-f", "ids")
            assert found.exit_code == 0, found.stderr
            assert str(sample.id) in found.stdout.split(), (term, found.stdout)
        created = later("services", "create", "--customer", "1", "--name", "after-upgrade-zebra", "--type", "manual", "--price", "1.00")
        assert created.exit_code == 0, created.stderr
        assert int(created.stdout) > max(row.id for row in rows), "new ids continue after the old ones"
        found = later("services", "list", "--search", "upgrade-zeb", "-f", "ids")
        assert found.stdout.split() == [created.stdout.strip()]
    finally:
        new.dispose()


MONEY_ROWS_AT_0003 = (
    "INSERT INTO customer (id, name, email, created_at) VALUES (1, 'Alice', 'alice@example.com', '2026-01-01 00:00:00')",
    "INSERT INTO product (id, name, type, config, allow_customer_cancel, upgrade_targets, created_at) VALUES (1, 'Web', 'manual', '{}', true, '[]', '2026-01-01 00:00:00')",
    "INSERT INTO product (id, name, type, config, allow_customer_cancel, upgrade_targets, created_at) VALUES (2, 'Web Max', 'manual', '{}', true, '[]', '2026-01-01 00:00:00')",
    "INSERT INTO product_price (id, product_id, billing_cycle, price, setup_fee, currency) VALUES (1, 1, 'monthly', 0.1, 12.345, 'EUR')",
    "INSERT INTO service (id, uuid, customer_id, customer_name, product_id, type, name, status, billing_cycle, price, initial_price, currency, created_at, expires_at, auto_renew, renewals, external, delivery_attempts, version, search_text) "
    "VALUES (1, '00000000-0000-4000-8000-000000000001', 1, 'Alice', 1, 'manual', 'old-priced-zebra', 'active', 'monthly', 19.99, 12.345, 'EUR', '2026-01-01 00:00:00', '2026-12-01 00:00:00', true, 0, '{}', 0, 1, 'old-priced-zebra alice alice@example.com web 00000000-0000-4000-8000-000000000001')",
    "INSERT INTO service (id, uuid, customer_id, customer_name, product_id, type, name, status, billing_cycle, price, initial_price, currency, created_at, auto_renew, renewals, external, delivery_attempts, version, search_text) "
    "VALUES (2, '00000000-0000-4000-8000-000000000002', 1, 'Alice', 1, 'manual', 'cheap', 'active', 'monthly', 0.1, 9999999999.99, 'EUR', '2026-01-01 00:00:00', true, 0, '{}', 0, 1, 'cheap')",
    "INSERT INTO service_option (id, service_id, name, quantity, price, created_at) VALUES (1, 1, 'Extra IPv4', 3, 0.1, '2026-01-01 00:00:00')",
    "INSERT INTO invoice (id, customer_id, status, currency, created_at) VALUES (1, 1, 'unpaid', 'EUR', '2026-01-01 00:00:00')",
    "INSERT INTO invoice_line (id, invoice_id, service_id, kind, description, amount, details) VALUES (1, 1, 1, 'option', 'a', 0.1, '{}')",
    "INSERT INTO invoice_line (id, invoice_id, service_id, kind, description, amount, details) VALUES (2, 1, 1, 'option', 'b', 0.1, '{}')",
    "INSERT INTO invoice_line (id, invoice_id, service_id, kind, description, amount, details) VALUES (3, 1, 1, 'option', 'c', 0.1, '{}')",
    "INSERT INTO invoice_line (id, invoice_id, service_id, kind, description, amount, details) VALUES (4, 1, 1, 'option', 'd', 1.005, '{}')",
    "INSERT INTO renewal (id, service_id, period_end, billing_cycle, cycles, amount, renewed_at, actor) VALUES (1, 1, '2026-02-01 00:00:00', 'monthly', 1, 19.99, '2026-01-01 00:00:00', 'root')",
    "INSERT INTO upgrade (id, service_id, from_product_id, to_product_id, mode, amount, status, created_at) VALUES (1, 1, 1, 2, 'invoice', 12.345, 'done', '2026-01-01 00:00:00')",
)
"""Revision 0003 rows with money as SQLite stored it then (REAL: 0.1, 19.99, and hand-written
12.345 and 1.005, which the application never wrote: the upgrade rounds them half away from
zero as written in decimal, to 12.35 and 1.01)."""


def test_db_upgrade_from_0003_converts_float_money_to_exact_cents_without_loss(empty_url):
    old = Database(empty_url)
    try:
        schema.upgrade(old, "0003")
        with old.engine.begin() as connection:
            for statement in MONEY_ROWS_AT_0003:
                connection.execute(text(statement))
            if old.is_postgresql:
                for table in ("customer", "product", "product_price", "service", "service_option", "invoice", "invoice_line", "renewal", "upgrade"):
                    connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
            if old.is_sqlite:
                assert connection.execute(text("SELECT typeof(price) FROM service WHERE id = 2")).scalar_one() == "real"
                assert connection.execute(text("SELECT sum(amount) FROM invoice_line WHERE id <= 3")).scalar_one() == 0.30000000000000004
        before, after = schema.upgrade(old)
        assert (before, after) == ("0003", schema.HEAD_REVISION)
    finally:
        old.dispose()

    new = open_database(empty_url)
    try:
        assert schema.check(new).ok, schema.check(new)
        with new.read() as session:
            money = {
                "product_price": session.execute(select(ProductPrice.price, ProductPrice.setup_fee)).one(),
                "service": session.execute(select(Service.price, Service.initial_price).order_by(Service.id)).all(),
                "option": session.execute(select(ServiceOption.price)).scalar_one(),
                "lines": session.execute(select(InvoiceLine.amount).order_by(InvoiceLine.id)).scalars().all(),
                "renewal": session.execute(select(Renewal.amount)).scalar_one(),
                "upgrade": session.execute(select(Upgrade.amount)).scalar_one(),
                "sum": session.execute(select(func.sum(InvoiceLine.amount)).where(InvoiceLine.id <= 3)).scalar_one(),
            }
        assert money == {
            "product_price": (Decimal("0.10"), Decimal("12.35")),
            "service": [(Decimal("19.99"), Decimal("12.35")), (Decimal("0.10"), Decimal("9999999999.99"))],
            "option": Decimal("0.10"),
            "lines": [Decimal("0.10"), Decimal("0.10"), Decimal("0.10"), Decimal("1.01")],
            "renewal": Decimal("19.99"),
            "upgrade": Decimal("12.35"),
            "sum": Decimal("0.30"),
        }
        if new.is_sqlite:
            with new.engine.connect() as connection:
                stored = connection.execute(text("SELECT typeof(price), price, typeof(initial_price), initial_price FROM service ORDER BY id")).all()
            assert [tuple(row) for row in stored] == [("integer", 1999, "integer", 1235), ("integer", 10, "integer", 999999999999)]
        later = Cli(empty_url)
        listed = later("services", "list", "--sort", "price", "--format", "ids")
        assert listed.stdout.split() == ["2", "1"]
        found = later("services", "list", "--search", "priced-zeb", "--format", "ids")
        assert found.stdout.split() == ["1"], "the search index survived the column changes"
        with clock.frozen_at(FROZEN_NOW):
            renewed = later("services", "renew", "1", "--invoice", "new")
        assert renewed.exit_code == 0, renewed.stderr
        with new.read() as session:
            line = session.execute(select(InvoiceLine.amount).order_by(InvoiceLine.id.desc()).limit(1)).scalar_one()  # type: ignore[union-attr]
        assert line == Decimal("20.29"), "19.99 plus three options at 0.10"
    finally:
        new.dispose()


def _service_at_0004(service_id: int, server_id: int, module: str, status: str, external: str) -> str:
    return (
        "INSERT INTO service (id, uuid, customer_id, customer_name, server_id, type, name, status, billing_cycle, price, initial_price, currency, created_at, auto_renew, renewals, external, delivery_attempts, version, search_text) "
        f"VALUES ({service_id}, '00000000-0000-4000-8000-{service_id:012d}', 1, 'Alice', {server_id}, '{module}', 'svc-{service_id}', '{status}', 'monthly', 0, 0, 'EUR', '2026-01-01 00:00:00', true, 0, '{external}', 0, 1, 'svc-{service_id}')"
    )


EXTERNALS_AT_0004 = (
    (1, 1, "pterodactyl", "active", '{"server_id": 5, "identifier": "0000aa05"}', "5"),
    (2, 1, "pterodactyl", "suspended", '{"server_id": 5}', None),
    (3, 1, "pterodactyl", "terminated", '{"server_id": 5}', "5"),
    (4, 1, "pterodactyl", "pending", '{"server_id": "6"}', "6"),
    (5, 2, "proxmox", "active", '{"vmid": 101, "node": "pve1", "imported": true}', "101"),
    (6, 2, "proxmox", "active", '{"node": "pve1"}', None),
    (7, 3, "manual", "active", '{"ref": "rack-7"}', "rack-7"),
    (8, 3, "manual", "active", "{}", None),
    (9, 3, "manual", "active", '{"ref": "rack-7"}', None),
)
"""(id, server, module, status, external, the key the upgrade gives it): service 2 and 9 hold a
resource an older live service holds already (data from before imports were checked)."""


def test_db_upgrade_to_external_keys_backfills_them_and_survives_duplicate_imports(empty_url):
    old = Database(empty_url)
    try:
        schema.upgrade(old, "0004")
        with old.engine.begin() as connection:
            connection.execute(text("INSERT INTO customer (id, name, email, created_at) VALUES (1, 'Alice', 'alice@example.com', '2026-01-01 00:00:00')"))
            for server_id, module in ((1, "pterodactyl"), (2, "proxmox"), (3, "manual")):
                connection.execute(
                    text(
                        f"INSERT INTO server (id, name, module, url, enabled, config, created_at) VALUES ({server_id}, '{module}-1', '{module}', 'https://{module}.example.net', true, '{{}}', '2026-01-01 00:00:00')"
                    )
                )
            for service_id, server_id, module, status, external, _ in EXTERNALS_AT_0004:
                connection.execute(text(_service_at_0004(service_id, server_id, module, status, external)))
        assert schema.upgrade(old) == ("0004", schema.HEAD_REVISION)
    finally:
        old.dispose()

    new = open_database(empty_url)
    try:
        assert schema.check(new).ok, schema.check(new)
        with new.read() as session:
            rows = session.execute(select(Service.id, Service.type, Service.external, Service.external_key).order_by(Service.id)).all()
        assert [(row.id, row.external_key) for row in rows] == [(service_id, key) for service_id, *_, key in EXTERNALS_AT_0004]
        for row in rows:
            if row.id not in (2, 9):
                assert row.external_key == external_key(row.type, row.external), "the SQL backfill reads keys as the modules do"

        def second_live_holder(session):  # type: ignore[no-untyped-def]
            session.execute(text("UPDATE service SET external_key = '5' WHERE id = 2"))

        with pytest.raises(DuplicateValue):
            new.transaction(second_live_holder)
    finally:
        new.dispose()


# ----------------------------------------------------------------------------- backups

WRITER = """
import itertools, sys, time
from svcconsole.core import actions, records
from svcconsole.core.context import acting_operator, open_database
db = open_database(sys.argv[1])
admin = acting_operator(db)
print("ready", flush=True)
for number in itertools.count():
    draft = records.ServiceDraft(customer="1", name=f"written-{number}", type="manual", price="1.00", expires="2027-01-31")
    db.transaction(lambda session: records.create_service(session, admin, draft))
"""


def _services(db: Database) -> int:
    with db.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM service")).scalar_one()


def test_db_backup_while_another_process_writes_is_a_consistent_copy_that_db_check_accepts(db, admin, catalog, tmp_path):
    for _ in range(20):
        new_service(db, admin, catalog)
    writer = subprocess.Popen([os.sys.executable, "-c", WRITER, db.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        start = _services(db)
        wait_until(lambda: _services(db) >= start + 15, timeout=30, what="the writer to write")
        target = tmp_path / ("copy.db" if db.is_sqlite else "copy.dump")
        backup = spawn_cli(db.url, "db", "backup", str(target))
        code, _, stderr = finish(backup, timeout=60)
        assert code == 0, stderr
        assert writer.poll() is None, "the writer must still be running"
        wait_until(lambda: _services(db) >= start + 30, timeout=30, what="more writes after the backup")
    finally:
        stop(writer)
    assert target.stat().st_mode & 0o777 == 0o600
    if db.is_sqlite:
        with sqlite3.connect(target) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            copied = copy.execute("SELECT count(*), max(id) FROM service").fetchone()
            names = [row[0] for row in copy.execute("SELECT name FROM service WHERE name LIKE 'written-%' ORDER BY id")]
            activity = copy.execute("SELECT count(*) FROM activity WHERE action = 'create'").fetchone()[0]
        copy_url = f"sqlite:///{target}"
    else:
        copy_url = restore_dump(db, target)
        copy = Database(copy_url)
        with copy.engine.connect() as connection:
            copied = tuple(connection.execute(text("SELECT count(*), max(id) FROM service")).one())
            names = [row[0] for row in connection.execute(text("SELECT name FROM service WHERE name LIKE 'written-%' ORDER BY id"))]
            activity = connection.execute(text("SELECT count(*) FROM activity WHERE action = 'create'")).scalar_one()
        copy.dispose()
    assert start + 15 <= copied[0] < _services(db), "the copy is a moment during the writes"
    assert names == [f"written-{number}" for number in range(len(names))], "no write torn or missing in the copy"
    assert activity == copied[0], "every copied service has its activity row: no half-committed transaction"
    checked = run_cli(copy_url, "db", "check", "-f", "json")
    assert checked.returncode == 0 and '"ok": true' in checked.stdout, checked.stdout + checked.stderr


def restore_dump(db: Database, dump: Path) -> str:
    """Restore a pg_dump custom-format file into a new database; its URL (dropped at exit)."""
    url = make_url(db.url)
    name = f"{url.database}_restored"
    admin = _admin_engine(postgres_base_url())  # type: ignore[arg-type]
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    args = [
        "pg_restore",
        "--no-owner",
        "--dbname",
        name,
        "--host",
        url.host or "127.0.0.1",
        "--port",
        str(url.port or 5432),
        "--username",
        url.username or "postgres",
        str(dump),
    ]
    restored = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert restored.returncode == 0, restored.stderr
    _RESTORED.append((admin, name))
    return url.set(database=name).render_as_string(hide_password=False)


_RESTORED: list[tuple[object, str]] = []


@pytest.fixture(autouse=True)
def _drop_restored() -> Iterator[None]:
    yield
    while _RESTORED:
        admin, name = _RESTORED.pop()
        with admin.connect() as connection:  # type: ignore[attr-defined]
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()  # type: ignore[attr-defined]


def test_db_backup_on_postgresql_without_pg_dump_says_how_to_back_up(db, cli, tmp_path, monkeypatch: pytest.MonkeyPatch):
    """PostgreSQL backups need pg_dump; without it the command explains what to run."""
    if db.is_sqlite:
        monkeypatch.setenv("PATH", "")
        result = cli("db", "backup", str(tmp_path / "online.db"))
        assert result.exit_code == 0, "SQLite backups need no external tool"
        return
    monkeypatch.setattr(schema.shutil, "which", lambda name: None)
    result = cli("db", "backup", str(tmp_path / "x.dump"))
    assert result.exit_code == 1
    assert (
        result.stderr.strip()
        == "error: backup: PostgreSQL backups use pg_dump, which is not installed here; run `pg_dump --format=custom --file PATH DBNAME` on the database host"
    )


OPTIONS_AT_0013 = (
    (1, "Extra memory", "2048", 1, ("memory", 2048)),
    (2, "Extra cores", None, 3, ("cores", 3)),
    (3, "Backups", "daily", 1, (None, None)),
    (4, "Extra disk", "lots", 1, (None, None)),
)
"""(id, name, value, quantity, (resource, amount) after the upgrade): a choice and a quantity of
the catalogue are kept with what they add; an option outside the catalogue and a choice that is
not a number add nothing."""


def test_db_upgrade_to_0014_keeps_on_each_chosen_option_what_its_catalogue_adds(empty_url):
    old = Database(empty_url)
    try:
        schema.upgrade(old, "0013")
        with old.engine.begin() as connection:
            connection.execute(text("INSERT INTO customer (id, name, email, created_at) VALUES (1, 'Alice', 'alice@example.com', '2026-01-01 00:00:00')"))
            connection.execute(
                text(
                    "INSERT INTO product (id, name, type, config, allow_customer_cancel, upgrade_targets, created_at) "
                    "VALUES (1, 'VPS M', 'proxmox', '{\"memory\": \"4096\"}', true, '[]', '2026-01-01 00:00:00')"
                )
            )
            for option_id, name, choices, resource, unit in (
                (1, "Extra memory", '[{"value": "2048", "price": "4.00"}]', "memory", 1),
                (2, "Extra cores", "[]", "cores", 1),
                (3, "Extra disk", '[{"value": "lots", "price": "1.00"}]', "disk", 1),
            ):
                connection.execute(
                    text(
                        "INSERT INTO product_option (id, product_id, name, choices, minimum, maximum, unit_price, resource, unit, created_at) "
                        f"VALUES ({option_id}, 1, '{name}', '{choices}', 1, 8, 0, '{resource}', {unit}, '2026-01-01 00:00:00')"
                    )
                )
            connection.execute(
                text(
                    "INSERT INTO service (id, uuid, customer_id, customer_name, product_id, type, name, status, billing_cycle, price, initial_price, currency, "
                    "created_at, auto_renew, renewals, external, delivery_attempts, version, search_text) VALUES (1, '00000000-0000-4000-8000-000000000001', "
                    "1, 'Alice', 1, 'proxmox', 'vps', 'active', 'monthly', 0, 0, 'EUR', '2026-01-01 00:00:00', true, 0, '{}', 0, 1, 'vps')"
                )
            )
            for option_id, name, value, quantity, _ in OPTIONS_AT_0013:
                shown = "NULL" if value is None else f"'{value}'"
                connection.execute(
                    text(
                        "INSERT INTO service_option (id, service_id, name, value, quantity, price, created_at) "
                        f"VALUES ({option_id}, 1, '{name}', {shown}, {quantity}, 0, '2026-01-01 00:00:00')"
                    )
                )
        assert schema.upgrade(old) == ("0013", schema.HEAD_REVISION)
    finally:
        old.dispose()
    new = open_database(empty_url)
    try:
        with new.read() as session:
            kept = {row.id: (row.resource, row.amount) for row in session.execute(select(ServiceOption)).scalars()}
        assert kept == {option_id: expected for option_id, _, _, _, expected in OPTIONS_AT_0013}
    finally:
        new.dispose()
