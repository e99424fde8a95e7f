"""What renewing a service now (not by paying an invoice) must check beyond the status table."""

from __future__ import annotations

from sqlmodel import Session

from svcconsole.core.invoice_lookups import OPEN_STATUSES, local_day, renewal_line_for_period
from svcconsole.core.lookups import refuse
from svcconsole.store.models import Service


def refuse_renewing_a_billed_period(session: Session, service: Service) -> None:
    """Renewing now while an unpaid invoice bills the same period would renew it twice once paid."""
    if service.expires_at is None:
        return
    existing = renewal_line_for_period(session, service.id or 0, service.expires_at, statuses=OPEN_STATUSES)
    if existing is not None:
        raise refuse(
            service,
            "renew",
            f"invoice {existing.invoice_id} already bills the period from {local_day(service.expires_at, session)} (unpaid); "
            "mark it paid to renew, or cancel it first",
        )
