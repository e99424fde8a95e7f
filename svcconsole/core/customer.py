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

from svcconsole.core import (
    catalog,
    clock,
    credentials,
    cycles,
    delivery,
    filters,
    i18n,
    invoice_lookups,
    lookups,
    option_catalog,
    order_actions,
    parse,
    tickets,
    usage,
)
from svcconsole.core.catalog import resolve_customer
from svcconsole.core.errors import InvalidInput, NotFound
from svcconsole.core.i18n import N_, Translate, untranslated
from svcconsole.core.operators import Actor, client_actor, require_client
from svcconsole.core.statuses import CancelMode, Status, SuspendKind
from svcconsole.modules import Credentials, ModuleError, ModuleTab, PanelState, get_module, is_module
from svcconsole.store.customer_scope import ActiveServiceRow, CustomerScope, OverageRow
from svcconsole.store.engine import Database
from svcconsole.store.models import InvoiceLine, Operator, Product, Service, Ticket
from svcconsole.store.queries import ServiceFilter

log = logging.getLogger("svcconsole.customer")

WIDGET_STATUSES = (Status.ACTIVE.value, Status.SUSPENDED.value)
WIDGET_LIMIT = 100
HISTORY_PAGE = 50
FILTER_KEYS = ("status", "id", "cycle")
FILTER_HELP = N_("free text (name, product, id) and terms: status:active,suspended id:12 cycle:monthly expires<30d expires>2027-01-01")
RENEWABLE = (Status.ACTIVE.value, Status.SUSPENDED.value)
CANCELLABLE = (Status.PENDING.value, Status.ACTIVE.value, Status.SUSPENDED.value)
AUTO_RENEW_STATUSES = (Status.PENDING.value, Status.ACTIVE.value, Status.SUSPENDED.value)
PANEL_STATUSES = (Status.ACTIVE.value, Status.SUSPENDED.value)
PANEL_UNAVAILABLE = N_("the panel cannot be reached right now; try again later")
CustomerTicket = tickets.CustomerTicket
CustomerThread = tickets.CustomerThread
CUSTOMER_AUTHOR = tickets.CUSTOMER
"""The author kind of the customer's own messages in a ticket (the staff's are support's)."""

HISTORY_LABELS: dict[str, str] = {
    "create": N_("ordered"),
    "import": N_("added to your account"),
    "order_paid": N_("order paid"),
    "pay-order": N_("order paid"),
    "cancel-order": N_("order cancelled"),
    "order_approved": N_("order approved"),
    "deliver": N_("activated"),
    "redeliver": N_("activated again"),
    "suspend": N_("suspended"),
    "unsuspend": N_("resumed"),
    "renew": N_("renewed"),
    "renewal_invoiced": N_("renewal invoiced"),
    "invoice_paid": N_("invoice paid"),
    "invoice_cancelled": N_("invoice cancelled"),
    "cancel": N_("cancellation"),
    "uncancel": N_("cancellation withdrawn"),
    "expire": N_("expired"),
    "terminate": N_("terminated"),
    "reinstall": N_("reinstalled"),
    "upgrade": N_("plan changed"),
    "upgrade_invoiced": N_("plan change invoiced"),
    "add-days": N_("expiry moved"),
    "subtract-days": N_("expiry moved"),
    "option_add": N_("option added"),
    "option_edit": N_("option changed"),
    "option_remove": N_("option removed"),
    "option_invoiced": N_("option invoiced"),
    "auto_renew": N_("auto-renewal changed"),
    "edit": N_("details updated"),
    "status_override": N_("status changed"),
    "power": N_("power action"),
    "cycle": N_("renewal cycle changed"),
}
"""The activity a customer sees, and how it is named; any other action stays internal."""

ACTOR_LABELS = {"client": N_("you"), "admin": N_("support"), "system": N_("automatic")}


# ----------------------------------------------------------------------------- who is acting


def open_area(session: Session, login: str, customer_ref: str) -> Actor:
    """The actor of a customer-area session for `customer_ref` run by OS login `login`.

    An operator of this database gets a read-only preview; any other login is the customer
    (the SSH `ForceCommand` or `command=` fixes which one). The area speaks the customer's
    language (their own locale, else the `default_locale` setting), the preview included.
    """
    customer = resolve_customer(session, customer_ref, "--customer")
    operator = session.get(Operator, login)
    locale = i18n.locale_of(customer.locale, lookups.settings_of(session)["default_locale"])
    return client_actor(customer.id or 0, customer.email, preview_by=login if operator is not None else None, locale=locale)


def time_zone(session: Session) -> ZoneInfo:
    """The configured time zone, in which the customer area shows dates."""
    return lookups.timezone_of(session)


def _scope(actor: Actor, action: str | None, what: str) -> CustomerScope:
    return CustomerScope(require_client(actor, action, what))


def _no_service(service_id: int, tr: Translate = untranslated) -> NotFound:
    return NotFound(tr("no service {id}").format(id=service_id))


def _visible(session: Session, scope: CustomerScope, service_id: int, *, for_update: bool = False, tr: Translate = untranslated) -> Service:
    if isinstance(service_id, bool) or not isinstance(service_id, int) or not 0 < service_id <= parse.MAX_ID:
        raise _no_service(service_id, tr)
    service = scope.service(session, service_id, for_update=for_update)
    if service is None:
        raise _no_service(service_id, tr)
    return service


# ----------------------------------------------------------------------------- wording


def day(moment: datetime | None, tz: ZoneInfo, locale: str = i18n.DEFAULT_LOCALE) -> str:
    """The local day of `moment` as the customer's locale writes it (English: 2026-08-07)."""
    return i18n.format_day(moment, tz, locale)


def expiry_parts(status: str, expires_at: datetime | None, suspended_at: datetime | None, tz: ZoneInfo) -> tuple[str, str]:
    """The expiration as a sentence with a `{date}` field and that date, so the customer area can
    translate the sentence: ("Expires {date}", "2026-08-07") while it runs, ("Stopped {date}", ...)
    once past its expiry or not active."""
    now = clock.now()
    expires = clock.as_utc(expires_at) if expires_at else None
    if status == Status.ACTIVE.value and (expires is None or expires > now):
        return ("Expires {date}", day(expires, tz)) if expires else ("No expiry", "")
    if expires is not None and expires <= now:
        return "Stopped {date}", day(expires, tz)
    stopped = suspended_at or expires_at
    return ("Stopped {date}", day(stopped, tz)) if stopped else ("Stopped", "")


def expiry_label(status: str, expires_at: datetime | None, suspended_at: datetime | None, tz: ZoneInfo, locale: str = i18n.DEFAULT_LOCALE) -> str:
    """`Expires 2026-08-07` while it runs, `Stopped 2026-07-01` once past its expiry or not active
    (French, as ClientXCMS words it: `Expire le 7 août 2026`, `Arrêté le 1 juil. 2026`)."""
    tr = i18n.translator(locale)
    now = clock.now()
    expires = clock.as_utc(expires_at) if expires_at else None
    if status == Status.ACTIVE.value and (expires is None or expires > now):
        return tr("Expires {date}").format(date=day(expires, tz, locale)) if expires else tr("No expiry")
    if expires is not None and expires <= now:
        return tr("Stopped {date}").format(date=day(expires, tz, locale))
    stopped = suspended_at or expires_at
    return tr("Stopped {date}").format(date=day(stopped, tz, locale)) if stopped else tr("Stopped")


def is_stopped_label(label: str, locale: str = i18n.DEFAULT_LOCALE) -> bool:
    """Whether an `expiry_label` says the service is stopped (the widget shows it in red)."""
    return label.startswith(i18n.translator(locale)("Stopped"))


def auto_renew_label(auto_renew: bool, locale: str = i18n.DEFAULT_LOCALE) -> str:
    tr = i18n.translator(locale)
    return tr("On") if auto_renew else tr("Off")


def renew_price_label(amount: Decimal, currency: str, billing_cycle: str, locale: str = i18n.DEFAULT_LOCALE) -> str:
    """`12.00 EUR/month` (`12,00 €/mois`): what one renewal costs, per billing period."""
    return i18n.price_per_cycle(Decimal(amount), currency, billing_cycle, locale)


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
class OverageLine:
    """A row of the "Services with overages" widget: id, name, expiration (a sentence with a
    `{date}` field, and the date) and the overage cost of the current period."""

    id: int
    name: str
    expiration: str
    expiration_date: str
    cost: str


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
    overages: tuple[OverageLine, ...] = ()
    overages_total: int = 0


def overage_line(row: OverageRow, tz: ZoneInfo) -> OverageLine:
    sentence, date = expiry_parts(row.status, row.expires_at, row.suspended_at, tz)
    return OverageLine(id=row.id, name=row.name, expiration=sentence, expiration_date=date, cost=invoice_lookups.money_text(row.cost, row.currency))


def active_line(row: ActiveServiceRow, tz: ZoneInfo, locale: str = i18n.DEFAULT_LOCALE) -> ActiveServiceLine:
    return ActiveServiceLine(
        id=row.id,
        name=row.name,
        expiration=expiry_label(row.status, row.expires_at, row.suspended_at, tz, locale),
        auto_renewal=auto_renew_label(row.auto_renew, locale),
        renew=renew_price_label(row.renewal_price, row.currency, row.billing_cycle, locale),
    )


def dashboard(session: Session, actor: Actor, *, limit: int = WIDGET_LIMIT) -> Dashboard:
    """The customer's active services (the widget) and unpaid invoices."""
    scope = _scope(actor, None, "reading")
    tz = lookups.timezone_of(session)
    customer = scope.customer(session)
    if customer is None:
        raise NotFound(i18n.translator(actor.locale)("customer: this customer no longer exists"))
    rows = scope.active_services(session, WIDGET_STATUSES, limit=limit)
    now = clock.now()
    return Dashboard(
        customer_name=customer.name,
        customer_email=customer.email,
        active=tuple(active_line(row, tz, actor.locale) for row in rows),
        active_total=scope.count_in(session, WIDGET_STATUSES),
        services_total=scope.count(session),
        unpaid=tuple(invoices(session, actor, statuses=(invoice_lookups.InvoiceStatus.UNPAID.value,))),
        overages=tuple(overage_line(row, tz) for row in scope.services_with_overage(session, now, limit=limit)),
        overages_total=scope.count_with_overage(session, now),
    )


def invoices(session: Session, actor: Actor, *, statuses: tuple[str, ...] = ("unpaid", "paid", "cancelled")) -> list[InvoiceSummary]:
    """The customer's invoices (never drafts), newest first."""
    scope = _scope(actor, None, "reading")
    tz = lookups.timezone_of(session)
    wanted = tuple(status for status in statuses if status != invoice_lookups.InvoiceStatus.DRAFT.value)
    result = []
    locale = actor.locale
    for row in scope.invoices(session, wanted):
        currency = row.invoice.currency
        lines = tuple(
            f"{line_description(session, scope, line, tz, locale)} ({i18n.format_money(line.amount, currency, locale)})"
            for line in scope.invoice_lines(session, row.invoice.id or 0)
        )
        total = i18n.format_money(row.total, currency, locale)
        result.append(InvoiceSummary(row.invoice.id or 0, row.invoice.status, total, day(row.invoice.due_at, tz, locale), lines))
    return result


def invoice(session: Session, actor: Actor, invoice_id: int) -> InvoiceSummary:
    """One of the customer's invoices (not a draft) with its lines; "no invoice N" for any other."""
    scope = _scope(actor, None, "reading")
    row = scope.invoice(session, invoice_id) if isinstance(invoice_id, int) and 0 < invoice_id <= parse.MAX_ID else None
    if row is None or row.status == invoice_lookups.InvoiceStatus.DRAFT.value:
        raise NotFound(f"no invoice {invoice_id}")
    lines = scope.invoice_lines(session, invoice_id)
    total = invoice_lookups.total_of(lines)
    texts = tuple(f"{line.description} ({line.amount:.2f} {row.currency})" for line in lines)
    return InvoiceSummary(invoice_id, row.status, invoice_lookups.money_text(total, row.currency), day(row.due_at, lookups.timezone_of(session)), texts)


def line_description(session: Session, scope: CustomerScope, line: InvoiceLine, tz: ZoneInfo, locale: str) -> str:
    """What an invoice line bills, in the customer's language: a renewal is worded from its period
    and cycles; other lines read as they were stored (in English)."""
    service = scope.service(session, line.service_id) if line.service_id else None
    if line.kind != invoice_lookups.LineKind.RENEWAL.value or service is None or line.period_start is None or line.period_end is None:
        return line.description
    tr = i18n.translator(locale)
    count = (line.details or {}).get("cycles", 1)
    return tr("Renewal of #{id} {name}: {start} to {end} ({count} × {cycle})").format(
        id=service.id,
        name=service.name,
        start=day(line.period_start, tz, locale),
        end=day(line.period_end, tz, locale),
        count=count,
        cycle=i18n.cycle_name(service.billing_cycle, tr),
    )


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
            known = f"{', '.join(FILTER_KEYS)}, expires<30d"
            tr = i18n.translator(actor.locale)
            raise InvalidInput(tr("filter"), tr("unknown key {key!r} (known: {known})").format(key=term.group(1).lower(), known=known))
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


CUSTOMER_NOT_AVAILABLE = N_("the hosting platform has not enough resources to deliver it yet; it is delivered as soon as it has")


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
    overage: str | None = None
    """The current period's overage (`1.50 EUR (traffic_gb 130 of 100)` or `none`), when the product meters something."""
    option_offers: tuple[tuple[str, str], ...] = ()
    """The catalogue's options the service has not got yet: (name, what it accepts with prices)."""
    cycle_offers: tuple[tuple[str, str], ...] = ()
    """The other cycles the service may renew at: (cycle, `12.00 EUR/month`)."""
    power_verbs: tuple[str, ...] = ()
    """start, stop, restart: those the service's module has."""
    offered: tuple[str, ...] = ()
    """The self-service actions the product's flags offer (whether the service's state allows them now or not)."""

    def offers(self, action: str) -> bool:
        return action in self.offered

    def allowed(self, action: str) -> bool:
        return self.refusals.get(action, "not available") is None


def _view(session: Session, scope: CustomerScope, service: Service, tr: Translate = untranslated) -> CustomerService:
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
        placement_note=tr(CUSTOMER_NOT_AVAILABLE) if service.status == Status.PENDING.value and service.placement_note else None,
    )


def history_line(row: Any, tr: Translate = untranslated) -> HistoryLine:
    """An activity row in the customer's words (`tr`: their language): who, what, the status change."""
    changed = row.from_status and row.to_status and row.from_status != row.to_status
    change = f"{i18n.status_name(row.from_status, tr)} → {i18n.status_name(row.to_status, tr)}" if changed else ""
    return HistoryLine(
        id=row.id or 0,
        at=row.at,
        who=tr(ACTOR_LABELS.get(row.actor_kind, ACTOR_LABELS["admin"])),
        what=tr(HISTORY_LABELS[row.action]) if row.action in HISTORY_LABELS else row.action,
        change=change,
        reason=(row.reason or "") if row.actor_kind == "client" else "",
    )


def history(session: Session, actor: Actor, service_id: int, *, before_id: int | None = None, limit: int = HISTORY_PAGE) -> list[HistoryLine]:
    """A page of the service's history as the customer reads it, newest first."""
    scope = _scope(actor, None, "reading")
    tr = i18n.translator(actor.locale)
    _visible(session, scope, service_id, tr=tr)
    return [history_line(row, tr) for row in scope.history(session, service_id, tuple(HISTORY_LABELS), limit=limit, before_id=before_id)]


def service_detail(session: Session, actor: Actor, service_id: int) -> CustomerDetail:
    """The service, its renewals, options and a page of history, and which actions apply."""
    scope = _scope(actor, None, "reading")
    tr = i18n.translator(actor.locale)
    service = _visible(session, scope, service_id, tr=tr)
    customer = scope.customer(session)
    renewals = tuple(
        RenewalLine(row.renewed_at, row.period_start, row.period_end, row.cycles, row.amount, row.invoice_id) for row in scope.renewals(session, service_id)
    )
    options = tuple(OptionLine(row.id or 0, row.name, row.value, row.quantity, row.price, row.expires_at) for row in scope.options(session, service_id))
    pending = scope.renewal_line_for_period(session, service_id, service.expires_at, invoice_lookups.OPEN_STATUSES) if service.expires_at else None
    return CustomerDetail(
        service=_view(session, scope, service, tr),
        customer_email=customer.email if customer else "",
        renewals=renewals,
        options=options,
        history=tuple(history(session, actor, service_id)),
        refusals=refusals(session, scope, service, actor.locale),
        pending_invoice=pending.invoice_id if pending is not None else None,
        order_to_pay=order_to_pay(session, service, actor.locale),
        overage=_overage(session, scope, service),
        option_offers=option_offers(session, service, {option.name for option in options}),
        cycle_offers=tuple((cycle, renew_price_label(price, service.currency, cycle, actor.locale)) for cycle, price in cycle_choices(session, service)),
        power_verbs=power_verbs(service.type),
        offered=offered_actions(session.get(Product, service.product_id) if service.product_id else None),
    )


def offered_actions(product: Product | None) -> tuple[str, ...]:
    """The self-service actions whose product flag is on."""
    return tuple(action for action, flag in SELF_SERVICE.items() if product is not None and getattr(product, flag))


def option_offers(session: Session, service: Service, taken: set[str]) -> tuple[tuple[str, str], ...]:
    """The product's catalogue options that the service has not got: (name, accepted values with prices)."""
    if service.product_id is None:
        return ()
    return tuple(
        (option.name, option_catalog.accepted_text(option)) for option in option_catalog.catalogue_of(session, service.product_id) if option.name not in taken
    )


def _overage(session: Session, scope: CustomerScope, service: Service) -> str | None:
    """The current period's overage of one of the customer's services, read through the scope."""
    rates = usage.rates_for(session, service)
    period = usage.period_at(service, clock.now(), lookups.timezone_of(session))
    if not rates or period is None:
        return None
    return usage.overage_text(usage.report_of(service, period, rates, scope.usage_rows(session, service.id or 0, period[0])))


def order_to_pay(session: Session, service: Service, locale: str = i18n.DEFAULT_LOCALE) -> str | None:
    """`invoice #N, TOTAL, due DAY` for a service waiting for its order's payment, else None."""
    if service.status != Status.ORDERED.value:
        return None
    invoice = order_actions.order_invoice_of(session, service.id or 0)
    if invoice is None or invoice.status != invoice_lookups.InvoiceStatus.UNPAID.value:
        return None
    total = invoice_lookups.total_of(invoice_lookups.lines_of(session, invoice.id or 0))
    due = day(invoice.due_at, lookups.timezone_of(session), locale)
    return i18n.translator(locale)("invoice #{number}, {total}, due {date}").format(
        number=invoice.id, total=i18n.format_money(total, invoice.currency, locale), date=due
    )


def refusals(session: Session, scope: CustomerScope, service: Service, locale: str = i18n.DEFAULT_LOCALE) -> dict[str, str | None]:
    """Why each customer action would be refused now (None when it is allowed), for the screens, in `locale`."""
    tr = i18n.translator(locale)
    status = i18n.status_name(service.status, tr)
    product = session.get(Product, service.product_id) if service.product_id else None
    recurring = cycles.is_recurring(service.billing_cycle)
    tz = lookups.timezone_of(session)
    result: dict[str, str | None] = {}
    result["renew"] = (
        None
        if service.status in RENEWABLE and recurring and service.expires_at
        else tr("only an active or suspended service with a billing cycle can be renewed")
    )
    if product is None or not product.allow_customer_cancel:
        result["cancel-end-of-cycle"] = result["cancel-immediately"] = tr("this product cannot be cancelled from the customer area; contact support")
    else:
        result["cancel-immediately"] = (
            None if service.status in (*CANCELLABLE, Status.EXPIRED.value) else tr("a service that is {status} cannot be cancelled").format(status=status)
        )
        if service.status not in CANCELLABLE or service.expires_at is None:
            result["cancel-end-of-cycle"] = tr("only a running service with an expiry can be cancelled at the end of its cycle")
        elif service.cancel_at is not None:
            result["cancel-end-of-cycle"] = tr("a cancellation is already planned for {date}").format(date=day(service.cancel_at, tz, locale))
        else:
            result["cancel-end-of-cycle"] = None
    result["cancel"] = None if result["cancel-end-of-cycle"] is None or result["cancel-immediately"] is None else result["cancel-immediately"]
    result["uncancel"] = _uncancel_refusal(session, scope, service, tr)
    result["auto-renew"] = None if service.status in AUTO_RENEW_STATUSES and recurring else tr("this service is not renewed")
    for action in SELF_SERVICE:
        result[action] = self_service_refusal(session, service, product, action, tr)
    return result


SELF_SERVICE = {
    "buy-option": "customer_options",
    "change-cycle": "customer_cycle",
    "delete": "customer_delete",
    "power": "customer_power",
    "reinstall": "customer_power",
    "suspend": "customer_suspend",
    "unsuspend": "customer_suspend",
}
"""Each self-service action of the customer area and the product flag that allows it."""

NOT_ALLOWED = {
    "customer_options": N_("this product does not let customers add options; contact support"),
    "customer_cycle": N_("this product does not let customers change the renewal cycle; contact support"),
    "customer_delete": N_("this product does not let customers delete the service; contact support"),
    "customer_power": N_("this product does not let customers start, stop or reinstall the service; contact support"),
    "customer_suspend": N_("this product does not let customers suspend the service; contact support"),
}
ENDED = (Status.CANCELLED.value, Status.EXPIRED.value, Status.TERMINATED.value)
"""What a customer deletes at once (hides from the area)."""
RUNNING = (Status.PENDING.value, Status.ACTIVE.value, Status.SUSPENDED.value)
"""What a customer deletes by cancelling it now first."""
POWER_VERBS = ("start", "stop", "restart")


def power_verbs(service_type: str) -> tuple[str, ...]:
    """The customer area's power verbs the service's module has a signal for."""
    if not is_module(service_type) or not get_module(service_type).supports_operation("power"):
        return ()
    signals = get_module(service_type).customer_power
    return tuple(verb for verb in POWER_VERBS if verb in signals)


def cycle_choices(session: Session, service: Service) -> list[tuple[str, Decimal]]:
    """The recurring cycles the service's product has a price for in the service's currency, but its own."""
    if service.product_id is None:
        return []
    prices = catalog.prices_of(session, service.product_id)
    return [
        (price.billing_cycle, price.price)
        for price in prices
        if cycles.is_recurring(price.billing_cycle) and price.billing_cycle != service.billing_cycle and price.currency == service.currency
    ]


def self_service_refusal(session: Session, service: Service, product: Product | None, action: str, tr: Translate = untranslated) -> str | None:
    """Why the customer may not take self-service `action` on `service` now (None: allowed), in
    `tr`'s language; the flag first, then the state."""
    flag = SELF_SERVICE[action]
    if product is None or not getattr(product, flag):
        return tr(NOT_ALLOWED[flag])
    if service.operation:
        return tr("an operation is in progress: {operation}").format(operation=service.operation)
    status = service.status
    if action == "buy-option":
        if status != Status.ACTIVE.value:
            return tr("options are added to an active service, not a {status} one").format(status=i18n.status_name(status, tr))
        if service.expires_at is None or not cycles.is_recurring(service.billing_cycle):
            return tr("options are added to a service with a billing cycle and an expiry")
        return None if option_catalog.catalogue_of(session, product.id or 0) else tr("this product has no options to choose from")
    if action == "change-cycle":
        if status not in AUTO_RENEW_STATUSES or not cycles.is_recurring(service.billing_cycle):
            return tr("the cycle of a running service with a billing cycle can be changed")
        return None if cycle_choices(session, service) else tr("this product has no other billing cycle")
    if action == "delete":
        return None if status in (*ENDED, *RUNNING) else tr("a {status} service cannot be deleted").format(status=i18n.status_name(status, tr))
    if action in ("power", "reinstall"):
        if status != Status.ACTIVE.value:
            if action == "power":
                return tr("a {status} service cannot be started or stopped; it must be active").format(status=i18n.status_name(status, tr))
            return tr("a {status} service cannot be reinstalled; it must be active").format(status=i18n.status_name(status, tr))
        if action == "power":
            return None if power_verbs(service.type) else tr("this service has no power actions")
        supported = is_module(service.type) and get_module(service.type).supports_operation("reinstall")
        return None if supported else tr("this service cannot be reinstalled from here")
    if action == "suspend":
        return (
            None
            if status == Status.ACTIVE.value
            else tr("only an active service can be suspended, not a {status} one").format(status=i18n.status_name(status, tr))
        )
    if status != Status.SUSPENDED.value:
        return tr("the service is not suspended")
    if service.suspend_kind != SuspendKind.CLIENT.value:
        return tr("support suspended this service; only support can lift it")
    return None


def _uncancel_refusal(session: Session, scope: CustomerScope, service: Service, tr: Translate = untranslated) -> str | None:
    if service.cancel_mode != CancelMode.END_OF_CYCLE.value or service.cancel_at is None:
        return tr("no cancellation is planned")
    if clock.as_utc(service.cancel_at) <= clock.now():
        return tr("the cancellation date has passed")
    if service.status not in CANCELLABLE:
        return tr("a service that is {status} cannot be changed").format(status=i18n.status_name(service.status, tr))
    last = scope.last_activity(session, service.id or 0, "cancel")
    if last is None or last.actor_kind != "client":
        return tr("support planned this cancellation; contact support to keep the service")
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
    _visible(session, _scope(actor, None, "reading"), service_id, tr=i18n.translator(actor.locale))
    return credentials.reveal(session, actor, service_id)


def panel(db: Database, actor: Actor, service_id: int) -> PanelView:
    """Ask the service's module (through `delivery`, scoped to the customer); a failure is one plain line (details in the log)."""
    scope = _scope(actor, None, "reading")
    tr = i18n.translator(actor.locale)
    with db.read() as session:
        service = _visible(session, scope, service_id, tr=tr)
        if service.status not in PANEL_STATUSES:
            return PanelView(error=tr("no live panel: the service is {status}").format(status=i18n.status_name(service.status, tr)))
        if not is_module(service.type) or not get_module(service.type).supports_operation("panel"):
            return PanelView(error=tr("this service has no live panel"))
        with_tabs = get_module(service.type).supports_operation("tabs")
    try:
        state = delivery.panel_state(db, service_id, customer_id=scope.customer_id)
        tabs = delivery.module_tabs(db, service_id, customer_id=scope.customer_id) if with_tabs else []
    except NotFound:
        raise _no_service(service_id, tr) from None
    except ModuleError as error:
        log.warning("customer area: panel of service %s: %s", service_id, error.message)
        return PanelView(error=tr(PANEL_UNAVAILABLE))
    except Exception:  # a panel failure is shown as one line; the log keeps the details
        log.exception("customer area: panel of service %s failed", service_id)
        return PanelView(error=tr(PANEL_UNAVAILABLE))
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
