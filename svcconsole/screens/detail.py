"""A service's detail: header, then Overview, Panel, Renewals, Options, Upgrade, Metadata, Activity."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from sqlmodel import col, select
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Static, TabbedContent, TabPane, Tabs

from svcconsole.console import render
from svcconsole.console.actions import applies, bindings, mutating_actions
from svcconsole.console.messages import ActionFailed, SelectionResolved, ServiceLoaded, ServiceSaved
from svcconsole.core import activity, billing, services
from svcconsole.core.errors import SvcError
from svcconsole.modules import get_module, is_module
from svcconsole.screens.detail_panel import PanelView
from svcconsole.screens.detail_upgrade import UpgradeView
from svcconsole.store.models import Customer, Invoice, InvoiceLine, Job
from svcconsole.widgets.footer import ContextFooter
from svcconsole.widgets.inputs import InertInput as Input

if TYPE_CHECKING:
    from svcconsole.app import ConsoleApp

ACTIVITY_PAGE = 50
TABS = ("overview", "panel", "renewals", "options", "upgrade", "metadata", "activity")


@dataclass
class ServiceDetail:
    """Everything the detail screen shows, read in one worker."""

    service: Any
    customer_email: str
    renewals: list[Any]
    invoiced_renewals: list[Any]
    options: list[Any]
    meta: list[Any]
    activity: list[Any]
    quotes: list[Any]
    upgrades: list[Any]
    product_names: dict[int, str]
    jobs: list[Any]
    module_label: str
    module_operations: frozenset[str] = field(default_factory=frozenset)


def invoiced_renewals(session: Any, service_id: int) -> list[Any]:
    """The service's renewal lines on invoices still to be paid, with the invoice status."""
    query = (
        select(InvoiceLine, Invoice.status)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)  # type: ignore[arg-type]
        .where(InvoiceLine.service_id == service_id, InvoiceLine.kind == billing.LineKind.RENEWAL.value, col(InvoiceLine.applied_at).is_(None))
        .where(col(Invoice.status).in_(billing.OPEN_STATUSES))
        .order_by(col(InvoiceLine.id))
    )
    return list(session.exec(query).all())


def read_detail(session: Any, service_id: int) -> ServiceDetail:
    """A service and its satellites (renewals, options, metadata, activity page, upgrades, jobs)."""
    service = services.get_service(session, service_id)
    customer = session.get(Customer, service.customer_id)
    upgrades = billing.upgrades_of(session, service_id)
    named = {upgrade.to_product_id for upgrade in upgrades} | {upgrade.from_product_id for upgrade in upgrades if upgrade.from_product_id}
    jobs = list(session.exec(select(Job).where(Job.service_id == service_id).order_by(Job.id.desc()).limit(20)).all())  # type: ignore[union-attr]
    module = get_module(service.type) if is_module(service.type) else None
    return ServiceDetail(
        service=service,
        customer_email=customer.email if customer else "",
        renewals=services.renewals_of(session, service_id),
        invoiced_renewals=invoiced_renewals(session, service_id),
        options=services.options_of(session, service_id),
        meta=services.meta_items(session, service_id),
        activity=activity.history(session, service_id, limit=ACTIVITY_PAGE),
        quotes=billing.quote_upgrades(session, service_id),
        upgrades=upgrades,
        product_names=billing.product_names(session, named),
        jobs=jobs,
        module_label=(module.label or module.name) if module else f"{service.type} (module not installed)",
        module_operations=frozenset(module.supports) if module else frozenset(),
    )


def header_text(detail: ServiceDetail, tz: Any) -> Text:
    service = detail.service
    line = Text(no_wrap=False)
    line.append(f"#{service.id} ", "bold")
    line.append(render.plain(service.name), "bold")
    line.append("  ")
    line.append_text(render.status_text(service.status, service.suspend_kind, service.operation))
    line.append("\n")
    line.append(render.plain(service.customer_name), "cyan")
    line.append(f" <{render.plain(detail.customer_email)}>", "dim")
    line.append(f"  {service.billing_cycle} {render.money(service.price, service.currency)}")
    line.append(f"  expires {render.day(service.expires_at, tz)}")
    if service.cancel_at or service.cancelled_at:
        when = render.day(service.cancelled_at or service.cancel_at, tz)
        line.append(f"  cancel {render.plain(service.cancel_mode)} {when}", "bold magenta")
    return line


def key_values(rows: list[tuple[str, Any]]) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    table.add_column("field", style="dim", no_wrap=True, width=16)
    table.add_column("value", ratio=1)
    for name, value in rows:
        table.add_row(name, value if isinstance(value, Text) else Text(render.plain(value)))
    return table


def overview_table(detail: ServiceDetail, tz: Any) -> Table:
    service = detail.service
    suspension = f"{service.suspend_kind}: {service.suspend_reason or '-'} (since {render.day(service.suspended_at, tz)})" if service.status == "suspended" else "-"
    cancellation = "-"
    if service.cancel_mode:
        cancellation = f"{service.cancel_mode} on {render.day(service.cancel_at, tz)}" + (f": {service.cancel_reason}" if service.cancel_reason else "")
    return key_values([
        ("uuid", service.uuid),
        ("type", detail.module_label if detail.module_label.startswith(service.type) else f"{service.type} ({detail.module_label})"),
        ("product", service.product_name or "(custom service)"),
        ("server", service.server_name or "-"),
        ("status", render.status_text(service.status, service.suspend_kind, service.operation)),
        ("suspension", suspension),
        ("cycle", service.billing_cycle),
        ("price", render.money(service.price, service.currency)),
        ("initial price", render.money(service.initial_price, service.currency)),
        ("created", render.moment_text(service.created_at, tz)),
        ("expires", render.moment_text(service.expires_at, tz)),
        ("auto renew", "on" if service.auto_renew else "off"),
        ("renewals", f"{service.renewals} of {service.max_renewals if service.max_renewals is not None else 'unlimited'}"),
        ("cancellation", cancellation),
        ("description", service.description or "-"),
        ("notes", service.notes or "-"),
        ("external", ", ".join(f"{key}={value}" for key, value in (service.external or {}).items()) or "-"),
        ("last error", service.last_error or "-"),
        ("deliveries", str(service.delivery_attempts)),
        ("version", f"{service.version} (by {service.updated_by or '-'})"),
    ])



def step_tab(tabs: TabbedContent, names: tuple[str, ...] | list[str], delta: int) -> None:
    """Show the next or previous of `names`; focus moves to the tab bar first, or a focused
    widget in the pane being left would bring its pane straight back."""
    current = names.index(tabs.active) if tabs.active in names else 0
    tabs.query_one(Tabs).focus()
    tabs.active = names[(current + delta) % len(names)]


class DetailScreen(Screen[None]):
    """One service, its tabs, and the actions that apply to it."""

    SCOPE = "detail"
    BINDINGS = bindings("detail")
    MUTATING = mutating_actions(["detail"])

    def __init__(self, service_id: int) -> None:
        super().__init__()
        self.service_id = service_id
        self.detail: ServiceDetail | None = None
        self.activity_rows: list[Any] = []

    @property
    def console_app(self) -> "ConsoleApp":
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static(Text(f"service {self.service_id}: loading…"), id="detail-header")
        with TabbedContent(id="tabs"):
            with TabPane("Overview", id="overview"):
                yield VerticalScroll(Static(id="overview-body"))
            with TabPane("Panel", id="panel"):
                yield PanelView(self.service_id, id="panel-view")
            with TabPane("Renewals", id="renewals"):
                yield Horizontal(Button("Renew now…", id="renew-now"), Button("Renew into an invoice…", id="renew-into-invoice"), classes="pane-buttons")
                yield DataTable(id="renewals-table", cursor_type="row")
            with TabPane("Options", id="options"):
                with Horizontal(classes="pane-inputs"):
                    yield Input(placeholder="name", id="option-name")
                    yield Input(placeholder="value", id="option-value")
                    yield Input("1", placeholder="qty", id="option-quantity", restrict=r"\d*")
                    yield Input(placeholder="price", id="option-price")
                yield Horizontal(Button("Add", id="option-add"), Button("Save selected", id="option-edit"), Button("Remove selected", id="option-remove"), classes="pane-buttons")
                yield DataTable(id="options-table", cursor_type="row")
            with TabPane("Upgrade", id="upgrade"):
                yield UpgradeView(self.service_id, id="upgrade-view")
            with TabPane("Metadata", id="metadata"):
                with Horizontal(classes="pane-inputs"):
                    yield Input(placeholder="key (e.g. max_renewals)", id="meta-key")
                    yield Input(placeholder="value", id="meta-value")
                yield Horizontal(Button("Set", id="meta-set"), Button("Unset selected", id="meta-unset"), classes="pane-buttons")
                yield DataTable(id="meta-table", cursor_type="row")
            with TabPane("Activity", id="activity"):
                yield DataTable(id="activity-table", cursor_type="row")
                yield Horizontal(Button("Load older", id="activity-more"), classes="pane-buttons")
        yield ContextFooter()

    def on_mount(self) -> None:
        self.query_one("#renewals-table", DataTable).add_columns("renewed", "period", "cycles", "amount", "invoice", "by")
        self.query_one("#options-table", DataTable).add_columns("id", "name", "value", "qty", "price", "expires")
        self.query_one("#meta-table", DataTable).add_columns("key", "value", "meaning")
        self.query_one("#activity-table", DataTable).add_columns("at", "by", "action", "status", "reason")
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Changes are off for viewers and in read-only mode; a service action shows only when the
        service's status allows it; R works on the Panel tab only."""
        if action in self.MUTATING and not self.console_app.can_act:
            return None
        if action == "service_action" and parameters and self.detail is not None:
            return applies(str(parameters[0]), self.detail.service.status)
        if action == "ask_panel":
            return self.query_one(TabbedContent).active == "panel"
        return True

    # ------------------------------------------------------------------ loading

    def reload(self) -> None:
        """Read the service and its satellites again (the panel is asked separately)."""
        self._load(self.service_id)

    def action_reload(self) -> None:
        """Read everything again, the panel too once it has been asked."""
        self.reload()
        if self.panel.asked:
            self.panel.ask()

    @property
    def panel(self) -> PanelView:
        """The Panel tab's content."""
        return self.query_one(PanelView)

    def action_ask_panel(self) -> None:
        """Ask the panel again (R)."""
        self.panel.ask()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        if event.pane.id == "panel" and not self.panel.asked:
            self.panel.ask()

    @work(thread=True, exclusive=True, group="detail-load")
    def _load(self, service_id: int) -> None:
        try:
            with self.console_app.db.read() as session:
                detail = read_detail(session, service_id)
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        self.post_message(ServiceLoaded(detail))

    @on(ActionFailed)
    def _failed(self, message: ActionFailed) -> None:
        message.stop()
        self.console_app.show_error(message.error)

    @on(ServiceLoaded)
    def _loaded(self, message: ServiceLoaded) -> None:
        detail: ServiceDetail = message.detail
        self.detail = detail
        self.refresh_bindings()
        tz = self.console_app.tz
        service = detail.service
        self.query_one("#detail-header", Static).update(header_text(detail, tz))
        self.query_one("#overview-body", Static).update(overview_table(detail, tz))
        renewals = self.query_one("#renewals-table", DataTable)
        renewals.clear()
        for line, invoice_status in detail.invoiced_renewals:
            period = f"{render.day(line.period_start, tz)} → {render.day(line.period_end, tz)}"
            cycles = str((line.details or {}).get("cycles", "-"))
            renewals.add_row(Text("awaiting payment", style="bold yellow"), period, cycles, render.money(line.amount), render.text(f"{line.invoice_id} ({invoice_status})"), "-")
        for renewal in detail.renewals:
            period = f"{render.day(renewal.period_start, tz)} → {render.day(renewal.period_end, tz)}"
            renewals.add_row(render.day(renewal.renewed_at, tz), period, str(renewal.cycles), render.money(renewal.amount), str(renewal.invoice_id or "-"), render.text(renewal.actor))
        options = self.query_one("#options-table", DataTable)
        options.clear()
        for option in detail.options:
            options.add_row(str(option.id), render.text(option.name), render.text(option.value or ""), str(option.quantity), render.money(option.price), render.day(option.expires_at, tz), key=str(option.id))
        meta = self.query_one("#meta-table", DataTable)
        meta.clear()
        for item in detail.meta:
            meaning = services.KNOWN_META_KEYS.get(item.key, "")
            meta.add_row(render.text(item.key), render.text(item.value), Text(meaning, style="dim"), key=item.key)
        known = Text("known keys: " + "; ".join(f"{key}: {meaning}" for key, meaning in services.KNOWN_META_KEYS.items()), style="dim")
        self.query_one("#meta-key", Input).tooltip = known
        self.activity_rows = list(detail.activity)
        self._show_activity()
        self.query_one(UpgradeView).show(detail, tz)
        self.panel.know_service(service.status, detail.module_operations)
        self.sub_title = service.name

    def _show_activity(self) -> None:
        tz = self.console_app.tz
        table = self.query_one("#activity-table", DataTable)
        table.clear()
        for row in self.activity_rows:
            change = f"{row.from_status or '-'} → {row.to_status or '-'}" if row.from_status != row.to_status else (row.to_status or "")
            table.add_row(render.moment_text(row.at, tz), render.text(row.actor), render.text(row.action), render.text(change), render.text(row.reason or ""))
        more = self.query_one("#activity-more", Button)
        more.disabled = len(self.activity_rows) % ACTIVITY_PAGE != 0 or not self.activity_rows

    @on(Button.Pressed, "#activity-more")
    def _more_activity(self) -> None:
        if self.activity_rows:
            self._load_older(self.activity_rows[-1].id)

    @work(thread=True, exclusive=True, group="detail-activity")
    def _load_older(self, before_id: int) -> None:
        with self.console_app.db.read() as session:
            rows = activity.history(session, self.service_id, limit=ACTIVITY_PAGE, before_id=before_id)
        self.app.call_from_thread(self._append_activity, rows)

    def _append_activity(self, rows: list[Any]) -> None:
        self.activity_rows.extend(rows)
        self._show_activity()

    # ------------------------------------------------------------------ tabs

    def action_next_tab(self) -> None:
        step_tab(self.query_one(TabbedContent), TABS, 1)

    def action_previous_tab(self) -> None:
        step_tab(self.query_one(TabbedContent), TABS, -1)

    def action_back(self) -> None:
        self.dismiss(None)

    # ------------------------------------------------------------------ actions

    def _label(self) -> str:
        name = self.detail.service.name if self.detail else ""
        return f"service {self.service_id} {render.plain(name)!r}" if name else f"service {self.service_id}"

    def action_service_action(self, name: str, renew_mode: str = "now") -> None:
        """The action's dialog for this service (renew opens in `renew_mode`: now or invoice)."""
        app = self.console_app
        if not app.can_act:
            app.refuse_read_only()
            return
        selection = SelectionResolved(name, [self.service_id], 1, 0, False, self._label())
        app.ask_action(selection, on_done=lambda _: self._after_action(), renew_mode=renew_mode)

    def _after_action(self) -> None:
        self.reload()
        if self.panel.asked:
            self.panel.ask()

    def action_bulk_menu(self) -> None:
        if not self.console_app.can_act:
            self.console_app.refuse_read_only()
            return
        self.console_app.bulk_menu(self.action_service_action, self._label())

    def action_edit_service(self) -> None:
        self.console_app.edit_service(self.service_id)

    def on_screen_resume(self) -> None:
        self.reload()

    @on(Button.Pressed, "#renew-now")
    def _renew_now(self) -> None:
        self.action_service_action("renew")

    @on(Button.Pressed, "#renew-into-invoice")
    def _renew_into_invoice(self) -> None:
        self.action_service_action("renew", renew_mode="invoice")

    @on(Button.Pressed, "#reinstall")
    def _reinstall(self) -> None:
        self.action_service_action("reinstall")

    # ------------------------------------------------------------------ options and metadata

    def _write(self, work_function: Any, done: str) -> None:
        if not self.console_app.can_act:
            self.console_app.refuse_read_only()
            return
        self._run_write(work_function, done)

    @work(thread=True, group="detail-write")
    def _run_write(self, work_function: Any, done: str) -> None:
        try:
            self.console_app.db.transaction(work_function)
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        self.post_message(ServiceSaved(done))

    @on(ServiceSaved)
    def _saved(self, message: ServiceSaved) -> None:
        if message.message:
            self.notify(render.plain(message.message), markup=False, timeout=4)
        self.reload()

    def _selected_key(self, table_id: str) -> str | None:
        table = self.query_one(table_id, DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @on(Button.Pressed, "#option-add")
    def _option_add(self) -> None:
        app, service_id = self.console_app, self.service_id
        name, value = self.query_one("#option-name", Input).value, self.query_one("#option-value", Input).value
        quantity, price = self.query_one("#option-quantity", Input).value or "1", self.query_one("#option-price", Input).value or "0"
        self._write(lambda session: services.option_add(session, app.actor, service_id, name=name, value=value or None, quantity=quantity, price=price), f"option {name!r} added")

    @on(Button.Pressed, "#option-edit")
    def _option_edit(self) -> None:
        key = self._selected_key("#options-table")
        if key is None:
            return
        app, service_id = self.console_app, self.service_id
        fields = {
            "name": self.query_one("#option-name", Input).value or None,
            "value": self.query_one("#option-value", Input).value or None,
            "quantity": self.query_one("#option-quantity", Input).value or None,
            "price": self.query_one("#option-price", Input).value or None,
        }
        self._write(lambda session: services.option_edit(session, app.actor, service_id, int(key), **fields), f"option {key} saved")

    @on(Button.Pressed, "#option-remove")
    def _option_remove(self) -> None:
        key = self._selected_key("#options-table")
        if key is None:
            return
        app, service_id = self.console_app, self.service_id
        self._write(lambda session: services.option_remove(session, app.actor, service_id, int(key)), f"option {key} removed")

    @on(DataTable.RowHighlighted, "#options-table")
    def _option_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.detail is None or event.row_key is None:
            return
        for option in self.detail.options:
            if str(option.id) == event.row_key.value:
                self.query_one("#option-name", Input).value = option.name
                self.query_one("#option-value", Input).value = option.value or ""
                self.query_one("#option-quantity", Input).value = str(option.quantity)
                self.query_one("#option-price", Input).value = f"{option.price:.2f}"

    @on(DataTable.RowHighlighted, "#meta-table")
    def _meta_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.detail is None or event.row_key is None:
            return
        for item in self.detail.meta:
            if item.key == event.row_key.value:
                self.query_one("#meta-key", Input).value = item.key
                self.query_one("#meta-value", Input).value = item.value

    @on(Button.Pressed, "#meta-set")
    def _meta_set(self) -> None:
        app, service_id = self.console_app, self.service_id
        key, value = self.query_one("#meta-key", Input).value.strip(), self.query_one("#meta-value", Input).value
        self._write(lambda session: services.meta_set(session, app.actor, service_id, key, value), f"metadata {key} set")

    @on(Button.Pressed, "#meta-unset")
    def _meta_unset(self) -> None:
        key = self._selected_key("#meta-table")
        if key is None:
            return
        app, service_id = self.console_app, self.service_id
        self._write(lambda session: services.meta_unset(session, app.actor, service_id, key), f"metadata {key} removed")
