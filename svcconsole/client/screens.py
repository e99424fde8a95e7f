"""The customer area's pages: the dashboard, the list of the customer's services, a service.

The list is the admin console's `ServicesScreen` over a window that `CustomerScope` narrows to
one customer; the detail uses the admin detail's header and key/value layout. Every read and
change runs in a thread worker through `core.customer`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, Static, TabbedContent, TabPane

from svcconsole.client.actions import client_bindings, mutating
from svcconsole.client.dialogs import CancelDialog, CancelRequest
from svcconsole.client.messages import ChangeRefused, CustomerPanelLoaded, DashboardLoaded, DetailLoaded, HistoryLoaded
from svcconsole.client.widgets import EMPTY, ActiveServices
from svcconsole.console import render
from svcconsole.core import customer
from svcconsole.core.customer import CustomerDetail, Dashboard
from svcconsole.core.errors import SvcError
from svcconsole.core.statuses import CancelMode
from svcconsole.screens.detail import header_text, key_values, step_tab
from svcconsole.screens.dialogs import ConfirmDialog
from svcconsole.screens.services import ServicesScreen
from svcconsole.store.queries import ServiceFilter
from svcconsole.store.window import ServiceWindow

if TYPE_CHECKING:
    from svcconsole.client.app import ClientApp

DETAIL_TABS = ("overview", "panel", "renewals", "options", "history")


def title_line(app: "ClientApp", page: str) -> Text:
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
    def client_app(self) -> "ClientApp":
        return self.app  # type: ignore[return-value]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.MUTATING and self.client_app.read_only:
            return None
        return True

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
            invoices.add_row(render.text(f"#{invoice.id}"), render.text(invoice.due), render.text(invoice.total, "bold"), render.text(what), key=str(invoice.id))
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


class ClientServicesScreen(ServicesScreen, inherit_bindings=False):
    """The admin list, over a window that only ever holds this customer's services."""

    SCOPE = "client-services"
    BINDINGS = [*Screen.BINDINGS, *client_bindings("client-services")]
    MUTATING = frozenset()
    FILTER_PLACEHOLDER = "filter: text status:active id:12 cycle:monthly expires<30d"

    def __init__(self, filter_text: str = "") -> None:
        super().__init__()
        self.filter_text = filter_text

    @property
    def client_app(self) -> "ClientApp":
        return self.app  # type: ignore[return-value]

    def new_window(self) -> ServiceWindow:
        app = self.client_app
        return customer.scope_of(app.actor).window(app.db, page_size=app.page_size)

    def parse_filter_text(self, session: Any, text: str) -> ServiceFilter:
        app = self.client_app
        return customer.list_filter(session, app.actor, text, tz_name=app.tz.key)

    def count_by_status(self, session: Any, service_filter: ServiceFilter) -> dict[str, int]:
        return customer.scope_of(self.client_app.actor).counts_by_status(session, service_filter)

    def on_mount(self) -> None:
        super().on_mount()
        if self.filter_text:
            field = self.query_one("#filter", Input)
            with field.prevent(Input.Changed):
                field.value = self.filter_text
            field.display = True
            self._render_status()

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

    def action_clear(self) -> None:
        if self.filter_text or self.query_one("#filter", Input).display:
            self._clear_filter()


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
        ("status", render.status_text(service.status, service.suspend_kind, service.operation)),
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
    return rows


class ClientDetailScreen(_CustomerScreen):
    """One of the customer's services: Overview, Panel, Renewals, Options, History, and its actions."""

    SCOPE = "client-detail"
    BINDINGS = client_bindings("client-detail")
    MUTATING = mutating("client-detail")

    def __init__(self, detail: CustomerDetail) -> None:
        super().__init__()
        self.detail = detail
        self.service_id = detail.service.id
        self.history_lines = list(detail.history)
        self.resumed = False

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield Static(id="detail-header")
        with TabbedContent(id="tabs"):
            with TabPane("Overview", id="overview"):
                with VerticalScroll():
                    yield Horizontal(
                        Button("Renew…", id="renew"), Button("Cancel…", id="cancel"), Button("Keep it", id="uncancel"),
                        Button("Auto-renewal", id="auto-renew"), classes="pane-buttons",
                    )
                    yield Static(id="overview-body")
            with TabPane("Panel", id="panel"):
                with VerticalScroll():
                    yield Static("asking the panel…", id="panel-state")
                    yield Static(id="panel-tabs")
            with TabPane("Renewals", id="renewals"):
                yield DataTable(id="renewals-table", cursor_type="row")
            with TabPane("Options", id="options"):
                yield DataTable(id="options-table", cursor_type="row")
            with TabPane("History", id="history"):
                yield DataTable(id="history-table", cursor_type="row")
                yield Horizontal(Button("Load older", id="history-more"), classes="pane-buttons")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#title", Static).update(title_line(self.client_app, "service"))
        self.query_one("#renewals-table", DataTable).add_columns("renewed", "period", "periods", "amount", "invoice")
        self.query_one("#options-table", DataTable).add_columns("name", "value", "qty", "price", "expires")
        self.query_one("#history-table", DataTable).add_columns("at", "by", "what", "status", "your note")
        self._show(self.detail)
        self._load_panel(self.service_id)

    # ------------------------------------------------------------------ loading

    def reload(self) -> None:
        self._load(self.service_id)

    def action_reload(self) -> None:
        self.reload()
        self._load_panel(self.service_id)

    @work(thread=True, exclusive=True, group="client-detail")
    def _load(self, service_id: int) -> None:
        app = self.client_app
        try:
            with app.db.read() as session:
                detail = customer.service_detail(session, app.actor, service_id)
        except SvcError as error:
            self.post_message(ChangeRefused(error.message))
            return
        self.post_message(DetailLoaded(detail))

    @work(thread=True, exclusive=True, group="client-panel")
    def _load_panel(self, service_id: int) -> None:
        app = self.client_app
        try:
            view = customer.panel(app.db, app.actor, service_id)
        except SvcError as error:
            view = customer.PanelView(error=error.message)
        self.post_message(CustomerPanelLoaded(service_id, view))

    @on(DetailLoaded)
    def _loaded(self, message: DetailLoaded) -> None:
        message.stop()
        self._show(message.detail)

    def _show(self, detail: CustomerDetail) -> None:
        self.detail = detail
        tz = self.client_app.tz
        self.query_one("#detail-header", Static).update(header_text(detail, tz))  # type: ignore[arg-type]
        self.query_one("#overview-body", Static).update(key_values(overview_rows(detail, tz)))
        for button_id, action in (("renew", "renew"), ("cancel", "cancel"), ("uncancel", "uncancel"), ("auto-renew", "auto-renew")):
            button = self.query_one(f"#{button_id}", Button)
            why = detail.refusals.get(action)
            button.disabled = why is not None or self.client_app.read_only
            button.tooltip = why
        self.query_one("#uncancel", Button).display = detail.refusals.get("uncancel") is None
        self.query_one("#auto-renew", Button).label = f"Auto-renewal: {customer.auto_renew_label(detail.service.auto_renew)}"
        renewals = self.query_one("#renewals-table", DataTable)
        renewals.clear()
        for renewal in detail.renewals:
            period = f"{render.day(renewal.period_start, tz)} → {render.day(renewal.period_end, tz)}"
            renewals.add_row(render.day(renewal.renewed_at, tz), period, str(renewal.cycles), render.money(renewal.amount, detail.service.currency), str(renewal.invoice_id or "-"))
        options = self.query_one("#options-table", DataTable)
        options.clear()
        for option in detail.options:
            options.add_row(render.text(option.name), render.text(option.value or ""), str(option.quantity), render.money(option.price), render.day(option.expires_at, tz))
        self.history_lines = list(detail.history)
        self._show_history()
        self.sub_title = detail.service.name

    def _show_history(self) -> None:
        tz = self.client_app.tz
        table = self.query_one("#history-table", DataTable)
        table.clear()
        for line in self.history_lines:
            table.add_row(render.moment_text(line.at, tz), render.text(line.who), render.text(line.what), render.text(line.change), render.text(line.reason))
        more = self.query_one("#history-more", Button)
        more.disabled = not self.history_lines or len(self.history_lines) % customer.HISTORY_PAGE != 0

    @on(Button.Pressed, "#history-more")
    def _more_history(self) -> None:
        if self.history_lines:
            self._load_older(self.history_lines[-1].id)

    @work(thread=True, exclusive=True, group="client-history")
    def _load_older(self, before_id: int) -> None:
        app = self.client_app
        try:
            with app.db.read() as session:
                lines = customer.history(session, app.actor, self.service_id, before_id=before_id)
        except SvcError as error:
            self.post_message(ChangeRefused(error.message))
            return
        self.post_message(HistoryLoaded(self.service_id, lines))

    @on(HistoryLoaded)
    def _older_loaded(self, message: HistoryLoaded) -> None:
        if message.service_id == self.service_id:
            self.history_lines.extend(message.lines)
            self._show_history()

    @on(CustomerPanelLoaded)
    def _panel_loaded(self, message: CustomerPanelLoaded) -> None:
        if message.service_id != self.service_id:
            return
        view = message.view
        state = self.query_one("#panel-state", Static)
        if view.error:
            state.update(Text(render.plain(view.error), style="yellow"))
        else:
            state.update(key_values(list(view.rows)))
        tabs = Text()
        for tab in view.tabs:
            tabs.append(f"\n{render.plain(tab.title)}\n", "bold underline")
            for key, value in tab.rows:
                tabs.append(f"  {render.plain(key)}: ", "dim")
                tabs.append(f"{render.plain(value)}\n")
        self.query_one("#panel-tabs", Static).update(tabs)

    def on_screen_resume(self) -> None:
        if self.resumed:
            self.reload()
        self.resumed = True

    # ------------------------------------------------------------------ tabs

    def action_next_tab(self) -> None:
        step_tab(self.query_one(TabbedContent), DETAIL_TABS, 1)

    def action_previous_tab(self) -> None:
        step_tab(self.query_one(TabbedContent), DETAIL_TABS, -1)

    def action_back(self) -> None:
        self.dismiss(None)

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
        modes = [mode.value for mode in CancelMode if self.detail.refusals.get(f"cancel-{'end-of-cycle' if mode is CancelMode.END_OF_CYCLE else 'immediately'}") is None]

        def chosen(request: object) -> None:
            if isinstance(request, CancelRequest):
                app.run_change(service_id, lambda session, worker: customer.cancel(session, app.actor, service_id, request.mode, request.reason, claim_for=worker), self.reload)

        app.push_screen(CancelDialog(f"Cancel {self._label}?", modes), chosen)

    def action_uncancel(self) -> None:
        if not self._allowed("uncancel"):
            return
        app, service_id = self.client_app, self.service_id

        def chosen(yes: bool | None) -> None:
            if yes:
                app.run_change(service_id, lambda session, worker: customer.uncancel(session, app.actor, service_id), self.reload)

        app.push_screen(ConfirmDialog(f"Keep {self._label} and withdraw its cancellation?", yes="Keep it"), chosen)

    def action_auto_renew(self) -> None:
        if not self._allowed("auto-renew"):
            return
        app, service_id = self.client_app, self.service_id
        turn_on = not self.detail.service.auto_renew
        label = customer.auto_renew_label(turn_on)

        def chosen(yes: bool | None) -> None:
            if yes:
                app.run_change(service_id, lambda session, worker: customer.set_auto_renew(session, app.actor, service_id, turn_on), self.reload)

        app.push_screen(ConfirmDialog(f"Turn auto-renewal {label} for {self._label}?", yes=f"Turn it {label}"), chosen)

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


__all__ = ["ClientDetailScreen", "ClientServicesScreen", "DashboardScreen", "overview_rows"]
