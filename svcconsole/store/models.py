"""Every table of svcconsole, as SQLModel classes (SPEC.md section 2).

Times are aware UTC datetimes (read back aware on SQLite too); money is `Decimal` with two
places, stored exactly: NUMERIC(12, 2) on PostgreSQL, integer cents on SQLite (see `Money`). The service row carries the customer, product and server names too,
so the list can sort and show them over a million rows without joins; core keeps them in step
when those records are renamed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, Numeric, Text, UniqueConstraint, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel

from svcconsole.store import domains, sort_keys

CENT = Decimal("0.01")


def money_to_storage(value: Decimal | int | str, *, sqlite: bool) -> Decimal | int:
    """An amount as the database stores it: integer cents on SQLite, a 2-place `Decimal` elsewhere."""
    if isinstance(value, float):
        raise TypeError(f"money is never float: {value!r}")
    amount = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    return int(amount.scaleb(2)) if sqlite else amount


def money_from_storage(value: Any, *, sqlite: bool) -> Decimal:
    """A stored amount (SQLite: integer cents, or a sum of them) as a 2-place `Decimal`."""
    if sqlite:
        return Decimal(int(value)).scaleb(-2)
    return Decimal(value).quantize(CENT)


class Money(TypeDecorator[Decimal]):
    """Money as a 2-place `Decimal`: NUMERIC(12, 2) on PostgreSQL, integer cents on SQLite, whose
    NUMERIC is floating point (0.10 would be stored as a REAL and sums would drift).

    Sums, coalesces and comparisons built on a money column keep this type, so they are exact too.
    """

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(Integer() if dialect.name == "sqlite" else Numeric(12, 2))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else money_to_storage(value, sqlite=dialect.name == "sqlite")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else money_from_storage(value, sqlite=dialect.name == "sqlite")

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        """A number compared with or added to money is money (so SQLite compares cents with cents)."""
        return self


MONEY = Money()


def money_field(default: Decimal | None = Decimal("0.00"), nullable: bool = False) -> Any:
    return Field(default=default, sa_column=Column(MONEY, nullable=nullable))


def json_field(default_factory: Any = dict) -> Any:
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=False))


SORTED_SERVICE_COLUMNS = ("id", "customer_name", "name_sort", "domain_ascii", "product_name", "server_name", "cycle_rank", "price", "expires_at")
"""The list sorts names by `name_sort` and cycles by `cycle_rank` (see `store.sort_keys`)."""


RESOURCE_HOLDING_STATUSES = ("pending", "active", "suspended")
"""The statuses in which a service holds its panel resource: an expired, cancelled, terminated or
deleted service was removed from its panel, so its resource can be imported again."""

HOLDS_RESOURCE = text(f"external_key IS NOT NULL AND status IN ({', '.join(repr(status) for status in RESOURCE_HOLDING_STATUSES)})")


def sort_indexes() -> list[Index]:
    """One index per sortable column: (column, id, status), so a page, a count or a seek over the
    list (which hides deleted services) reads the index alone, never the rows."""
    return [Index(f"ix_service_sort_{column}", column, *(("id",) if column != "id" else ()), "status") for column in SORTED_SERVICE_COLUMNS]


class Customer(SQLModel, table=True):
    """A customer of the hosting company."""

    __tablename__ = "customer"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    email: str = Field(max_length=320, unique=True)
    company: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime
    locale: str | None = Field(default=None, max_length=8)


class Product(SQLModel, table=True):
    """A product sold: the module that delivers it and that module's config."""

    __tablename__ = "product"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    type: str = Field(max_length=50)
    config: dict[str, Any] = json_field()
    max_renewals: int | None = None
    allow_customer_cancel: bool = True
    upgrade_targets: list[Any] = json_field(list)
    server_ids: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    """The server group delivery places this product's services in (empty: the service's own server)."""
    placement: str = Field(default="least-used", max_length=20, sa_column_kwargs={"server_default": "least-used"})
    created_at: datetime


class ProductPrice(SQLModel, table=True):
    """The price of a product for one billing cycle."""

    __tablename__ = "product_price"
    __table_args__ = (UniqueConstraint("product_id", "billing_cycle"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", ondelete="CASCADE")
    billing_cycle: str = Field(max_length=20)
    price: Decimal = money_field()
    setup_fee: Decimal = money_field()
    currency: str = Field(max_length=3)


class ProductOption(SQLModel, table=True):
    """A configurable option a product offers at order time: a list of choices, each with its
    price, or a quantity between `minimum` and `maximum` at `unit_price` each. Prices are per
    billing cycle of the service (added to each renewal). With a `resource` (a build key of the
    module, e.g. memory), the module applies it: a choice's value, or the quantity times `unit`,
    is added to that key of the product's config."""

    __tablename__ = "product_option"
    __table_args__ = (UniqueConstraint("product_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", ondelete="CASCADE")
    name: str = Field(max_length=200)
    choices: list[Any] = json_field(list)
    minimum: int | None = None
    maximum: int | None = None
    unit_price: Decimal = money_field()
    resource: str | None = Field(default=None, max_length=50)
    unit: int = 1
    created_at: datetime


class Server(SQLModel, table=True):
    """A panel or host that services live on; `credentials` is encrypted at rest."""

    __tablename__ = "server"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    module: str = Field(max_length=50)
    url: str = Field(max_length=500)
    credentials: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    node: str | None = Field(default=None, max_length=200)
    capacity: int | None = None
    memory_capacity: int | None = None
    """The most memory (MiB) the server may hand out, where its module reports what is used."""
    disk_capacity: int | None = None
    enabled: bool = True
    config: dict[str, Any] = json_field()
    created_at: datetime
    reconciled_at: datetime | None = None


class Service(SQLModel, table=True):
    """One service a customer bought: its status, billing and what its module stored.

    `external_key` is the panel's id of the resource `external` names (the module says which);
    a unique partial index lets one live service per server hold it.
    """

    __tablename__ = "service"
    __table_args__ = (
        Index("ix_service_status_id", "status", "id"),
        Index("ix_service_status_expires_id", "status", "expires_at", "id"),
        Index("ix_service_customer_id_id", "customer_id", "id"),
        Index("ix_service_product_id_id", "product_id", "id"),
        Index("ix_service_server_id_id", "server_id", "id"),
        Index("ix_service_server_used", "server_id", "status", "operation"),
        *sort_indexes(),
        Index("ix_service_cancel_at", "cancel_at"),
        Index("ux_service_server_resource", "server_id", "external_key", unique=True, sqlite_where=HOLDS_RESOURCE, postgresql_where=HOLDS_RESOURCE),
    )

    id: int | None = Field(default=None, primary_key=True)
    uuid: str = Field(max_length=36, unique=True)
    customer_id: int = Field(foreign_key="customer.id")
    customer_name: str = Field(max_length=200)
    product_id: int | None = Field(default=None, foreign_key="product.id")
    product_name: str | None = Field(default=None, max_length=200)
    server_id: int | None = Field(default=None, foreign_key="server.id")
    server_name: str | None = Field(default=None, max_length=200)
    type: str = Field(max_length=50)
    name: str = Field(max_length=200)
    domain: str | None = Field(default=None, max_length=253)
    """The domain the service is for, as given (`bücher.example`); `domain_ascii` is its punycode form."""
    domain_ascii: str | None = Field(default=None, max_length=253)
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(max_length=20)
    suspend_kind: str | None = Field(default=None, max_length=20)
    suspend_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    suspended_at: datetime | None = None
    billing_cycle: str = Field(max_length=20)
    anchor_day: int | None = None
    price: Decimal = money_field()
    initial_price: Decimal = money_field()
    currency: str = Field(max_length=3)
    created_at: datetime
    expires_at: datetime | None = None
    auto_renew: bool = True
    renewals: int = 0
    max_renewals: int | None = None
    cancel_mode: str | None = Field(default=None, max_length=20)
    cancel_at: datetime | None = None
    cancel_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    cancelled_at: datetime | None = None
    terminated_at: datetime | None = None
    deleted_at: datetime | None = None
    external: dict[str, Any] = json_field()
    external_key: str | None = Field(default=None, max_length=200)
    credentials: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """The login the module provisioned, encrypted (`core.secrets`): JSON of username and password."""
    delivery_attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    operation: str | None = Field(default=None, max_length=20)
    approval: str | None = Field(default=None, max_length=20)
    """`awaiting` while a paid order waits for an admin's approval (the setting order_approval)."""
    placement_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """Why delivery could not place the service on a server with room (it waits, pending)."""
    version: int = 1
    updated_at: datetime | None = None
    updated_by: str | None = Field(default=None, max_length=320)
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    name_sort: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    cycle_rank: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


@event.listens_for(Service, "before_insert")
@event.listens_for(Service, "before_update")
def _keep_sort_keys(mapper: Any, connection: Any, service: Service) -> None:
    """Keep the natural-order name, the cycle's rank and the domain's ASCII form in step with their fields."""
    service.name_sort = sort_keys.natural_key(service.name)
    service.cycle_rank = sort_keys.cycle_rank(service.billing_cycle)
    service.domain_ascii = domains.ascii_or_none(service.domain)


class ServiceOption(SQLModel, table=True):
    """An extra billed with a service (a billing record, not a module change by default)."""

    __tablename__ = "service_option"

    id: int | None = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="service.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)
    value: str | None = Field(default=None, max_length=500)
    quantity: int = 1
    price: Decimal = money_field()
    expires_at: datetime | None = None
    created_at: datetime
    resource: str | None = Field(default=None, max_length=50)
    """The build key this option raises on the panel (from the catalogue when chosen), if any."""
    amount: int | None = None
    """How much it adds to `resource`: kept here so the option outlives its product's catalogue."""


class ServiceMeta(SQLModel, table=True):
    """A key/value pair attached to a service (renewal limits, notices, order data...)."""

    __tablename__ = "service_meta"

    service_id: int = Field(foreign_key="service.id", primary_key=True, ondelete="CASCADE")
    key: str = Field(max_length=100, primary_key=True)
    value: str = Field(sa_column=Column(Text, nullable=False))


class AbuseReport(SQLModel, table=True):
    """An abuse report on a service; open ones count towards the setting `abuse_limit`."""

    __tablename__ = "abuse_report"
    __table_args__ = (Index("ix_abuse_report_service_open", "service_id", "closed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="service.id", ondelete="CASCADE")
    note: str = Field(sa_column=Column(Text, nullable=False))
    reported_by: str = Field(max_length=320)
    created_at: datetime
    closed_at: datetime | None = None
    closed_by: str | None = Field(default=None, max_length=320)


class Renewal(SQLModel, table=True):
    """One renewal of a service: the period it paid for, and how."""

    __tablename__ = "renewal"
    __table_args__ = (Index("ix_renewal_service_renewed", "service_id", "renewed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="service.id", ondelete="CASCADE")
    period_start: datetime | None = None
    period_end: datetime
    billing_cycle: str = Field(max_length=20)
    cycles: int = 1
    amount: Decimal = money_field()
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id")
    renewed_at: datetime
    actor: str = Field(max_length=320)


class Upgrade(SQLModel, table=True):
    """A change of product on a service, billed by invoice or not at all."""

    __tablename__ = "upgrade"

    id: int | None = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="service.id", index=True, ondelete="CASCADE")
    from_product_id: int | None = Field(default=None, foreign_key="product.id")
    to_product_id: int = Field(foreign_key="product.id")
    mode: str = Field(max_length=20)
    amount: Decimal = money_field()
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id")
    status: str = Field(max_length=20)
    created_at: datetime
    completed_at: datetime | None = None


class Invoice(SQLModel, table=True):
    """A bill sent to a customer: renewals, orders, upgrades and options as lines."""

    __tablename__ = "invoice"
    __table_args__ = (Index("ix_invoice_customer_status", "customer_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id")
    status: str = Field(max_length=20)
    currency: str = Field(max_length=3)
    due_at: datetime | None = None
    created_at: datetime
    paid_at: datetime | None = None
    cancelled_at: datetime | None = None


class InvoiceLine(SQLModel, table=True):
    """One line of an invoice; `applied_at` marks it done so paying twice applies it once."""

    __tablename__ = "invoice_line"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True, ondelete="CASCADE")
    service_id: int | None = Field(default=None, foreign_key="service.id", index=True)
    kind: str = Field(max_length=20)
    description: str = Field(max_length=500)
    amount: Decimal = money_field()
    period_start: datetime | None = None
    period_end: datetime | None = None
    details: dict[str, Any] = json_field()
    applied_at: datetime | None = None


class Activity(SQLModel, table=True):
    """The audit trail: one row for every change to a service, with its actor and reason."""

    __tablename__ = "activity"
    __table_args__ = (Index("ix_activity_service_id", "service_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    service_id: int | None = Field(default=None, foreign_key="service.id", ondelete="CASCADE")
    at: datetime
    actor_kind: str = Field(max_length=10)
    actor: str = Field(max_length=320)
    action: str = Field(max_length=50)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str | None = Field(default=None, max_length=20)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    details: dict[str, Any] = json_field()


class BulkRun(SQLModel, table=True):
    """One action over many services; its items are written before it starts."""

    __tablename__ = "bulk_run"

    id: int | None = Field(default=None, primary_key=True)
    action: str = Field(max_length=50)
    params: dict[str, Any] = json_field()
    selection_key: str = Field(max_length=64, index=True)
    actor: str = Field(max_length=320)
    total: int = 0
    started_at: datetime
    finished_at: datetime | None = None


class BulkItem(SQLModel, table=True):
    """One service of a bulk run and how it ended."""

    __tablename__ = "bulk_item"
    __table_args__ = (
        UniqueConstraint("run_id", "service_id"),
        Index("ix_bulk_item_run_outcome", "run_id", "outcome"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="bulk_run.id", ondelete="CASCADE")
    service_id: int = Field(foreign_key="service.id", ondelete="CASCADE")
    outcome: str = Field(max_length=10, default="pending")
    message: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime | None = None


class Job(SQLModel, table=True):
    """Module work in the queue: retried with backoff, resumed after a crash."""

    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_status_next", "status", "next_attempt_at"),
        Index("ix_job_service", "service_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="service.id", ondelete="CASCADE")
    server_id: int | None = Field(default=None, foreign_key="server.id")
    operation: str = Field(max_length=30)
    action: str = Field(max_length=30)
    params: dict[str, Any] = json_field()
    status: str = Field(max_length=10)
    attempts: int = 0
    max_attempts: int = 5
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    next_attempt_at: datetime | None = None
    lease_until: datetime | None = None
    worker: str | None = Field(default=None, max_length=100)
    actor_kind: str = Field(max_length=10, default="admin")
    actor: str = Field(max_length=320)
    created_at: datetime
    updated_at: datetime
    bulk_run_id: int | None = Field(default=None, foreign_key="bulk_run.id", index=True)


class Notification(SQLModel, table=True):
    """A mail in the outbox; `dedupe_key` keeps a notice from being queued twice."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_status", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    service_id: int | None = Field(default=None, foreign_key="service.id", ondelete="SET NULL")
    to_address: str = Field(max_length=320)
    template: str = Field(max_length=50)
    subject: str = Field(max_length=500)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=10)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    created_at: datetime
    sent_at: datetime | None = None


class Setting(SQLModel, table=True):
    """A setting's value, as text; the registry in core knows its type and default."""

    __tablename__ = "setting"

    key: str = Field(max_length=100, primary_key=True)
    value: str = Field(sa_column=Column(Text, nullable=False))


class Operator(SQLModel, table=True):
    """An admin login and its role: viewer, operator or admin."""

    __tablename__ = "operator"

    login: str = Field(max_length=100, primary_key=True)
    role: str = Field(max_length=10)
    created_at: datetime


class Lease(SQLModel, table=True):
    """A named lock with an expiry, so a dead holder cannot block the automation run forever."""

    __tablename__ = "lease"

    name: str = Field(max_length=100, primary_key=True)
    holder: str = Field(max_length=200)
    acquired_at: datetime
    expires_at: datetime


class RateBucket(SQLModel, table=True):
    """A token bucket per panel credential, kept in the database so it holds across hosts."""

    __tablename__ = "rate_bucket"

    key: str = Field(max_length=100, primary_key=True)
    tokens: float
    updated_at: datetime


class AutomationRun(SQLModel, table=True):
    """One automation run: when, by whom, as of when, what each step did, and how it ended."""

    __tablename__ = "automation_run"
    __table_args__ = (Index("ix_automation_run_dry_finished", "dry_run", "finished_at"),)

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    actor: str = Field(max_length=320)
    holder: str = Field(max_length=200)
    at: datetime | None = None
    dry_run: bool = False
    status: str = Field(max_length=10)
    steps: list[Any] = json_field(list)
    settings: dict[str, Any] = json_field()
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class WorkerHeartbeat(SQLModel, table=True):
    """A queue worker's last sign of life, so health can tell a live worker from a dead one."""

    __tablename__ = "worker_heartbeat"

    holder: str = Field(max_length=200, primary_key=True)
    host: str = Field(max_length=200)
    pid: int
    started_at: datetime
    last_seen: datetime
    stopped_at: datetime | None = None
    jobs_done: int = 0


class Drift(SQLModel, table=True):
    """A difference between billing and a panel that reconcile found, kept while it lasts."""

    __tablename__ = "drift"
    __table_args__ = (
        Index("ix_drift_open_kind", "resolved_at", "kind", "id"),
        Index("ix_drift_service", "service_id", "id"),
        Index("ix_drift_server", "server_id", "resolved_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)
    server_id: int | None = Field(default=None, foreign_key="server.id", ondelete="CASCADE")
    service_id: int | None = Field(default=None, foreign_key="service.id", ondelete="CASCADE")
    external: str | None = Field(default=None, max_length=200)
    field: str | None = Field(default=None, max_length=50)
    billing: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    panel: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    fix: str = Field(sa_column=Column(Text, nullable=False))
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None


class PanelResourceRow(SQLModel, table=True):
    """What a panel held at its last reconcile, one row per resource, so billing is compared
    with it in the database (never every service in memory)."""

    __tablename__ = "panel_resource"
    __table_args__ = (Index("ix_panel_resource_external_id", "server_id", "external_id"),)

    server_id: int = Field(foreign_key="server.id", primary_key=True, ondelete="CASCADE")
    key: str = Field(max_length=200, primary_key=True)
    name: str = Field(max_length=200)
    external_id: str | None = Field(default=None, max_length=200)
    owner_email: str | None = Field(default=None, max_length=320)
    status: str | None = Field(default=None, max_length=50)
    suspended: bool | None = None
    limits: dict[str, Any] = json_field()
    node: str | None = Field(default=None, max_length=200)
    busy: bool = False
    seen_at: datetime


TABLES: tuple[type[SQLModel], ...] = (
    Customer,
    Product,
    ProductPrice,
    Server,
    Service,
    ServiceOption,
    ServiceMeta,
    Renewal,
    Upgrade,
    Invoice,
    InvoiceLine,
    Activity,
    BulkRun,
    BulkItem,
    Job,
    Notification,
    Setting,
    Operator,
    Lease,
    RateBucket,
    AutomationRun,
    WorkerHeartbeat,
    Drift,
    PanelResourceRow,
)

metadata = SQLModel.metadata
