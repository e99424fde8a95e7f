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
from svcconsole.client.dialogs import CancelDialog, CancelRequest, TicketDialog, TicketRequest
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
from svcconsole.client.widgets import EMPTY, ActiveServices
from svcconsole.core import customer, customer_actions
from svcconsole.core.customer import CustomerDetail, Dashboard, HistoryLine
from svcconsole.core.errors import SvcError
from svcconsole.core.statuses import CancelMode
from svcconsole.widgets import render
from svcconsole.widgets.detail_frame import TabbedDetail, header_text, key_values, option_columns, renewal_columns
from svcconsole.widgets.dialogs import ConfirmDialog
from svcconsole.widgets.panel_state import PanelStateView
from svcconsole.widgets.records import Column, PagedRecords, RecordTable
from svcconsole.widgets.service_list import ServiceListScreen
from svcconsole.widgets.why import why_not

if TYPE_CHECKING:
    from svcconsole.store.queries import ServiceFilter
    from svcconsole.store.window import ServiceWindow


def title_line(app: ClientHost, page: str) -> Text:
    """The top line of every page: whose area this is, and whether it is an operator's preview."""
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(" svcconsole ", "bold reverse")
    line.append(f" {page} ", "bold")
    line.append(render.plain(app.customer_label), "cyan")
    if app.read_only:
        line.append("  PREVIEW: read-only", "bold red")
    return line


class _CustomerScreen(Screen[None]):
    """What every customer-area page shares: the app, refusals of a preview, errors."""

    MUTATING: frozenset[str] = frozenset()

    @property
    def client_app(self) -> ClientHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in its own app

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
        with Vertical(id="dashboard"):
            yield Static(id="title")
            yield Static(Text(" Active services", style="bold"), id="active-heading", classes="heading")
            yield ActiveServices(id="active")
            yield Static(Text(f" {EMPTY}", style="italic dim"), id="active-empty")
            yield Static(Text(" Unpaid invoices", style="bold"), id="invoices-heading", classes="heading")
            yield DataTable(id="invoices", cursor_type="row")
            yield Static(id="invoices-empty")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#title", Static).update(title_line(self.client_app, "dashboard"))
        self.query_one("#invoices", DataTable).add_columns("invoice", "due", "total", "for")
        self.query_one("#active-empty", Static).display = False
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
        heading = Text(" Active services", style="bold")
        shown = len(board.active)
        more = f" (the first {shown} of {board.active_total})" if board.active_total > shown else f" ({board.active_total})"
        heading.append(more, "dim")
        heading.append(f"  ·  {render.plural(board.services_total, 'service')} in all: l lists them", "dim")
        self.query_one("#active-heading", Static).update(heading)
        invoices = self.query_one("#invoices", DataTable)
        invoices.clear()
        for invoice in board.unpaid:
            what = "; ".join(invoice.lines) or "-"
            invoices.add_row(
                render.text(f"#{invoice.id}"), render.text(invoice.due), render.text(invoice.total, "bold"), render.text(what), key=str(invoice.id)
            )
        invoices.display = bool(board.unpaid)
        empty = self.query_one("#invoices-empty", Static)
        empty.update(Text(" Nothing to pay.", style="dim") if not board.unpaid else Text(""))
        empty.display = not board.unpaid

    @on(DataTable.RowSelected, "#active")
    def _row_selected(self) -> None:
        self.action_show_in_list()

    def action_show_in_list(self) -> None:
        service_id = self.query_one(ActiveServices).service_id_at_cursor()
        if service_id is not None:
            self.client_app.show_services(f"id:{service_id}")

    def action_renew(self) -> None:
        service_id = self.query_one(ActiveServices).service_id_at_cursor()
        if service_id is None:
            return
        line = next((item for item in (self.dashboard.active if self.dashboard else ()) if item.id == service_id), None)
        self.client_app.ask_renew(service_id, line.name if line else "", line.renew if line else "", self.reload)


# ----------------------------------------------------------------------------- the list


class ClientServicesScreen(ServiceListScreen, inherit_bindings=False):
    """The shared list screen, over a window that only ever holds this customer's services."""

    SCOPE = "client-services"
    BINDINGS = [*Screen.BINDINGS, *client_bindings("client-services")]
    FILTER_PLACEHOLDER = "filter: text status:active id:12 cycle:monthly expires<30d"

    def __init__(self, filter_text: str = "") -> None:
        super().__init__()
        self.filter_text = filter_text

    @property
    def client_app(self) -> ClientHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in its own app

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
        if self.filter_text:
            field = self.query_one("#filter", Input)
            with field.prevent(Input.Changed):
                field.value = self.filter_text

    def _render_title(self) -> None:
        self.query_one("#title", Static).update(title_line(self.client_app, "my services"))

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


def overview_rows(detail: CustomerDetail, tz: Any) -> list[tuple[str, Any]]:
    """The Overview tab: what the customer bought, its state, its money and its dates."""
    service = detail.service
    cancellation = "-"
    if service.cancel_mode == CancelMode.END_OF_CYCLE.value:
        cancellation = f"at the end of the cycle, on {customer.day(service.cancel_at, tz)}"
    elif service.cancel_mode:
        cancellation = f"cancelled on {customer.day(service.cancelled_at or service.cancel_at, tz)}"
    rows: list[tuple[str, Any]] = [
        ("product", service.product_name or "-"),
        ("status", render.status_text(service.status, service.suspend_kind, service.operation, service.placement_note)),
        ("expiration", customer.expiry_label(service.status, service.expires_at, service.suspended_at, tz)),
        ("auto-renewal", customer.auto_renew_label(service.auto_renew)),
        ("renew", customer.renew_price_label(service.renewal_price, service.currency, service.billing_cycle)),
        ("renewals", f"{service.renewals} of {service.max_renewals if service.max_renewals is not None else 'unlimited'}"),
        ("cancellation", cancellation),
        ("created", render.day(service.created_at, tz)),
        ("description", service.description or "-"),
        ("reference", service.uuid),
    ]
    if detail.pending_invoice is not None:
        rows.insert(5, ("to pay", f"invoice #{detail.pending_invoice} bills the next renewal"))
    if detail.order_to_pay is not None:
        rows.insert(1, ("to pay", f"your order: {detail.order_to_pay}; the service is set up once it is paid"))
    return rows


LOGIN_HIDDEN = Text("login: press v to show the username and password of your service's panel", style="dim")

HISTORY_COLUMNS = (
    Column("at", lambda line, tz: render.moment_text(line.at, tz)),
    Column("by", lambda line, tz: render.text(line.who)),
    Column("what", lambda line, tz: render.text(line.what)),
    Column("status", lambda line, tz: render.text(line.change)),
    Column("your note", lambda line, tz: render.text(line.reason)),
)


class ClientDetailScreen(_CustomerScreen, TabbedDetail):
    """One of the customer's services: Overview, Panel, Renewals, Options, History, and its actions."""

    SCOPE = "client-detail"
    BINDINGS = client_bindings("client-detail")
    MUTATING = mutating("client-detail")
    TABS = (("overview", "Overview"), ("panel", "Panel"), ("renewals", "Renewals"), ("options", "Options"), ("history", "History"), ("tickets", "Tickets"))

    def __init__(self, detail: CustomerDetail) -> None:
        super().__init__()
        self.detail = detail
        self.service_id = detail.service.id
        self.resumed = False
        self.login_shown = False

    def compose_top(self) -> ComposeResult:
        yield Static(id="title")

    def compose_pane(self, pane_id: str) -> ComposeResult:
        if pane_id == "overview":
            with VerticalScroll():
                yield Horizontal(
                    Button("Renew…", id="renew"),
                    Button("Cancel…", id="cancel"),
                    Button("Keep it", id="uncancel"),
                    Button("Auto-renewal", id="auto-renew"),
                    classes="pane-buttons",
                )
                yield Static(id="overview-body")
                yield Static(LOGIN_HIDDEN, id="login-body")
        elif pane_id == "panel":
            with VerticalScroll():
                yield PanelStateView("asking the panel…")
        elif pane_id == "renewals":
            yield RecordTable(renewal_columns(staff=False, currency=self.detail.service.currency), id="renewals-table")
        elif pane_id == "options":
            yield RecordTable(option_columns(staff=False), id="options-table")
        elif pane_id == "history":
            yield PagedRecords(HISTORY_COLUMNS, self._older_history, page_size=customer.HISTORY_PAGE, table_id="history-table", button_id="history-more")
        elif pane_id == "tickets":
            tr = self.client_app.tr
            yield Horizontal(Button(tr("Ask a question…"), id="new-ticket"), classes="pane-buttons")
            yield DataTable(cursor_type="row", id="tickets-table")

    def on_mount(self) -> None:
        self.query_one("#title", Static).update(title_line(self.client_app, "service"))
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
        self.query_one("#detail-header", Static).update(header_text(detail, tz))
        self.query_one("#overview-body", Static).update(key_values(overview_rows(detail, tz)))
        for button_id, action in (("renew", "renew"), ("cancel", "cancel"), ("uncancel", "uncancel"), ("auto-renew", "auto-renew")):
            button = self.query_one(f"#{button_id}", Button)
            why = detail.refusals.get(action)
            button.disabled = why is not None or self.client_app.read_only
            button.tooltip = why
        self.query_one("#uncancel", Button).display = detail.refusals.get("uncancel") is None
        self.query_one("#auto-renew", Button).label = f"Auto-renewal: {customer.auto_renew_label(detail.service.auto_renew)}"
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
            body.update(LOGIN_HIDDEN)
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
        if login is None:
            rows: list[tuple[str, Any]] = [("login", "no login was made for this service")]
        else:
            rows = [("username", login.username), ("password", login.password or "not known: ask us to reset it")]
        self.query_one("#login-body", Static).update(key_values(rows))

    # ------------------------------------------------------------------ actions

    def _allowed(self, action: str) -> bool:
        app = self.client_app
        if app.read_only:
            app.refuse_preview()
            return False
        why = self.detail.refusals.get(action, "not available")
        if why is not None:
            app.show_error(f"service {self.service_id}: {why}")
            return False
        return True

    @property
    def _label(self) -> str:
        return f"service {self.service_id} {render.plain(self.detail.service.name)!r}"

    def action_renew(self) -> None:
        if self._allowed("renew"):
            service = self.detail.service
            price = customer.renew_price_label(service.renewal_price, service.currency, service.billing_cycle)
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

        self.app.push_screen(CancelDialog(f"Cancel {self._label}?", modes), chosen)

    def action_uncancel(self) -> None:
        if not self._allowed("uncancel"):
            return
        app, service_id = self.client_app, self.service_id

        def chosen(yes: bool | None) -> None:
            if yes:
                app.run_change(service_id, lambda session, worker: customer_actions.uncancel(session, app.actor, service_id), self.reload)

        self.app.push_screen(ConfirmDialog(f"Keep {self._label} and withdraw its cancellation?", yes="Keep it"), chosen)

    def action_auto_renew(self) -> None:
        if not self._allowed("auto-renew"):
            return
        app, service_id = self.client_app, self.service_id
        turn_on = not self.detail.service.auto_renew
        label = customer.auto_renew_label(turn_on)

        def chosen(yes: bool | None) -> None:
            if yes:
                app.run_change(service_id, lambda session, worker: customer_actions.set_auto_renew(session, app.actor, service_id, turn_on), self.reload)

        self.app.push_screen(ConfirmDialog(f"Turn auto-renewal {label} for {self._label}?", yes=f"Turn it {label}"), chosen)

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
