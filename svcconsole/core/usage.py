"""Usage of metered resources: one row per service, metric and billing period, read from the
panels by the automation run or recorded by hand; the overage it costs; and the `overage` line a
renewal invoice carries for each period that closed.

The billing period of a moment is the cycle, on the grid the service's expiry sets, that holds
it: the period that ends at the expiry while the service is paid, stepped back a cycle at a time
when it was paid ahead, forward when it is overdue. A onetime or free service has no period and
is never metered.

A module answers a reading in one of three kinds: `total` (what the period used so far, which
replaces the row's amount), `counter` (a panel's running counter: the row adds what came since
its last reading, or the whole reading when the counter went back, as after a restart) and
`peak` (a level now, such as the disk in use: the row keeps the highest).

A closed period is billed once: the renewal invoice made after it closed gets one `overage`
line for it, with the product's rates and the rows as they stand at that moment, and the rows
then name that line (`invoice_line_id`), so no later invoice bills them again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from svcconsole.core import activity, clock, cycles, lookups, overage
from svcconsole.core.errors import InvalidInput, SvcError
from svcconsole.core.invoice_lookups import LineKind, local_day, money_text
from svcconsole.core.operators import Actor, require
from svcconsole.core.statuses import Role, Status
from svcconsole.modules import ModuleError, ServiceRef, UsageReading, get_module, is_module
from svcconsole.store.engine import Database
from svcconsole.store.models import Invoice, InvoiceLine, Product, Service, Usage

log = logging.getLogger("svcconsole.usage")

METERED_STATUSES = (Status.ACTIVE.value, Status.SUSPENDED.value)
"""The statuses in which a service's panel is read for usage."""
MANUAL = "manual"
ZERO = Decimal("0")
READ_CHUNK = 50


# ----------------------------------------------------------------------------- periods


def period_at(service: Service, moment: datetime, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The billing period holding `moment` (start, end), or None for a service without cycles or expiry."""
    if not cycles.is_recurring(service.billing_cycle) or service.expires_at is None:
        return None
    moment = clock.as_utc(moment)
    end = clock.as_utc(service.expires_at)

    def shift(at: datetime, count: int) -> datetime:
        return cycles.shift(at, service.billing_cycle, count, service.anchor_day, tz)

    for _ in range(10000):
        start = shift(end, -1)
        if start <= moment < end:
            return start, end
        end = start if moment < start else shift(end, 1)
    return None


# ----------------------------------------------------------------------------- what a period costs


@dataclass(frozen=True)
class MetricLine:
    """One metric of a period: used, included, beyond, price per unit, cost."""

    metric: str
    used: Decimal
    included: Decimal | None
    price: Decimal | None
    over: Decimal
    cost: Decimal
    source: str | None


@dataclass(frozen=True)
class UsageReport:
    """A service's usage in one period and what it costs beyond the included amounts."""

    service_id: int
    period_start: datetime | None
    period_end: datetime | None
    currency: str
    lines: tuple[MetricLine, ...]

    @property
    def cost(self) -> Decimal:
        return sum((line.cost for line in self.lines), Decimal("0.00"))

    def as_json(self) -> dict[str, Any]:
        return {
            "period_start": lookups.iso(self.period_start),
            "period_end": lookups.iso(self.period_end),
            "currency": self.currency,
            "cost": str(self.cost),
            "metrics": [
                {
                    "metric": line.metric,
                    "used": quantity_text(line.used),
                    "included": None if line.included is None else quantity_text(line.included),
                    "price": None if line.price is None else str(line.price),
                    "over": quantity_text(line.over),
                    "cost": str(line.cost),
                    "source": line.source,
                }
                for line in self.lines
            ],
        }


def quantity_text(value: Decimal) -> str:
    """A quantity without trailing zeros: 130.5, 12, 0.001."""
    return format(Decimal(value).normalize(), "f")


def rates_for(session: Session, service: Service) -> dict[str, overage.Rate]:
    product = session.get(Product, service.product_id) if service.product_id else None
    return overage.rates_of(product.overage if product else None)


def report_of(service: Service, period: tuple[datetime, datetime] | None, rates: dict[str, overage.Rate], rows: Sequence[Usage]) -> UsageReport:
    by_metric = {row.metric: row for row in rows}
    lines = []
    for metric in [*rates, *(name for name in by_metric if name not in rates)]:
        row = by_metric.get(metric)
        used = row.amount if row is not None else ZERO
        rate = rates.get(metric)
        lines.append(
            MetricLine(
                metric,
                used,
                rate.included if rate else None,
                rate.price if rate else None,
                overage.over(used, rate.included) if rate else ZERO,
                overage.cost(used, rate),
                row.source if row is not None else None,
            )
        )
    return UsageReport(service.id or 0, period[0] if period else None, period[1] if period else None, service.currency, tuple(lines))


def _rows_of(session: Session, service_id: int, period_start: datetime) -> list[Usage]:
    query = select(Usage).where(col(Usage.service_id) == service_id, col(Usage.period_start) == period_start).order_by(col(Usage.metric))
    return list(session.exec(query).all())


def current_report(session: Session, service: Service, *, now: datetime | None = None) -> UsageReport:
    """The service's usage in the period holding `now` (default: the clock), with the product's rates now."""
    period = period_at(service, now or clock.now(), lookups.timezone_of(session))
    rows = _rows_of(session, service.id or 0, period[0]) if period else []
    return report_of(service, period, rates_for(session, service), rows)


def overage_text(report: UsageReport) -> str:
    """`1.50 EUR (traffic_gb 130 of 100)` or `none`, for the service's detail."""
    if report.cost <= ZERO:
        return "none"
    beyond = ", ".join(f"{line.metric} {quantity_text(line.used)} of {quantity_text(line.included or ZERO)}" for line in report.lines if line.cost > ZERO)
    return f"{money_text(report.cost, report.currency)} ({beyond})"


# ----------------------------------------------------------------------------- writing a period's row


def _store(
    session: Session, service: Service, period: tuple[datetime, datetime], metric: str, rate: overage.Rate | None, change: Callable[[Usage], None], source: str
) -> Usage:
    """The row of (service, metric, period), created when missing, changed by `change`, its cost recomputed."""
    now = clock.now()
    existing = session.exec(
        select(Usage).where(col(Usage.service_id) == service.id, col(Usage.metric) == metric, col(Usage.period_start) == period[0]).with_for_update()
    ).first()
    row = existing or Usage(service_id=service.id or 0, metric=metric, period_start=period[0], period_end=period[1], source=source, updated_at=now)
    change(row)
    row.amount = max(ZERO, row.amount or ZERO)
    row.cost = overage.cost(row.amount, rate)
    row.source = source
    row.updated_at = now
    session.add(row)
    session.flush()
    return row


def record(session: Session, actor: Actor, service_id: int, metric_text: str, amount_text: str) -> UsageReport:
    """Record by hand what a manual service used of `metric` in its current period (it replaces
    the amount recorded before for that period)."""
    require(actor, Role.OPERATOR, "recording usage")
    metric = overage.parse_metric("METRIC", metric_text)
    amount = overage.parse_amount("AMOUNT", amount_text)
    service = lookups.get_service(session, service_id, for_update=True)
    if service.type != MANUAL:
        raise SvcError(f"usage: service {service_id} is delivered by {service.type}; the automation run reads its usage from the panel")
    rates = rates_for(session, service)
    if metric not in rates:
        declared = ", ".join(rates) or "none"
        raise InvalidInput("METRIC", f"product {service.product_name or '-'} meters no {metric} (it meters: {declared}; products edit --overage adds one)")
    period = period_at(service, clock.now(), lookups.timezone_of(session))
    if period is None:
        raise SvcError(f"usage: service {service_id} is {service.billing_cycle} without a billing period to record usage in")
    before = next((row.amount for row in _rows_of(session, service_id, period[0]) if row.metric == metric), None)

    def replace(row: Usage) -> None:
        row.amount = amount

    _store(session, service, period, metric, rates[metric], replace, "manual")
    activity.record(
        session,
        service,
        actor,
        "usage_recorded",
        from_status=service.status,
        to_status=service.status,
        details={"metric": metric, "amount": str(amount), "before": None if before is None else str(before), "period_start": lookups.iso(period[0])},
    )
    return current_report(session, service)


def apply_reading(session: Session, service: Service, period: tuple[datetime, datetime], reading: UsageReading, rate: overage.Rate | None) -> Usage:
    """Fold a module's reading into the period's row, as its kind says (module docstring)."""
    value = Decimal(str(reading.amount)).quantize(Decimal("0.001"))

    def fold(row: Usage) -> None:
        if reading.kind == "total":
            row.amount = value
        elif reading.kind == "peak":
            row.amount = max(row.amount or ZERO, value)
        else:
            last = row.counter
            if last is None:
                last = _previous_counter(session, service.id or 0, reading.metric, period[0])
            added = value - last if last is not None and value >= last else value
            row.amount = (row.amount or ZERO) + added
            row.counter = value

    return _store(session, service, period, reading.metric, rate, fold, "panel")


def _previous_counter(session: Session, service_id: int, metric: str, period_start: datetime) -> Decimal | None:
    """The counter the period before left, so a new period counts from it (None: first reading ever)."""
    query = (
        select(col(Usage.counter))
        .where(col(Usage.service_id) == service_id, col(Usage.metric) == metric, col(Usage.period_start) < period_start)
        .order_by(col(Usage.period_start).desc())
        .limit(1)
    )
    return session.exec(query).first()


# ----------------------------------------------------------------------------- the automation's reading


@dataclass(frozen=True)
class ReadOutcome:
    """What reading one service's usage did: ok, skipped or failed, and a line saying what."""

    service_id: int
    outcome: str
    message: str


def metered_product_ids(session: Session) -> list[int]:
    """The products that meter some resource (products are few: read whole)."""
    return [product.id or 0 for product in session.exec(select(Product)).all() if overage.rates_of(product.overage)]


def _candidates(session: Session, product_ids: Sequence[int], after_id: int, limit: int) -> list[int]:
    query = (
        select(col(Service.id))
        .where(
            col(Service.product_id).in_(list(product_ids)),
            col(Service.status).in_(METERED_STATUSES),
            col(Service.type) != MANUAL,
            col(Service.id) > after_id,
        )
        .order_by(col(Service.id))
        .limit(limit)
    )
    return [int(service_id or 0) for service_id in session.exec(query).all()]


def count_metered(session: Session) -> int:
    """How many services the usage step would read now (paged by id, never loaded whole)."""
    product_ids = metered_product_ids(session)
    total, after = 0, 0
    while product_ids and (chunk := _candidates(session, product_ids, after, 1000)):
        total += len(chunk)
        after = chunk[-1]
    return total


def read_all(db: Database, keep_alive: Callable[[], bool] = lambda: True) -> list[ReadOutcome]:
    """Read the usage of every metered service from its panel into its current period's rows.

    Services are read a chunk at a time by id; each panel call runs outside any transaction, and
    its answer is written in a short transaction that checks the service again first (still
    metered, same period)."""
    outcomes: list[ReadOutcome] = []
    with db.read() as session:
        product_ids = metered_product_ids(session)
    if not product_ids:
        return outcomes
    after = 0
    while keep_alive():
        with db.read() as session:
            chunk = _candidates(session, product_ids, after, READ_CHUNK)
            refs = {}
            for service_id in chunk:
                service = session.get(Service, service_id)
                if service is not None and is_module(service.type) and get_module(service.type).supports_operation("usage"):
                    period = period_at(service, clock.now(), lookups.timezone_of(session))
                    if period is not None and service.external:
                        refs[service_id] = (service.type, lookups.service_ref(session, service), period)
        if not chunk:
            break
        after = chunk[-1]
        for service_id, (module_name, ref, period) in refs.items():
            outcomes.append(_read_one(db, service_id, module_name, ref, period))
    return outcomes


def _read_one(db: Database, service_id: int, module_name: str, ref: ServiceRef, period: tuple[datetime, datetime]) -> ReadOutcome:
    try:
        readings = get_module(module_name).usage(ref, period[0], period[1])
    except ModuleError as error:
        return ReadOutcome(service_id, "failed", f"usage not read: {error.message}")
    except Exception as error:  # one panel's fault must not stop the run; the traceback goes to the log
        log.exception("usage: reading service %s raised", service_id)
        return ReadOutcome(service_id, "failed", f"usage not read: internal error: {type(error).__name__}: {error}")

    def write(session: Session) -> ReadOutcome:
        service = session.exec(select(Service).where(col(Service.id) == service_id).with_for_update()).first()
        if service is None or service.status not in METERED_STATUSES:
            return ReadOutcome(service_id, "skipped", "no longer active or suspended: usage not stored")
        if period_at(service, clock.now(), lookups.timezone_of(session)) != period:
            return ReadOutcome(service_id, "skipped", "its billing period changed while the panel was read: read again next run")
        rates = rates_for(session, service)
        stored = []
        for reading in readings:
            if reading.metric in rates:
                row = apply_reading(session, service, period, reading, rates[reading.metric])
                stored.append(f"{reading.metric} {row.amount}")
        report = current_report(session, service)
        return ReadOutcome(service_id, "ok", f"usage {', '.join(stored) or 'none metered'}; overage {overage_text(report)}")

    try:
        return db.transaction(write)
    except IntegrityError:
        return ReadOutcome(service_id, "skipped", "another run stored this period's usage at the same moment: read again next run")


# ----------------------------------------------------------------------------- billing a closed period


def overage_dedupe_key(service_id: int, period_start: datetime) -> str:
    return f"overage:{service_id}:{lookups.iso(period_start)}"


def add_overage_lines(session: Session, actor: Actor, service: Service, invoice: Invoice) -> list[InvoiceLine]:
    """Put on `invoice` one `overage` line for each closed period of `service` not billed yet,
    with the product's rates now; the period's rows then name the line, so it is billed once."""
    now = clock.now()
    rows = session.exec(
        select(Usage)
        .where(col(Usage.service_id) == service.id, col(Usage.period_end) <= now, col(Usage.invoice_line_id).is_(None))
        .order_by(col(Usage.period_start), col(Usage.metric))
        .with_for_update()
    ).all()
    if not rows:
        return []
    rates = rates_for(session, service)
    periods: dict[datetime, list[Usage]] = {}
    for row in rows:
        periods.setdefault(clock.as_utc(row.period_start), []).append(row)
    lines = []
    for start, period_rows in periods.items():
        report = report_of(service, (start, clock.as_utc(period_rows[0].period_end)), rates, period_rows)
        if report.cost <= ZERO:
            continue
        assert report.period_start is not None and report.period_end is not None
        beyond = ", ".join(
            f"{line.metric} {quantity_text(line.used)} used, {quantity_text(line.included or ZERO)} included: {quantity_text(line.over)} x {line.price}"
            for line in report.lines
            if line.cost > ZERO
        )
        line = InvoiceLine(
            invoice_id=invoice.id or 0,
            service_id=service.id,
            kind=LineKind.OVERAGE.value,
            description=f"Overage of #{service.id} {service.name}: {local_day(report.period_start, session)} to {local_day(report.period_end, session)} ({beyond})"[
                :500
            ],
            amount=report.cost,
            period_start=report.period_start,
            period_end=report.period_end,
            details={"dedupe_key": overage_dedupe_key(service.id or 0, start), **report.as_json()},
        )
        session.add(line)
        session.flush()
        for row in period_rows:
            row.invoice_line_id = line.id
            session.add(row)
        activity.record(
            session,
            service,
            actor,
            "overage_invoiced",
            from_status=service.status,
            to_status=service.status,
            details={"invoice": invoice.id, "line": line.id, "amount": str(line.amount), "period_start": lookups.iso(report.period_start)},
        )
        lines.append(line)
    session.flush()
    return lines
