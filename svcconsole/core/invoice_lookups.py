"""Invoices as they stand: their statuses, money in cents, look-ups, and the dicts the CLI prints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from svcconsole.core.errors import InvalidInput, NotFound
from svcconsole.core.lookups import day, iso, timezone_of
from svcconsole.store.invoices import invoice_totals
from svcconsole.store.models import (
    Customer,
    Invoice,
    InvoiceLine,
    Service,
)

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
    OVERAGE = "overage"


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


def local_day(moment: datetime | None, session: Session) -> str:
    return day(moment, timezone_of(session))


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
        "due_at": iso(invoice.due_at),
        "created_at": iso(invoice.created_at),
        "paid_at": iso(invoice.paid_at),
        "cancelled_at": iso(invoice.cancelled_at),
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
        "period_start": iso(line.period_start),
        "period_end": iso(line.period_end),
        "applied_at": iso(line.applied_at),
        "error": (line.details or {}).get("error"),
        "details": dict(line.details or {}),
    }
