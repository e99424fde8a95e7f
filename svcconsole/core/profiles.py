"""A customer's profile as an admin reads it: the customer, their services counted by status,
their latest invoices, and the latest changes to them (edits, transfers in and out) and to their
services.

The services themselves are not listed here: the console shows them in its paged list, scoped
to the customer, so a customer with 100,000 services costs one page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, func, select

from svcconsole.core import activity
from svcconsole.core.catalog import resolve_customer
from svcconsole.core.invoice_lookups import InvoiceSummary, list_invoices
from svcconsole.core.operators import Actor, require
from svcconsole.core.statuses import NON_TRANSITION_ROLES
from svcconsole.store.models import Activity, Customer, Service

SHOWN_INVOICES = 20
SHOWN_CHANGES = 30
EMAIL_MATCHES = 8
ACTIVITY_SERVICES = 200
"""The Activity section reads the rows of at most this many of the customer's newest services."""


@dataclass
class CustomerProfile:
    """What the Customer screen shows above and beside the customer's services."""

    customer: Customer
    services_by_status: dict[str, int] = field(default_factory=dict)
    invoices: list[InvoiceSummary] = field(default_factory=list)
    changes: list[Activity] = field(default_factory=list)

    @property
    def service_count(self) -> int:
        return sum(self.services_by_status.values())


def customer_profile(session: Session, actor: Actor, ref: str | int) -> CustomerProfile:
    """The profile of the customer `ref` names (an id or an email)."""
    require(actor, NON_TRANSITION_ROLES["read"], "reading")
    customer = resolve_customer(session, ref)
    counts = session.exec(select(Service.status, func.count()).where(Service.customer_id == customer.id).group_by(Service.status)).all()
    changes = activity.changes_of(session, "customer", customer.id or 0, limit=SHOWN_CHANGES) + services_activity(session, customer.id or 0)
    return CustomerProfile(
        customer=customer,
        services_by_status={status: total for status, total in counts},
        invoices=list_invoices(session, customer_id=customer.id, limit=SHOWN_INVOICES),
        changes=sorted(changes, key=lambda row: row.id or 0, reverse=True)[:SHOWN_CHANGES],
    )


def services_activity(session: Session, customer_id: int, *, limit: int = SHOWN_CHANGES) -> list[Activity]:
    """The newest activity rows of the customer's newest `ACTIVITY_SERVICES` services: bounded
    however many services the customer has (both look-ups run on an index)."""
    newest = select(col(Service.id)).where(col(Service.customer_id) == customer_id).order_by(col(Service.id).desc()).limit(ACTIVITY_SERVICES)
    query = select(Activity).where(col(Activity.service_id).in_(newest.scalar_subquery())).order_by(col(Activity.id).desc()).limit(limit)
    return list(session.exec(query).all())


def customers_by_email(session: Session, actor: Actor, typed: str, *, limit: int = EMAIL_MATCHES) -> list[Customer]:
    """Customers whose email starts with `typed` (lower-cased, as emails are stored), the exact
    match first: a range over the email's unique index, never a scan. (Under a database collation
    other than byte order the range may leave some prefix matches out, never the exact one.)"""
    require(actor, NON_TRANSITION_ROLES["read"], "reading")
    prefix = typed.strip().lower()
    if not prefix:
        return []
    exact = session.exec(select(Customer).where(col(Customer.email) == prefix)).first()
    in_range = select(Customer).where(
        col(Customer.email) > prefix, col(Customer.email) < prefix + "\U0010ffff", col(Customer.email).startswith(prefix, autoescape=True)
    )
    others = list(session.exec(in_range.order_by(col(Customer.email)).limit(limit)).all())
    return ([exact] if exact is not None else []) + others[: limit - (1 if exact is not None else 0)]
