"""Every read the customer area makes, each one limited to one customer's visible services.

A `CustomerScope` adds `customer_id = X AND status <> 'deleted'` to every query it builds, and
forces the same scope onto any service filter it is given, so no filter, id or screen of the
customer area can reach another customer's rows. A service outside the scope is answered
exactly as a service that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlmodel import Session, col

from svcconsole.store import queries
from svcconsole.store.engine import Database
from svcconsole.store.invoices import invoice_totals
from svcconsole.store.models import Activity, Customer, Invoice, InvoiceLine, Renewal, Service, ServiceOption, Ticket, TicketMessage, Usage
from svcconsole.store.queries import ServiceFilter, Sort
from svcconsole.store.window import ServiceWindow

DELETED = "deleted"


@dataclass(frozen=True)
class ActiveServiceRow:
    """A row of the "Active services" widget: the service and what one renewal costs."""

    id: int
    name: str
    status: str
    billing_cycle: str
    expires_at: Any
    suspended_at: Any
    auto_renew: bool
    currency: str
    renewal_price: Decimal


@dataclass(frozen=True)
class OverageRow:
    """A row of the "Services with overages" widget: the service and its overage cost this period."""

    id: int
    name: str
    status: str
    expires_at: Any
    suspended_at: Any
    currency: str
    cost: Decimal


@dataclass(frozen=True)
class TicketRow:
    """One of the customer's tickets, its service's name and how many staff replies they have not read."""

    ticket: Ticket
    service_name: str
    unread: int


@dataclass(frozen=True)
class InvoiceRow:
    """One of the customer's invoices with its total."""

    invoice: Invoice
    total: Decimal
    line_count: int


class CustomerScope:
    """The customer area's data access for one customer: services, satellites and invoices."""

    def __init__(self, customer_id: int) -> None:
        if not isinstance(customer_id, int) or isinstance(customer_id, bool) or customer_id <= 0:
            raise ValueError("a customer scope needs a positive customer id")
        self.customer_id = customer_id

    def visible(self) -> list[ColumnElement[bool]]:
        """The conditions every service row the customer sees meets."""
        return [col(Service.customer_id) == self.customer_id, col(Service.status) != DELETED]

    def services_filter(self, service_filter: ServiceFilter | None = None) -> ServiceFilter:
        """`service_filter` (or no filter) narrowed to this customer, deleted services excluded."""
        base = service_filter or ServiceFilter()
        return replace(base, scope_customer_id=self.customer_id, include_deleted=False)

    # ------------------------------------------------------------------ the customer

    def customer(self, session: Session) -> Customer | None:
        return session.get(Customer, self.customer_id)

    # ------------------------------------------------------------------ services

    def service(self, session: Session, service_id: int, *, for_update: bool = False) -> Service | None:
        """The service if this customer may see it; None otherwise (as for an unknown id)."""
        query = select(Service).where(col(Service.id) == service_id, *self.visible())
        if for_update:
            query = query.with_for_update()
        return session.execute(query).scalars().first()

    def count(self, session: Session, service_filter: ServiceFilter | None = None) -> int:
        query = queries.filtered(select(func.count()).select_from(Service), self.services_filter(service_filter)).where(*self.visible())
        return session.execute(query).scalar_one()

    def counts_by_status(self, session: Session, service_filter: ServiceFilter | None = None) -> dict[str, int]:
        """How many of the customer's services match the filter, by status (its statuses ignored)."""
        base = replace(self.services_filter(service_filter), statuses=())
        query = queries.filtered(select(col(Service.status), func.count()).select_from(Service), base).where(*self.visible()).group_by(col(Service.status))
        return {status: total for status, total in session.execute(query).all()}

    def page(self, session: Session, service_filter: ServiceFilter | None = None, sort: Sort = Sort(), *, limit: int = 50) -> list[Any]:
        return queries.page(session, self.services_filter(service_filter), sort, limit=limit)

    def window(self, db: Database, *, page_size: int = 100) -> ScopedServiceWindow:
        """A list window that keeps this scope whatever filter it is configured with."""
        return ScopedServiceWindow(db, self, page_size=page_size)

    def active_services(self, session: Session, statuses: Sequence[str], *, limit: int) -> list[ActiveServiceRow]:
        """The services in `statuses`, soonest expiry first, with the price of one renewal (options included)."""
        options = (
            select(func.coalesce(func.sum(ServiceOption.price * ServiceOption.quantity), 0))
            .where(col(ServiceOption.service_id) == col(Service.id))
            .scalar_subquery()
        )
        query = (
            select(
                col(Service.id),
                col(Service.name),
                col(Service.status),
                col(Service.billing_cycle),
                col(Service.expires_at),
                col(Service.suspended_at),
                col(Service.auto_renew),
                col(Service.currency),
                col(Service.price),
                options,
            )
            .where(*self.visible(), col(Service.status).in_(list(statuses)))
            .order_by(col(Service.expires_at).is_(None), col(Service.expires_at), col(Service.id))
            .limit(limit)
        )
        return [
            ActiveServiceRow(
                id=row[0],
                name=row[1],
                status=row[2],
                billing_cycle=row[3],
                expires_at=row[4],
                suspended_at=row[5],
                auto_renew=bool(row[6]),
                currency=row[7],
                renewal_price=(Decimal(row[8] or 0) + Decimal(row[9] or 0)).quantize(Decimal("0.01")),
            )
            for row in session.execute(query).all()
        ]

    def _overage_costs(self, now: Any) -> Any:
        """The customer's services with their overage cost in the period holding `now` (not billed yet), those above zero."""
        cost = func.sum(Usage.cost)
        return (
            select(col(Usage.service_id).label("service_id"), cost.label("cost"))
            .join(Service, col(Service.id) == col(Usage.service_id))
            .where(*self.visible(), col(Usage.period_start) <= now, col(Usage.period_end) > now, col(Usage.invoice_line_id).is_(None))
            .group_by(col(Usage.service_id))
            .having(cost > 0)
        )

    def services_with_overage(self, session: Session, now: Any, *, limit: int) -> list[OverageRow]:
        """The services whose current period costs an overage, soonest expiry first."""
        costs = self._overage_costs(now).subquery()
        query = (
            select(
                col(Service.id), col(Service.name), col(Service.status), col(Service.expires_at), col(Service.suspended_at), col(Service.currency), costs.c.cost
            )
            .join(costs, costs.c.service_id == col(Service.id))
            .where(*self.visible())
            .order_by(col(Service.expires_at).is_(None), col(Service.expires_at), col(Service.id))
            .limit(limit)
        )
        return [OverageRow(row[0], row[1], row[2], row[3], row[4], row[5], Decimal(row[6]).quantize(Decimal("0.01"))) for row in session.execute(query).all()]

    def count_with_overage(self, session: Session, now: Any) -> int:
        return session.execute(select(func.count()).select_from(self._overage_costs(now).subquery())).scalar_one()

    def usage_rows(self, session: Session, service_id: int, period_start: Any) -> list[Usage]:
        """The usage rows of one of the customer's services for the period starting at `period_start`
        (none for an id no service can have)."""
        if not 0 < service_id <= queries.MAX_ID:
            return []
        query = (
            select(Usage)
            .join(Service, col(Service.id) == col(Usage.service_id))
            .where(col(Usage.service_id) == service_id, col(Usage.period_start) == period_start, *self.visible())
            .order_by(col(Usage.metric))
        )
        return list(session.scalars(query).all())

    def count_in(self, session: Session, statuses: Sequence[str]) -> int:
        query = select(func.count()).select_from(Service).where(*self.visible(), col(Service.status).in_(list(statuses)))
        return session.execute(query).scalar_one()

    # ------------------------------------------------------------------ a service's satellites

    def renewals(self, session: Session, service_id: int) -> list[Renewal]:
        query = (
            select(Renewal)
            .join(Service, col(Service.id) == col(Renewal.service_id))
            .where(col(Renewal.service_id) == service_id, *self.visible())
            .order_by(col(Renewal.id).desc())
        )
        return list(session.execute(query).scalars().all())

    def options(self, session: Session, service_id: int) -> list[ServiceOption]:
        query = (
            select(ServiceOption)
            .join(Service, col(Service.id) == col(ServiceOption.service_id))
            .where(col(ServiceOption.service_id) == service_id, *self.visible())
            .order_by(col(ServiceOption.id))
        )
        return list(session.execute(query).scalars().all())

    def history(self, session: Session, service_id: int, actions: Sequence[str], *, limit: int, before_id: int | None = None) -> list[Activity]:
        """The service's activity rows of the given actions, newest first, paged by id."""
        query = (
            select(Activity)
            .join(Service, col(Service.id) == col(Activity.service_id))
            .where(col(Activity.service_id) == service_id, col(Activity.action).in_(list(actions)), *self.visible())
        )
        if before_id is not None:
            query = query.where(col(Activity.id) < before_id)
        query = query.order_by(col(Activity.id).desc()).limit(limit)
        return list(session.execute(query).scalars().all())

    def last_activity(self, session: Session, service_id: int, action: str) -> Activity | None:
        query = (
            select(Activity)
            .join(Service, col(Service.id) == col(Activity.service_id))
            .where(col(Activity.service_id) == service_id, col(Activity.action) == action, *self.visible())
            .order_by(col(Activity.id).desc())
            .limit(1)
        )
        return session.execute(query).scalars().first()

    # ------------------------------------------------------------------ invoices

    def invoices(self, session: Session, statuses: Sequence[str], *, limit: int = 50) -> list[InvoiceRow]:
        """The customer's invoices in `statuses`, newest first, with totals from the database."""
        totals = invoice_totals()
        query = (
            select(Invoice, totals.c.total, totals.c.line_count)
            .outerjoin(totals, totals.c.invoice_id == Invoice.id)
            .where(col(Invoice.customer_id) == self.customer_id, col(Invoice.status).in_(list(statuses)))
            .order_by(col(Invoice.id).desc())
            .limit(limit)
        )
        return [InvoiceRow(invoice, Decimal(total or 0).quantize(Decimal("0.01")), int(count or 0)) for invoice, total, count in session.execute(query).all()]

    def invoice(self, session: Session, invoice_id: int) -> Invoice | None:
        """One of the customer's invoices (None for anyone else's)."""
        query = select(Invoice).where(col(Invoice.id) == invoice_id, col(Invoice.customer_id) == self.customer_id)
        return session.execute(query).scalars().first()

    def invoice_lines(self, session: Session, invoice_id: int) -> list[InvoiceLine]:
        query = (
            select(InvoiceLine)
            .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
            .where(col(InvoiceLine.invoice_id) == invoice_id, col(Invoice.customer_id) == self.customer_id)
            .order_by(col(InvoiceLine.id))
        )
        return list(session.execute(query).scalars().all())

    def newest_open_invoice(self, session: Session, status: str, currency: str) -> Invoice | None:
        """The customer's newest invoice in `status` and `currency` (a renewal can be added to it)."""
        query = (
            select(Invoice)
            .where(col(Invoice.customer_id) == self.customer_id, col(Invoice.status) == status, col(Invoice.currency) == currency)
            .order_by(col(Invoice.id).desc())
            .limit(1)
        )
        return session.execute(query).scalars().first()

    def renewal_line_for_period(self, session: Session, service_id: int, period_start: Any, statuses: Sequence[str]) -> InvoiceLine | None:
        """A renewal line of one of the customer's invoices for the period starting at `period_start`."""
        query = (
            select(InvoiceLine)
            .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
            .where(
                col(Invoice.customer_id) == self.customer_id,
                col(Invoice.status).in_(list(statuses)),
                col(InvoiceLine.service_id) == service_id,
                col(InvoiceLine.kind) == "renewal",
                InvoiceLine.period_start == period_start,
            )
            .order_by(col(InvoiceLine.id))
        )
        return session.execute(query).scalars().first()

    def option_lines(self, session: Session, service_id: int, statuses: Sequence[str]) -> list[InvoiceLine]:
        """The option lines of the customer's invoices in `statuses` for one of their services."""
        query = (
            select(InvoiceLine)
            .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
            .where(
                col(Invoice.customer_id) == self.customer_id,
                col(Invoice.status).in_(list(statuses)),
                col(InvoiceLine.service_id) == service_id,
                col(InvoiceLine.kind) == "option",
            )
            .order_by(col(InvoiceLine.id))
            .limit(100)
        )
        return list(session.execute(query).scalars().all())

    # ------------------------------------------------------------------ tickets

    def _ticket_query(self, *columns: Any) -> Any:
        """Tickets of this customer about a service they still see (a service given to another
        customer takes its tickets out of both areas; the staff keep them)."""
        return (
            select(*columns)
            .select_from(Ticket)
            .join(Service, col(Service.id) == col(Ticket.service_id))
            .where(col(Ticket.customer_id) == self.customer_id, *self.visible())
        )

    @staticmethod
    def _unread() -> Any:
        """Per ticket: the staff's public messages after the customer's read mark."""
        return (
            select(func.count())
            .select_from(TicketMessage)
            .where(
                col(TicketMessage.ticket_id) == col(Ticket.id),
                col(TicketMessage.author_kind) == "admin",
                col(TicketMessage.internal).is_(False),
                col(TicketMessage.id) > col(Ticket.customer_read_id),
            )
            .scalar_subquery()
        )

    def tickets(self, session: Session, *, service_id: int | None = None, limit: int = 50) -> list[TicketRow]:
        """The customer's tickets (about one service when given), most recently updated first."""
        query = self._ticket_query(Ticket, col(Service.name), self._unread())
        if service_id is not None:
            query = query.where(col(Ticket.service_id) == service_id)
        query = query.order_by(col(Ticket.updated_at).desc(), col(Ticket.id).desc()).limit(limit)
        return [TicketRow(ticket, name, int(unread or 0)) for ticket, name, unread in session.execute(query).all()]

    def unread_tickets(self, session: Session) -> int:
        """How many of the customer's tickets have a staff reply they have not read."""
        query = self._ticket_query(func.count()).where(self._unread() > 0)
        return int(session.execute(query).scalar_one())

    def ticket(self, session: Session, ticket_id: int, *, for_update: bool = False) -> Ticket | None:
        """The ticket if it is this customer's, about a service they see; None otherwise (as for an unknown id)."""
        query = self._ticket_query(Ticket).where(col(Ticket.id) == ticket_id)
        if for_update:
            query = query.with_for_update(of=Ticket)
        return session.execute(query).scalars().first()

    def ticket_messages(self, session: Session, ticket_id: int, *, limit: int, before_id: int | None = None) -> list[TicketMessage]:
        """The ticket's public messages (never a staff note), newest first, paged by id."""
        query = (
            select(TicketMessage)
            .join(Ticket, col(Ticket.id) == col(TicketMessage.ticket_id))
            .join(Service, col(Service.id) == col(Ticket.service_id))
            .where(
                col(TicketMessage.ticket_id) == ticket_id,
                col(TicketMessage.internal).is_(False),
                col(Ticket.customer_id) == self.customer_id,
                *self.visible(),
            )
        )
        if before_id is not None:
            query = query.where(col(TicketMessage.id) < before_id)
        query = query.order_by(col(TicketMessage.id).desc()).limit(limit)
        return list(session.execute(query).scalars().all())


class ScopedServiceWindow(ServiceWindow):
    """A `ServiceWindow` whose filter is always narrowed to one customer's visible services."""

    def __init__(self, db: Database, scope: CustomerScope, **options: Any) -> None:
        super().__init__(db, **options)
        self.scope = scope
        self.service_filter = scope.services_filter(self.service_filter)

    def configure(self, service_filter: ServiceFilter, sort: Sort) -> int:
        return super().configure(self.scope.services_filter(service_filter), sort)


__all__ = ["ActiveServiceRow", "CustomerScope", "InvoiceRow", "ScopedServiceWindow", "TicketRow"]
