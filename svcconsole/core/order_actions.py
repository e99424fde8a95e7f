"""The status table's order rows (SPEC.md section 3): an `ordered` service's invoice paid or cancelled.

An order creates its services at once in `ordered` (no module call, not billable, untouched by
the automation). Paying the order's invoice runs `pay-order` (ordered -> pending; marked
awaiting approval when the setting `order_approval` is on); cancelling it runs `cancel-order`
(ordered -> cancelled). Each checks the invoice as it stands when applied, so neither can run
while the invoice is still unpaid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from svcconsole.core.action_base import ActionContext, ActionImpl, log_action
from svcconsole.core.invoice_lookups import InvoiceStatus, LineKind
from svcconsole.core.statuses import Status
from svcconsole.store.models import Invoice, InvoiceLine, Service

AWAITING_APPROVAL = "awaiting"
"""`service.approval` while a paid order waits for an admin (see `core.order_approval`)."""


def order_line_of(session: Session, service_id: int) -> InvoiceLine | None:
    """The order line that created the service, if an order did."""
    query = select(InvoiceLine).where(col(InvoiceLine.service_id) == service_id, col(InvoiceLine.kind) == LineKind.ORDER.value)
    return session.exec(query.order_by(col(InvoiceLine.id).desc())).first()


def order_invoice_of(session: Session, service_id: int) -> Invoice | None:
    """The invoice of the order that created the service, if an order did."""
    line = order_line_of(session, service_id)
    return session.get(Invoice, line.invoice_id) if line is not None else None


def is_awaiting_approval(service: Any) -> bool:
    """Whether a paid order's service waits for an admin's approval before delivery."""
    return getattr(service, "approval", None) == AWAITING_APPROVAL and service.status == Status.PENDING.value


def _invoice_in(ctx: ActionContext, action: str, wanted: InvoiceStatus) -> Invoice:
    invoice = order_invoice_of(ctx.session, ctx.service.id or 0)
    if invoice is None:
        raise ctx.refuse(action, "no order invoice created it")
    if invoice.status != wanted.value:
        raise ctx.refuse(action, f"its order's invoice {invoice.id} is {invoice.status}, not {wanted.value}")
    return invoice


def _check_pay(ctx: ActionContext) -> None:
    _invoice_in(ctx, "pay order", InvoiceStatus.PAID)


def _apply_pay(ctx: ActionContext) -> str:
    service = ctx.service
    invoice = _invoice_in(ctx, "pay order", InvoiceStatus.PAID)
    before = service.status
    service.status = Status.PENDING.value
    awaiting = bool(ctx.settings["order_approval"])
    service.approval = AWAITING_APPROVAL if awaiting else None
    log_action(ctx, "pay-order", before, reason=f"invoice {invoice.id} paid", details={"invoice": invoice.id, "awaiting_approval": awaiting})
    return f"{before} -> pending" + (" (awaiting approval)" if awaiting else "")


def _check_cancel(ctx: ActionContext) -> None:
    _invoice_in(ctx, "cancel order", InvoiceStatus.CANCELLED)


def _apply_cancel(ctx: ActionContext) -> str:
    service = ctx.service
    invoice = _invoice_in(ctx, "cancel order", InvoiceStatus.CANCELLED)
    before = service.status
    service.status = Status.CANCELLED.value
    service.cancelled_at = invoice.cancelled_at
    service.cancel_reason = ctx.params.get("reason") or f"invoice {invoice.id} cancelled"
    log_action(ctx, "cancel-order", before, reason=service.cancel_reason, details={"invoice": invoice.id})
    return f"{before} -> cancelled"


def _no_call(ctx: ActionContext) -> str | None:
    return None


IMPLEMENTATIONS: dict[str, ActionImpl] = {
    "pay-order": ActionImpl(_check_pay, _apply_pay, _no_call),
    "cancel-order": ActionImpl(_check_cancel, _apply_cancel, _no_call),
}


def ordered_services_of(session: Session, invoice_id: int) -> list[Service]:
    """The services of an invoice's order lines still in `ordered`."""
    query = (
        select(Service)
        .join(InvoiceLine, col(InvoiceLine.service_id) == col(Service.id))
        .where(col(InvoiceLine.invoice_id) == invoice_id, col(InvoiceLine.kind) == LineKind.ORDER.value, col(Service.status) == Status.ORDERED.value)
        .order_by(col(Service.id))
    )
    return list(session.exec(query).all())


CHOSEN_KEYS = ("product", "cycle", "name", "domain", "price", "setup_fee", "options")
"""What an order line records of the customer's choices (the Metadata tab shows them)."""


@dataclass(frozen=True)
class OrderSummary:
    """The order that created a service: its invoice, date, lines and the choices made."""

    invoice_id: int
    ordered_at: datetime
    invoice_status: str
    paid_at: datetime | None
    currency: str
    lines: list[tuple[str, Decimal]]
    chosen: dict[str, Any]


def order_summary(session: Session, service_id: int) -> OrderSummary | None:
    """The order behind a service, None when it was created or imported by hand."""
    line = order_line_of(session, service_id)
    invoice = session.get(Invoice, line.invoice_id) if line is not None else None
    if line is None or invoice is None:
        return None
    lines = session.exec(select(InvoiceLine).where(col(InvoiceLine.invoice_id) == invoice.id).order_by(col(InvoiceLine.id))).all()
    details = line.details or {}
    chosen = {key: details[key] for key in CHOSEN_KEYS if details.get(key) not in (None, "", {}, [])}
    return OrderSummary(
        invoice.id or 0, invoice.created_at, invoice.status, invoice.paid_at, invoice.currency, [(item.description, item.amount) for item in lines], chosen
    )
