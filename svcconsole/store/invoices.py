"""Invoice queries shared by the admin side and the customer area."""

from __future__ import annotations

from sqlalchemy import Subquery, func, select
from sqlmodel import col

from svcconsole.store.models import InvoiceLine


def invoice_totals() -> Subquery:
    """Each invoice's total and line count, computed in the database (join on `invoice_id`)."""
    return (
        select(
            col(InvoiceLine.invoice_id).label("invoice_id"),
            func.coalesce(func.sum(InvoiceLine.amount), 0).label("total"),
            func.count(col(InvoiceLine.id)).label("line_count"),
        )
        .group_by(col(InvoiceLine.invoice_id))
        .subquery()
    )
