"""Realistic demo data, fast enough for scale work (a million services in well under a minute).

Catalog rows go through the ORM; customers, services and their satellites are written with
`executemany` (SQLite) or `COPY` (PostgreSQL) in batches, with ids assigned here so options,
metadata, renewals and activity can point at their services without reading them back.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import random
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Index, func, select, text
from sqlmodel import Session

from svcconsole.core import clock, cycles
from svcconsole.core.operators import SYSTEM
from svcconsole.core.seed_catalog import COMPANIES, FIRST_NAMES, LAST_NAMES, WORDS, ensure_catalog
from svcconsole.store import search, sort_keys
from svcconsole.store.engine import Database
from svcconsole.store.models import Activity, Customer, Renewal, Server, Service, ServiceOption, money_to_storage

BATCH = 20_000
PROCESS_THRESHOLD = 100_000

STATUS_WEIGHTS = (("active", 70), ("suspended", 8), ("pending", 3), ("expired", 5), ("cancelled", 6), ("terminated", 7), ("deleted", 1))
SUSPEND_KINDS = (("overdue", 60), ("admin", 15), ("abuse", 10), ("client", 10), ("temporary", 5))

OPTION_NAMES = ("Extra IPv4", "Backup slot", "Extra 10 GB disk", "Priority support")

SERVICE_COLUMNS = (
    "id",
    "uuid",
    "customer_id",
    "customer_name",
    "product_id",
    "product_name",
    "server_id",
    "server_name",
    "type",
    "name",
    "description",
    "notes",
    "status",
    "suspend_kind",
    "suspend_reason",
    "suspended_at",
    "billing_cycle",
    "anchor_day",
    "price",
    "initial_price",
    "currency",
    "created_at",
    "expires_at",
    "auto_renew",
    "renewals",
    "max_renewals",
    "cancel_mode",
    "cancel_at",
    "cancel_reason",
    "cancelled_at",
    "terminated_at",
    "deleted_at",
    "external",
    "external_key",
    "delivery_attempts",
    "last_error",
    "operation",
    "version",
    "updated_at",
    "updated_by",
    "search_text",
    "name_sort",
    "cycle_rank",
)


@dataclass
class SeedResult:
    services: int
    customers: int
    products: int
    servers: int


def _weighted(rng: random.Random, table: Sequence[tuple[str, int]]) -> Iterator[str]:
    names = [name for name, _ in table]
    weights = [weight for _, weight in table]
    while True:
        yield from rng.choices(names, weights, k=4096)


@dataclass(frozen=True)
class _Format:
    """Values in the driver's terms (SQLite: SQLAlchemy's text dates and integer cents), so the hot
    loop converts nothing cell by cell and rows can be built in another process."""

    sqlite: bool

    def time(self, value: datetime | None) -> Any:
        """A naive UTC datetime as the driver stores it."""
        if value is None:
            return None
        if self.sqlite:
            return value.isoformat(" ", "microseconds")
        return value.replace(tzinfo=UTC)

    def money(self, value: Decimal) -> Any:
        return money_to_storage(value, sqlite=self.sqlite)

    @staticmethod
    def json(value: Any) -> str:
        return json.dumps(value) if value else "{}"


class _Writer:
    """Bulk row writer: executemany on SQLite, COPY on PostgreSQL, in one transaction."""

    def __init__(self, db: Database, connection: Any) -> None:
        self.db = db
        self.format = _Format(db.is_sqlite)
        self.cursor = connection.cursor()
        if db.is_sqlite:
            self.cursor.execute("PRAGMA cache_size=-262144")

    def write(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.db.is_sqlite:
            marks = ",".join("?" for _ in columns)
            self.cursor.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)
            return
        with self.cursor.copy(f"COPY {table} ({','.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _next_id(session: Session, model: Any) -> int:
    return (session.execute(select(func.max(model.id))).scalar() or 0) + 1


@dataclass
class _Plan:
    """Everything the row generator needs, read from the catalog before it starts."""

    first_customer: int
    first_service: int
    first_option: int
    first_renewal: int
    first_activity: int
    customer_names: list[str]
    customer_emails: list[str]
    offers: list[tuple[Any, ...]]
    with_deleted: bool = True


Batch = tuple[list[tuple[Any, ...]], ...]


def _service_batches(writer: _Format, plan: _Plan, services: int, rng: random.Random, now: datetime) -> Iterator[Batch]:
    """Rows for services, options, metadata, renewals and activity, BATCH services at a time."""
    T = writer.time
    statuses = _weighted(rng, STATUS_WEIGHTS)
    kinds = _weighted(rng, SUSPEND_KINDS)
    customer_count = len(plan.customer_names)
    option_id, renewal_id, activity_id = plan.first_option, plan.first_renewal, plan.first_activity
    with_activity = services <= 20_000
    batch: Batch = ([], [], [], [], [])
    service_rows, option_rows, meta_rows, renewal_rows, activity_rows = batch
    for index in range(services):
        service_id = plan.first_service + index
        product_id, product_name, product_type, cycle, stored_amount, currency, server_choices = plan.offers[rng.randrange(len(plan.offers))]
        server_id, server_name = rng.choice(server_choices)
        customer_index = rng.randrange(customer_count)
        status = next(statuses)
        if status == "deleted" and not plan.with_deleted:
            status = "terminated"
        created = now - timedelta(days=rng.randint(1, 900), seconds=rng.randint(0, 86399))
        recurring = cycles.is_recurring(cycle)
        if status in {"active", "pending"}:
            expires: datetime | None = now + timedelta(days=rng.randint(-2, 365), hours=rng.randint(0, 23))
        elif status == "suspended":
            expires = now - timedelta(days=rng.randint(1, 20))
        else:
            expires = now - timedelta(days=rng.randint(1, 400))
        if not recurring:
            expires = None
        suspend_kind = next(kinds) if status == "suspended" else None
        cancel_mode = cancel_at = cancelled_at = terminated_at = deleted_at = None
        if status == "active" and expires is not None and rng.random() < 0.05:
            cancel_mode, cancel_at = "end-of-cycle", expires
        elif status == "cancelled":
            cancel_mode, cancelled_at = "immediate", expires or now
        elif status == "terminated":
            terminated_at = expires or now
        elif status == "deleted":
            deleted_at = now - timedelta(days=rng.randint(1, 30))
        renewals = rng.randint(0, 24) if status != "pending" else 0
        external, external_key = "{}", None
        if status in {"active", "suspended"}:
            if product_type == "pterodactyl":
                rng.getrandbits(32)
                external_key = str(999 + service_id)
                external = f'{{"server_id": {external_key}, "identifier": "{_identifier(service_id)}"}}'
            elif product_type == "proxmox":
                external_key = str(99 + service_id)
                external = f'{{"vmid": {external_key}, "node": "pve1"}}'
        created_text, expires_text = T(created), T(expires)
        service_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        name = f"{rng.choice(WORDS)}-{service_id}"
        customer_name = plan.customer_names[customer_index]
        service_rows.append(
            (
                service_id,
                service_uuid,
                plan.first_customer + customer_index,
                customer_name,
                product_id,
                product_name,
                server_id,
                server_name,
                product_type,
                name,
                None,
                "VIP customer, call before suspending" if rng.random() < 0.01 else None,
                status,
                suspend_kind,
                "unpaid invoice" if suspend_kind == "overdue" else ("abuse report" if suspend_kind == "abuse" else None),
                T(expires + timedelta(days=1)) if suspend_kind and expires else None,
                cycle,
                expires.day if expires else None,
                stored_amount,
                stored_amount,
                currency,
                created_text,
                expires_text,
                rng.random() < 0.85,
                renewals,
                None,
                cancel_mode,
                T(cancel_at),
                None,
                T(cancelled_at),
                T(terminated_at),
                T(deleted_at),
                external,
                external_key,
                0 if status == "pending" else 1,
                "panel timed out" if status == "pending" and rng.random() < 0.3 else None,
                None,
                1,
                created_text,
                SYSTEM.name,
                search.search_text(name, customer_name, plan.customer_emails[customer_index], product_name, service_uuid),
                sort_keys.natural_key(name),
                sort_keys.cycle_rank(cycle),
            )
        )
        if rng.random() < 0.05:
            option_rows.append(
                (
                    option_id,
                    service_id,
                    rng.choice(OPTION_NAMES),
                    None,
                    rng.randint(1, 3),
                    writer.money(Decimal(rng.choice(("1.00", "2.50", "3.00")))),
                    expires_text,
                    created_text,
                )
            )
            option_id += 1
        if rng.random() < 0.02:
            key = rng.choice(("max_renewals", "max_renewals_in_current_month", "disable_notify_expiration", "order_id"))
            value = {
                "max_renewals": str(renewals + rng.randint(1, 12)),
                "max_renewals_in_current_month": "1",
                "disable_notify_expiration": "true",
                "order_id": f"ORD-{service_id:07d}",
            }[key]
            if key == "max_renewals_in_current_month" and service_id % 2:
                key, value = "max_renewals_in_current_week", "2"
            meta_rows.append((service_id, key, value))
        recorded = 0
        if renewals and expires is not None and rng.random() < 0.2:
            recorded = min(renewals, RECORDED_RENEWALS)
            period_end, end_text = expires.replace(tzinfo=UTC), expires_text
            for _ in range(recorded):
                period_start = cycles.shift(period_end, cycle, -1, expires.day, ZoneInfo("UTC"))
                start = T(period_start.replace(tzinfo=None))
                renewal_rows.append((renewal_id, service_id, start, end_text, cycle, 1, stored_amount, None, start, SYSTEM.name))
                renewal_id += 1
                period_end, end_text = period_start, start
        if recorded != renewals:
            service_rows[-1] = _with_renewals(service_rows[-1], recorded)
        if with_activity:
            activity_rows.append((activity_id, service_id, created_text, "system", SYSTEM.name, "create", None, "pending", None, '{"seed": true}'))
            activity_id += 1
            if status != "pending":
                activity_rows.append(
                    (activity_id, service_id, T(created + timedelta(minutes=2)), "system", SYSTEM.name, "deliver", "pending", "active", None, "{}")
                )
                activity_id += 1
        if len(service_rows) >= BATCH:
            yield batch
            batch = ([], [], [], [], [])
            service_rows, option_rows, meta_rows, renewal_rows, activity_rows = batch
    if service_rows:
        yield batch


RENEWAL_COUNT_AT = SERVICE_COLUMNS.index("renewals")
RECORDED_RENEWALS = 3
"""The most renewals the demo records per service: a service's renewal count is always the number
of renewals its Renewals tab lists."""


def _with_renewals(row: tuple[Any, ...], renewals: int) -> tuple[Any, ...]:
    """A service row with its renewal count set to the renewals recorded for it."""
    return (*row[:RENEWAL_COUNT_AT], renewals, *row[RENEWAL_COUNT_AT + 1 :])


def _identifier(service_id: int) -> str:
    """A panel server identifier (8 hex digits) unique to the service: an odd multiplier is a
    bijection modulo 2**32, so no two services share one."""
    return f"{(service_id * 2654435761) & 0xFFFFFFFF:08x}"


def _produce(out: Any, sqlite: bool, plan: _Plan, services: int, random_seed: int, now: datetime) -> None:
    """Build every batch and hand it to `out` (a queue), then None; an error is handed over too."""
    try:
        for batch in _service_batches(_Format(sqlite), plan, services, random.Random(random_seed), now):
            out.put(batch)
        out.put(None)
    except BaseException as error:  # noqa: BLE001 - handed to the writing side, which raises it
        out.put(RuntimeError(f"seed generator failed: {error!r}"))


def _start_producer(sqlite: bool, plan: _Plan, services: int, random_seed: int, now: datetime) -> tuple[Any, Any]:
    """Rows are built beside the writer: in a child process for large runs (a second core,
    not a thread sharing this interpreter), in a thread for small ones."""
    args = (sqlite, plan, services, random_seed, now)
    out: Any
    worker: Any
    if services >= PROCESS_THRESHOLD:
        context = multiprocessing.get_context("spawn")
        out = context.Queue(maxsize=4)
        worker = context.Process(target=_produce, args=(out, *args), daemon=True)
    else:
        out = queue.Queue(maxsize=4)
        worker = threading.Thread(target=_produce, args=(out, *args), daemon=True)
    worker.start()
    return out, worker


def _secondary_indexes() -> list[Index]:
    return [index for index in Service.__table__.indexes if not index.unique]  # type: ignore[attr-defined]  # SQLModel does not declare __table__ on table models


@contextmanager
def _bulk_session(db: Database) -> Iterator[Session]:
    """A write transaction for bulk loading; on SQLite without per-row foreign key look-ups
    (the seeder makes its references itself)."""
    if not db.is_sqlite:
        with db.write() as session:
            yield session
        return
    with db.engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.execution_options(sqlite_begin="IMMEDIATE").begin():
                with Session(bind=connection, expire_on_commit=False) as session:
                    yield session
                    session.flush()
        finally:
            raw.execute("PRAGMA foreign_keys=ON")


def seed_demo(db: Database, *, services: int, customers: int | None = None, random_seed: int = 42, with_deleted: bool = True) -> SeedResult:
    """Add `services` demo services (and their customers) to the database, in one transaction.

    Without `with_deleted` none of them is deleted (those become terminated), so the list,
    which hides deleted services, shows exactly `services` of them (`svcconsole demo`).

    Into an empty service table, the secondary indexes are dropped first and built once at
    the end, which is several times faster than maintaining them row by row.
    """
    rng = random.Random(random_seed)
    customer_count = customers or max(1, services // 8)
    now = clock.now().replace(microsecond=0, tzinfo=None)
    with _bulk_session(db) as session:
        products, prices, servers = ensure_catalog(session)
        servers_by_module: dict[str, list[Server]] = {}
        for server in servers:
            servers_by_module.setdefault(server.module, []).append(server)
        writer = _Writer(db, session.connection().connection.dbapi_connection)
        plan = _Plan(
            first_customer=_next_id(session, Customer),
            first_service=_next_id(session, Service),
            first_option=_next_id(session, ServiceOption),
            first_renewal=_next_id(session, Renewal),
            first_activity=_next_id(session, Activity),
            customer_names=[],
            customer_emails=[],
            offers=[
                (
                    product.id,
                    product.name,
                    product.type,
                    price.billing_cycle,
                    writer.format.money(price.price),
                    price.currency,
                    [(server.id, server.name) for server in servers_by_module.get(product.type, [])] or [(None, None)],
                )
                for product in products
                for price in prices.get(product.id or 0, [])
            ],
            with_deleted=with_deleted,
        )
        rows: list[tuple[Any, ...]] = []
        for index in range(customer_count):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            customer_id = plan.first_customer + index
            plan.customer_names.append(f"{first} {last}")
            email = f"{first.lower()}.{last.lower()}.{customer_id}@example.com".encode("ascii", "ignore").decode()
            plan.customer_emails.append(email)
            rows.append((customer_id, f"{first} {last}", email, rng.choice(COMPANIES), writer.format.time(now - timedelta(days=rng.randint(0, 1500)))))
            if len(rows) >= BATCH:
                writer.write("customer", ("id", "name", "email", "company", "created_at"), rows)
                rows = []
        writer.write("customer", ("id", "name", "email", "company", "created_at"), rows)

        rebuild = plan.first_service == 1 and services >= 50_000
        connection = session.connection()
        if rebuild:
            for secondary in _secondary_indexes():
                secondary.drop(connection)
            if db.is_sqlite:
                search.drop_sqlite_triggers(connection)
            else:
                search.drop_postgresql_index(connection)
        batches, producer = _start_producer(db.is_sqlite, plan, services, rng.randrange(2**32), now)
        while (batch := batches.get()) is not None:
            if isinstance(batch, BaseException):
                raise batch
            _flush(writer, *batch)
        producer.join()
        if rebuild:
            if db.is_postgresql:
                session.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
            for secondary in _secondary_indexes():
                secondary.create(connection)
            if db.is_sqlite:
                search.rebuild_sqlite_index(connection)
            else:
                search.create_index(connection, "postgresql")
        if db.is_postgresql:
            for table in ("customer", "service", "service_option", "renewal", "activity", "product", "product_price", "server"):
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"))
    return SeedResult(services=services, customers=customer_count, products=len(products), servers=len(servers))


def _flush(writer: _Writer, services: list[Any], options: list[Any], meta: list[Any], renewals: list[Any], activity: list[Any]) -> None:
    writer.write("service", SERVICE_COLUMNS, services)
    writer.write("service_option", ("id", "service_id", "name", "value", "quantity", "price", "expires_at", "created_at"), options)
    writer.write("service_meta", ("service_id", "key", "value"), meta)
    writer.write(
        "renewal", ("id", "service_id", "period_start", "period_end", "billing_cycle", "cycles", "amount", "invoice_id", "renewed_at", "actor"), renewals
    )
    writer.write("activity", ("id", "service_id", "at", "actor_kind", "actor", "action", "from_status", "to_status", "reason", "details"), activity)
    for rows in (services, options, meta, renewals, activity):
        rows.clear()
