"""Invoice queries shared by the admin side and the customer area."""

from __future__ import annotations

from sqlalchemy import Subquery, func, select

from svcconsole.store.models import InvoiceLine


def invoice_totals() -> Subquery:
    """Each invoice's total and line count, computed in the database (join on `invoice_id`)."""
    return (
        select(
            InvoiceLine.invoice_id.label("invoice_id"),  # type: ignore[attr-defined]
            func.coalesce(func.sum(InvoiceLine.amount), 0).label("total"),
            func.count(InvoiceLine.id).label("line_count"),  # type: ignore[arg-type]
        )
        .group_by(InvoiceLine.invoice_id)
        .subquery()
    )
