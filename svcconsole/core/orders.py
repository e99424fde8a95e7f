"""Orders and payment: what creating and paying an invoice does: renewals, orders and upgrades applied (SPEC.md section 4).

An invoice belongs to one customer and one currency. Paying it applies each line once
(`invoice_line.applied_at`): a renewal extends its service, an order moves its service (created
`ordered` with the order) to `pending` and queues delivery (or leaves it awaiting approval), an
upgrade changes the product. Cancelling the invoice cancels its `ordered` services. A line that cannot be applied
(the service ended meanwhile, or a module job was running on it) keeps its error on the line
and is tried again by the next "pay" and by the automation run (`apply_paid_line`, its step
0); lines applied before are never applied twice. A renewal its module carries out counts as
applied only once its job succeeded; a job that fails for good leaves the line unapplied with
the job's error, and the line waits for an admin to retry or resolve that job. Money is
`Decimal`, rounded to cents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, or_
from sqlmodel import Session, col, func, select

from svcconsole.core import clock, cycles, option_catalog, parse
from svcconsole.core.action_base import Outcome
from svcconsole.core.actions import perform
from svcconsole.core.catalog import prices_of, product_price, resolve_customer, resolve_product, resolve_server
from svcconsole.core.errors import InvalidInput, NotFound, SvcError
from svcconsole.core.invoice_lookups import (
    OPEN_STATUSES,
    ZERO,
    InvoiceStatus,
    LineKind,
    UpgradeBilling,
    UpgradeStatus,
    cents,
    get_invoice,
    lines_of,
    money_text,
    total_of,
)
from svcconsole.core.invoices import BOUGHT_OPTION, add_option_line, add_renewal_line, check_renewal_invoice, new_invoice, record_on_service, void_invoice
from svcconsole.core.lookups import get_service, iso, refuse, settings_of, timezone_of
from svcconsole.core.operators import Actor, require
from svcconsole.core.option_actions import add_ordered_options
from svcconsole.core.order_actions import is_awaiting_approval, ordered_services_of
from svcconsole.core.order_approval import start_delivery
from svcconsole.core.records import ServiceDraft, create_service, require_server
from svcconsole.core.statuses import ACTIONS, NON_TRANSITION_ROLES, Status
from svcconsole.core.upgrades import Remaining, checked_target, open_upgrade, parse_billing
from svcconsole.store.models import (
    Invoice,
    InvoiceLine,
    Job,
    Service,
    ServiceMeta,
    Upgrade,
)

# ----------------------------------------------------------------------------- orders


@dataclass
class OrderItem:
    """One product ordered, as typed: the service it will become once the invoice is paid."""

    product: str
    cycle: str | None = None
    name: str | None = None
    server: str | None = None
    domain: str | None = None
    options: Sequence[str] = ()
    """`NAME=VALUE` choices from the product's option catalogue."""


def _order_line(session: Session, actor: Actor, invoice: Invoice, item: OrderItem) -> InvoiceLine:
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
    require_server(product.type, server, product)
    name = parse.parse_text("--name", item.name if item.name is not None else product.name, required=True) or ""
    domain = parse.parse_domain("--domain", item.domain)
    chosen = option_catalog.choose_all(session, product, item.options)
    amount = cents(listed.price + (listed.setup_fee or ZERO) + sum((option.total for option in chosen), ZERO))
    with_options = f" with {', '.join(option.text for option in chosen)}" if chosen else ""
    line = InvoiceLine(
        invoice_id=invoice.id or 0,
        kind=LineKind.ORDER.value,
        description=f'Order: {product.name} ({cycle}) "{name}"{with_options}'[:500],
        amount=amount,
        details={
            "product_id": product.id,
            "product": product.name,
            "cycle": cycle,
            "name": name,
            "domain": domain,
            "server_id": server.id if server else None,
            "price": str(listed.price),
            "setup_fee": str(listed.setup_fee or ZERO),
            "options": [option.as_dict() for option in chosen],
        },
    )
    session.add(line)
    session.flush()
    _ordered_service(session, actor, invoice, line)
    return line


def _ordered_service(session: Session, actor: Actor, invoice: Invoice, line: InvoiceLine) -> Service:
    """The service an order line will be, created at once in `ordered` (no module call, no expiry yet)."""
    details = dict(line.details or {})
    draft = ServiceDraft(
        customer=str(invoice.customer_id),
        name=str(details["name"]),
        product=str(details["product_id"]),
        cycle=str(details["cycle"]),
        price=str(details["price"]),
        initial_price=str(line.amount),
        server=str(details["server_id"]) if details.get("server_id") else None,
        currency=invoice.currency,
        domain=details.get("domain"),
    )
    service = create_service(session, actor, draft, status=Status.ORDERED)
    add_ordered_options(session, actor, service, details.get("options") or [])
    _first_period_from_delivery(service)
    line.service_id = service.id
    line.details = {**details, "service_id": service.id}
    session.add(line)
    session.add(ServiceMeta(service_id=service.id or 0, key="order_invoice_id", value=str(invoice.id)))
    session.flush()
    return service


def create_order(session: Session, actor: Actor, customer_ref: str, items: Sequence[OrderItem], *, due: str | None = None) -> Invoice:
    """An invoice with one `order` line per item; its services are created when it is paid."""
    require(actor, NON_TRANSITION_ROLES["invoices"], "creating an order")
    if not items:
        raise InvalidInput("--product", "an order needs at least one product")
    customer = resolve_customer(session, customer_ref, "--customer")
    first = resolve_product(session, items[0].product, "--product")
    offered = prices_of(session, first.id or 0)
    currency = offered[0].currency if offered else settings_of(session)["currency"]
    due_at = parse.parse_date("--due", due, timezone_of(session)) if due else None
    invoice = new_invoice(session, customer.id or 0, currency, due_at=due_at)
    for item in items:
        _order_line(session, actor, invoice, item)
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
        service = get_service(session, service_id, for_update=True)
        rule = ACTIONS["renew-invoice"]
        if not rule.allows(service.status):
            raise refuse(service, "renew by invoice", f"allowed from {rule.allowed_from_text}")
        check_renewal_invoice(session, service, cycle_count, invoice.id or 0)
        added.append(add_renewal_line(session, actor, service, cycle_count, invoice))
    for item in request.orders:
        added.append(_order_line(session, actor, invoice, item))
    if request.option_service is not None:
        if request.amount is None or request.description is None:
            raise InvalidInput("--amount", "an option line needs --description and --amount")
        service = get_service(session, request.option_service, for_update=True)
        added.append(add_option_line(session, actor, invoice, service, description=request.description, amount=request.amount))
    return added


def create_invoice(session: Session, actor: Actor, customer_ref: str, request: LineRequest, *, due: str | None = None) -> Invoice:
    """A new unpaid invoice for a customer with the lines requested (at least one)."""
    require(actor, NON_TRANSITION_ROLES["invoices"], "creating an invoice")
    if request.empty():
        raise InvalidInput("lines", "an invoice needs at least one line (--renew SERVICE, --order PRODUCT or --option SERVICE)")
    customer = resolve_customer(session, customer_ref, "--customer")
    currency = _request_currency(session, request) or settings_of(session)["currency"]
    due_at = parse.parse_date("--due", due, timezone_of(session)) if due else _earliest_expiry(session, request.renew)
    invoice = new_invoice(session, customer.id or 0, currency, due_at=due_at)
    _add_lines(session, actor, invoice, request)
    return invoice


def _request_currency(session: Session, request: LineRequest) -> str | None:
    service_ids = [*request.renew, *([request.option_service] if request.option_service is not None else [])]
    if service_ids:
        return get_service(session, service_ids[0]).currency
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
    return [status.value for status in ACTIONS[action].allowed_from]


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
        line.details = {**(line.details or {}), "error": error.message, "attempted_at": iso(clock.now())}
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
        outcome = perform(
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
    if line.kind == LineKind.OPTION.value and line.service_id is not None and (line.details or {}).get(BOUGHT_OPTION):
        outcome = perform(session, actor, "add-option", line.service_id, {"option": str(line.details[BOUGHT_OPTION]), "reason": f"invoice {invoice.id} paid"})
        return outcome.message, outcome.job_id
    if line.service_id is not None:
        service = get_service(session, line.service_id, for_update=True)
        record_on_service(session, actor, service, "invoice_paid", paid)
    return "billed", None


def _apply_order_line(session: Session, actor: Actor, invoice: Invoice, line: InvoiceLine) -> tuple[str, int | None]:
    """The ordered service moves to pending (`pay-order`), then its delivery starts unless it awaits approval.

    A line from before orders created their services at once gets its service now.
    """
    service_id = line.service_id or _ordered_service(session, actor, invoice, line).id or 0
    perform(session, actor, "pay-order", service_id, {})
    service = get_service(session, service_id, for_update=True)
    if is_awaiting_approval(service):
        return f"service {service_id} pending, awaiting approval (`orders approve {service_id}`)", None
    return start_delivery(session, actor, service, invoice.id or 0)


def _first_period_from_delivery(service: Service) -> None:
    """Leave an ordered service without an expiry while it waits for delivery.

    The wait is not the customer's paid time: `deliver` starts the first period, one cycle
    from the delivery day and anchored on it.
    """
    if cycles.is_recurring(service.billing_cycle):
        service.expires_at = None
        service.anchor_day = None


def cancel_invoice(session: Session, actor: Actor, invoice_id: int, *, reason: str | None = None) -> Invoice:
    """Cancel an unpaid invoice: its lines will never apply, its upgrades are cancelled and its unsent renewal mails dropped."""
    require(actor, NON_TRANSITION_ROLES["invoices"], "cancelling an invoice")
    reason = parse.parse_text("--reason", reason, max_length=2000)
    invoice = get_invoice(session, invoice_id, for_update=True)
    if invoice.status == InvoiceStatus.PAID.value:
        raise SvcError(f"invoice {invoice_id} is paid: a paid invoice cannot be cancelled")
    if invoice.status == InvoiceStatus.CANCELLED.value:
        raise SvcError(f"invoice {invoice_id} is cancelled already")
    void_invoice(session, invoice, f"not sent: invoice {invoice_id} was cancelled")
    session.flush()
    ordered = {service.id or 0 for service in ordered_services_of(session, invoice_id)}
    for service_id in sorted(ordered):
        perform(session, actor, "cancel-order", service_id, {"reason": reason})
    service_ids = {line.service_id for line in lines_of(session, invoice_id) if line.service_id is not None} - ordered
    for service_id in sorted(service_ids):
        service = session.get(Service, service_id)
        if service is not None:
            record_on_service(session, actor, service, "invoice_cancelled", {"invoice": invoice_id}, reason=reason)
    session.flush()
    return invoice


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
        outcome = perform(session, actor, "upgrade", service_id, {"to": target_ref, "reason": "upgrade without billing"})
        upgrade = _latest_upgrade(session, service_id)
        return UpgradeStart(upgrade, None, outcome)
    rule = ACTIONS["upgrade"]
    require(actor, rule.role, rule.title.lower())
    service = get_service(session, service_id, for_update=True)
    if not rule.allows(service.status):
        raise refuse(service, "upgrade", f"allowed from {rule.allowed_from_text}")
    target, offer = checked_target(session, service, target_ref)
    busy = open_upgrade(session, service_id)
    if busy is not None:
        raise refuse(service, "upgrade", f"upgrade {busy.id} is {busy.status} already")
    if offer.amount <= ZERO:
        raise refuse(service, "upgrade", f"nothing to invoice (prorated difference {money_text(offer.amount, service.currency)}); use --billing none")
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
    record_on_service(
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
    outcome = perform(
        session,
        actor,
        "upgrade",
        upgrade.service_id,
        {"to": upgrade.to_product_id, "upgrade_id": upgrade.id, "price": details.get("new_price"), "reason": f"invoice {invoice.id} paid"},
    )
    return outcome.message, outcome.job_id
