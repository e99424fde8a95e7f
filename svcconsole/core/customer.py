"""The customer area (SPEC.md section 9): what a customer sees of their services (the few changes
they may make are in `core.customer_actions`).

Every read goes through the store's `CustomerScope` (one customer, deleted services never) and
every function first asks `operators.require_client` what this actor may do, so the customer
area has no other way into the data. A service outside the scope is refused with the same
"no service N" as an id that does not exist. The history a customer reads is an allow-list of
actions, with reasons only on the rows the customer wrote; admin notes, module references,
module errors and the names of staff never leave this module.
"""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from svcconsole.core import clock, credentials, cycles, delivery, filters, invoice_lookups, lookups, order_actions, parse, tickets
from svcconsole.core.catalog import resolve_customer
from svcconsole.core.errors import InvalidInput, NotFound
from svcconsole.core.operators import Actor, client_actor, require_client
from svcconsole.core.statuses import CancelMode, Status
from svcconsole.modules import Credentials, ModuleError, ModuleTab, PanelState, get_module, is_module
from svcconsole.store.customer_scope import ActiveServiceRow, CustomerScope
from svcconsole.store.engine import Database
from svcconsole.store.models import Operator, Product, Service, Ticket
from svcconsole.store.queries import ServiceFilter

log = logging.getLogger("svcconsole.customer")

WIDGET_STATUSES = (Status.ACTIVE.value, Status.SUSPENDED.value)
WIDGET_LIMIT = 100
HISTORY_PAGE = 50
FILTER_KEYS = ("status", "id", "cycle")
FILTER_HELP = "free text (name, product, id) and terms: status:active,suspended id:12 cycle:monthly expires<30d expires>2027-01-01"
RENEWABLE = (Status.ACTIVE.value, Status.SUSPENDED.value)
CANCELLABLE = (Status.PENDING.value, Status.ACTIVE.value, Status.SUSPENDED.value)
AUTO_RENEW_STATUSES = (Status.PENDING.value, Status.ACTIVE.value, Status.SUSPENDED.value)
PANEL_STATUSES = (Status.ACTIVE.value, Status.SUSPENDED.value)
PANEL_UNAVAILABLE = "the panel cannot be reached right now; try again later"
CustomerTicket = tickets.CustomerTicket
CustomerThread = tickets.CustomerThread
CUSTOMER_AUTHOR = tickets.CUSTOMER
"""The author kind of the customer's own messages in a ticket (the staff's are support's)."""

HISTORY_LABELS: dict[str, str] = {
    "create": "ordered",
    "import": "added to your account",
    "order_paid": "order paid",
    "pay-order": "order paid",
    "cancel-order": "order cancelled",
    "order_approved": "order approved",
    "deliver": "activated",
    "redeliver": "activated again",
    "suspend": "suspended",
    "unsuspend": "resumed",
    "renew": "renewed",
    "renewal_invoiced": "renewal invoiced",
    "invoice_paid": "invoice paid",
    "invoice_cancelled": "invoice cancelled",
    "cancel": "cancellation",
    "uncancel": "cancellation withdrawn",
    "expire": "expired",
    "terminate": "terminated",
    "reinstall": "reinstalled",
    "upgrade": "plan changed",
    "upgrade_invoiced": "plan change invoiced",
    "add-days": "expiry moved",
    "subtract-days": "expiry moved",
    "option_add": "option added",
    "option_edit": "option changed",
    "option_remove": "option removed",
    "option_invoiced": "option invoiced",
    "auto_renew": "auto-renewal changed",
    "edit": "details updated",
    "status_override": "status changed",
    "power": "power action",
}
"""The activity a customer sees, and how it is named; any other action stays internal."""

ACTOR_LABELS = {"client": "you", "admin": "support", "system": "automatic"}


# ----------------------------------------------------------------------------- who is acting


def open_area(session: Session, login: str, customer_ref: str) -> Actor:
    """The actor of a customer-area session for `customer_ref` run by OS login `login`.

    An operator of this database gets a read-only preview; any other login is the customer
    (the SSH `ForceCommand` or `command=` fixes which one).
    """
    customer = resolve_customer(session, customer_ref, "--customer")
    operator = session.get(Operator, login)
    return client_actor(customer.id or 0, customer.email, preview_by=login if operator is not None else None)


def time_zone(session: Session) -> ZoneInfo:
    """The configured time zone, in which the customer area shows dates."""
    return lookups.timezone_of(session)


def _scope(actor: Actor, action: str | None, what: str) -> CustomerScope:
    return CustomerScope(require_client(actor, action, what))


def _no_service(service_id: int) -> NotFound:
    return NotFound(f"no service {service_id}")


def _visible(session: Session, scope: CustomerScope, service_id: int, *, for_update: bool = False) -> Service:
    if isinstance(service_id, bool) or not isinstance(service_id, int) or not 0 < service_id <= parse.MAX_ID:
        raise _no_service(service_id)
    service = scope.service(session, service_id, for_update=for_update)
    if service is None:
        raise _no_service(service_id)
    return service


# ----------------------------------------------------------------------------- wording


def day(moment: datetime | None, tz: ZoneInfo) -> str:
    return clock.as_utc(moment).astimezone(tz).date().isoformat() if moment else "-"


def expiry_label(status: str, expires_at: datetime | None, suspended_at: datetime | None, tz: ZoneInfo) -> str:
    """`Expires 2026-08-07` while it runs, `Stopped 2026-07-01` once past its expiry or not active."""
    now = clock.now()
    expires = clock.as_utc(expires_at) if expires_at else None
    if status == Status.ACTIVE.value and (expires is None or expires > now):
        return f"Expires {day(expires, tz)}" if expires else "No expiry"
    if expires is not None and expires <= now:
        return f"Stopped {day(expires, tz)}"
    stopped = suspended_at or expires_at
    return f"Stopped {day(stopped, tz)}" if stopped else "Stopped"


def auto_renew_label(auto_renew: bool) -> str:
    return "On" if auto_renew else "Off"


def renew_price_label(amount: Decimal, currency: str, billing_cycle: str) -> str:
    """`12.00 EUR/month`: what one renewal costs, per billing period."""
    value = f"{Decimal(amount):.2f} {currency}"
    if billing_cycle == cycles.BillingCycle.FREE.value:
        return "free"
    if billing_cycle == cycles.BillingCycle.ONETIME.value:
        return f"{value} once"
    return f"{value}/{cycles.PER_UNIT[cycles.BillingCycle(billing_cycle)]}"


# ----------------------------------------------------------------------------- the dashboard


@dataclass(frozen=True)
class ActiveServiceLine:
    """A row of the "Active services" widget, worded as the client area words it."""

    id: int
    name: str
    expiration: str
    auto_renewal: str
    renew: str


@dataclass(frozen=True)
class InvoiceSummary:
    """One of the customer's invoices: what it bills and by when."""

    id: int
    status: str
    total: str
    due: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Dashboard:
    """The customer area's first page."""

    customer_name: str
    customer_email: str
    active: tuple[ActiveServiceLine, ...]
    active_total: int
    services_total: int
    unpaid: tuple[InvoiceSummary, ...]


def active_line(row: ActiveServiceRow, tz: ZoneInfo) -> ActiveServiceLine:
    return ActiveServiceLine(
        id=row.id,
        name=row.name,
        expiration=expiry_label(row.status, row.expires_at, row.suspended_at, tz),
        auto_renewal=auto_renew_label(row.auto_renew),
        renew=renew_price_label(row.renewal_price, row.currency, row.billing_cycle),
    )


def dashboard(session: Session, actor: Actor, *, limit: int = WIDGET_LIMIT) -> Dashboard:
    """The customer's active services (the widget) and unpaid invoices."""
    scope = _scope(actor, None, "reading")
    tz = lookups.timezone_of(session)
    customer = scope.customer(session)
    if customer is None:
        raise NotFound("customer: this customer no longer exists")
    rows = scope.active_services(session, WIDGET_STATUSES, limit=limit)
    return Dashboard(
        customer_name=customer.name,
        customer_email=customer.email,
        active=tuple(active_line(row, tz) for row in rows),
        active_total=scope.count_in(session, WIDGET_STATUSES),
        services_total=scope.count(session),
        unpaid=tuple(invoices(session, actor, statuses=(invoice_lookups.InvoiceStatus.UNPAID.value,))),
    )


def invoices(session: Session, actor: Actor, *, statuses: tuple[str, ...] = ("unpaid", "paid", "cancelled")) -> list[InvoiceSummary]:
    """The customer's invoices (never drafts), newest first."""
    scope = _scope(actor, None, "reading")
    tz = lookups.timezone_of(session)
    wanted = tuple(status for status in statuses if status != invoice_lookups.InvoiceStatus.DRAFT.value)
    result = []
    for row in scope.invoices(session, wanted):
        lines = tuple(f"{line.description} ({line.amount:.2f} {row.invoice.currency})" for line in scope.invoice_lines(session, row.invoice.id or 0))
        result.append(InvoiceSummary(row.invoice.id or 0, row.invoice.status, f"{row.total:.2f} {row.invoice.currency}", day(row.invoice.due_at, tz), lines))
    return result


# ----------------------------------------------------------------------------- the list


def _tokens(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def list_filter(session: Session, actor: Actor, text: str, *, tz_name: str = "UTC") -> ServiceFilter:
    """The filter line of the customer's service list, always scoped to the customer.

    Only `status:`, `id:`, `cycle:` and `expires<` / `expires>` terms are known here, and the
    free text is checked by the admin list's `filters.with_search` but matched by scanning the
    customer's own rows (never the store-wide index), so nothing is looked up outside them.
    """
    scope = _scope(actor, None, "reading")
    terms, free = [], []
    for token in _tokens(text or ""):
        if filters.EXPIRES_TERM.match(token):
            terms.append(token)
            continue
        term = filters.TERM.match(token)
        if term is None:
            free.append(token)
            continue
        if term.group(1).lower() not in FILTER_KEYS:
            raise InvalidInput("filter", f"unknown key {term.group(1).lower()!r} (known: {', '.join(FILTER_KEYS)}, expires<30d)")
        terms.append(token)
    parsed = filters.parse_filter(session, " ".join(shlex.quote(term) for term in terms), tz_name=tz_name)
    search = parse.parse_text("filter", " ".join(free).strip(), max_length=200)
    searched = filters.with_search(session, parsed, search)
    return scope.services_filter(replace(searched, search_ids=None))


def scope_of(actor: Actor) -> CustomerScope:
    """The store scope of a customer-area actor (for the list's window and counts)."""
    return _scope(actor, None, "reading")


# ----------------------------------------------------------------------------- the detail


@dataclass(frozen=True)
class CustomerService:
    """A service as its customer sees it: no admin notes, internal reasons or panel references."""

    id: int
    uuid: str
    name: str
    description: str | None
    product_name: str | None
    customer_name: str
    status: str
    suspend_kind: str | None
    operation: str | None
    billing_cycle: str
    price: Decimal
    renewal_price: Decimal
    currency: str
    created_at: datetime | None
    expires_at: datetime | None
    suspended_at: datetime | None
    auto_renew: bool
    renewals: int
    max_renewals: int | None
    cancel_mode: str | None
    cancel_at: datetime | None
    cancelled_at: datetime | None
    terminated_at: datetime | None
    placement_note: str | None = None
    """Why a pending service waits, as its customer is told (no server names): set while no server has room."""


CUSTOMER_NOT_AVAILABLE = "the hosting platform has not enough resources to deliver it yet; it is delivered as soon as it has"


@dataclass(frozen=True)
class RenewalLine:
    """A past renewal: its period, cycles, amount and invoice (not who recorded it)."""

    renewed_at: datetime | None
    period_start: datetime | None
    period_end: datetime | None
    cycles: int
    amount: Decimal
    invoice_id: int | None


@dataclass(frozen=True)
class OptionLine:
    """An option of the service."""

    id: int
    name: str
    value: str | None
    quantity: int
    price: Decimal
    expires_at: datetime | None


@dataclass(frozen=True)
class HistoryLine:
    """An activity row as the customer reads it: when, who (you, support, automatic), what."""

    id: int
    at: datetime
    who: str
    what: str
    change: str
    reason: str


@dataclass(frozen=True)
class CustomerDetail:
    """Everything the customer's detail screen shows, read in one session."""

    service: CustomerService
    customer_email: str
    renewals: tuple[RenewalLine, ...]
    options: tuple[OptionLine, ...]
    history: tuple[HistoryLine, ...]
    refusals: dict[str, str | None] = field(default_factory=dict)
    pending_invoice: int | None = None
    order_to_pay: str | None = None
    """For a service ordered and not paid yet: the order's invoice, its total and due day."""

    def allowed(self, action: str) -> bool:
        return self.refusals.get(action, "not available") is None


def _view(session: Session, scope: CustomerScope, service: Service) -> CustomerService:
    options = scope.options(session, service.id or 0)
    extra = sum((option.price * option.quantity for option in options), Decimal("0"))
    return CustomerService(
        id=service.id or 0,
        uuid=service.uuid,
        name=service.name,
        description=service.description,
        product_name=service.product_name,
        customer_name=service.customer_name,
        status=service.status,
        suspend_kind=service.suspend_kind,
        operation=service.operation,
        billing_cycle=service.billing_cycle,
        price=service.price,
        renewal_price=(service.price + extra).quantize(Decimal("0.01")),
        currency=service.currency,
        created_at=service.created_at,
        expires_at=service.expires_at,
        suspended_at=service.suspended_at,
        auto_renew=bool(service.auto_renew),
        renewals=service.renewals or 0,
        max_renewals=service.max_renewals,
        cancel_mode=service.cancel_mode,
        cancel_at=service.cancel_at,
        cancelled_at=service.cancelled_at,
        terminated_at=service.terminated_at,
        placement_note=CUSTOMER_NOT_AVAILABLE if service.status == Status.PENDING.value and service.placement_note else None,
    )


def history_line(row: Any) -> HistoryLine:
    change = f"{row.from_status} → {row.to_status}" if row.from_status and row.to_status and row.from_status != row.to_status else ""
    return HistoryLine(
        id=row.id or 0,
        at=row.at,
        who=ACTOR_LABELS.get(row.actor_kind, "support"),
        what=HISTORY_LABELS.get(row.action, row.action),
        change=change,
        reason=(row.reason or "") if row.actor_kind == "client" else "",
    )


def history(session: Session, actor: Actor, service_id: int, *, before_id: int | None = None, limit: int = HISTORY_PAGE) -> list[HistoryLine]:
    """A page of the service's history as the customer reads it, newest first."""
    scope = _scope(actor, None, "reading")
    _visible(session, scope, service_id)
    return [history_line(row) for row in scope.history(session, service_id, tuple(HISTORY_LABELS), limit=limit, before_id=before_id)]


def service_detail(session: Session, actor: Actor, service_id: int) -> CustomerDetail:
    """The service, its renewals, options and a page of history, and which actions apply."""
    scope = _scope(actor, None, "reading")
    service = _visible(session, scope, service_id)
    customer = scope.customer(session)
    renewals = tuple(
        RenewalLine(row.renewed_at, row.period_start, row.period_end, row.cycles, row.amount, row.invoice_id) for row in scope.renewals(session, service_id)
    )
    options = tuple(OptionLine(row.id or 0, row.name, row.value, row.quantity, row.price, row.expires_at) for row in scope.options(session, service_id))
    pending = scope.renewal_line_for_period(session, service_id, service.expires_at, invoice_lookups.OPEN_STATUSES) if service.expires_at else None
    return CustomerDetail(
        service=_view(session, scope, service),
        customer_email=customer.email if customer else "",
        renewals=renewals,
        options=options,
        history=tuple(history(session, actor, service_id)),
        refusals=refusals(session, scope, service),
        pending_invoice=pending.invoice_id if pending is not None else None,
        order_to_pay=order_to_pay(session, service),
    )


def order_to_pay(session: Session, service: Service) -> str | None:
    """`invoice #N, TOTAL, due DAY` for a service waiting for its order's payment, else None."""
    if service.status != Status.ORDERED.value:
        return None
    invoice = order_actions.order_invoice_of(session, service.id or 0)
    if invoice is None or invoice.status != invoice_lookups.InvoiceStatus.UNPAID.value:
        return None
    total = invoice_lookups.total_of(invoice_lookups.lines_of(session, invoice.id or 0))
    return f"invoice #{invoice.id}, {invoice_lookups.money_text(total, invoice.currency)}, due {invoice_lookups.local_day(invoice.due_at, session)}"


def refusals(session: Session, scope: CustomerScope, service: Service) -> dict[str, str | None]:
    """Why each customer action would be refused now (None when it is allowed), for the screens."""
    product = session.get(Product, service.product_id) if service.product_id else None
    recurring = cycles.is_recurring(service.billing_cycle)
    tz = lookups.timezone_of(session)
    result: dict[str, str | None] = {}
    result["renew"] = (
        None
        if service.status in RENEWABLE and recurring and service.expires_at
        else ("only an active or suspended service with a billing cycle can be renewed")
    )
    if product is None or not product.allow_customer_cancel:
        result["cancel-end-of-cycle"] = result["cancel-immediately"] = "this product cannot be cancelled from the customer area; contact support"
    else:
        result["cancel-immediately"] = None if service.status in (*CANCELLABLE, Status.EXPIRED.value) else f"a {service.status} service cannot be cancelled"
        if service.status not in CANCELLABLE or service.expires_at is None:
            result["cancel-end-of-cycle"] = "only a running service with an expiry can be cancelled at the end of its cycle"
        elif service.cancel_at is not None:
            result["cancel-end-of-cycle"] = f"a cancellation is already planned for {day(service.cancel_at, tz)}"
        else:
            result["cancel-end-of-cycle"] = None
    result["cancel"] = None if result["cancel-end-of-cycle"] is None or result["cancel-immediately"] is None else result["cancel-immediately"]
    result["uncancel"] = _uncancel_refusal(session, scope, service)
    result["auto-renew"] = None if service.status in AUTO_RENEW_STATUSES and recurring else "this service is not renewed"
    return result


def _uncancel_refusal(session: Session, scope: CustomerScope, service: Service) -> str | None:
    if service.cancel_mode != CancelMode.END_OF_CYCLE.value or service.cancel_at is None:
        return "no cancellation is planned"
    if clock.as_utc(service.cancel_at) <= clock.now():
        return "the cancellation date has passed"
    if service.status not in CANCELLABLE:
        return f"a {service.status} service cannot be changed"
    last = scope.last_activity(session, service.id or 0, "cancel")
    if last is None or last.actor_kind != "client":
        return "support planned this cancellation; contact support to keep the service"
    return None


# ----------------------------------------------------------------------------- the panel


@dataclass(frozen=True)
class PanelView:
    """The service's live state from its panel and the module's sub-tabs, or the one line saying why not.

    The state keeps the status, resources and addresses; the panel's own references (its
    server id, node, image...) are staff details and are left out.
    """

    state: PanelState | None = None
    tabs: tuple[ModuleTab, ...] = ()
    error: str | None = None


def reveal_login(session: Session, actor: Actor, service_id: int) -> Credentials | None:
    """The login the module provisioned for one of the customer's services (the view is logged)."""
    _visible(session, _scope(actor, None, "reading"), service_id)
    return credentials.reveal(session, actor, service_id)


def panel(db: Database, actor: Actor, service_id: int) -> PanelView:
    """Ask the service's module (through `delivery`, scoped to the customer); a failure is one plain line (details in the log)."""
    scope = _scope(actor, None, "reading")
    with db.read() as session:
        service = _visible(session, scope, service_id)
        if service.status not in PANEL_STATUSES:
            return PanelView(error=f"no live panel: the service is {service.status}")
        if not is_module(service.type) or not get_module(service.type).supports_operation("panel"):
            return PanelView(error="this service has no live panel")
        with_tabs = get_module(service.type).supports_operation("tabs")
    try:
        state = delivery.panel_state(db, service_id, customer_id=scope.customer_id)
        tabs = delivery.module_tabs(db, service_id, customer_id=scope.customer_id) if with_tabs else []
    except NotFound:
        raise _no_service(service_id) from None
    except ModuleError as error:
        log.warning("customer area: panel of service %s: %s", service_id, error.message)
        return PanelView(error=PANEL_UNAVAILABLE)
    except Exception:  # a panel failure is shown as one line; the log keeps the details
        log.exception("customer area: panel of service %s failed", service_id)
        return PanelView(error=PANEL_UNAVAILABLE)
    return PanelView(state=replace(state, details={}, actions=[]), tabs=tuple(tabs))


# ----------------------------------------------------------------------------- tickets


def _no_ticket(ticket_id: Any) -> NotFound:
    return NotFound(f"no ticket {ticket_id}")


def visible_ticket(session: Session, scope: CustomerScope, ticket_id: int, *, for_update: bool = False) -> Ticket:
    """The customer's ticket about a service they see; "no ticket N" for any other id."""
    ticket = scope.ticket(session, ticket_id, for_update=for_update) if tickets.valid_id(ticket_id) else None
    if ticket is None:
        raise _no_ticket(ticket_id)
    return ticket


def ticket_list(session: Session, actor: Actor, *, service_id: int | None = None, limit: int = 50) -> list[CustomerTicket]:
    """The customer's tickets (about one service when given), most recently updated first, with unread staff replies."""
    scope = _scope(actor, None, "reading tickets")
    return [
        CustomerTicket(
            row.ticket.id or 0,
            row.ticket.service_id,
            row.service_name,
            row.ticket.subject,
            row.ticket.status,
            row.ticket.created_at,
            row.ticket.updated_at,
            row.unread,
        )
        for row in scope.tickets(session, service_id=service_id, limit=limit)
    ]


def unread_tickets(session: Session, actor: Actor) -> int:
    """How many of the customer's tickets have a staff reply they have not read."""
    return _scope(actor, None, "reading tickets").unread_tickets(session)


def ticket_thread(session: Session, actor: Actor, ticket_id: int, *, limit: int = tickets.THREAD_PAGE) -> CustomerThread:
    """One of the customer's tickets with its public messages (never a staff note); reading it
    moves the customer's read mark, unless the reader is an operator's read-only preview."""
    scope = _scope(actor, None, "reading tickets")
    ticket = visible_ticket(session, scope, ticket_id, for_update=not actor.read_only)
    newest_first = scope.ticket_messages(session, ticket_id, limit=limit)
    service = session.get(Service, ticket.service_id)
    unread = tickets.count_after(session, ticket, tickets.ADMIN, ticket.customer_read_id)
    view = CustomerTicket(
        ticket_id, ticket.service_id, service.name if service else "-", ticket.subject, ticket.status, ticket.created_at, ticket.updated_at, unread
    )
    earlier = tickets.count_before(session, ticket_id, newest_first[-1].id if newest_first else None, public_only=True)
    if not actor.read_only and newest_first and (newest_first[0].id or 0) > ticket.customer_read_id:
        ticket.customer_read_id = newest_first[0].id or 0
        session.add(ticket)
        session.flush()
    return CustomerThread(view, tuple(tickets.message_line(row) for row in reversed(newest_first)), earlier)


__all__ = [
    "CUSTOMER_AUTHOR",
    "HISTORY_LABELS",
    "CustomerDetail",
    "CustomerService",
    "CustomerThread",
    "CustomerTicket",
    "Dashboard",
    "active_line",
    "auto_renew_label",
    "dashboard",
    "expiry_label",
    "history",
    "invoices",
    "list_filter",
    "open_area",
    "panel",
    "renew_price_label",
    "service_detail",
    "ticket_list",
    "ticket_thread",
    "unread_tickets",
    "visible_ticket",
]
