"""A service's detail: header, then Overview, Panel, Renewals, Options, Upgrade, Metadata, Activity."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from sqlmodel import col, select
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widgets import Button, DataTable, Static, TabbedContent

from svcconsole.console.actions import applies, bindings, mutating_actions
from svcconsole.console.host import ConsoleHost
from svcconsole.console.messages import (
    ActionFailed,
    ActionRequested,
    BulkMenuRequested,
    CustomerOpened,
    EditRequested,
    SelectionResolved,
    ServiceLoaded,
    ServiceSaved,
)
from svcconsole.console.screens.credentials import CredentialsDialog
from svcconsole.console.screens.detail_options import CataloguePicker, remove_option
from svcconsole.console.screens.detail_orders import AbuseDialog, OrderDecision, OrderReviewDialog, abuse_text, decide, order_text, report_abuse
from svcconsole.console.screens.detail_panel import PanelView
from svcconsole.console.screens.detail_upgrade import UpgradeView
from svcconsole.console.screens.full_text import FullTextDialog, shortened
from svcconsole.console.why import why_not
from svcconsole.core import abuse, activity, invoice_lookups, lookups, metadata_keys, option_catalog, reconcile, records, renewal_limits, upgrades
from svcconsole.core.errors import SvcError
from svcconsole.core.order_actions import OrderSummary, is_awaiting_approval, order_summary
from svcconsole.modules import get_module, is_module
from svcconsole.store.models import Customer, Invoice, InvoiceLine, Job
from svcconsole.widgets import render, words
from svcconsole.widgets.detail_frame import AwaitingRenewal, TabbedDetail, header_text, key_values, option_columns, renewal_columns
from svcconsole.widgets.inputs import InertInput as Input
from svcconsole.widgets.inputs import PaneInput
from svcconsole.widgets.messages import ErrorRaised, ReadOnlyRefused
from svcconsole.widgets.records import Column, PagedRecords, RecordTable

ACTIVITY_PAGE = 50
TABS = (
    ("overview", "Overview"),
    ("panel", "Panel"),
    ("renewals", "Renewals"),
    ("options", "Options"),
    ("upgrade", "Upgrade"),
    ("metadata", "Metadata"),
    ("activity", "Activity"),
)
ACTIVITY_ACTION_WIDTH = 40
ACTIVITY_REASON_WIDTH = 60
"""Activity cells longer than this end with an ellipsis; Enter on the row shows them whole."""
ACTIVITY_COLUMNS = (
    Column("at", lambda row, tz: render.moment_text(row.at, tz)),
    Column("by", lambda row, tz: render.text(row.actor)),
    Column("action", lambda row, tz: shortened(words.activity_action(row.action, row.details), ACTIVITY_ACTION_WIDTH)),
    Column(
        "status",
        lambda row, tz: render.text(f"{row.from_status or '-'} → {row.to_status or '-'}" if row.from_status != row.to_status else (row.to_status or "")),
    ),
    Column("reason", lambda row, tz: shortened(row.reason or "", ACTIVITY_REASON_WIDTH)),
)
META_COLUMNS = (
    Column("key", lambda item, tz: render.text(item.key)),
    Column("value", lambda item, tz: render.text(item.value)),
    Column("meaning", lambda item, tz: Text(lookups.KNOWN_META_KEYS.get(item.key, ""), style="dim")),
)


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
    drift: list[Any] = field(default_factory=list)
    """The service's open drift from the last reconcile, shown under the overview."""
    renewal_limits: list[renewal_limits.RenewalLimit] = field(default_factory=list)
    order: OrderSummary | None = None
    """The order that created the service (the Metadata tab shows it)."""
    abuse_reports: list[Any] = field(default_factory=list)
    abuse_limit: int = 0
    catalogue: list[Any] = field(default_factory=list)
    """The options the service's product offers (the Options tab picks from them)."""


def invoiced_renewals(session: Any, service_id: int) -> list[AwaitingRenewal]:
    """The service's renewal lines on invoices still to be paid, with the invoice status."""
    query = (
        select(InvoiceLine, Invoice.status)
        .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
        .where(InvoiceLine.service_id == service_id, InvoiceLine.kind == invoice_lookups.LineKind.RENEWAL.value, col(InvoiceLine.applied_at).is_(None))
        .where(col(Invoice.status).in_(invoice_lookups.OPEN_STATUSES))
        .order_by(col(InvoiceLine.id))
    )
    return [
        AwaitingRenewal(line.period_start, line.period_end, str((line.details or {}).get("cycles", "-")), line.amount, line.invoice_id, status)
        for line, status in session.exec(query).all()
    ]


def read_detail(session: Any, service_id: int) -> ServiceDetail:
    """A service and its satellites (renewals, options, metadata, activity page, upgrades, jobs)."""
    service = lookups.get_service(session, service_id)
    customer = session.get(Customer, service.customer_id)
    started = upgrades.upgrades_of(session, service_id)
    named = {upgrade.to_product_id for upgrade in started} | {upgrade.from_product_id for upgrade in started if upgrade.from_product_id}
    jobs = list(session.exec(select(Job).where(col(Job.service_id) == service_id).order_by(col(Job.id).desc()).limit(20)).all())
    module = get_module(service.type) if is_module(service.type) else None
    return ServiceDetail(
        service=service,
        customer_email=customer.email if customer else "",
        renewals=records.renewals_of(session, service_id),
        invoiced_renewals=invoiced_renewals(session, service_id),
        options=records.options_of(session, service_id),
        meta=records.meta_items(session, service_id),
        activity=activity.history(session, service_id, limit=ACTIVITY_PAGE),
        quotes=upgrades.quote_upgrades(session, service_id),
        upgrades=started,
        product_names=upgrades.product_names(session, named),
        jobs=jobs,
        module_label=(module.label or module.name) if module else f"{service.type} (module not installed)",
        module_operations=frozenset(module.supports) if module else frozenset(),
        renewal_limits=renewal_limits.limits_in_force(session, service, lookups.timezone_of(session)),
        drift=[drift for drift, _ in reconcile.drift_rows(session, reconcile.DriftFilter(service_id=service_id), limit=20)],
        order=order_summary(session, service_id),
        abuse_reports=abuse.reports_of(session, service_id),
        abuse_limit=int(lookups.settings_of(session)["abuse_limit"]),
        catalogue=option_catalog.catalogue_of(session, service.product_id) if service.product_id else [],
    )


def drift_text(drifts: list[Any], tz: Any) -> Text:
    """The service's drift rows (the last reconcile), one line each."""
    text = Text("\nDrift (last reconcile; D: the Drift screen)\n", style="bold")
    for drift in drifts:
        field_name = f" {drift.field}" if drift.field else ""
        text.append(f"  {drift.kind}{field_name}: ", f"bold {render.RED}")
        text.append(f"billing {render.plain(drift.billing or '-')}, panel {render.plain(drift.panel or '-')}: {render.plain(drift.fix)}")
        text.append(f" (since {render.day(drift.first_seen, tz)})\n", "dim")
    return text


def meta_hint(key: str) -> Text:
    """Under the metadata editor: the known keys, the meaning of the key typed, or a warning for
    a key svcconsole does not read (it is saved all the same)."""
    if not key.strip():
        return Text("known keys:\n" + metadata_keys.known_keys_text(), style="dim")
    warning = metadata_keys.unknown_key_warning(key)
    if warning:
        return Text(f"warning: {warning}", style=f"bold {render.ORANGE}")
    return Text(f"{key.strip()}: {metadata_keys.meaning(key)}", style="dim")


def overview_table(detail: ServiceDetail, tz: Any) -> Table:
    service = detail.service
    suspension = "-"
    if service.status == "suspended" and service.suspend_kind is None:
        suspension = "set by override (no suspension recorded: see the activity)"
    elif service.status == "suspended":
        suspension = f"{service.suspend_kind}: {service.suspend_reason or '-'} (since {render.day(service.suspended_at, tz)})"
    cancellation = "-"
    if service.cancel_mode:
        cancellation = f"{service.cancel_mode} on {render.day(service.cancel_at, tz)}" + (f": {service.cancel_reason}" if service.cancel_reason else "")
    return key_values(
        [
            ("uuid", service.uuid),
            ("type", detail.module_label if detail.module_label.startswith(service.type) else f"{service.type} ({detail.module_label})"),
            ("product", service.product_name or "(custom service)"),
            ("server", service.server_name or "-"),
            ("status", render.status_text(service.status, service.suspend_kind, service.operation, service.placement_note)),
            ("suspension", suspension),
            ("cycle", service.billing_cycle),
            ("price", render.money(service.price, service.currency)),
            ("initial price", render.money(service.initial_price, service.currency)),
            ("created", render.moment_text(service.created_at, tz)),
            ("expires", render.moment_text(service.expires_at, tz)),
            ("auto renew", "on" if service.auto_renew else "off"),
            ("renewals", renewal_limits.summary(service.renewals or 0, detail.renewal_limits)),
            ("cancellation", cancellation),
            ("description", service.description or "-"),
            ("notes", service.notes or "-"),
            ("external", ", ".join(f"{key}={value}" for key, value in (service.external or {}).items()) or "-"),
            ("last error", service.last_error or "-"),
            ("deliveries", str(service.delivery_attempts)),
            ("version", f"{service.version} (by {service.updated_by or '-'})"),
        ]
    )


class DetailScreen(TabbedDetail):
    """One service, its tabs, and the actions that apply to it."""

    SCOPE = "detail"
    BINDINGS = bindings("detail")
    MUTATING = mutating_actions(["detail"])
    TABS = TABS

    def __init__(self, service_id: int) -> None:
        super().__init__()
        self.service_id = service_id
        self.detail: ServiceDetail | None = None

    @property
    def console_app(self) -> ConsoleHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in its own app

    def header_placeholder(self) -> Text:
        return Text(f"service {self.service_id}: loading…")

    def compose_pane(self, pane_id: str) -> ComposeResult:
        if pane_id == "overview":
            yield VerticalScroll(Static(id="overview-body"))
        elif pane_id == "panel":
            yield PanelView(self.service_id, id="panel-view")
        elif pane_id == "renewals":
            yield Horizontal(Button("Renew now…", id="renew-now"), Button("Renew into an invoice…", id="renew-into-invoice"), classes="pane-buttons")
            yield RecordTable(renewal_columns(staff=True), id="renewals-table")
        elif pane_id == "options":
            with Horizontal(classes="pane-inputs"):
                yield PaneInput(placeholder="name", id="option-name")
                yield PaneInput(placeholder="value", id="option-value")
                yield PaneInput("1", placeholder="qty", id="option-quantity", restrict=r"\d*")
                yield PaneInput(placeholder="price", id="option-price")
            yield Horizontal(
                Button("Add", id="option-add"), Button("Save selected", id="option-edit"), Button("Remove selected", id="option-remove"), classes="pane-buttons"
            )
            yield CataloguePicker(self.service_id, classes="pane-inputs", id="catalogue-picker")
            yield RecordTable(option_columns(staff=True), key=lambda option: str(option.id), id="options-table")
        elif pane_id == "upgrade":
            yield UpgradeView(self.service_id, id="upgrade-view")
        elif pane_id == "metadata":
            yield Static(id="order-summary")
            with Horizontal(classes="pane-inputs"):
                yield PaneInput(placeholder="key (e.g. max_renewals)", id="meta-key", suggester=SuggestFromList(list(lookups.KNOWN_META_KEYS)))
                yield PaneInput(placeholder="value", id="meta-value")
            yield Horizontal(Button("Set", id="meta-set"), Button("Unset selected", id="meta-unset"), classes="pane-buttons")
            yield Static(meta_hint(""), id="meta-hint")
            yield RecordTable(META_COLUMNS, key=lambda item: item.key, id="meta-table")
        elif pane_id == "activity":
            yield PagedRecords(ACTIVITY_COLUMNS, self._older_activity, page_size=ACTIVITY_PAGE, table_id="activity-table", button_id="activity-more")

    def on_mount(self) -> None:
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Changes are off for viewers and in read-only mode; a service action shows only when the
        service's status allows it; R works on the Panel tab only."""
        if action in self.MUTATING and not self.console_app.can_act:
            return False
        if action == "service_action" and parameters and self.detail is not None:
            return applies(str(parameters[0]), self.detail.service.status)
        if action == "ask_panel":
            return self.tabs.active == "panel"
        if action == "review_order":
            return self.detail is not None and is_awaiting_approval(self.detail.service)
        return super().check_action(action, parameters)

    def on_key(self, event: events.Key) -> None:
        """A footer key that did nothing says why, at the bottom of the screen."""
        if isinstance(self.focused, Input):
            return
        why = why_not(self, "detail", event.key, self.detail.service.status if self.detail is not None else None)
        if why:
            self.notify(why, severity="warning", timeout=4, markup=False)

    # ------------------------------------------------------------------ loading

    def reload(self) -> None:
        """Read the service and its satellites again (the panel is asked separately)."""
        self._load(self.service_id, self.next_load())

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

    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "panel" and not self.panel.asked:
            self.panel.ask()

    @work(thread=True, exclusive=True, group="detail-load")
    def _load(self, service_id: int, generation: int) -> None:
        try:
            with self.console_app.db.read() as session:
                detail = read_detail(session, service_id)
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        self.post_message(ServiceLoaded(detail, generation))

    def _older_activity(self, before_id: int) -> list[Any]:
        with self.console_app.db.read() as session:
            return activity.history(session, self.service_id, limit=ACTIVITY_PAGE, before_id=before_id)

    @on(ActionFailed)
    def _failed(self, message: ActionFailed) -> None:
        message.stop()
        self.post_message(ErrorRaised(message.error))

    @on(PagedRecords.LoadFailed)
    def _older_failed(self, message: PagedRecords.LoadFailed) -> None:
        self.post_message(ErrorRaised(message.error))

    @on(ServiceLoaded)
    def _loaded(self, message: ServiceLoaded) -> None:
        if message.generation != self.load_generation:
            return
        detail: ServiceDetail = message.detail
        self.detail = detail
        self.refresh_bindings()
        tz = self.console_app.tz
        service = detail.service
        self.query_one("#detail-header", Static).update(header_text(detail, tz))
        overview = overview_table(detail, tz)
        below = [*([drift_text(detail.drift, tz)] if detail.drift else []), *([abuse_text(detail.abuse_reports, tz)] if detail.abuse_reports else [])]
        self.query_one("#overview-body", Static).update(Group(overview, *below) if below else overview)
        self.query_one("#renewals-table", RecordTable).show([*detail.invoiced_renewals, *detail.renewals], tz)
        self.query_one("#options-table", RecordTable).show(detail.options, tz)
        self.query_one(CataloguePicker).show(detail.catalogue)
        self.query_one("#meta-table", RecordTable).show(detail.meta, tz)
        self.query_one("#order-summary", Static).update(order_text(detail.order, tz))
        self.query_one("#order-summary", Static).display = detail.order is not None
        known = Text("known keys: " + "; ".join(f"{key}: {meaning}" for key, meaning in lookups.KNOWN_META_KEYS.items()), style="dim")
        self.query_one("#meta-key", Input).tooltip = known
        self.query_one(PagedRecords).show(detail.activity, tz)
        self.query_one(UpgradeView).show(detail, tz)
        self.panel.know_service(service.status, detail.module_operations, detail.module_label)
        self.sub_title = service.name

    # ------------------------------------------------------------------ actions

    def _label(self) -> str:
        name = self.detail.service.name if self.detail else ""
        return f"service {self.service_id} {render.plain(name)!r}" if name else f"service {self.service_id}"

    def action_service_action(self, name: str, renew_mode: str = "now") -> None:
        """The action's dialog for this service (renew opens in `renew_mode`: now or invoice)."""
        app = self.console_app
        if not app.can_act:
            self.post_message(ReadOnlyRefused())
            return
        selection = SelectionResolved(name, [self.service_id], 1, 0, False, self._label())
        self.post_message(ActionRequested(selection, on_done=lambda _: self._after_action(), renew_mode=renew_mode))

    def _after_action(self) -> None:
        self.reload()
        if self.panel.asked:
            self.panel.ask()

    def action_bulk_menu(self) -> None:
        if not self.console_app.can_act:
            self.post_message(ReadOnlyRefused())
            return
        if self.detail is None:
            return
        self.post_message(
            BulkMenuRequested(self.action_service_action, self._label(), {(self.detail.service.status, self.detail.service.cancel_at is not None): 1})
        )

    def action_edit_service(self) -> None:
        self.post_message(EditRequested(self.service_id))

    def action_show_credentials(self) -> None:
        if self.detail is not None:
            self.app.push_screen(CredentialsDialog(self.service_id, self._label()))

    def action_open_customer(self) -> None:
        if self.detail is not None:
            self.post_message(CustomerOpened(self.detail.service.customer_id))

    def action_review_order(self) -> None:
        if self.detail is not None and is_awaiting_approval(self.detail.service):
            self.app.push_screen(OrderReviewDialog(self.service_id, self.detail.service.name), self._order_decided)

    def action_report_abuse(self) -> None:
        if self.detail is None:
            return
        open_reports = sum(1 for row in self.detail.abuse_reports if row.closed_at is None)
        dialog = AbuseDialog(self.service_id, self.detail.service.name, open_reports, self.detail.abuse_limit)
        self.app.push_screen(dialog, self._abuse_noted)

    def _abuse_noted(self, note: str | None) -> None:
        if note:
            self._report_abuse(note)

    @work(thread=True, group="detail-write")
    def _report_abuse(self, note: str) -> None:
        app = self.console_app
        try:
            done = report_abuse(app.db, app.actor, self.service_id, note)
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        self.post_message(ServiceSaved(done))

    def _order_decided(self, choice: OrderDecision | None) -> None:
        if choice is not None:
            self._decide_order(choice)

    @work(thread=True, group="detail-write")
    def _decide_order(self, choice: OrderDecision) -> None:
        app = self.console_app
        try:
            done = decide(app.db, app.actor, self.service_id, choice)
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        self.post_message(ServiceSaved(done))

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

    def _write(self, work_function: Any, done: str, *, warning: str | None = None) -> None:
        if not self.console_app.can_act:
            self.post_message(ReadOnlyRefused())
            return
        self._run_write(work_function, done, warning)

    @work(thread=True, group="detail-write")
    def _run_write(self, work_function: Any, done: str, warning: str | None = None) -> None:
        try:
            self.console_app.db.transaction(work_function)
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        self.post_message(ServiceSaved(done, warning))

    @on(ServiceSaved)
    def _saved(self, message: ServiceSaved) -> None:
        if message.message and message.warning:
            self.notify(render.plain(f"{message.message}; warning: {message.warning}"), severity="warning", markup=False, timeout=8)
        elif message.message:
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
        self._write(
            lambda session: records.option_add(session, app.actor, service_id, name=name, value=value or None, quantity=quantity, price=price),
            f"option {name!r} added",
        )

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
        self._write(lambda session: records.option_edit(session, app.actor, service_id, int(key), **fields), f"option {key} saved")

    @on(Button.Pressed, "#option-remove")
    def _option_remove(self) -> None:
        key = self._selected_key("#options-table")
        if key is None:
            return
        if not self.console_app.can_act:
            self.post_message(ReadOnlyRefused())
            return
        self._remove_option(int(key))

    @work(thread=True, group="detail-write")
    def _remove_option(self, option_id: int) -> None:
        self.post_message(remove_option(self.console_app.db, self.console_app.actor, self.service_id, option_id))

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

    @on(DataTable.RowSelected, "#activity-table")
    def _activity_chosen(self, event: DataTable.RowSelected) -> None:
        """Enter on an activity row: its action and reason in full."""
        records = self.query_one(PagedRecords).records
        if not 0 <= event.cursor_row < len(records):
            return
        row = records[event.cursor_row]
        tz = self.console_app.tz
        title = f"{render.moment_text(row.at, tz)} · {row.actor}"
        self.app.push_screen(FullTextDialog(title, [("action", words.activity_action(row.action, row.details)), ("reason", row.reason or "-")]))

    @on(DataTable.RowHighlighted, "#meta-table")
    def _meta_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.detail is None or event.row_key is None:
            return
        for item in self.detail.meta:
            if item.key == event.row_key.value:
                self.query_one("#meta-key", Input).value = item.key
                self.query_one("#meta-value", Input).value = item.value

    @on(Input.Changed, "#meta-key")
    def _meta_key_changed(self, event: Input.Changed) -> None:
        self.query_one("#meta-hint", Static).update(meta_hint(event.value))

    @on(Button.Pressed, "#meta-set")
    def _meta_set(self) -> None:
        app, service_id = self.console_app, self.service_id
        key, value = self.query_one("#meta-key", Input).value.strip(), self.query_one("#meta-value", Input).value
        warning = metadata_keys.unknown_key_warning(key)
        self._write(lambda session: records.meta_set(session, app.actor, service_id, key, value), f"metadata {key} set", warning=warning)

    @on(Button.Pressed, "#meta-unset")
    def _meta_unset(self) -> None:
        key = self._selected_key("#meta-table")
        if key is None:
            return
        app, service_id = self.console_app, self.service_id
        self._write(lambda session: records.meta_unset(session, app.actor, service_id, key), f"metadata {key} removed")
