"""The customer area: a Textual app over one customer's services (SPEC.md section 9).

It runs as the customer (an SSH `ForceCommand` fixes which one) or as an operator's read-only
preview. Its actor is always a customer-area actor, so every read and change it makes goes
through `core.customer`, scoped to that customer; its palette offers only its own commands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.command import CommandPalette

from svcconsole.client.actions import REGISTRY, SCOPES, client_bindings
from svcconsole.client.commands import ClientCommands
from svcconsole.client.dialogs import PaymentDialog, PaymentDue, RenewDialog
from svcconsole.client.messages import ChangeDone, ChangeRefused, DetailLoaded, PaymentReady
from svcconsole.client.screens import ClientDetailScreen, ClientServicesScreen, DashboardScreen
from svcconsole.core import customer, customer_actions, i18n, parse
from svcconsole.core.customer_actions import ActionResult
from svcconsole.core.errors import SvcError
from svcconsole.core.i18n import N_
from svcconsole.core.operators import Actor, require_client
from svcconsole.store.engine import Database
from svcconsole.widgets import render
from svcconsole.widgets.dialogs import PromptDialog
from svcconsole.widgets.guard import CrashGuard
from svcconsole.widgets.heap import freeze_startup_objects
from svcconsole.widgets.help import HelpScreen, help_table
from svcconsole.widgets.keys import translate_bindings
from svcconsole.widgets.messages import ErrorRaised, ReadOnlyRefused, ServiceOpened

if TYPE_CHECKING:
    from sqlmodel import Session

CONSOLE_CSS = Path(__file__).resolve().parent.parent / "console.tcss"


class ClientApp(CrashGuard, App[None]):
    """The dashboard first; the list of the customer's services and a service's detail over it."""

    CSS_PATH = [CONSOLE_CSS, Path(__file__).parent / "client.tcss"]
    TITLE = N_("svcconsole: customer area")
    COMMANDS = {ClientCommands}
    BINDINGS = [*client_bindings("client"), Binding("ctrl+c", "quit", show=False, priority=True)]

    def __init__(self, db: Database, actor: Actor, *, tz: ZoneInfo | None = None, page_size: int = 100, locale: str | None = None) -> None:
        require_client(actor, None, "the customer area")
        super().__init__()
        self.db = db
        self.locale = locale or actor.locale or i18n.DEFAULT_LOCALE
        self.actor = replace(actor, locale=self.locale)
        self.tr = i18n.translator(self.locale)
        self.title = self.tr(self.TITLE)
        translate_bindings(self, self.tr)
        self.tz_override = tz
        self.tz = tz or ZoneInfo("UTC")
        self.page_size = page_size
        self.theme = "textual-dark"

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """The shared list's colours (`render.theme_variables`), for this app's theme."""
        return render.theme_variables(self.current_theme.dark)

    @property
    def read_only(self) -> bool:
        return self.actor.read_only

    @property
    def can_act(self) -> bool:
        return not self.read_only

    @property
    def customer_label(self) -> str:
        return self.actor.name

    @property
    def database_label(self) -> str:
        return ""

    def on_mount(self) -> None:
        self.push_screen(DashboardScreen())
        self._load_time_zone()
        self.call_after_refresh(freeze_startup_objects)

    @work(thread=True, exclusive=True, group="client-settings")
    def _load_time_zone(self) -> None:
        if self.tz_override is not None:
            return
        with self.db.read() as session:
            tz = customer.time_zone(session)
        self.call_from_thread(setattr, self, "tz", tz)

    # ------------------------------------------------------------------ navigation

    def action_dashboard(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()

    def action_services(self) -> None:
        self.show_services("")

    def show_services(self, filter_text: str) -> None:
        """The list of the customer's services, filtered by `filter_text`."""
        while len(self.screen_stack) > 2 and not isinstance(self.screen, ClientServicesScreen):
            self.pop_screen()
        if isinstance(self.screen, ClientServicesScreen):
            self.screen.show_filter(filter_text)
        else:
            self.push_screen(ClientServicesScreen(filter_text))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            table = help_table(REGISTRY, SCOPES, self.tr(customer.FILTER_HELP), markers=False, translate=self.tr)
            self.push_screen(HelpScreen(table, self.tr("svcconsole customer area: keys"), translate=self.tr))

    def action_command_palette(self) -> None:
        """The palette, its placeholder in the customer's language."""
        if self.use_command_palette and not CommandPalette.is_open(self):  # type: ignore[arg-type]  # is_open takes App[object]; an App[None] is one
            self.push_screen(CommandPalette(placeholder=self.tr("Search for commands…"), id="--command-palette"))

    def action_open_by_id(self) -> None:
        def answered(text: str | None) -> None:
            if not text:
                return
            try:
                service_id = parse.parse_id("id", text.strip().lstrip("#"))
            except SvcError as error:
                self.show_error(error.message)
                return
            self.open_service(service_id)

        self.push_screen(PromptDialog(self.tr("Open which of your services? (its id)"), placeholder="12", required=True, translate=self.tr), answered)

    def open_service(self, service_id: int) -> None:
        """Open one of the customer's services; any other id is "no service N"."""
        self._read_service(service_id)

    @work(thread=True, group="client-open")
    def _read_service(self, service_id: int) -> None:
        try:
            with self.db.read() as session:
                detail = customer.service_detail(session, self.actor, service_id)
        except SvcError as error:
            self.post_message(ChangeRefused(error.message))
            return
        self.post_message(DetailLoaded(detail))

    @on(DetailLoaded)
    def _service_read(self, message: DetailLoaded) -> None:
        self.push_screen(ClientDetailScreen(message.detail))

    # ------------------------------------------------------------------ changes

    def refuse_preview(self) -> None:
        self.notify(self.tr("preview: an operator sees what the customer sees; actions are off"), severity="error")

    def refuse_read_only(self) -> None:
        self.refuse_preview()

    def show_error(self, error: str) -> None:
        self.notify(render.plain(error), severity="error", markup=False, timeout=8)

    def ask_renew(self, service_id: int, name: str, price: str, done: Callable[[], None], *, to_payment: bool = False) -> None:
        """Ask how many periods to renew, then bill them (never a free renewal); `to_payment` then shows the invoice to pay."""
        if self.read_only:
            self.refuse_preview()
            return
        question = self.tr("Renew service {id} {name!r}?").format(id=service_id, name=render.plain(name))
        consequence = self.tr(
            "Each period costs {price}. The renewal goes on your unpaid invoice, or a new one; the service is extended when the invoice is paid."
        ).format(price=price)

        def chosen(count: object) -> None:
            if isinstance(count, int):
                self.run_change(service_id, lambda session, worker: customer_actions.renew(session, self.actor, service_id, count), done, to_payment=to_payment)

        self.push_screen(RenewDialog(question, consequence, self.tr), chosen)

    def run_change(
        self, service_id: int, change: Callable[[Session, str], ActionResult], done: Callable[[], None] | None = None, *, to_payment: bool = False
    ) -> None:
        """Carry out a customer action in a worker; its message (or refusal) is shown when it ends, and
        with `to_payment` the invoice it billed on."""
        if self.read_only:
            self.refuse_preview()
            return
        self._carry_out(service_id, change, done, to_payment)

    @work(thread=True, group="client-change")
    def _carry_out(self, service_id: int, change: Callable[[Session, str], ActionResult], done: Callable[[], None] | None, to_payment: bool) -> None:
        try:
            result = customer_actions.carry_out(self.db, change, self.locale)
        except SvcError as error:
            self.post_message(ChangeRefused(error.message))
        else:
            self.post_message(ChangeDone(service_id, result.message))
            if to_payment and result.invoice_id is not None:
                invoice_id = result.invoice_id
                try:
                    with self.db.read() as session:
                        summary = customer.invoice(session, self.actor, invoice_id)
                except SvcError as error:
                    self.post_message(ChangeRefused(error.message))
                else:
                    self.post_message(PaymentReady(summary))
        if done is not None:
            self.call_from_thread(done)

    @on(PaymentReady)
    def _payment_ready(self, message: PaymentReady) -> None:
        invoice = message.invoice
        self.push_screen(PaymentDialog(PaymentDue(invoice.id, invoice.total, invoice.due, invoice.lines)))

    @on(ChangeDone)
    def _change_done(self, message: ChangeDone) -> None:
        self.notify(render.plain(message.message), markup=False, timeout=6)

    @on(ChangeRefused)
    def _change_refused(self, message: ChangeRefused) -> None:
        self.show_error(message.error)

    # What the shared service list asks of its app, the customer area does.

    @on(ServiceOpened)
    def _service_opened(self, message: ServiceOpened) -> None:
        self.open_service(message.service_id)

    @on(ReadOnlyRefused)
    def _read_only_refused(self, message: ReadOnlyRefused) -> None:
        self.refuse_read_only()

    @on(ErrorRaised)
    def _error_raised(self, message: ErrorRaised) -> None:
        self.show_error(message.error)


def run_client(db: Database, actor: Actor) -> None:
    """Open the customer area on `db` as the customer-area actor `actor`, in the actor's language."""
    ClientApp(db, actor, locale=actor.locale).run()
