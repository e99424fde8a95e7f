"""The customer area's pages: the dashboard, the list of the customer's services, a service, a ticket.

The list is the shared list screen (`widgets.service_list`, which has none of the admin list's
marks and actions) over a window that `CustomerScope` narrows to one customer; the detail is the
shared detail frame (`widgets.detail_frame`) with its tables, paging and Panel view, fed with the
customer's data. Every read and change runs in a thread worker
through `core.customer`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, Static, TextArea

from svcconsole.client.actions import REGISTRY, client_bindings, mutating
from svcconsole.client.dialogs import CancelDialog, CancelRequest, ChoiceDialog, OptionDialog, TicketDialog, TicketRequest, TypedConfirmDialog
from svcconsole.client.host import ClientHost
from svcconsole.client.messages import (
    ChangeRefused,
    CustomerPanelLoaded,
    DashboardLoaded,
    DetailLoaded,
    LoginRevealed,
    TicketsRead,
    TicketThreadRead,
    TicketWritten,
)
from svcconsole.client.widgets import EMPTY, OVERAGE_EMPTY, ActiveServices, OverageServices
from svcconsole.core import customer, customer_actions, i18n
from svcconsole.core.customer import CustomerDetail, Dashboard, HistoryLine
from svcconsole.core.errors import SvcError
from svcconsole.core.i18n import N_, Translate
from svcconsole.core.statuses import CancelMode, Status
from svcconsole.widgets import render
from svcconsole.widgets.detail_frame import TabbedDetail, header_text, key_values, option_columns, renewal_columns
from svcconsole.widgets.dialogs import ConfirmDialog
from svcconsole.widgets.footer import ContextFooter
from svcconsole.widgets.keys import translate_bindings
from svcconsole.widgets.panel_state import PanelStateView
from svcconsole.widgets.records import Column, PagedRecords, RecordTable
from svcconsole.widgets.service_list import ServiceListScreen
from svcconsole.widgets.why import why_not

if TYPE_CHECKING:
    from svcconsole.store.queries import ServiceFilter
    from svcconsole.store.window import ServiceWindow


def title_line(app: ClientHost, page: str) -> Text:
    """The top line of every page: whose area this is, and whether it is an operator's preview (`page` is translated here)."""
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(" svcconsole ", "bold reverse")
    line.append(f" {app.tr(page)} ", "bold")
    line.append(render.plain(app.customer_label), "cyan")
    if app.read_only:
        line.append("  " + app.tr("PREVIEW: read-only"), "bold red")
    return line


class _CustomerScreen(Screen[None]):
    """What every customer-area page shares: the app, refusals of a preview, errors."""

    MUTATING: frozenset[str] = frozenset()

    @property
    def client_app(self) -> ClientHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in its own app

    def translate(self, text: str) -> str:
        """`text` in the customer's language (the shared frames ask their screen)."""
        return self.client_app.tr(text)

    def on_mount(self) -> None:
        translate_bindings(self, self.client_app.tr)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.MUTATING and self.client_app.read_only:
            return None
        return super().check_action(action, parameters)

    @on(ChangeRefused)
    def _refused(self, message: ChangeRefused) -> None:
        message.stop()
        self.client_app.show_error(message.error)


# ----------------------------------------------------------------------------- dashboard


class DashboardScreen(_CustomerScreen):
    """The first page: the "Active services" widget and the unpaid invoices."""

    SCOPE = "client-dashboard"
    BINDINGS = client_bindings("client-dashboard")
    MUTATING = mutating("client-dashboard")

    def __init__(self) -> None:
        super().__init__()
        self.dashboard: Dashboard | None = None

    def compose(self) -> ComposeResult:
        tr = self.client_app.tr
        with Vertical(id="dashboard"):
            yield Static(id="title")
            yield Static(Text(" " + tr("Active services"), style="bold"), id="active-heading", classes="heading")
            yield ActiveServices(id="active", translate=tr, locale=self.client_app.locale)
            yield Static(Text(f" {tr(EMPTY)}", style="italic dim"), id="active-empty")
            yield Static(id="overages-heading", classes="heading")
            yield OverageServices(id="overages")
            yield Static(id="overages-empty")
            yield Static(Text(" " + tr("Unpaid invoices"), style="bold"), id="invoices-heading", classes="heading")
            yield DataTable(id="invoices", cursor_type="row")
            yield Static(id="invoices-empty")
        yield ContextFooter()

    def on_mount(self) -> None:
        tr = self.client_app.tr
        self.query_one("#title", Static).update(title_line(self.client_app, N_("dashboard")))
        self.query_one("#invoices", DataTable).add_columns(tr("invoice"), tr("due"), tr("total"), tr("for"))
        self.query_one("#active-empty", Static).display = False
        self.query_one("#overages-heading", Static).update(Text(" " + self.client_app.tr("Services with overages"), style="bold"))
        self.query_one("#overages-empty", Static).update(Text(" " + self.client_app.tr(OVERAGE_EMPTY), style="italic dim"))
        self.query_one("#overages-empty", Static).display = False
        self.query_one(ActiveServices).focus()
        self.reload()

    def reload(self) -> None:
        self._load()

    def action_reload(self) -> None:
        self.reload()

    def on_screen_resume(self) -> None:
        if self.dashboard is not None:
            self.reload()

    @work(thread=True, exclusive=True, group="client-dashboard")
    def _load(self) -> None:
        app = self.client_app
        try:
            with app.db.read() as session:
                board = customer.dashboard(session, app.actor)
        except SvcError as error:
            self.post_message(ChangeRefused(error.message))
            return
        self.post_message(DashboardLoaded(board))

    @on(DashboardLoaded)
    def _loaded(self, message: DashboardLoaded) -> None:
        board = message.dashboard
        self.dashboard = board
        table = self.query_one(ActiveServices)
        table.show(board.active)
        table.display = bool(board.active)
        self.query_one("#active-empty", Static).display = not board.active
        tr = self.client_app.tr
        heading = Text(" " + tr("Active services"), style="bold")
        shown = len(board.active)
        more = tr(" (the first {shown} of {total})").format(shown=shown, total=board.active_total) if board.active_total > shown else f" ({board.active_total})"
        heading.append(more, "dim")
        in_all = tr("1 service in all: l lists it") if board.services_total == 1 else tr("{count} services in all: l lists them")
        heading.append(f"  ·  {in_all.format(count=board.services_total)}", "dim")
        self.query_one("#active-heading", Static).update(heading)
        self._show_overages(board)
        invoices = self.query_one("#invoices", DataTable)
        invoices.clear()
        for invoice in board.unpaid:
            what = "; ".join(invoice.lines) or "-"
            invoices.add_row(
                render.text(f"#{invoice.id}"), render.text(invoice.due), render.text(invoice.total, "bold"), render.text(what), key=str(invoice.id)
            )
        invoices.display = bool(board.unpaid)
        empty = self.query_one("#invoices-empty", Static)
        empty.update(Text(" " + tr("Nothing to pay."), style="dim") if not board.unpaid else Text(""))
        empty.display = not board.unpaid

    def _show_overages(self, board: Dashboard) -> None:
        table = self.query_one(OverageServices)
        table.show(board.overages)
        table.display = bool(board.overages)
        self.query_one("#overages-empty", Static).display = not board.overages
        heading = Text(" " + self.client_app.tr("Services with overages"), style="bold")
        if board.overages_total > len(board.overages):
            heading.append(" " + self.client_app.tr("(the first {shown} of {total})").format(shown=len(board.overages), total=board.overages_total), "dim")
        elif board.overages:
            heading.append(f" ({board.overages_total})", "dim")
        self.query_one("#overages-heading", Static).update(heading)

    @on(DataTable.RowSelected, "#active")
    def _row_selected(self) -> None:
        self.action_show_in_list()

    @on(DataTable.RowSelected, "#overages")
    def _overage_selected(self) -> None:
        service_id = self.query_one(OverageServices).service_id_at_cursor()
        if service_id is not None:
            self.client_app.show_services(f"id:{service_id}")

    def action_show_in_list(self) -> None:
        service_id = self.query_one(ActiveServices).service_id_at_cursor()
        if service_id is not None:
            self.client_app.show_services(f"id:{service_id}")

    def action_renew(self) -> None:
        service_id = self.query_one(ActiveServices).service_id_at_cursor()
        if service_id is None:
            return
        line = next((item for item in (self.dashboard.active if self.dashboard else ()) if item.id == service_id), None)
        self.client_app.ask_renew(service_id, line.name if line else "", line.renew if line else "", self.reload, to_payment=True)


# ----------------------------------------------------------------------------- the list


class ClientServicesScreen(ServiceListScreen, inherit_bindings=False):
    """The shared list screen, over a window that only ever holds this customer's services."""

    SCOPE = "client-services"
    BINDINGS = [*Screen.BINDINGS, *client_bindings("client-services")]
    FILTER_PLACEHOLDER = N_("filter: text status:active id:12 cycle:monthly expires<30d")

    def __init__(self, filter_text: str = "") -> None:
        super().__init__()
        self.filter_text = filter_text

    @property
    def client_app(self) -> ClientHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in its own app

    def translate(self, text: str) -> str:
        """`text` in the customer's language (the shared list asks its screen for every word it shows)."""
        return self.client_app.tr(text)

    def list_translate(self) -> Translate:
        return self.client_app.tr

    def list_locale(self) -> str:
        return self.client_app.locale

    def new_window(self) -> ServiceWindow:
        app = self.client_app
        return customer.scope_of(app.actor).window(app.db, page_size=app.page_size)

    def parse_filter_text(self, session: Any, text: str) -> ServiceFilter:
        app = self.client_app
        return customer.list_filter(session, app.actor, text, tz_name=app.tz.key)

    def count_by_status(self, session: Any, service_filter: ServiceFilter) -> dict[str, int]:
        return customer.scope_of(self.client_app.actor).counts_by_status(session, service_filter)

    def read_time_zone(self, session: Any) -> ZoneInfo:
        return customer.time_zone(session)

    def why_key_did_nothing(self, key: str, status: str | None) -> str | None:
        return why_not(self, REGISTRY, self.SCOPE, key)

    def on_mount(self) -> None:
        translate_bindings(self, self.client_app.tr)
        translate_bindings(self.table, self.client_app.tr)
        if self.filter_text:
            field = self.query_one("#filter", Input)
            with field.prevent(Input.Changed):
                field.value = self.filter_text

    def _render_title(self) -> None:
        self.query_one("#title", Static).update(title_line(self.client_app, N_("my services")))

    def show_filter(self, text: str) -> None:
        """Show the list filtered by `text` (the dashboard's "show in list")."""
        field = self.query_one("#filter", Input)
        with field.prevent(Input.Changed):
            field.value = text
        field.display = bool(text)
        self.filter_text = text
        self.table.focus()
        self.reload()


# ----------------------------------------------------------------------------- one service


def overview_rows(detail: CustomerDetail, tz: Any, locale: str = i18n.DEFAULT_LOCALE) -> list[tuple[str, Any]]:
    """The Overview tab: what the customer bought, its state, its money and its dates, in `locale`."""
    tr = i18n.translator(locale)
    service = detail.service
    cancellation = "-"
    if service.cancel_mode == CancelMode.END_OF_CYCLE.value:
        cancellation = tr("at the end of the cycle, on {date}").format(date=customer.day(service.cancel_at, tz, locale))
    elif service.cancel_mode:
        cancellation = tr("cancelled on {date}").format(date=customer.day(service.cancelled_at or service.cancel_at, tz, locale))
    renewals = (
        tr("{done} of {most}").format(done=service.renewals, most=service.max_renewals)
        if service.max_renewals is not None
        else tr("{done} of unlimited").format(done=service.renewals)
    )
    rows: list[tuple[str, Any]] = [
        (tr("product"), service.product_name or "-"),
        (tr("status"), render.status_text(service.status, service.suspend_kind, service.operation, service.placement_note, translate=tr)),
        (tr("cycle"), i18n.cycle_name(service.billing_cycle, tr)),
        (tr("expiration"), customer.expiry_label(service.status, service.expires_at, service.suspended_at, tz, locale)),
        (tr("auto-renewal"), customer.auto_renew_label(service.auto_renew, locale)),
        (tr("renew"), customer.renew_price_label(service.renewal_price, service.currency, service.billing_cycle, locale)),
        (tr("renewals"), renewals),
        (tr("cancellation"), cancellation),
        (tr("created"), customer.day(service.created_at, tz, locale)),
        (tr("description"), service.description or "-"),
        (tr("reference"), service.uuid),
    ]
    if detail.overage is not None:
        rows.insert(5, ("overage", f"{detail.overage} this billing period"))
    if detail.pending_invoice is not None:
        rows.insert(6, (tr("to pay"), tr("invoice #{number} bills the next renewal").format(number=detail.pending_invoice)))
    if detail.order_to_pay is not None:
        rows.insert(1, (tr("to pay"), tr("your order: {invoice}; the service is set up once it is paid").format(invoice=detail.order_to_pay)))
    return rows


SELF_SERVICE_BUTTONS = (
    ("buy-option", N_("Add option…")),
    ("change-cycle", N_("Cycle…")),
    ("power", N_("Power…")),
    ("reinstall", N_("Reinstall…")),
    ("suspend", N_("Suspend")),
    ("unsuspend", N_("Resume")),
    ("delete", N_("Delete…")),
)
"""The self-service buttons (by their core action), each shown only when the product's flag offers it."""

SELF_SERVICE_KEYS = {
    "buy_option": ("buy-option",),
    "change_cycle": ("change-cycle",),
    "power": ("power",),
    "reinstall": ("reinstall",),
    "suspend": ("suspend", "unsuspend"),
    "delete": ("delete",),
}
"""The screen's self-service actions and the core actions that offer them."""

LOGIN_HIDDEN = N_("login: press v to show the username and password of your service's panel")


def history_columns(locale: str) -> tuple[Column, ...]:
    """The History tab's columns, dated in `locale` (the table translates the titles)."""
    return (
        Column(N_("at"), lambda line, tz: i18n.format_moment(line.at, tz, locale)),
        Column(N_("by"), lambda line, tz: render.text(line.who)),
        Column(N_("what"), lambda line, tz: render.text(line.what)),
        Column(N_("status"), lambda line, tz: render.text(line.change)),
        Column(N_("your note"), lambda line, tz: render.text(line.reason)),
    )


class ClientDetailScreen(_CustomerScreen, TabbedDetail):
    """One of the customer's services: Overview, Panel, Renewals, Options, History, and its actions."""

    SCOPE = "client-detail"
    BINDINGS = client_bindings("client-detail")
    MUTATING = mutating("client-detail")
    TABS = (
        ("overview", N_("Overview")),
        ("panel", N_("Panel")),
        ("renewals", N_("Renewals")),
        ("options", N_("Options")),
        ("history", N_("History")),
        ("tickets", N_("Tickets")),
    )

    def __init__(self, detail: CustomerDetail) -> None:
        super().__init__()
        self.detail = detail
        self.service_id = detail.service.id
        self.resumed = False
        self.login_shown = False

    def compose_top(self) -> ComposeResult:
        yield Static(id="title")

    def compose_pane(self, pane_id: str) -> ComposeResult:
        tr, locale = self.client_app.tr, self.client_app.locale
        if pane_id == "overview":
            with VerticalScroll():
                yield Horizontal(
                    Button(tr("Renew…"), id="renew"),
                    Button(tr("Cancel…"), id="cancel"),
                    Button(tr("Keep it"), id="uncancel"),
                    Button(tr("Auto-renewal"), id="auto-renew"),
                    classes="pane-buttons",
                )
                tr = self.client_app.tr
                yield Horizontal(
                    *(Button(tr(label), id=button_id, classes="self-service") for button_id, label in SELF_SERVICE_BUTTONS),
                    id="self-service",
                    classes="pane-buttons",
                )
                yield Static(id="overview-body")
                yield Static(self._login_hidden(), id="login-body")
        elif pane_id == "panel":
            with VerticalScroll():
                yield PanelStateView(tr("asking the panel…"), translate=tr)
        elif pane_id == "renewals":
            yield RecordTable(renewal_columns(staff=False, currency=self.detail.service.currency, locale=locale), id="renewals-table", translate=tr)
        elif pane_id == "options":
            yield RecordTable(option_columns(staff=False, locale=locale), id="options-table", translate=tr)
        elif pane_id == "history":
            yield PagedRecords(
                history_columns(locale),
                self._older_history,
                page_size=customer.HISTORY_PAGE,
                table_id="history-table",
                button_id="history-more",
                translate=tr,
            )

        elif pane_id == "tickets":
            tr = self.client_app.tr
            yield Horizontal(Button(tr("Ask a question…"), id="new-ticket"), classes="pane-buttons")
            yield DataTable(cursor_type="row", id="tickets-table")

    def _login_hidden(self) -> Text:
        return Text(self.client_app.tr(LOGIN_HIDDEN), style="dim")

    def on_mount(self) -> None:
        self.query_one("#title", Static).update(title_line(self.client_app, N_("service")))
        tr = self.client_app.tr
        self.query_one("#tickets-table", DataTable).add_columns(tr("ticket"), tr("subject"), tr("state"), tr("new replies"), tr("updated"))
        self._show(self.detail)
        self._load_panel(self.service_id)
        self._load_tickets(self.service_id)

    # ------------------------------------------------------------------ loading

    def reload(self) -> None:
        self._load(self.service_id, self.next_load())
        self._load_tickets(self.service_id)

    def action_reload(self) -> None:
        self.reload()
        self._load_panel(self.service_id)

    @work(thread=True, exclusive=True, group="client-tickets")
    def _load_tickets(self, service_id: int) -> None:
        app = self.client_app
        try:
            with app.db.read() as session:
                lines = customer.ticket_list(session, app.actor, service_id=service_id)
        except SvcError as error:
            self.post_message(ChangeRefused(error.message))
            return
        self.post_message(TicketsRead(service_id, lines))

    @on(TicketsRead)
    def _tickets_read(self, message: TicketsRead) -> None:
        if message.service_id != self.service_id:
            return
        tr, tz = self.client_app.tr, self.client_app.tz
        table = self.query_one("#tickets-table", DataTable)
        table.clear()
        for line in message.lines:
            table.add_row(
                f"#{line.id}",
                render.text(line.subject),
                Text(ticket_state(tr, line.status), style=TICKET_STATE_STYLES.get(line.status, "")),
                Text(str(line.unread), style="bold yellow") if line.unread else Text("-", style="dim"),
                render.moment_text(line.updated_at, tz),
                key=str(line.id),
            )
        if not message.lines:
            table.add_row("", Text(tr("No tickets yet: ask us anything about this service."), style="dim"), "", "", "")

    @on(DataTable.RowSelected, "#tickets-table")
    def _ticket_chosen(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value if event.row_key is not None else None
        if key and key.isdigit():
            self.app.push_screen(ClientTicketScreen(int(key)))

    def action_new_ticket(self) -> None:
        app, service_id = self.client_app, self.service_id
        if app.read_only:
            app.refuse_preview()
            return
        tr = app.tr
        dialog = TicketDialog(
            tr("A question about service {id} {name}").format(id=service_id, name=render.plain(self.detail.service.name)),
            tr("We answer here, in the Tickets tab, and by mail."),
            (tr("Subject"), tr("Your message"), tr("Send")),
            tr,
        )

        def written(request: object) -> None:
            if isinstance(request, TicketRequest):
                self._open_ticket(request)

        self.app.push_screen(dialog, written)

    @work(thread=True, group="client-ticket-write")
    def _open_ticket(self, request: TicketRequest) -> None:
        app, service_id = self.client_app, self.service_id
        try:
            result = app.db.transaction(lambda session: customer_actions.open_ticket(session, app.actor, service_id, request.subject, request.message))
        except SvcError as error:
            self.post_message(ChangeRefused(error.message))
            return
        self.post_message(TicketWritten(app.tr("Ticket {id} sent: we answer here and by mail.").format(id=result.ticket_id), result.ticket_id))

    @on(TicketWritten)
    def _ticket_written(self, message: TicketWritten) -> None:
        self.notify(render.plain(message.text), markup=False, timeout=6)
        self._load_tickets(self.service_id)

    @on(Button.Pressed, "#new-ticket")
    def _new_ticket_pressed(self) -> None:
        self.action_new_ticket()

    @work(thread=True, exclusive=True, group="client-detail")
    def _load(self, service_id: int, generation: int) -> None:
        app = self.client_app
        try:
            with app.db.read() as session:
                detail = customer.service_detail(session, app.actor, service_id)
        except SvcError as error:
            self.post_message(ChangeRefused(error.message))
            return
        self.post_message(DetailLoaded(detail, generation))

    @work(thread=True, exclusive=True, group="client-panel")
    def _load_panel(self, service_id: int) -> None:
        app = self.client_app
        try:
            view = customer.panel(app.db, app.actor, service_id)
        except SvcError as error:
            view = customer.PanelView(error=error.message)
        self.post_message(CustomerPanelLoaded(service_id, view))

    def _older_history(self, before_id: int) -> list[HistoryLine]:
        app = self.client_app
        with app.db.read() as session:
            return customer.history(session, app.actor, self.service_id, before_id=before_id)

    @on(PagedRecords.LoadFailed)
    def _older_failed(self, message: PagedRecords.LoadFailed) -> None:
        self.client_app.show_error(message.error)

    @on(DetailLoaded)
    def _loaded(self, message: DetailLoaded) -> None:
        message.stop()
        if message.generation == self.load_generation:
            self._show(message.detail)

    def _show(self, detail: CustomerDetail) -> None:
        self.detail = detail
        tz = self.client_app.tz
        tr, locale = self.client_app.tr, self.client_app.locale
        self.query_one("#detail-header", Static).update(header_text(detail, tz, translate=tr, locale=locale))
        self.query_one("#overview-body", Static).update(key_values(overview_rows(detail, tz, locale)))
        for button_id, action in (("renew", "renew"), ("cancel", "cancel"), ("uncancel", "uncancel"), ("auto-renew", "auto-renew")):
            button = self.query_one(f"#{button_id}", Button)
            why = detail.refusals.get(action)
            button.disabled = why is not None or self.client_app.read_only
            button.tooltip = why
        self.query_one("#uncancel", Button).display = detail.refusals.get("uncancel") is None
        for button_id, _ in SELF_SERVICE_BUTTONS:
            button = self.query_one(f"#{button_id}", Button)
            why = detail.refusals.get(button_id)
            button.display = detail.offers(button_id) and (button_id not in ("suspend", "unsuspend") or self._suspend_shown(button_id))
            button.disabled = why is not None or self.client_app.read_only
            button.tooltip = why
        self.query_one("#self-service", Horizontal).display = any(detail.offers(button_id) for button_id, _ in SELF_SERVICE_BUTTONS)
        self.refresh_bindings()
        self.query_one("#auto-renew", Button).label = tr("Auto-renewal: {state}").format(state=customer.auto_renew_label(detail.service.auto_renew, locale))
        self.query_one("#renewals-table", RecordTable).show(detail.renewals, tz)
        self.query_one("#options-table", RecordTable).show(detail.options, tz)
        self.query_one(PagedRecords).show(detail.history, tz)
        self.query_one("#new-ticket", Button).disabled = self.client_app.read_only
        self.sub_title = detail.service.name

    @on(CustomerPanelLoaded)
    async def _panel_loaded(self, message: CustomerPanelLoaded) -> None:
        if message.service_id != self.service_id:
            return
        view = message.view
        panel = self.panel_state
        if view.state is not None:
            panel.show_state(view.state)
        else:
            panel.show_line(Text(render.plain(view.error), style="yellow"))
        await panel.show_tabs(view.tabs)
        self.refresh_bindings()

    def on_screen_resume(self) -> None:
        if self.resumed:
            self.reload()
        self.resumed = True

    def action_reveal_login(self) -> None:
        """Show the login (read in a worker, the view logged), or hide it again."""
        body = self.query_one("#login-body", Static)
        if self.login_shown:
            self.login_shown = False
            body.update(self._login_hidden())
            return
        if self.client_app.read_only:
            self.client_app.refuse_preview()
            return
        self._reveal_login(self.service_id)

    @work(thread=True, exclusive=True, group="client-login")
    def _reveal_login(self, service_id: int) -> None:
        app = self.client_app
        try:
            login = app.db.transaction(lambda session: customer.reveal_login(session, app.actor, service_id))
        except SvcError as error:
            self.post_message(LoginRevealed(service_id, None, error.message))
            return
        self.post_message(LoginRevealed(service_id, login))

    @on(LoginRevealed)
    def _login_revealed(self, message: LoginRevealed) -> None:
        if message.service_id != self.service_id:
            return
        if message.error:
            self.client_app.show_error(message.error)
            return
        self.login_shown = True
        login = message.login
        tr = self.client_app.tr
        if login is None:
            rows: list[tuple[str, Any]] = [(tr("login"), tr("no login was made for this service"))]
        else:
            rows = [(tr("username"), login.username), (tr("password"), login.password or tr("not known: ask us to reset it"))]
        self.query_one("#login-body", Static).update(key_values(rows))

    # ------------------------------------------------------------------ actions

    def offers_action(self, action: str) -> bool:
        """Whether the product's flags offer the screen's `action` (every other action is offered)."""
        keys = SELF_SERVICE_KEYS.get(action)
        return keys is None or any(self.detail.offers(key) for key in keys)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.offers_action(action):
            return False
        return super().check_action(action, parameters)

    def _suspend_shown(self, button_id: str) -> bool:
        """Suspend while the service is not suspended, Resume while it is."""
        suspended = self.detail.service.status == Status.SUSPENDED.value
        return suspended if button_id == "unsuspend" else not suspended

    def _allowed(self, action: str) -> bool:
        app = self.client_app
        if app.read_only:
            app.refuse_preview()
            return False
        why = self.detail.refusals.get(action, app.tr("not available"))
        if why is not None:
            app.show_error(app.tr("service {id}: {why}").format(id=self.service_id, why=why))
            return False
        return True

    @property
    def _label(self) -> str:
        return self.client_app.tr("service {id} {name!r}").format(id=self.service_id, name=render.plain(self.detail.service.name))

    def action_renew(self) -> None:
        if self._allowed("renew"):
            service = self.detail.service
            price = customer.renew_price_label(service.renewal_price, service.currency, service.billing_cycle, self.client_app.locale)
            self.client_app.ask_renew(self.service_id, service.name, price, self.reload)

    def action_cancel(self) -> None:
        if not self._allowed("cancel"):
            return
        app, service_id = self.client_app, self.service_id
        modes = [
            mode.value
            for mode in CancelMode
            if self.detail.refusals.get(f"cancel-{'end-of-cycle' if mode is CancelMode.END_OF_CYCLE else 'immediately'}") is None
        ]

        def chosen(request: object) -> None:
            if isinstance(request, CancelRequest):
                app.run_change(
                    service_id,
                    lambda session, worker: customer_actions.cancel(session, app.actor, service_id, request.mode, request.reason, claim_for=worker),
                    self.reload,
                )

        tr = app.tr
        self.app.push_screen(CancelDialog(tr("Cancel {service}?").format(service=self._label), modes, tr), chosen)

    def action_uncancel(self) -> None:
        if not self._allowed("uncancel"):
            return
        app, service_id = self.client_app, self.service_id

        def chosen(yes: bool | None) -> None:
            if yes:
                app.run_change(service_id, lambda session, worker: customer_actions.uncancel(session, app.actor, service_id), self.reload)

        tr = app.tr
        question = tr("Keep {service} and withdraw its cancellation?").format(service=self._label)
        self.app.push_screen(ConfirmDialog(question, yes=tr("Keep it"), translate=tr), chosen)

    def action_auto_renew(self) -> None:
        if not self._allowed("auto-renew"):
            return
        app, service_id = self.client_app, self.service_id
        turn_on = not self.detail.service.auto_renew
        tr = app.tr

        def chosen(yes: bool | None) -> None:
            if yes:
                app.run_change(service_id, lambda session, worker: customer_actions.set_auto_renew(session, app.actor, service_id, turn_on), self.reload)

        question = tr("Turn auto-renewal on for {service}?") if turn_on else tr("Turn auto-renewal off for {service}?")
        yes = tr("Turn it on") if turn_on else tr("Turn it off")
        self.app.push_screen(ConfirmDialog(question.format(service=self._label), yes=yes, translate=tr), chosen)

    def _run(self, change: Any, *, back_when_gone: bool = False) -> None:
        """Carry out a self-service change, then read the service and its panel again (or go back once it is deleted)."""
        self.client_app.run_change(self.service_id, change, self.dismiss_gone if back_when_gone else self.action_reload)

    def dismiss_gone(self) -> None:
        """After a deletion: back to the page before (the service is no longer the customer's to see)."""
        if self.app.screen is self:
            self.app.pop_screen()

    def action_buy_option(self) -> None:
        if not self._allowed("buy-option"):
            return
        app, service_id, tr = self.client_app, self.service_id, self.client_app.tr
        if not self.detail.option_offers:
            app.show_error(tr("service {id}: every option of the catalogue is on it already").format(id=service_id))
            return

        def chosen(choice: object) -> None:
            if isinstance(choice, str):
                self._run(lambda session, worker: customer_actions.buy_option(session, app.actor, service_id, choice))

        dialog = OptionDialog(
            tr("Add an option to {service}?").format(service=self._label),
            tr("An invoice bills the option for the rest of the current period; the option is added when it is paid, then billed with each renewal."),
            list(self.detail.option_offers),
            tr,
        )
        self.app.push_screen(dialog, chosen)

    def action_change_cycle(self) -> None:
        if not self._allowed("change-cycle"):
            return
        app, service_id, tr = self.client_app, self.service_id, self.client_app.tr

        def chosen(cycle: object) -> None:
            if isinstance(cycle, str):
                self._run(lambda session, worker: customer_actions.change_cycle(session, app.actor, service_id, cycle))

        choices = [(cycle, tr("{cycle}: {price}").format(cycle=i18n.cycle_name(cycle, tr), price=price)) for cycle, price in self.detail.cycle_offers]
        dialog = ChoiceDialog(
            tr("Change the renewal cycle of {service}?").format(service=self._label),
            tr("The period you paid for is kept; the next renewal bills the new cycle and extends by it."),
            tr("Renew every"),
            choices,
            tr("Change the cycle"),
            tr,
        )
        self.app.push_screen(dialog, chosen)

    def action_power(self) -> None:
        if not self._allowed("power"):
            return
        app, service_id, tr = self.client_app, self.service_id, self.client_app.tr
        labels = {"start": tr("start"), "stop": tr("stop"), "restart": tr("restart")}

        def chosen(verb: object) -> None:
            if isinstance(verb, str):
                self._run(lambda session, worker: customer_actions.power(session, app.actor, service_id, verb, claim_for=worker))

        dialog = ChoiceDialog(
            tr("Send a power action to {service}?").format(service=self._label),
            tr("Stop and restart interrupt whatever runs on the service."),
            tr("Action"),
            [(verb, labels[verb]) for verb in self.detail.power_verbs],
            tr("Send"),
            tr,
        )
        self.app.push_screen(dialog, chosen)

    def action_reinstall(self) -> None:
        if not self._allowed("reinstall"):
            return
        app, service_id, tr = self.client_app, self.service_id, self.client_app.tr

        def typed(confirmation: object) -> None:
            if isinstance(confirmation, str):
                self._run(lambda session, worker: customer_actions.reinstall(session, app.actor, service_id, confirmation, claim_for=worker))

        dialog = TypedConfirmDialog(
            tr("Reinstall {service}?").format(service=self._label),
            tr("Everything stored on the service is erased and it is installed again; this cannot be undone."),
            self.detail.service.name,
            tr("Reinstall"),
            tr,
        )
        self.app.push_screen(dialog, typed)

    def action_suspend(self) -> None:
        app, service_id, tr = self.client_app, self.service_id, self.client_app.tr
        if self.detail.service.status == Status.SUSPENDED.value:
            if not self._allowed("unsuspend"):
                return

            def resume(yes: bool | None) -> None:
                if yes:
                    self._run(lambda session, worker: customer_actions.lift_suspension(session, app.actor, service_id, claim_for=worker))

            self.app.push_screen(ConfirmDialog(tr("Resume {service}?").format(service=self._label), yes=tr("Resume"), translate=tr), resume)
            return
        if not self._allowed("suspend"):
            return

        def pause(yes: bool | None) -> None:
            if yes:
                self._run(lambda session, worker: customer_actions.suspend(session, app.actor, service_id, claim_for=worker))

        question = tr("Suspend {service}? It stops until you resume it; its billing goes on.").format(service=self._label)
        self.app.push_screen(ConfirmDialog(question, yes=tr("Suspend"), translate=tr), pause)

    def action_delete(self) -> None:
        if not self._allowed("delete"):
            return
        app, service_id, tr = self.client_app, self.service_id, self.client_app.tr
        if self.detail.service.status in customer.ENDED:
            consequence = tr("The service disappears from your area; this cannot be undone.")
        else:
            consequence = tr("The service is cancelled now and removed from its server, then it disappears from your area; this cannot be undone.")

        def typed(confirmation: object) -> None:
            if isinstance(confirmation, str):
                self._run(lambda session, worker: customer_actions.delete(session, app.actor, service_id, claim_for=worker), back_when_gone=True)

        dialog = TypedConfirmDialog(tr("Delete {service}?").format(service=self._label), consequence, self.detail.service.name, tr("Delete"), tr)
        self.app.push_screen(dialog, typed)

    @on(Button.Pressed, ".self-service")
    def _self_service_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "buy-option": self.action_buy_option,
            "change-cycle": self.action_change_cycle,
            "power": self.action_power,
            "reinstall": self.action_reinstall,
            "suspend": self.action_suspend,
            "unsuspend": self.action_suspend,
            "delete": self.action_delete,
        }
        actions[event.button.id or ""]()

    @on(Button.Pressed, "#renew")
    def _renew_pressed(self) -> None:
        self.action_renew()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Button.Pressed, "#uncancel")
    def _uncancel_pressed(self) -> None:
        self.action_uncancel()

    @on(Button.Pressed, "#auto-renew")
    def _auto_renew_pressed(self) -> None:
        self.action_auto_renew()


# ----------------------------------------------------------------------------- a ticket

TICKET_STATE_STYLES = {"open": "yellow", "answered": "bold green", "closed": "dim"}


def ticket_state(tr: Any, status: str) -> str:
    """A ticket's state in the customer's words: waiting for us, answered, closed."""
    labels = {"open": tr("waiting for our answer"), "answered": tr("answered"), "closed": tr("closed")}
    return labels.get(status, status)


def customer_thread_text(tr: Any, thread: customer.CustomerThread, tz: Any) -> Text:
    """The ticket's messages, oldest first: who, when, then the text exactly as written (inert)."""
    text = Text()
    if thread.earlier:
        text.append(tr("{count} earlier messages are not shown.").format(count=thread.earlier) + "\n\n", "dim")
    for item in thread.messages:
        who = tr("You") if item.author_kind == customer.CUSTOMER_AUTHOR else tr("Support ({name})").format(name=render.plain(item.author))
        text.append(who, "bold cyan" if item.author_kind == customer.CUSTOMER_AUTHOR else "bold")
        text.append(f" · {render.moment_text(item.at, tz)}\n", "dim")
        text.append_text(render.body_text(item.body))
        text.append("\n\n")
    return text


class ClientTicketScreen(_CustomerScreen):
    """One of the customer's tickets: its messages, a reply, and closing it."""

    SCOPE = "client-ticket"
    BINDINGS = client_bindings("client-ticket")
    MUTATING = mutating("client-ticket")

    def __init__(self, ticket_id: int) -> None:
        super().__init__()
        self.ticket_id = ticket_id
        self.thread: customer.CustomerThread | None = None

    def compose(self) -> ComposeResult:
        tr = self.client_app.tr
        yield Static(id="title")
        yield Static(Text(tr("Reading…"), style="dim"), id="client-ticket-header")
        with VerticalScroll(id="client-ticket-thread"):
            yield Static(id="client-ticket-messages")
        yield TextArea(id="client-ticket-reply", soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        with Horizontal(classes="pane-buttons", id="client-ticket-buttons"):
            yield Button(tr("Send (^s)"), id="client-ticket-send", variant="primary")
            yield Button(tr("Close ticket (^l)"), id="client-ticket-close")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        app = self.client_app
        self.query_one("#title", Static).update(title_line(app, app.tr("ticket")))
        area = self.query_one("#client-ticket-reply", TextArea)
        area.border_title = app.tr("Your reply")
        if app.read_only:
            area.disabled = True
            for button in self.query("#client-ticket-buttons Button").results(Button):
                button.disabled = True
        else:
            area.focus()
        self.reload()

    def reload(self) -> None:
        self._read()

    def action_reload(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="client-ticket-read")
    def _read(self) -> None:
        app = self.client_app
        try:
            thread = app.db.transaction(lambda session: customer.ticket_thread(session, app.actor, self.ticket_id))
        except SvcError as error:
            self.post_message(ChangeRefused(error.message))
            return
        self.post_message(TicketThreadRead(thread))

    @on(TicketThreadRead)
    def _thread_read(self, message: TicketThreadRead) -> None:
        thread: customer.CustomerThread = message.thread
        self.thread = thread
        tr, tz = self.client_app.tr, self.client_app.tz
        ticket = thread.ticket
        header = Text(no_wrap=True, overflow="ellipsis")
        header.append(f"#{ticket.id} ", "bold")
        header.append(render.plain(ticket.subject), "bold")
        header.append("  ")
        header.append(ticket_state(tr, ticket.status), TICKET_STATE_STYLES.get(ticket.status, ""))
        header.append("\n" + tr("About service {id} {name}").format(id=ticket.service_id, name=render.plain(ticket.service_name)), "dim")
        self.query_one("#client-ticket-header", Static).update(header)
        self.query_one("#client-ticket-messages", Static).update(customer_thread_text(tr, thread, tz))
        self.query_one("#client-ticket-thread", VerticalScroll).scroll_end(animate=False)

    def action_send_reply(self) -> None:
        app = self.client_app
        if app.read_only:
            app.refuse_preview()
            return
        body = self.query_one("#client-ticket-reply", TextArea).text
        self._write(lambda session: customer_actions.reply_ticket(session, app.actor, self.ticket_id, body), app.tr("Your message was sent."), sent=True)

    def action_close_ticket(self) -> None:
        app = self.client_app
        if app.read_only:
            app.refuse_preview()
            return
        self._write(lambda session: customer_actions.close_ticket(session, app.actor, self.ticket_id), app.tr("The ticket is closed."))

    @work(thread=True, group="client-ticket-write")
    def _write(self, change: Any, done: str, *, sent: bool = False) -> None:
        try:
            result = self.client_app.db.transaction(change)
        except SvcError as error:
            self.post_message(ChangeRefused(error.message))
            return
        self.post_message(TicketWritten(done, result.ticket_id, sent))

    @on(TicketWritten)
    def _written(self, message: TicketWritten) -> None:
        if message.sent:
            self.query_one("#client-ticket-reply", TextArea).clear()
        self.notify(render.plain(message.text), markup=False, timeout=6)
        self.reload()

    @on(Button.Pressed, "#client-ticket-send")
    def _send_pressed(self) -> None:
        self.action_send_reply()

    @on(Button.Pressed, "#client-ticket-close")
    def _close_pressed(self) -> None:
        self.action_close_ticket()

    def action_back(self) -> None:
        self.dismiss(None)


__all__ = ["ClientDetailScreen", "ClientServicesScreen", "ClientTicketScreen", "DashboardScreen", "overview_rows"]
