"""Modal dialogs: an action's inputs and confirmation, the bulk menu, yes/no and one-line prompts.

Each action dialog says what happens to how many services and how many of them the current
filter hides (k9s: "Delete 3 marked services? (1 currently hidden by filter)"). Terminate and
delete (and reinstall, cancel immediately) ask for a typed word (one service) or count (several).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from svcconsole.console.actions import BULK_MENU, applicable_counts, bindings
from svcconsole.console.bulk_runs import ActionRequest
from svcconsole.console.host import ConsoleHost
from svcconsole.console.messages import InvoicesLoaded
from svcconsole.core import actions, invoice_lookups, lookups, parse
from svcconsole.core.errors import InvalidInput, SvcError
from svcconsole.core.statuses import ACTIONS, CancelMode, SuspendKind
from svcconsole.widgets import render
from svcconsole.widgets.dialog_frame import DialogFrame
from svcconsole.widgets.inputs import InertInput as Input

TITLES = {name: title for name, title in BULK_MENU}
TYPED_CONFIRMATION = {"terminate", "delete", "reinstall"}
"""Actions that ask for the typed word (one service) or count (several); cancel does when its mode is immediately."""
DANGEROUS = {"terminate", "delete", "cancel", "reinstall"}
"""Actions whose confirm button is red."""
RENEW_NOW, RENEW_INVOICE = "now", "invoice"
VERBS = {"add-days": "Add days to", "subtract-days": "Subtract days from", "transfer": "Transfer"}
"""The question's verb where the menu's title does not read as one."""
SHOWN_INVOICES = 50


def question(action: str, label: str, count: int, hidden: int) -> Text:
    """'Suspend 3 marked services? (1 currently hidden by filter)'."""
    verb = VERBS.get(action) or TITLES.get(action, ACTIONS[action].title if action in ACTIONS else action).split(" (")[0]
    line = Text()
    line.append(f"{verb} {render.plain(label)}?", "bold")
    if hidden:
        line.append(f" ({hidden:,} currently hidden by filter)", "bold yellow")
    return line


def consequence(action: str) -> str:
    """What the action does, from the status table (one paragraph)."""
    if action == "cancel":
        return (
            "End of cycle: it is cancelled on its expiry date, when the automation runs. Immediately: cancelled now "
            "and deleted from its panel (the module's terminate); this cannot be undone."
        )
    return ACTIONS[action].describe()


class ActionDialog(DialogFrame[ActionRequest]):
    """The inputs and confirmation of one action over one or more services.

    Renew offers "now" (cycles; the amount recorded is the price or nothing) and "into an
    invoice" (a new one per service, or, for one service, one of its customer's unpaid
    invoices, listed in a worker).
    """

    FRAME_ID = "action-dialog"
    BINDINGS = bindings("dialog")

    def __init__(self, action: str, label: str, count: int, hidden: int, *, service_id: int | None = None, renew_mode: str = RENEW_NOW) -> None:
        super().__init__()
        self.action_name = action
        self.label = label
        self.count = count
        self.hidden = hidden
        self.service_id = service_id if count == 1 else None
        self.renew_mode = renew_mode

    @property
    def console_app(self) -> ConsoleHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in its own app

    @property
    def confirmation_word(self) -> str:
        return self.action_name if self.count == 1 else str(self.count)

    def question_text(self) -> Text:
        return question(self.action_name, self.label, self.count, self.hidden)

    def consequence_text(self) -> Text:
        return Text(consequence(self._core_action()), style="dim")

    def confirm_label(self) -> str:
        action = self.action_name
        if action == "cancel":
            return "Cancel service" + ("s" if self.count != 1 else "")
        if action == "transfer":
            return "Transfer"
        return TITLES.get(action, ACTIONS[action].title if action in ACTIONS else action).split(" (")[0]

    def confirm_variant(self) -> str:
        return "error" if self.action_name in DANGEROUS else "primary"

    def fields(self) -> ComposeResult:
        action = self.action_name
        if action == "suspend":
            yield Label("Suspension kind")
            yield Select([(kind.value, kind.value) for kind in SuspendKind], value=SuspendKind.ADMIN.value, allow_blank=False, compact=True, id="kind")
        if action == "cancel":
            yield Label("Mode")
            yield Select(
                [("at the end of the cycle", CancelMode.END_OF_CYCLE.value), ("immediately: deletes it from its panel", CancelMode.IMMEDIATE.value)],
                value=CancelMode.END_OF_CYCLE.value,
                allow_blank=False,
                compact=True,
                id="mode",
            )
        if action == "renew":
            yield from self._renew_fields()
        if action == "transfer":
            yield Label("New owner (customer id or email)")
            yield Input("", id="to", placeholder="e.g. 42 or bruno@example.com")
        if action in {"add-days", "subtract-days"}:
            yield Label("Days")
            yield Input("", id="days", placeholder="a whole number such as 7", restrict=r"\d*")
        yield Label("Reason (kept in the activity log)")
        yield Input("", id="reason", placeholder="optional")
        if action == "suspend":
            yield Checkbox("Notify the customer", compact=True, id="notify")
        if action in TYPED_CONFIRMATION or action == "cancel":
            what = f'the word "{action}"' if self.count == 1 else f"the number of services ({self.count})"
            with Vertical(id="confirm-fields", classes="field-group"):
                yield Label(f"Type {what} to confirm")
                yield Input("", id="confirm", placeholder=self.confirmation_word)

    def needs_typed_confirmation(self) -> bool:
        """Terminate, delete, reinstall and cancel immediately remove data: they ask for the typed word or count."""
        if self.action_name == "cancel":
            return self._value("#mode") == CancelMode.IMMEDIATE.value
        return self.action_name in TYPED_CONFIRMATION

    def _renew_fields(self) -> ComposeResult:
        new_invoice = "a new invoice" if self.count == 1 else "a new invoice for each service"
        yield Label("Renew")
        yield Select(
            [("now: extend the expiry", RENEW_NOW), ("into an invoice: extend it when paid", RENEW_INVOICE)],
            value=self.renew_mode,
            allow_blank=False,
            compact=True,
            id="renew-mode",
        )
        yield Label("Cycles")
        yield Input("1", id="cycles", restrict=r"\d*")
        with Vertical(id="renew-now-fields", classes="field-group"):
            yield Label("Amount recorded")
            yield Select([("the price (with its options)", "price"), ("free (amount 0)", "free")], value="price", allow_blank=False, compact=True, id="amount")
        with Vertical(id="renew-invoice-fields", classes="field-group"):
            yield Label("Invoice" if self.service_id is not None else "Invoice (an existing one only when renewing one service)")
            yield Select([(new_invoice, "new")], value="new", allow_blank=False, compact=True, id="invoice")

    def _core_action(self) -> str:
        if self.action_name == "renew" and self.renew_mode == RENEW_INVOICE:
            return "renew-invoice"
        return self.action_name

    def initial_focus(self) -> str:
        if self.action_name == "renew":
            return "#cycles"
        return "#fields Input, #fields Select"

    def on_mount(self) -> None:
        if self.action_name == "cancel":
            self._show_confirmation()
        if self.action_name == "renew":
            self._show_renew_mode()
            if self.service_id is not None:
                self._load_invoices(self.service_id)

    def _show_renew_mode(self) -> None:
        self.query_one("#renew-now-fields").display = self.renew_mode == RENEW_NOW
        self.query_one("#renew-invoice-fields").display = self.renew_mode == RENEW_INVOICE
        self.query_one("#consequence", Static).update(Text(consequence(self._core_action()), style="dim"))

    def _show_confirmation(self) -> None:
        self.query_one("#confirm-fields").display = self.needs_typed_confirmation()

    @on(Select.Changed, "#mode")
    def _cancel_mode_changed(self) -> None:
        self._show_confirmation()

    @on(Select.Changed, "#renew-mode")
    def _renew_mode_changed(self, event: Select.Changed) -> None:
        self.renew_mode = str(event.value)
        self._show_renew_mode()

    @work(thread=True, exclusive=True, group="dialog-invoices")
    def _load_invoices(self, service_id: int) -> None:
        """The unpaid and draft invoices of the service's customer, in its currency."""
        app = self.console_app
        try:
            with app.db.read() as session:
                service = lookups.get_service(session, service_id)
                found = [
                    summary
                    for status in invoice_lookups.OPEN_STATUSES
                    for summary in invoice_lookups.list_invoices(session, customer_id=service.customer_id, status=status, limit=SHOWN_INVOICES)
                    if summary.invoice.currency == service.currency
                ]
        except SvcError as error:
            self.post_message(InvoicesLoaded([], error.message))
            return
        found.sort(key=lambda summary: summary.invoice.id or 0, reverse=True)
        self.post_message(InvoicesLoaded(found[:SHOWN_INVOICES]))

    @on(InvoicesLoaded)
    def _invoices_loaded(self, message: InvoicesLoaded) -> None:
        if message.error:
            self.show_error(message.error)
            return
        tz = self.console_app.tz
        options: list[tuple[Text, str]] = [(Text("a new invoice"), "new")]
        for summary in message.invoices:
            invoice = summary.invoice
            lines = render.plural(summary.line_count, "line")
            label = (
                f"#{invoice.id} {render.plain(invoice.status)} {render.money(summary.total, invoice.currency)}, {lines}, due {render.day(invoice.due_at, tz)}"
            )
            options.append((Text(label), str(invoice.id)))
        select = self.query_one("#invoice", Select)
        chosen = select.value
        select.set_options(options)
        select.value = chosen if any(value == chosen for _, value in options) else "new"

    def _value(self, selector: str) -> Any:
        found = self.query(selector)
        if not found:
            return None
        widget: Any = found.first()
        return widget.value

    def answer(self) -> ActionRequest:
        """The checked parameters; raises the core's InvalidInput naming the field."""
        action = self.action_name
        params: dict[str, Any] = {"reason": (self._value("#reason") or "").strip() or None}
        if action == "suspend":
            params["kind"] = self._value("#kind")
            params["notify"] = bool(self._value("#notify"))
        if action == "cancel":
            params["mode"] = self._value("#mode")
        if action == "renew" and self.renew_mode == RENEW_INVOICE:
            params["cycles"] = parse.parse_int("cycles", self._value("#cycles") or "", minimum=1, maximum=120)
            params["invoice"] = str(self._value("#invoice") or "new")
            return ActionRequest("renew-invoice", actions.validate_params("renew-invoice", params), ACTIONS["renew-invoice"].title)
        if action == "renew":
            params["cycles"] = self._value("#cycles") or ""
            params["free"] = self._value("#amount") == "free"
        if action in {"add-days", "subtract-days"}:
            params["days"] = self._value("#days") or ""
        if action == "transfer":
            params["to"] = (self._value("#to") or "").strip()
        if self.needs_typed_confirmation() and (self._value("#confirm") or "").strip() != self.confirmation_word:
            raise InvalidInput("confirm", f"type {self.confirmation_word} to confirm")
        core_action = actions.normalize_action(action, params)
        clean = actions.validate_params(core_action, {key: value for key, value in params.items() if key != "mode"})
        return ActionRequest(core_action, clean, ACTIONS[core_action].title)


POWER_CONSEQUENCES = {
    "stop": "The server stops at once: what runs on it is not shut down cleanly and unsaved data is lost.",
    "kill": "The server's processes are killed at once: unsaved data is lost.",
}
"""The power signals that ask for the typed word, as terminate does, and what each does."""


class PowerDialog(DialogFrame[str]):
    """The typed confirmation of a power signal that can lose data (stop, kill)."""

    FRAME_ID = "power-dialog"
    BINDINGS = bindings("dialog")

    def __init__(self, signal: str, label: str) -> None:
        super().__init__()
        self.signal = signal
        self.label = label

    def question_text(self) -> Text:
        return Text(f"Send {self.signal} to {render.plain(self.label)}?", style="bold")

    def consequence_text(self) -> Text:
        return Text(POWER_CONSEQUENCES[self.signal], style="dim")

    def confirm_label(self) -> str:
        return self.signal.capitalize()

    def confirm_variant(self) -> str:
        return "error"

    def fields(self) -> ComposeResult:
        yield Label(f'Type the word "{self.signal}" to confirm')
        yield Input("", id="confirm", placeholder=self.signal)

    def initial_focus(self) -> str:
        return "#confirm"

    def answer(self) -> str:
        if (self.query_one("#confirm", Input).value or "").strip() != self.signal:
            raise InvalidInput("confirm", f"type {self.signal} to confirm")
        return self.signal


class BulkMenu(ModalScreen[str | None]):
    """The actions that apply to the selection, each with how many of its services it applies to;
    one that applies to none is listed, off, with why."""

    BINDINGS = bindings("dialog")

    def __init__(self, label: str, counts: dict[tuple[str, bool], int]) -> None:
        super().__init__(classes="dialog-screen")
        self.label = label
        self.selected = sum(counts.values())
        self.applicable = applicable_counts(counts)

    def _option(self, name: str, title: str) -> Option:
        count = self.applicable[name]
        if count == 0:
            return Option(Text(f"{title}: applies to none of them", style="dim"), id=name, disabled=True)
        if self.selected == 1:
            return Option(title, id=name)
        return Option(f"{title}: {count:,} of {self.selected:,}", id=name)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="bulk-menu"):
            yield Static(Text(f"Actions on {render.plain(self.label)}", style="bold"))
            yield Static(Text(f"{render.plural(self.selected, 'service')} selected", style="dim"), id="bulk-menu-selected")
            yield OptionList(*[self._option(name, title) for name, title in BULK_MENU], id="bulk-actions")
            with Horizontal(classes="buttons"):
                yield Button("Back", id="cancel-button")

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel-button")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
