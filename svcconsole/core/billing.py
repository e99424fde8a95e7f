"""Invoices and what paying them does: renewals, orders and upgrades (SPEC.md section 4).

An invoice belongs to one customer and one currency. Paying it applies each line once
(`invoice_line.applied_at`): a renewal extends its service, an order creates its service
`pending` and queues delivery, an upgrade changes the product. A line that cannot be applied
(the service ended meanwhile, or a module job was running on it) keeps its error on the line
and is tried again by the next "pay" and by the automation run (`apply_paid_line`, its step
0); lines applied before are never applied twice. A renewal its module carries out counts as
applied only once its job succeeded; a job that fails for good leaves the line unapplied with
the job's error, and the line waits for an admin to retry or resolve that job. Money is
`Decimal`, rounded to cents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from svcconsole.core import activity, clock, cycles, notifications, parse, renew_checks, services
from svcconsole.core.catalog import prices_of, product_price, resolve_customer, resolve_product, resolve_server
from svcconsole.core.errors import InvalidInput, NotFound, SvcError
from svcconsole.core.operators import Actor, require
from svcconsole.core.services import ActionContext, ActionImpl, Outcome
from svcconsole.core.statuses import NON_TRANSITION_ROLES
from svcconsole.store.invoices import invoice_totals
from svcconsole.store.models import Customer, Invoice, InvoiceLine, Job, Product, Service, ServiceMeta, Upgrade

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class InvoiceStatus(StrEnum):
    """Where an invoice stands: lines are added while it is draft or unpaid."""

    DRAFT = "draft"
    UNPAID = "unpaid"
    PAID = "paid"
    CANCELLED = "cancelled"


OPEN_STATUSES = (InvoiceStatus.DRAFT.value, InvoiceStatus.UNPAID.value)


class LineKind(StrEnum):
    """What a line bills, and so what paying it does."""

    ORDER = "order"
    RENEWAL = "renewal"
    UPGRADE = "upgrade"
    OPTION = "option"


class UpgradeStatus(StrEnum):
    """Where an upgrade stands; awaiting_payment and in_progress are the ones listed as in progress."""

    AWAITING_PAYMENT = "awaiting_payment"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


OPEN_UPGRADE_STATUSES = (UpgradeStatus.AWAITING_PAYMENT.value, UpgradeStatus.IN_PROGRESS.value)


class UpgradeBilling(StrEnum):
    """How an upgrade is billed: a prorated invoice, or not at all."""

    INVOICE = "invoice"
    NO_BILLING = "no_billing"


def cents(amount: Decimal | int | str) -> Decimal:
    """`amount` rounded to cents, half up."""
    return Decimal(str(amount)).quantize(CENT, rounding=ROUND_HALF_UP)


def money_text(amount: Decimal, currency: str) -> str:
    """`12.00 EUR`."""
    return f"{cents(amount)} {currency}"


def _local_day(moment: datetime | None, session: Session) -> str:
    return services.day(moment, services.timezone_of(session))


# ----------------------------------------------------------------------------- look-ups


def get_invoice(session: Session, invoice_id: int, *, for_update: bool = False) -> Invoice:
    """The invoice with `invoice_id`; NotFound otherwise."""
    query = select(Invoice).where(Invoice.id == invoice_id)
    if for_update:
        query = query.with_for_update()
    invoice = session.exec(query).first()
    if invoice is None:
        raise NotFound(f"invoice: no invoice with id {invoice_id}")
    return invoice


def lines_of(session: Session, invoice_id: int) -> list[InvoiceLine]:
    """The lines of an invoice, in the order they were added."""
    return list(session.exec(select(InvoiceLine).where(col(InvoiceLine.invoice_id) == invoice_id).order_by(col(InvoiceLine.id))).all())


def total_of(lines: Sequence[InvoiceLine]) -> Decimal:
    """The sum of the lines, in cents."""
    return cents(sum((line.amount for line in lines), ZERO))


@dataclass
class InvoiceSummary:
    """An invoice with its total, line count and customer, for lists."""

    invoice: Invoice
    total: Decimal
    line_count: int
    customer_name: str
    customer_email: str


def list_invoices(
    session: Session,
    *,
    customer_id: int | None = None,
    status: str | None = None,
    service_id: int | None = None,
    limit: int = 100,
    before: int | None = None,
) -> list[InvoiceSummary]:
    """Invoices, newest first (older than id `before` when given), with their totals computed in the database."""
    totals = invoice_totals()
    query = (
        select(Invoice, totals.c.total, totals.c.line_count, col(Customer.name), col(Customer.email))  # type: ignore[call-overload]  # sqlmodel's select() is typed for at most four columns
        .join(Customer, col(Customer.id) == col(Invoice.customer_id))
        .outerjoin(totals, totals.c.invoice_id == Invoice.id)
    )
    if customer_id is not None:
        query = query.where(Invoice.customer_id == customer_id)
    if status is not None:
        if status not in {item.value for item in InvoiceStatus}:
            raise InvalidInput("--status", f"{status!r} is not an invoice status ({', '.join(item.value for item in InvoiceStatus)})")
        query = query.where(Invoice.status == status)
    if service_id is not None:
        query = query.where(Invoice.id.in_(select(InvoiceLine.invoice_id).where(InvoiceLine.service_id == service_id)))  # type: ignore[union-attr]
    if before is not None:
        query = query.where(Invoice.id < before)  # type: ignore[operator]
    query = query.order_by(Invoice.id.desc()).limit(limit)  # type: ignore[union-attr]
    return [InvoiceSummary(invoice, cents(total or 0), int(count or 0), name, email) for invoice, total, count, name, email in session.exec(query).all()]


def renewal_line_for_period(session: Session, service_id: int, period_start: datetime, *, statuses: Sequence[str] | None = None) -> InvoiceLine | None:
    """A renewal line of `service_id` for the period starting at `period_start`, if any."""
    query = (
        select(InvoiceLine)
        .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
        .where(InvoiceLine.service_id == service_id, InvoiceLine.kind == LineKind.RENEWAL.value, InvoiceLine.period_start == period_start)
    )
    if statuses is not None:
        query = query.where(col(Invoice.status).in_(list(statuses)))
    return session.exec(query.order_by(col(InvoiceLine.id))).first()


@dataclass
class PeriodInvoice:
    """The invoice that bills a service's current period, and that period's line on it."""

    invoice: Invoice
    line: InvoiceLine

    @property
    def is_open(self) -> bool:
        """True while it can still be paid."""
        return self.invoice.status in OPEN_STATUSES

    @property
    def amount_text(self) -> str:
        """The line's amount with the currency."""
        return money_text(self.line.amount, self.invoice.currency)


def period_invoice(session: Session, service: Service) -> PeriodInvoice | None:
    """The renewal invoice of the period that starts at the service's expiry: an open one, else the last one cancelled."""
    if service.expires_at is None:
        return None
    query = (
        select(Invoice, InvoiceLine)
        .join(InvoiceLine, col(InvoiceLine.invoice_id) == col(Invoice.id))
        .where(
            InvoiceLine.service_id == service.id,
            InvoiceLine.kind == LineKind.RENEWAL.value,
            InvoiceLine.period_start == service.expires_at,
            col(Invoice.status).in_([*OPEN_STATUSES, InvoiceStatus.CANCELLED.value]),
        )
        .order_by(col(Invoice.id).desc())
    )
    found = [PeriodInvoice(invoice, line) for invoice, line in session.exec(query).all()]
    return next((item for item in found if item.is_open), found[0] if found else None)


# ----------------------------------------------------------------------------- records


def invoice_dict(invoice: Invoice, *, total: Decimal, customer_email: str | None = None, lines: Sequence[InvoiceLine] | None = None) -> dict[str, Any]:
    """An invoice as a JSON-ready dict (money as strings, times ISO 8601 UTC)."""
    record: dict[str, Any] = {
        "id": invoice.id,
        "customer_id": invoice.customer_id,
        "customer": customer_email,
        "status": invoice.status,
        "currency": invoice.currency,
        "total": f"{total:.2f}",
        "due_at": services.iso(invoice.due_at),
        "created_at": services.iso(invoice.created_at),
        "paid_at": services.iso(invoice.paid_at),
        "cancelled_at": services.iso(invoice.cancelled_at),
    }
    if lines is not None:
        record["lines"] = [line_dict(line) for line in lines]
    return record


def line_dict(line: InvoiceLine) -> dict[str, Any]:
    """An invoice line as a JSON-ready dict, with the error of a line that could not be applied."""
    return {
        "id": line.id,
        "invoice_id": line.invoice_id,
        "service_id": line.service_id,
        "kind": line.kind,
        "description": line.description,
        "amount": f"{line.amount:.2f}",
        "period_start": services.iso(line.period_start),
        "period_end": services.iso(line.period_end),
        "applied_at": services.iso(line.applied_at),
        "error": (line.details or {}).get("error"),
        "details": dict(line.details or {}),
    }


def upgrade_dict(upgrade: Upgrade, products: dict[int, str] | None = None) -> dict[str, Any]:
    """An upgrade as a JSON-ready dict, with product names when `products` maps their ids."""
    names = products or {}
    return {
        "id": upgrade.id,
        "service_id": upgrade.service_id,
        "from_product_id": upgrade.from_product_id,
        "from_product": names.get(upgrade.from_product_id or 0),
        "to_product_id": upgrade.to_product_id,
        "to_product": names.get(upgrade.to_product_id),
        "mode": upgrade.mode,
        "amount": f"{upgrade.amount:.2f}",
        "invoice_id": upgrade.invoice_id,
        "status": upgrade.status,
        "created_at": services.iso(upgrade.created_at),
        "completed_at": services.iso(upgrade.completed_at),
    }


# ----------------------------------------------------------------------------- invoices and lines


def new_invoice(session: Session, customer_id: int, currency: str, *, due_at: datetime | None = None) -> Invoice:
    """A new, empty, unpaid invoice."""
    now = clock.now()
    invoice = Invoice(customer_id=customer_id, status=InvoiceStatus.UNPAID.value, currency=currency, due_at=due_at or now, created_at=now)
    session.add(invoice)
    session.flush()
    return invoice


def parse_invoice_ref(field: str, text: str | int) -> str | int:
    """`new`, or an invoice id."""
    value = str(text).strip().lower()
    if value == "new":
        return "new"
    return parse.parse_id(field, value)


def open_invoice_for(session: Session, invoice_id: int, customer_id: int, currency: str) -> Invoice:
    """An existing invoice that a line for `customer_id` in `currency` may be added to (locked)."""
    invoice = get_invoice(session, invoice_id, for_update=True)
    if invoice.status not in OPEN_STATUSES:
        raise SvcError(f"invoice {invoice_id} is {invoice.status}: lines can only be added to an unpaid invoice")
    if invoice.customer_id != customer_id:
        raise SvcError(f"invoice {invoice_id} belongs to customer {invoice.customer_id}, not {customer_id}")
    if invoice.currency != currency:
        raise SvcError(f"invoice {invoice_id} is in {invoice.currency}, not {currency}")
    return invoice


def _record_on_service(session: Session, actor: Actor, service: Service, action: str, details: dict[str, Any], reason: str | None = None) -> None:
    activity.record(session, service, actor, action, from_status=service.status, to_status=service.status, reason=reason, details=details)


def _renewal_period(session: Session, service: Service, cycle_count: int) -> tuple[datetime, datetime]:
    assert service.expires_at is not None
    tz = services.timezone_of(session)
    return service.expires_at, services.renewed_expiry(service, cycle_count, tz)


def check_renewal_invoice(session: Session, service: Service, cycle_count: int, invoice_ref: str | int) -> None:
    """Refuse a renewal invoice the rules forbid, or one that would bill a period twice."""
    services.check_renewable(session, service, cycle_count, services.settings_of(session))
    assert service.expires_at is not None
    existing = renewal_line_for_period(session, service.id or 0, service.expires_at, statuses=OPEN_STATUSES)
    if existing is not None:
        raise services.refuse(
            service,
            "renew by invoice",
            f"invoice {existing.invoice_id} already bills the period from {_local_day(service.expires_at, session)} (unpaid); pay or cancel it first",
        )
    if invoice_ref != "new":
        open_invoice_for(session, int(invoice_ref), service.customer_id, service.currency)


def add_renewal_line(session: Session, actor: Actor, service: Service, cycle_count: int, invoice: Invoice, *, amount: Decimal | None = None) -> InvoiceLine:
    """Bill `cycle_count` cycles of `service` on `invoice`, record it, and mail the customer.

    `amount` is what `services.renewal_amount` gives, when the caller computed it already.
    """
    start, end = _renewal_period(session, service, cycle_count)
    amount = services.renewal_amount(session, service, cycle_count) if amount is None else cents(amount)
    unit = cycles.PER_UNIT[cycles.BillingCycle(service.billing_cycle)]
    line = InvoiceLine(
        invoice_id=invoice.id or 0,
        service_id=service.id,
        kind=LineKind.RENEWAL.value,
        description=f"Renewal of #{service.id} {service.name}: {_local_day(start, session)} to {_local_day(end, session)} ({cycle_count} x {unit})"[:500],
        amount=amount,
        period_start=start,
        period_end=end,
        details={"cycles": cycle_count},
    )
    session.add(line)
    session.flush()
    _record_on_service(
        session,
        actor,
        service,
        "renewal_invoiced",
        {
            "invoice": invoice.id,
            "line": line.id,
            "cycles": cycle_count,
            "amount": str(amount),
            "period_start": services.iso(start),
            "period_end": services.iso(end),
        },
    )
    notifications.notify_customer(
        session,
        "renewal_invoice",
        service,
        dedupe_key=f"{_renewal_mail_prefix(invoice.id or 0)}{service.id}:{start.date().isoformat()}",
        known_new=True,
        invoice_id=invoice.id,
        amount=money_text(amount, service.currency),
        period=f"{_local_day(start, session)} to {_local_day(end, session)}",
        due=_local_day(invoice.due_at, session),
        expires=_local_day(service.expires_at, session),
    )
    return line


def _renewal_mail_prefix(invoice_id: int) -> str:
    """The start of the dedupe key of every renewal_invoice mail about `invoice_id`."""
    return f"renewal_invoice:{invoice_id}:"


def invoice_renewal(
    session: Session, actor: Actor, service: Service, cycle_count: int, invoice_ref: str | int, *, amount: Decimal | None = None
) -> InvoiceLine:
    """Put a renewal of `service` on a new invoice or on an unpaid one of the same customer."""
    if invoice_ref == "new":
        invoice = new_invoice(session, service.customer_id, service.currency, due_at=service.expires_at)
    else:
        invoice = open_invoice_for(session, int(invoice_ref), service.customer_id, service.currency)
    return add_renewal_line(session, actor, service, cycle_count, invoice, amount=amount)


def _renew_invoice_params(ctx: ActionContext) -> tuple[int, str | int]:
    cycle_count = parse.parse_int("cycles", ctx.params.get("cycles", 1), minimum=1, maximum=120)
    invoice_ref = parse_invoice_ref("--invoice", ctx.params.get("invoice", "new"))
    return cycle_count, invoice_ref


def _check_renew_invoice(ctx: ActionContext) -> None:
    cycle_count, invoice_ref = _renew_invoice_params(ctx)
    check_renewal_invoice(ctx.session, ctx.service, cycle_count, invoice_ref)


def _apply_renew_invoice(ctx: ActionContext) -> str:
    cycle_count, invoice_ref = _renew_invoice_params(ctx)
    line = invoice_renewal(ctx.session, ctx.actor, ctx.service, cycle_count, invoice_ref)
    assert line.period_end is not None
    return (
        f"invoice {line.invoice_id}: {money_text(line.amount, ctx.service.currency)} for {cycle_count} cycle{'s' if cycle_count != 1 else ''}; "
        f"expires {_local_day(line.period_end, ctx.session)} once paid"
    )


def _no_module_call(ctx: ActionContext) -> str | None:
    return None


def add_option_line(session: Session, actor: Actor, invoice: Invoice, service: Service, *, description: str, amount: str) -> InvoiceLine:
    """Bill an extra for a service (an option) on an open invoice; paying it changes nothing else."""
    if invoice.customer_id != service.customer_id:
        raise SvcError(f"invoice {invoice.id} belongs to customer {invoice.customer_id}, not service {service.id}'s customer {service.customer_id}")
    if invoice.currency != service.currency:
        raise SvcError(f"invoice {invoice.id} is in {invoice.currency}, not {service.currency}")
    text = parse.parse_text("--description", description, required=True, max_length=500) or ""
    line = InvoiceLine(
        invoice_id=invoice.id or 0,
        service_id=service.id,
        kind=LineKind.OPTION.value,
        description=text,
        amount=parse.parse_money("--amount", amount),
        details={},
    )
    session.add(line)
    session.flush()
    _record_on_service(session, actor, service, "option_invoiced", {"invoice": invoice.id, "line": line.id, "amount": str(line.amount)})
    return line


# ----------------------------------------------------------------------------- orders


@dataclass
class OrderItem:
    """One product ordered, as typed: the service it will become once the invoice is paid."""

    product: str
    cycle: str | None = None
    name: str | None = None
    server: str | None = None


def _order_line(session: Session, invoice: Invoice, item: OrderItem) -> InvoiceLine:
    product = resolve_product(session, item.product, "--product")
    offered = prices_of(session, product.id or 0)
    if item.cycle:
        cycle = parse.parse_cycle("--cycle", item.cycle).value
        listed = product_price(session, product.id or 0, cycle)
        if listed is None:
            raise InvalidInput(
                "--cycle", f"product {product.name!r} has no {cycle} price (offered: {', '.join(price.billing_cycle for price in offered) or 'none'})"
            )
    else:
        listed = next((price for price in offered if price.billing_cycle == "monthly"), offered[0] if offered else None)
        if listed is None:
            raise InvalidInput("--product", f"product {product.name!r} has no price")
        cycle = listed.billing_cycle
    if listed.currency != invoice.currency:
        raise SvcError(f"invoice {invoice.id} is in {invoice.currency}, but product {product.name!r} is priced in {listed.currency}")
    server = resolve_server(session, item.server, "--server") if item.server else None
    if server is not None and server.module != product.type:
        raise InvalidInput("--server", f"server {server.name!r} runs module {server.module!r}, not {product.type!r}")
    services.require_server(product.type, server)
    name = parse.parse_text("--name", item.name if item.name is not None else product.name, required=True) or ""
    amount = cents(listed.price + (listed.setup_fee or ZERO))
    line = InvoiceLine(
        invoice_id=invoice.id or 0,
        kind=LineKind.ORDER.value,
        description=f'Order: {product.name} ({cycle}) "{name}"'[:500],
        amount=amount,
        details={
            "product_id": product.id,
            "product": product.name,
            "cycle": cycle,
            "name": name,
            "server_id": server.id if server else None,
            "price": str(listed.price),
            "setup_fee": str(listed.setup_fee or ZERO),
        },
    )
    session.add(line)
    session.flush()
    return line


def create_order(session: Session, actor: Actor, customer_ref: str, items: Sequence[OrderItem], *, due: str | None = None) -> Invoice:
    """An invoice with one `order` line per item; its services are created when it is paid."""
    require(actor, NON_TRANSITION_ROLES["invoices"], "creating an order")
    if not items:
        raise InvalidInput("--product", "an order needs at least one product")
    customer = resolve_customer(session, customer_ref, "--customer")
    first = resolve_product(session, items[0].product, "--product")
    offered = prices_of(session, first.id or 0)
    currency = offered[0].currency if offered else services.settings_of(session)["currency"]
    due_at = parse.parse_date("--due", due, services.timezone_of(session)) if due else None
    invoice = new_invoice(session, customer.id or 0, currency, due_at=due_at)
    for item in items:
        _order_line(session, invoice, item)
    return invoice


# ----------------------------------------------------------------------------- create, add a line


@dataclass
class LineRequest:
    """What to put on an invoice: renewals of services, ordered products, or an option charge."""

    renew: Sequence[int] = ()
    cycles: int | str = 1
    orders: Sequence[OrderItem] = ()
    option_service: int | None = None
    description: str | None = None
    amount: str | None = None

    def empty(self) -> bool:
        """True when nothing at all is asked for."""
        return not self.renew and not self.orders and self.option_service is None


def _add_lines(session: Session, actor: Actor, invoice: Invoice, request: LineRequest) -> list[InvoiceLine]:
    added: list[InvoiceLine] = []
    cycle_count = parse.parse_int("--cycles", request.cycles, minimum=1, maximum=120)
    for service_id in dict.fromkeys(request.renew):
        service = services.get_service(session, service_id, for_update=True)
        rule = services.ACTIONS["renew-invoice"]
        if not rule.allows(service.status):
            raise services.refuse(service, "renew by invoice", f"allowed from {rule.allowed_from_text}")
        check_renewal_invoice(session, service, cycle_count, invoice.id or 0)
        added.append(add_renewal_line(session, actor, service, cycle_count, invoice))
    for item in request.orders:
        added.append(_order_line(session, invoice, item))
    if request.option_service is not None:
        if request.amount is None or request.description is None:
            raise InvalidInput("--amount", "an option line needs --description and --amount")
        service = services.get_service(session, request.option_service, for_update=True)
        added.append(add_option_line(session, actor, invoice, service, description=request.description, amount=request.amount))
    return added


def create_invoice(session: Session, actor: Actor, customer_ref: str, request: LineRequest, *, due: str | None = None) -> Invoice:
    """A new unpaid invoice for a customer with the lines requested (at least one)."""
    require(actor, NON_TRANSITION_ROLES["invoices"], "creating an invoice")
    if request.empty():
        raise InvalidInput("lines", "an invoice needs at least one line (--renew SERVICE, --order PRODUCT or --option SERVICE)")
    customer = resolve_customer(session, customer_ref, "--customer")
    currency = _request_currency(session, request) or services.settings_of(session)["currency"]
    due_at = parse.parse_date("--due", due, services.timezone_of(session)) if due else _earliest_expiry(session, request.renew)
    invoice = new_invoice(session, customer.id or 0, currency, due_at=due_at)
    _add_lines(session, actor, invoice, request)
    return invoice


def _request_currency(session: Session, request: LineRequest) -> str | None:
    service_ids = [*request.renew, *([request.option_service] if request.option_service is not None else [])]
    if service_ids:
        return services.get_service(session, service_ids[0]).currency
    for item in request.orders:
        offered = prices_of(session, resolve_product(session, item.product, "--product").id or 0)
        if offered:
            return offered[0].currency
    return None


def _earliest_expiry(session: Session, service_ids: Sequence[int]) -> datetime | None:
    if not service_ids:
        return None
    return session.exec(select(func.min(col(Service.expires_at))).where(col(Service.id).in_(list(service_ids)))).one()


def add_lines(session: Session, actor: Actor, invoice_id: int, request: LineRequest) -> list[InvoiceLine]:
    """Add lines to an unpaid invoice (renewals must be of the invoice's customer)."""
    require(actor, NON_TRANSITION_ROLES["invoices"], "changing an invoice")
    if request.empty():
        raise InvalidInput("lines", "nothing to add (--renew SERVICE, --order PRODUCT or --option SERVICE)")
    invoice = get_invoice(session, invoice_id, for_update=True)
    if invoice.status not in OPEN_STATUSES:
        raise SvcError(f"invoice {invoice_id} is {invoice.status}: lines can only be added to an unpaid invoice")
    return _add_lines(session, actor, invoice, request)


# ----------------------------------------------------------------------------- pay and cancel


@dataclass
class LineOutcome:
    """What paying did with one line (`applied` is also true when the module job that applies it was queued)."""

    line_id: int
    kind: str
    service_id: int | None
    applied: bool
    message: str
    job_id: int | None = None


@dataclass
class PayResult:
    """The invoice after "pay", and what each line not applied before did now."""

    invoice_id: int
    total: Decimal
    currency: str
    already_paid: bool
    outcomes: list[LineOutcome] = field(default_factory=list)

    @property
    def job_ids(self) -> list[int]:
        """The module jobs the applied lines queued (delivery, upgrade, unsuspend...)."""
        return [outcome.job_id for outcome in self.outcomes if outcome.job_id is not None]

    @property
    def failed(self) -> list[LineOutcome]:
        """The lines that could not be applied this time."""
        return [outcome for outcome in self.outcomes if not outcome.applied]


def pay_invoice(session: Session, actor: Actor, invoice_id: int, *, reference: str | None = None) -> PayResult:
    """Mark an invoice paid and apply every line not applied yet (a second pay applies nothing twice)."""
    require(actor, NON_TRANSITION_ROLES["invoices"], "recording a payment")
    reference = parse.parse_text("--reference", reference, max_length=200)
    invoice = get_invoice(session, invoice_id, for_update=True)
    if invoice.status == InvoiceStatus.CANCELLED.value:
        raise SvcError(f"invoice {invoice_id} is cancelled: it cannot be paid")
    lines = lines_of(session, invoice_id)
    if not lines:
        raise SvcError(f"invoice {invoice_id} has no lines: nothing to pay")
    already_paid = invoice.status == InvoiceStatus.PAID.value
    if not already_paid:
        invoice.status = InvoiceStatus.PAID.value
        invoice.paid_at = clock.now()
        session.add(invoice)
        session.flush()
    result = PayResult(invoice_id, total_of(lines), invoice.currency, already_paid)
    for line in lines:
        if line.applied_at is not None:
            continue
        waiting = _waiting_on_job(session, line)
        if waiting is not None:
            result.outcomes.append(LineOutcome(line.id or 0, line.kind, line.service_id, False, waiting))
            continue
        result.outcomes.append(_apply_line_once(session, actor, invoice, line, reference))
    return result


def apply_paid_line(session: Session, actor: Actor, line_id: int) -> LineOutcome | None:
    """Apply one line of a paid invoice that is not applied yet; None when there is nothing to do.

    Locks the invoice first, as "pay" does, then re-reads the line, so a line is applied once
    whether "pay" or the automation gets to it first.
    """
    line = session.get(InvoiceLine, line_id)
    if line is None:
        return None
    invoice = get_invoice(session, line.invoice_id, for_update=True)
    session.refresh(line)
    if invoice.status != InvoiceStatus.PAID.value or line.applied_at is not None:
        return None
    waiting = _waiting_on_job(session, line)
    if waiting is not None:
        return LineOutcome(line_id, line.kind, line.service_id, False, waiting)
    return _apply_line_once(session, actor, invoice, line, None)


def paid_lines_to_apply(session: Session) -> list[tuple[int | None, int]]:
    """(service id, line id) of every line of a paid invoice not applied yet that applying may still succeed for.

    Renewal and upgrade lines count only while their service is in a status the action is
    allowed from; a line of a service that ended waits for an admin.
    """
    renewal, upgrade = LineKind.RENEWAL.value, LineKind.UPGRADE.value
    query = (
        select(InvoiceLine.service_id, InvoiceLine.id)
        .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
        .outerjoin(Service, col(Service.id) == col(InvoiceLine.service_id))
        .where(
            Invoice.status == InvoiceStatus.PAID.value,
            InvoiceLine.applied_at == None,  # noqa: E711
            or_(
                and_(col(InvoiceLine.kind) == renewal, col(Service.status).in_(_allowed("renew"))),
                and_(col(InvoiceLine.kind) == upgrade, col(Service.status).in_(_allowed("upgrade"))),
                col(InvoiceLine.kind).notin_([renewal, upgrade]),
            ),
        )
        .order_by(col(InvoiceLine.id))
    )
    return [(service_id, int(line_id or 0)) for service_id, line_id in session.exec(query).all()]


def _allowed(action: str) -> list[str]:
    return [status.value for status in services.ACTIONS[action].allowed_from]


def paid_unapplied_renewals(session: Session, service_ids: Sequence[int]) -> dict[int, InvoiceLine]:
    """For each of `service_ids` that has one, its first renewal line paid but not applied yet."""
    if not service_ids:
        return {}
    query = (
        select(InvoiceLine)
        .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
        .where(
            col(InvoiceLine.service_id).in_(list(service_ids)),
            InvoiceLine.kind == LineKind.RENEWAL.value,
            InvoiceLine.applied_at == None,  # noqa: E711
            Invoice.status == InvoiceStatus.PAID.value,
        )
        .order_by(col(InvoiceLine.id).desc())
    )
    return {line.service_id: line for line in session.exec(query).all() if line.service_id is not None}


def _is_renew_job(session: Session, job_id: int | None) -> bool:
    """True when `job_id` is the module job that carries out the renewal itself (not a follow-up such as unsuspend)."""
    job = session.get(Job, job_id) if job_id is not None else None
    return job is not None and job.action == "renew"


def _line_job(session: Session, line: InvoiceLine) -> Job | None:
    job_id = (line.details or {}).get("job")
    return session.get(Job, int(job_id)) if job_id is not None else None


def _waiting_on_job(session: Session, line: InvoiceLine) -> str | None:
    """Why the line must not be applied again now: its renewal job is under way, or failed and waits for an admin."""
    job = _line_job(session, line)
    if job is None:
        return None
    if job.status in {"queued", "running"}:
        return f"renewal job {job.id} is {job.status}: the line counts as applied once it succeeds"
    if job.status == "failed":
        return f"renewal job {job.id} failed: retry or resolve it (`jobs retry {job.id}` or `jobs resolve {job.id}`)"
    return None


def _apply_line_once(session: Session, actor: Actor, invoice: Invoice, line: InvoiceLine, reference: str | None) -> LineOutcome:
    line_id = line.id or 0
    savepoint = session.begin_nested()
    try:
        message, job_id = _apply_line(session, actor, invoice, line, reference)
    except SvcError as error:
        savepoint.rollback()
        line = session.get(InvoiceLine, line_id) or line
        line.details = {**(line.details or {}), "error": error.message, "attempted_at": services.iso(clock.now())}
        session.add(line)
        session.flush()
        return LineOutcome(line_id, line.kind, line.service_id, False, error.message)
    savepoint.commit()
    kept = {key: value for key, value in (line.details or {}).items() if key not in {"error", "attempted_at", "job"}}
    if line.kind == LineKind.RENEWAL.value and _is_renew_job(session, job_id):
        line.details = {**kept, "job": job_id}
        session.add(line)
        session.flush()
        return LineOutcome(line_id, line.kind, line.service_id, True, f"{message}; the line counts as applied once job {job_id} succeeds", job_id)
    line.applied_at = clock.now()
    line.details = kept
    session.add(line)
    session.flush()
    return LineOutcome(line_id, line.kind, line.service_id, True, message, job_id)


def _apply_line(session: Session, actor: Actor, invoice: Invoice, line: InvoiceLine, reference: str | None) -> tuple[str, int | None]:
    paid = {"invoice": invoice.id, "line": line.id, "amount": str(line.amount)}
    if reference:
        paid["reference"] = reference
    if line.kind == LineKind.RENEWAL.value:
        assert line.service_id is not None
        outcome = services.perform(
            session,
            actor,
            "renew",
            line.service_id,
            {
                "cycles": int((line.details or {}).get("cycles", 1)),
                "amount": str(line.amount),
                "invoice_id": invoice.id,
                "line_id": line.id,
                "reason": f"invoice {invoice.id} paid",
            },
        )
        return outcome.message, outcome.job_id
    if line.kind == LineKind.UPGRADE.value:
        return _apply_upgrade_line(session, actor, invoice, line)
    if line.kind == LineKind.ORDER.value:
        return _apply_order_line(session, actor, invoice, line)
    if line.service_id is not None:
        service = services.get_service(session, line.service_id, for_update=True)
        _record_on_service(session, actor, service, "invoice_paid", paid)
    return "billed", None


def _apply_order_line(session: Session, actor: Actor, invoice: Invoice, line: InvoiceLine) -> tuple[str, int | None]:
    details = dict(line.details or {})
    draft = services.ServiceDraft(
        customer=str(invoice.customer_id),
        name=str(details["name"]),
        product=str(details["product_id"]),
        cycle=str(details["cycle"]),
        price=str(details["price"]),
        initial_price=str(line.amount),
        server=str(details["server_id"]) if details.get("server_id") else None,
        currency=invoice.currency,
    )
    service = services.create_service(session, actor, draft)
    _first_period_from_delivery(service)
    line.service_id = service.id
    line.details = {**details, "service_id": service.id}
    session.add(line)
    session.add(ServiceMeta(service_id=service.id or 0, key="order_invoice_id", value=str(invoice.id)))
    _record_on_service(session, actor, service, "order_paid", {"invoice": invoice.id, "line": line.id, "amount": str(line.amount)})
    if services.module_supports(service, "create"):
        outcome = services.perform(session, actor, "deliver", service.id or 0, {})
        return f"service {service.id} created pending; {outcome.message}", outcome.job_id
    _notify_manual_delivery(session, service, invoice)
    return f"service {service.id} created pending; {service.type} delivery is done by hand (deliver it when ready)", None


def _first_period_from_delivery(service: Service) -> None:
    """Leave an ordered service without an expiry while it waits for delivery.

    The wait is not the customer's paid time: `deliver` starts the first period, one cycle
    from the delivery day and anchored on it.
    """
    if cycles.is_recurring(service.billing_cycle):
        service.expires_at = None
        service.anchor_day = None


def _notify_manual_delivery(session: Session, service: Service, invoice: Invoice) -> None:
    settings = services.settings_of(session)
    customer = session.get(Customer, service.customer_id)
    if customer is None:
        return
    context = notifications.service_context(service, customer) | {"invoice_id": invoice.id, "product": service.product_name or "-"}
    notifications.queue(
        session,
        "manual_delivery",
        to_address=settings["admin_email"] or settings["smtp_from"],
        context=context,
        service_id=service.id,
        dedupe_key=f"manual_delivery:{service.id}",
    )


def cancel_invoice(session: Session, actor: Actor, invoice_id: int, *, reason: str | None = None) -> Invoice:
    """Cancel an unpaid invoice: its lines will never apply, its upgrades are cancelled and its unsent renewal mails dropped."""
    require(actor, NON_TRANSITION_ROLES["invoices"], "cancelling an invoice")
    reason = parse.parse_text("--reason", reason, max_length=2000)
    invoice = get_invoice(session, invoice_id, for_update=True)
    if invoice.status == InvoiceStatus.PAID.value:
        raise SvcError(f"invoice {invoice_id} is paid: a paid invoice cannot be cancelled")
    if invoice.status == InvoiceStatus.CANCELLED.value:
        raise SvcError(f"invoice {invoice_id} is cancelled already")
    invoice.status = InvoiceStatus.CANCELLED.value
    invoice.cancelled_at = clock.now()
    session.add(invoice)
    for upgrade in session.exec(select(Upgrade).where(col(Upgrade.invoice_id) == invoice_id, col(Upgrade.status).in_(OPEN_UPGRADE_STATUSES))).all():
        upgrade.status = UpgradeStatus.CANCELLED.value
        upgrade.completed_at = clock.now()
        session.add(upgrade)
    notifications.drop_queued(session, "renewal_invoice", _renewal_mail_prefix(invoice_id), f"not sent: invoice {invoice_id} was cancelled")
    service_ids = {line.service_id for line in lines_of(session, invoice_id) if line.service_id is not None}
    for service_id in sorted(service_ids):
        service = session.get(Service, service_id)
        if service is not None:
            _record_on_service(session, actor, service, "invoice_cancelled", {"invoice": invoice_id}, reason=reason)
    session.flush()
    return invoice


# ----------------------------------------------------------------------------- upgrades


@dataclass(frozen=True)
class Remaining:
    """What is left of a service's paid time today, cycle by cycle from the anchor day.

    `whole_cycles` full cycles after the current one, and `current_days` local days left of
    the current one, which is `cycle_days` long (each cycle at its own length).
    """

    whole_cycles: int
    current_days: int
    cycle_days: int
    total_days: int

    @property
    def cycles(self) -> Decimal:
        """Whole cycles plus the fraction of the current one."""
        if self.cycle_days <= 0:
            return Decimal(self.whole_cycles)
        return self.whole_cycles + Decimal(self.current_days) / Decimal(self.cycle_days)

    @property
    def text(self) -> str:
        """`20 of 30 days`, or `2 cycles + 20 of 30 days` when renewed ahead."""
        days = f"{self.current_days} of {self.cycle_days} days"
        if not self.whole_cycles:
            return days
        return f"{self.whole_cycles} cycle{'s' if self.whole_cycles != 1 else ''} + {days}"


@dataclass
class UpgradeQuote:
    """What moving a service to a target product costs now, and whether it is allowed."""

    product_id: int
    product: str
    old_price: Decimal
    new_price: Decimal | None
    currency: str
    remaining: Remaining
    amount: Decimal
    why_not: str | None = None

    @property
    def available(self) -> bool:
        """True when the service may move to this product."""
        return self.why_not is None

    @property
    def remaining_days(self) -> int:
        """Local days from today to the expiry."""
        return self.remaining.total_days

    @property
    def cycle_days(self) -> int:
        """The length of the cycle today is in."""
        return self.remaining.cycle_days


def prorate(old_price: Decimal, new_price: Decimal, remaining_days: int, cycle_days: int, whole_cycles: int = 0) -> Decimal:
    """`(new_price - old_price) * (whole_cycles + remaining_days / cycle_days)`, rounded to cents.

    `remaining_days` are those left of the current cycle of `cycle_days`; with no whole cycle
    after it, this is SPEC.md's `(new - old) * remaining_days / cycle_days`.
    """
    if cycle_days <= 0 or (remaining_days <= 0 and whole_cycles <= 0):
        return ZERO
    return cents((Decimal(new_price) - Decimal(old_price)) * (whole_cycles + Decimal(max(remaining_days, 0)) / cycle_days))


def _longest_cycle_days(cycle: str) -> int:
    billing_cycle = cycles.BillingCycle(cycle)
    return 7 if billing_cycle is cycles.BillingCycle.WEEKLY else 31 * cycles.MONTHS_PER_CYCLE[billing_cycle]


def remaining_of(session: Session, service: Service) -> Remaining:
    """What is left of the service's paid time today: whole cycles and the current cycle's days (local dates)."""
    if service.expires_at is None or not cycles.is_recurring(service.billing_cycle):
        return Remaining(0, 0, 0, 0)
    tz = services.timezone_of(session)

    def boundary(back: int) -> date:
        if back == 0:
            return service.expires_at.astimezone(tz).date()  # type: ignore[union-attr]  # called only for services that expire
        return cycles.shift(service.expires_at, service.billing_cycle, -back, service.anchor_day, tz).astimezone(tz).date()  # type: ignore[arg-type]  # called only for services that expire

    expiry_day = boundary(0)
    today = clock.now().astimezone(tz).date()
    if today >= expiry_day:
        return Remaining(0, 0, (expiry_day - boundary(1)).days, 0)
    back = max(1, (expiry_day - today).days // _longest_cycle_days(service.billing_cycle))
    while boundary(back) > today:
        back += 1
    start, end = boundary(back), boundary(back - 1)
    return Remaining(back - 1, (end - today).days, (end - start).days, (expiry_day - today).days)


def upgrade_targets(session: Session, service: Service) -> list[Product]:
    """The products the service's product lists as upgrade targets."""
    if service.product_id is None:
        return []
    product = session.get(Product, service.product_id)
    if product is None or not product.upgrade_targets:
        return []
    ids = [int(identifier) for identifier in product.upgrade_targets]
    found = {item.id: item for item in session.exec(select(Product).where(col(Product.id).in_(ids))).all()}
    return [found[identifier] for identifier in ids if identifier in found]


def quote(session: Session, service: Service, target: Product) -> UpgradeQuote:
    """The prorated amount of moving `service` to `target` today, or why it cannot move."""
    listed = product_price(session, target.id or 0, service.billing_cycle)
    remaining = remaining_of(session, service)
    why_not = None
    if target.id not in {item.id for item in upgrade_targets(session, service)}:
        why_not = f"{target.name!r} is not an upgrade target of {service.product_name or 'a custom service'!r}"
    elif target.type != service.type:
        why_not = f"{target.name!r} is delivered by {target.type!r}, the service by {service.type!r}"
    elif listed is None:
        why_not = f"{target.name!r} has no {service.billing_cycle} price"
    elif listed.currency != service.currency:
        why_not = f"{target.name!r} is priced in {listed.currency}, the service in {service.currency}"
    new_price = listed.price if listed is not None else None
    amount = ZERO
    if new_price is not None:
        amount = max(prorate(service.price, new_price, remaining.current_days, remaining.cycle_days, remaining.whole_cycles), ZERO)
    return UpgradeQuote(target.id or 0, target.name, cents(service.price), new_price, service.currency, remaining, amount, why_not)


def quote_upgrades(session: Session, service_id: int) -> list[UpgradeQuote]:
    """A quote for every upgrade target of the service (for the Upgrade tab)."""
    service = services.get_service(session, service_id)
    return [quote(session, service, target) for target in upgrade_targets(session, service)]


def upgrades_of(session: Session, service_id: int, *, open_only: bool = False) -> list[Upgrade]:
    """The service's upgrades, newest first (only those awaiting payment or running with `open_only`)."""
    query = select(Upgrade).where(Upgrade.service_id == service_id)
    if open_only:
        query = query.where(col(Upgrade.status).in_(OPEN_UPGRADE_STATUSES))
    return list(session.exec(query.order_by(col(Upgrade.id).desc())).all())


def product_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Product names by id, for showing upgrades."""
    if not ids:
        return {}
    return {product.id or 0: product.name for product in session.exec(select(Product).where(col(Product.id).in_(list(ids)))).all()}


def parse_billing(text: str) -> UpgradeBilling:
    """`invoice` or `none` (also `no_billing`), as typed after --billing."""
    value = (text or "").strip().lower().replace("-", "_")
    if value == "invoice":
        return UpgradeBilling.INVOICE
    if value in {"none", "no_billing"}:
        return UpgradeBilling.NO_BILLING
    raise InvalidInput("--billing", f"{text!r} is not a billing mode (invoice or none)")


def _open_upgrade(session: Session, service_id: int, *, besides: int | None = None) -> Upgrade | None:
    query = select(Upgrade).where(col(Upgrade.service_id) == service_id, col(Upgrade.status).in_(OPEN_UPGRADE_STATUSES))
    if besides is not None:
        query = query.where(Upgrade.id != besides)
    return session.exec(query).first()


def _checked_target(session: Session, service: Service, target_ref: str | int) -> tuple[Product, UpgradeQuote]:
    target = resolve_product(session, target_ref, "--to")
    offer = quote(session, service, target)
    if offer.why_not is not None:
        raise services.refuse(service, "upgrade", offer.why_not)
    return target, offer


def _check_upgrade(ctx: ActionContext) -> None:
    service = ctx.service
    if "to" not in ctx.params:
        raise InvalidInput("--to", "an upgrade needs the target product")
    target, offer = _checked_target(ctx.session, service, ctx.params["to"])
    upgrade_id = ctx.params.get("upgrade_id")
    busy = _open_upgrade(ctx.session, service.id or 0, besides=upgrade_id)
    if busy is not None:
        raise ctx.refuse("upgrade", f"upgrade {busy.id} is {busy.status} already")
    if upgrade_id is None:
        upgrade = Upgrade(
            service_id=service.id or 0,
            from_product_id=service.product_id,
            to_product_id=target.id or 0,
            mode=UpgradeBilling.NO_BILLING.value,
            amount=ZERO,
            status=UpgradeStatus.IN_PROGRESS.value,
            created_at=clock.now(),
        )
        ctx.session.add(upgrade)
        ctx.session.flush()
        ctx.params["upgrade_id"] = upgrade.id
    ctx.params["to"] = target.id
    if ctx.params.get("price") is None:
        ctx.params["price"] = str(offer.new_price)
    ctx.params["_product_ref"] = asdict(services.product_ref(target))


def _apply_upgrade(ctx: ActionContext) -> str:
    service = ctx.service
    before_status = service.status
    upgrade = ctx.session.get(Upgrade, int(ctx.params["upgrade_id"]))
    target = ctx.session.get(Product, int(ctx.params["to"]))
    if upgrade is None or target is None:
        raise NotFound(f"upgrade: upgrade {ctx.params.get('upgrade_id')} or product {ctx.params.get('to')} is gone")
    old_product, old_price = service.product_name, service.price
    new_price = cents(ctx.params["price"])
    if ctx.result is not None and ctx.result.external:
        services.store_external(service, ctx.result.external)
    service.product_id = target.id
    service.product_name = target.name
    service.price = new_price
    upgrade.status = UpgradeStatus.DONE.value
    upgrade.completed_at = clock.now()
    ctx.session.add(upgrade)
    activity.record(
        ctx.session,
        service,
        ctx.actor,
        "upgrade",
        from_status=before_status,
        to_status=service.status,
        reason=ctx.params.get("reason"),
        details={
            "upgrade": upgrade.id,
            "from": old_product,
            "to": target.name,
            "price": [str(old_price), str(new_price)],
            "mode": upgrade.mode,
            "invoice": upgrade.invoice_id,
        },
    )
    return f"{old_product} -> {target.name}, price {cents(old_price)} -> {new_price} {service.currency}"


def _upgrade_call(ctx: ActionContext) -> str | None:
    return "change_package" if services.module_supports(ctx.service, "change_package") else None


def _upgrade_failed(session: Session, job: Job, error: str) -> None:
    upgrade_id = (job.params or {}).get("upgrade_id")
    upgrade = session.get(Upgrade, int(upgrade_id)) if upgrade_id is not None else None
    if upgrade is not None and upgrade.status == UpgradeStatus.IN_PROGRESS.value:
        upgrade.status = UpgradeStatus.FAILED.value
        upgrade.completed_at = clock.now()
        session.add(upgrade)


@dataclass
class UpgradeStart:
    """What launching an upgrade did: applied or queued at once, or an invoice to be paid."""

    upgrade: Upgrade
    invoice: Invoice | None
    outcome: Outcome | None

    @property
    def job_id(self) -> int | None:
        """The change_package job queued, if the module does the change."""
        return self.outcome.job_id if self.outcome else None


def start_upgrade(session: Session, actor: Actor, service_id: int, target_ref: str, billing: str) -> UpgradeStart:
    """Move a service to another product: at once without billing, or once the prorated invoice is paid."""
    mode = parse_billing(billing)
    if mode is UpgradeBilling.NO_BILLING:
        outcome = services.perform(session, actor, "upgrade", service_id, {"to": target_ref, "reason": "upgrade without billing"})
        upgrade = _latest_upgrade(session, service_id)
        return UpgradeStart(upgrade, None, outcome)
    rule = services.ACTIONS["upgrade"]
    require(actor, rule.role, rule.title.lower())
    service = services.get_service(session, service_id, for_update=True)
    if not rule.allows(service.status):
        raise services.refuse(service, "upgrade", f"allowed from {rule.allowed_from_text}")
    target, offer = _checked_target(session, service, target_ref)
    busy = _open_upgrade(session, service_id)
    if busy is not None:
        raise services.refuse(service, "upgrade", f"upgrade {busy.id} is {busy.status} already")
    if offer.amount <= ZERO:
        raise services.refuse(service, "upgrade", f"nothing to invoice (prorated difference {money_text(offer.amount, service.currency)}); use --billing none")
    invoice = new_invoice(session, service.customer_id, service.currency)
    upgrade = Upgrade(
        service_id=service_id,
        from_product_id=service.product_id,
        to_product_id=target.id or 0,
        mode=UpgradeBilling.INVOICE.value,
        amount=offer.amount,
        invoice_id=invoice.id,
        status=UpgradeStatus.AWAITING_PAYMENT.value,
        created_at=clock.now(),
    )
    session.add(upgrade)
    session.flush()
    line = InvoiceLine(
        invoice_id=invoice.id or 0,
        service_id=service_id,
        kind=LineKind.UPGRADE.value,
        description=f"Upgrade of #{service_id} {service.name}: {service.product_name} -> {target.name} ({offer.remaining.text})"[:500],
        amount=offer.amount,
        period_start=clock.now(),
        period_end=service.expires_at,
        details={"upgrade_id": upgrade.id, "to": target.id, "new_price": str(offer.new_price), **_remaining_details(offer.remaining)},
    )
    session.add(line)
    session.flush()
    _record_on_service(
        session,
        actor,
        service,
        "upgrade_invoiced",
        {"upgrade": upgrade.id, "invoice": invoice.id, "to": target.name, "amount": str(offer.amount), **_remaining_details(offer.remaining)},
    )
    return UpgradeStart(upgrade, invoice, None)


def _remaining_details(remaining: Remaining) -> dict[str, int]:
    return {
        "remaining_days": remaining.total_days,
        "whole_cycles": remaining.whole_cycles,
        "current_days": remaining.current_days,
        "cycle_days": remaining.cycle_days,
    }


def _latest_upgrade(session: Session, service_id: int) -> Upgrade:
    upgrade = session.exec(select(Upgrade).where(col(Upgrade.service_id) == service_id).order_by(col(Upgrade.id).desc())).first()
    assert upgrade is not None
    return upgrade


def _apply_upgrade_line(session: Session, actor: Actor, invoice: Invoice, line: InvoiceLine) -> tuple[str, int | None]:
    details = dict(line.details or {})
    upgrade = session.get(Upgrade, int(details["upgrade_id"]))
    if upgrade is None:
        raise NotFound(f"upgrade: no upgrade {details['upgrade_id']}")
    if upgrade.status != UpgradeStatus.AWAITING_PAYMENT.value:
        raise SvcError(f"upgrade {upgrade.id} is {upgrade.status}: not applied")
    upgrade.status = UpgradeStatus.IN_PROGRESS.value
    session.add(upgrade)
    session.flush()
    outcome = services.perform(
        session,
        actor,
        "upgrade",
        upgrade.service_id,
        {"to": upgrade.to_product_id, "upgrade_id": upgrade.id, "price": details.get("new_price"), "reason": f"invoice {invoice.id} paid"},
    )
    return outcome.message, outcome.job_id


def _line_of_job(session: Session, job: Job) -> InvoiceLine | None:
    line_id = (job.params or {}).get("line_id")
    return session.get(InvoiceLine, int(line_id)) if line_id is not None else None


def _renewal_job_succeeded(session: Session, job: Job) -> None:
    line = _line_of_job(session, job)
    if line is None or line.applied_at is not None:
        return
    line.applied_at = clock.now()
    line.details = {key: value for key, value in (line.details or {}).items() if key not in {"error", "attempted_at"}}
    session.add(line)


def _renewal_job_failed(session: Session, job: Job, error: str) -> None:
    line = _line_of_job(session, job)
    if line is None or line.applied_at is not None:
        return
    line.details = {**(line.details or {}), "job": job.id, "error": f"renewal job {job.id} failed: {error}", "attempted_at": services.iso(clock.now())}
    session.add(line)


def _refuse_renewing_a_billed_period(session: Session, service: Service) -> None:
    """Renewing now while an unpaid invoice bills the same period would renew it twice once paid."""
    if service.expires_at is None:
        return
    existing = renewal_line_for_period(session, service.id or 0, service.expires_at, statuses=OPEN_STATUSES)
    if existing is not None:
        raise services.refuse(
            service,
            "renew",
            f"invoice {existing.invoice_id} already bills the period from {_local_day(service.expires_at, session)} (unpaid); "
            "mark it paid to renew, or cancel it first",
        )


renew_checks.add(_refuse_renewing_a_billed_period)
services.register_action("renew-invoice", ActionImpl(_check_renew_invoice, _apply_renew_invoice, _no_module_call))
services.register_action("upgrade", ActionImpl(_check_upgrade, _apply_upgrade, _upgrade_call))
services.register_final_failure_hook("upgrade", _upgrade_failed)
services.register_success_hook("renew", _renewal_job_succeeded)
services.register_final_failure_hook("renew", _renewal_job_failed)

__all__ = [
    "InvoiceStatus",
    "LineKind",
    "LineRequest",
    "OrderItem",
    "PayResult",
    "UpgradeBilling",
    "UpgradeQuote",
    "UpgradeStatus",
    "add_lines",
    "apply_paid_line",
    "cancel_invoice",
    "create_invoice",
    "create_order",
    "get_invoice",
    "invoice_renewal",
    "list_invoices",
    "paid_lines_to_apply",
    "paid_unapplied_renewals",
    "pay_invoice",
    "prorate",
    "quote_upgrades",
    "remaining_of",
    "start_upgrade",
    "upgrades_of",
]
