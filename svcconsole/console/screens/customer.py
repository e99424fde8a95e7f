"""The Customer screen: a customer's profile, their services, invoices and changes, and its edit.

`p` on a service (the list or its detail) opens it, and the palette opens one by email. The
services are the admin list itself (`ServiceListScreen`: filter, status tabs, sort, paging),
scoped to the customer, so a customer with a million services costs a page. `}` and `{` step
through Services, Invoices and Activity; `e` edits the customer (`core.catalog.edit_customer`,
as `customers edit` does).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, Static, TabbedContent, TabPane

from svcconsole.console.actions import bindings, mutating_actions
from svcconsole.console.screens.admin_list import AdminServiceList
from svcconsole.core import catalog, parse, profiles
from svcconsole.core.errors import SvcError
from svcconsole.core.profiles import CustomerProfile
from svcconsole.store.models import Activity
from svcconsole.store.queries import ServiceFilter
from svcconsole.widgets import render, words
from svcconsole.widgets.dialog_frame import DialogFrame
from svcconsole.widgets.footer import ContextFooter
from svcconsole.widgets.inputs import InertInput as Input
from svcconsole.widgets.messages import ErrorRaised
from svcconsole.widgets.records import Column, RecordTable
from svcconsole.widgets.service_table import ServiceTable
from svcconsole.widgets.status_tabs import StatusTabs
from svcconsole.widgets.tabs import step_tab

SECTIONS = ("customer-services", "customer-invoices", "customer-activity")

INVOICE_COLUMNS = (
    Column("invoice", lambda summary, tz: f"#{summary.invoice.id}"),
    Column("status", lambda summary, tz: render.text(summary.invoice.status)),
    Column("total", lambda summary, tz: render.money(summary.total, summary.invoice.currency)),
    Column("lines", lambda summary, tz: str(summary.line_count)),
    Column("due", lambda summary, tz: render.day(summary.invoice.due_at, tz)),
    Column("paid", lambda summary, tz: render.day(summary.invoice.paid_at, tz) if summary.invoice.paid_at else "-"),
)


def change_text(row: Activity) -> str:
    """A change to the customer in words: an edit's fields, or which service came or went."""
    details = row.details or {}
    if row.service_id is not None:
        change = f" {row.from_status or ''} → {row.to_status}".replace("  ", " ") if row.from_status != row.to_status else ""
        return f"#{row.service_id} {words.activity_action(row.action, details)}{change}"
    action = row.action.removeprefix("customer_")
    if action == "transfer_out":
        cancelled = len(details.get("cancelled") or [])
        lines = f"; {render.plural(cancelled, 'unpaid line')} cancelled" if cancelled else ""
        return f"service #{details.get('service')} transferred to {details.get('to')}{lines}"
    if action == "transfer_in":
        return f"service #{details.get('service')} transferred from {details.get('from')}"
    if action == "add":
        return "added"
    return words.activity_action(action, {key: value for key, value in details.items() if key != "customer"})


CHANGE_COLUMNS = (
    Column("at", lambda row, tz: render.moment_text(row.at, tz)),
    Column("by", lambda row, tz: render.text(row.actor)),
    Column("what", lambda row, tz: render.text(change_text(row))),
    Column("reason", lambda row, tz: render.text(row.reason or "")),
)


def profile_text(profile: CustomerProfile) -> Text:
    """Two lines: who, then how many services in which statuses and the company."""
    customer = profile.customer
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"customer #{customer.id} ", "bold")
    line.append(render.plain(customer.name), "bold cyan")
    line.append(f" <{render.plain(customer.email)}>", "dim")
    if customer.company:
        line.append(f"  {render.plain(customer.company)}")
    line.append("\n")
    counts = ", ".join(f"{total:,} {status}" for status, total in sorted(profile.services_by_status.items()))
    line.append(render.plural(profile.service_count, "service"))
    if counts:
        line.append(f" ({counts})", "dim")
    line.append(f"  · since {render.plain(str(customer.created_at.date()))}", "dim")
    return line


def notes_text(profile: CustomerProfile) -> Text:
    notes = profile.customer.notes
    if not notes:
        return Text("notes: -", style="dim", no_wrap=True)
    return Text(f"notes: {render.plain(notes)}", no_wrap=True, overflow="ellipsis")


@dataclass
class ProfileLoaded(Message):
    """The customer's profile was read (or could not be: `error`)."""

    profile: CustomerProfile | None
    error: str | None = None


class CustomerEditDialog(DialogFrame[dict[str, str]]):
    """The customer's fields; answers the ones changed, checked as `customers edit` checks them."""

    FRAME_ID = "customer-dialog"
    BINDINGS = bindings("dialog")
    CONFIRM_LABEL = "Save"

    def __init__(self, profile: CustomerProfile) -> None:
        super().__init__()
        self.customer = profile.customer

    def question_text(self) -> Text:
        return Text(f"Edit customer #{self.customer.id}", style="bold")

    def consequence_text(self) -> Text:
        return Text("A new name or email shows on each of their services; the change is kept in their activity.", style="dim")

    def fields(self) -> ComposeResult:
        customer = self.customer
        yield Label("Name")
        yield Input(customer.name, id="name")
        yield Label("Email")
        yield Input(customer.email, id="email")
        yield Label("Company")
        yield Input(customer.company or "", id="company", placeholder="optional")
        yield Label("Notes")
        yield Input(customer.notes or "", id="notes", placeholder="optional")

    def initial_focus(self) -> str:
        return "#name"

    def answer(self) -> dict[str, str]:
        values = {key: self.query_one(f"#{key}", Input).value for key in ("name", "email", "company", "notes")}
        parse.parse_text("--name", values["name"], required=True)
        parse.parse_email("--email", values["email"])
        parse.parse_text("--company", values["company"])
        parse.parse_text("--notes", values["notes"], max_length=catalog.NOTES_MAX_LENGTH)
        before = {"name": self.customer.name, "email": self.customer.email, "company": self.customer.company or "", "notes": self.customer.notes or ""}
        return {key: value for key, value in values.items() if value != before[key]}


class CustomerScreen(AdminServiceList, inherit_bindings=False):
    """One customer: the profile on top, then their services, invoices and activity."""

    SCOPE = "customer"
    BINDINGS = bindings("customer")
    MUTATING = mutating_actions(["customer"])
    FILTER_PLACEHOLDER = "filter their services: text status:active product:NAME cycle: expires<7d"

    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.profile: CustomerProfile | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="customer"):
            yield Static(id="title")
            yield Static(id="customer-notes")
            with TabbedContent(id="customer-tabs"):
                with TabPane("Services", id="customer-services"):
                    yield StatusTabs(id="tabs")
                    yield Input(placeholder=self.FILTER_PLACEHOLDER, id="filter")
                    yield Static(id="filter-error")
                    yield ServiceTable(self.new_window(), id="table")
                    yield Static(id="statusline")
                with TabPane("Invoices", id="customer-invoices"):
                    yield RecordTable(INVOICE_COLUMNS, id="customer-invoice-table")
                with TabPane("Activity", id="customer-activity"):
                    yield RecordTable(CHANGE_COLUMNS, id="customer-change-table")
        yield ContextFooter()

    def on_mount(self) -> None:
        self.load_profile()

    # ------------------------------------------------------------------ the list, scoped

    def parse_filter_text(self, session: Any, text: str) -> ServiceFilter:
        return replace(super().parse_filter_text(session, text), scope_customer_id=self.customer_id)

    def _render_title(self) -> None:
        title = self.query_one("#title", Static)
        if self.profile is None:
            title.update(Text(f"customer #{self.customer_id} · reading…", style="dim"))
            return
        title.update(profile_text(self.profile))
        self.query_one("#customer-notes", Static).update(notes_text(self.profile))

    # ------------------------------------------------------------------ the profile

    @work(thread=True, exclusive=True, group="customer-profile")
    def load_profile(self) -> None:
        app = self.console_app
        try:
            with app.db.read() as session:
                profile = profiles.customer_profile(session, app.actor, self.customer_id)
        except SvcError as error:
            self.post_message(ProfileLoaded(None, error.message))
            return
        self.post_message(ProfileLoaded(profile))

    @on(ProfileLoaded)
    def _profile_loaded(self, message: ProfileLoaded) -> None:
        if message.profile is None:
            self.post_message(ErrorRaised(message.error or "the customer could not be read"))
            return
        self.profile = message.profile
        self._render_title()
        tz = self.console_app.tz
        self.query_one("#customer-invoice-table", RecordTable).show(message.profile.invoices, tz)
        self.query_one("#customer-change-table", RecordTable).show(message.profile.changes, tz)

    # ------------------------------------------------------------------ keys

    def action_next_section(self) -> None:
        self._step_section(1)

    def action_previous_section(self) -> None:
        self._step_section(-1)

    def _step_section(self, step: int) -> None:
        tabs = self.query_one("#customer-tabs", TabbedContent)
        step_tab(tabs, SECTIONS, step)
        if tabs.active == "customer-services":
            self.table.focus()

    def action_edit_customer(self) -> None:
        if self.profile is None:
            return

        def edited(changes: dict[str, str] | None) -> None:
            if changes:
                self._save(changes)

        self.app.push_screen(CustomerEditDialog(self.profile), edited)

    @work(thread=True, exclusive=True, group="customer-edit")
    def _save(self, changes: dict[str, str]) -> None:
        app = self.console_app
        try:
            saved = app.db.transaction(lambda session: catalog.edit_customer(session, app.actor, str(self.customer_id), **changes))
        except SvcError as error:
            self.post_message(ErrorRaised(error.message))
            return
        self.app.call_from_thread(self.app.notify, f"customer {saved.id} saved", markup=False)
        self.app.call_from_thread(self._after_save)

    def _after_save(self) -> None:
        self.load_profile()
        self.reload(keep_position=True)

    def action_reload(self) -> None:
        self.load_profile()
        self.reload(keep_position=True)

    def action_back(self) -> None:
        if self.filter_text or self._filter_shown():
            self.action_clear()
            return
        self.dismiss(None)

    def on_screen_resume(self) -> None:
        """Back from a service (the base reloads the list): the profile may have changed too."""
        if self.generation:
            self.load_profile()
