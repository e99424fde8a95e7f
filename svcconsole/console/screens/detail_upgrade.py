"""The detail screen's Upgrade tab: the product's upgrade targets with their prorated amounts,
launching an upgrade by invoice or without billing, and the service's upgrades with their status.

The quotes and upgrades are read with the rest of the detail; a launch runs `orders.start_upgrade`
in a worker (and the module job it queues, as the CLI does); a refusal is the tab's error line.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Static

from svcconsole.console.host import ConsoleHost
from svcconsole.console.messages import ServiceSaved, UpgradeLaunched
from svcconsole.core import invoice_lookups, jobs, orders
from svcconsole.core.errors import SvcError
from svcconsole.widgets import render, words
from svcconsole.widgets.dialogs import ConfirmDialog
from svcconsole.widgets.messages import ErrorRaised, ReadOnlyRefused

UPGRADE_STATUS_STYLES = {"awaiting_payment": "bold yellow", "in_progress": "italic cyan", "done": "green", "failed": "bold red", "cancelled": "bright_black"}
BILLING_LABELS = {invoice_lookups.UpgradeBilling.INVOICE.value: "invoice", invoice_lookups.UpgradeBilling.NO_BILLING.value: "no billing"}


def launch_upgrade(db: Any, actor: Any, service_id: int, target_id: int, mode: str) -> UpgradeLaunched:
    """Start an upgrade through core, and run the module job it queued (in a worker thread)."""
    try:
        started = db.transaction(lambda session: orders.start_upgrade(session, actor, service_id, str(target_id), mode))
    except SvcError as error:
        return UpgradeLaunched("", error=error.message)
    upgrade = started.upgrade
    if started.invoice is not None:
        amount = render.money(upgrade.amount, started.invoice.currency)
        return UpgradeLaunched(f"upgrade {upgrade.id} awaits payment of invoice {started.invoice.id} ({amount}); it applies when the invoice is paid")
    assert started.outcome is not None
    text = f"upgrade {upgrade.id}: {started.outcome.message}"
    if started.job_id is not None:
        for outcome in jobs.run_jobs(db, [started.job_id]):
            if outcome.status != "succeeded":
                return UpgradeLaunched("", error=f"upgrade {upgrade.id}: the panel refused the change ({outcome.status}): {outcome.message}")
            text = f"upgrade {upgrade.id}: {outcome.message}"
    return UpgradeLaunched(text)


class UpgradeView(Vertical):
    """The Upgrade tab's content: targets, the two launch buttons, an error line, the upgrades."""

    def __init__(self, service_id: int, **options: Any) -> None:
        super().__init__(**options)
        self.service_id = service_id
        self.quotes: dict[str, Any] = {}
        self.currency = ""

    @property
    def console_app(self) -> ConsoleHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in its own app

    def compose(self) -> ComposeResult:
        yield Static(id="upgrade-title")
        yield DataTable(id="upgrade-targets", cursor_type="row")
        yield Static(id="upgrade-hint")
        yield Horizontal(
            Button("Upgrade with invoice…", id="upgrade-invoice"),
            Button("Upgrade without billing…", id="upgrade-no-billing"),
            classes="pane-buttons",
        )
        yield Static(id="upgrade-error")
        yield Static(Text("Upgrades (newest first)", style="bold"), id="upgrades-title")
        yield DataTable(id="upgrades-table", cursor_type="row")

    def on_mount(self) -> None:
        for button in self.query(Button):
            button.disabled = not self.console_app.can_act
        self.query_one("#upgrade-targets", DataTable).add_columns("target", "new price", "to pay now", "days left", "note")
        self.query_one("#upgrades-table", DataTable).add_columns("id", "to", "billing", "amount", "status", "invoice", "created")
        self.query_one("#upgrade-error", Static).display = False

    def show(self, detail: Any, tz: Any) -> None:
        """Fill the tab from a freshly read detail."""
        service = detail.service
        self.currency = service.currency
        title = Text()
        title.append("Targets of ", "bold")
        title.append(render.plain(service.product_name or "a custom service"), "bold")
        title.append(f"  (now {service.billing_cycle} {render.money(service.price, service.currency)})", "dim")
        self.query_one("#upgrade-title", Static).update(title)
        targets = self.query_one("#upgrade-targets", DataTable)
        targets.clear()
        self.quotes = {}
        for quote in detail.quotes:
            key = str(quote.product_id)
            self.quotes[key] = quote
            style = "" if quote.available else "dim"
            new_price = f"{render.money(quote.new_price, quote.currency)}" if quote.new_price is not None else "-"
            days = f"{quote.remaining_days} of {quote.cycle_days}" if quote.cycle_days else "-"
            note = "unavailable" if quote.why_not else ("no billing only" if quote.amount <= 0 else "")
            targets.add_row(
                Text(render.plain(quote.product), style=style or "cyan"),
                Text(new_price, style=style),
                Text(render.money(quote.amount, quote.currency), style=style or "bold"),
                Text(days, style=style),
                Text(note, style="dim"),
                key=key,
            )
        if not detail.quotes:
            why = "the product lists no upgrade targets" if service.product_id else "a custom service has no product to upgrade from"
            self.query_one("#upgrade-title", Static).update(title.append(f"\nnone: {why}", "dim"))
        table = self.query_one("#upgrades-table", DataTable)
        table.clear()
        for upgrade in detail.upgrades:
            status = Text(render.plain(upgrade.status).replace("_", " "), style=UPGRADE_STATUS_STYLES.get(upgrade.status, ""))
            table.add_row(
                str(upgrade.id),
                render.text(detail.product_names.get(upgrade.to_product_id, upgrade.to_product_id)),
                render.text(BILLING_LABELS.get(upgrade.mode, upgrade.mode)),
                render.money(upgrade.amount, service.currency),
                status,
                str(upgrade.invoice_id or "-"),
                render.day(upgrade.created_at, tz),
            )
        self.query_one("#upgrades-title", Static).display = bool(detail.upgrades)
        table.display = bool(detail.upgrades)

    @on(DataTable.RowHighlighted, "#upgrade-targets")
    def _target_highlighted(self, event: DataTable.RowHighlighted) -> None:
        quote = self.quotes.get(event.row_key.value or "") if event.row_key is not None else None
        self.query_one("#upgrade-hint", Static).update(self._hint(quote))

    def _hint(self, quote: Any) -> Text:
        """Why the highlighted target is unavailable, or how its amount is computed."""
        if quote is None:
            return Text()
        if quote.why_not:
            return Text(f"unavailable: {render.plain(quote.why_not)}", style="yellow")
        if not quote.cycle_days:
            return Text("nothing left of the cycle to prorate", style="dim")
        formula = f"({render.money(quote.new_price)} - {render.money(quote.old_price)}) x {quote.remaining_days} / {quote.cycle_days} days"
        return Text(f"to pay now = {formula}, or upgrade without billing", style="dim")

    def show_error(self, error: str) -> None:
        """The refusal or failure of the last launch, as one red line."""
        widget = self.query_one("#upgrade-error", Static)
        widget.update(Text(render.plain(words.console_text(error)), style="bold red"))
        widget.display = True

    def _chosen_quote(self) -> Any:
        table = self.query_one("#upgrade-targets", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.quotes.get(key or "")

    @on(Button.Pressed, "#upgrade-invoice")
    def _with_invoice(self, event: Button.Pressed) -> None:
        event.stop()
        self._ask(invoice_lookups.UpgradeBilling.INVOICE.value)

    @on(Button.Pressed, "#upgrade-no-billing")
    def _without_billing(self, event: Button.Pressed) -> None:
        event.stop()
        self._ask(invoice_lookups.UpgradeBilling.NO_BILLING.value)

    def _ask(self, mode: str) -> None:
        app = self.console_app
        if not app.can_act:
            self.post_message(ReadOnlyRefused())
            return
        quote = self._chosen_quote()
        if quote is None:
            self.show_error("no upgrade target to choose")
            return
        if mode == invoice_lookups.UpgradeBilling.INVOICE.value:
            question = (
                f"Upgrade service {self.service_id} to {quote.product}, with an invoice of {render.money(quote.amount, quote.currency)} to be paid first?"
            )
            yes = "Create invoice"
        else:
            question = f"Upgrade service {self.service_id} to {quote.product} now, without billing?"
            yes = "Upgrade"

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self.query_one("#upgrade-error", Static).display = False
                self._launch(quote.product_id, mode)

        self.app.push_screen(ConfirmDialog(question, yes=yes), answered)

    @work(thread=True, exclusive=True, group="upgrade-launch")
    def _launch(self, target_id: int, mode: str) -> None:
        app = self.console_app
        self.post_message(launch_upgrade(app.db, app.actor, self.service_id, target_id, mode))

    @on(UpgradeLaunched)
    def _launched(self, message: UpgradeLaunched) -> None:
        message.stop()
        if message.error:
            self.show_error(message.error)
            self.post_message(ErrorRaised(message.error))
            self.post_message(ServiceSaved(""))
            return
        self.post_message(ServiceSaved(message.message))
