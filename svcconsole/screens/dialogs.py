"""Modal dialogs: an action's inputs and confirmation, the bulk menu, yes/no and one-line prompts.

Each action dialog says what happens to how many services and how many of them the current
filter hides (k9s: "Delete 3 marked services? (1 currently hidden by filter)"). Terminate and
delete ask for a typed word (one service) or count (several), and focus Cancel, as does cancel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from svcconsole.console import render
from svcconsole.console.actions import BULK_MENU
from svcconsole.core import services
from svcconsole.core.errors import SvcError
from svcconsole.core.statuses import ACTIONS, CancelMode, SuspendKind

TITLES = {name: title for name, title in BULK_MENU}
TYPED_CONFIRMATION = {"terminate", "delete"}
FOCUS_CANCEL = {"terminate", "delete", "cancel", "reinstall"}


@dataclass
class ActionRequest:
    """What a confirmed dialog asks for: the core action and its checked parameters."""

    action: str
    params: dict[str, Any] = field(default_factory=dict)
    title: str = ""


def question(action: str, label: str, count: int, hidden: int) -> Text:
    """'Suspend 3 marked services? (1 currently hidden by filter)'."""
    verb = {"add-days": "Add days to", "subtract-days": "Subtract days from"}.get(action) or TITLES.get(action, ACTIONS[action].title if action in ACTIONS else action).split(" (")[0]
    line = Text()
    line.append(f"{verb} {render.plain(label)}?", "bold")
    if hidden:
        line.append(f" ({hidden:,} currently hidden by filter)", "bold yellow")
    return line


def consequence(action: str) -> str:
    if action == "cancel":
        return "End of cycle: cancel_at = expiry, the automation cancels it then. Immediately: cancelled now, removed from its panel."
    return ACTIONS[action].describe()


class ActionDialog(ModalScreen[ActionRequest | None]):
    """The inputs and confirmation of one action over one or more services."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, action: str, label: str, count: int, hidden: int) -> None:
        super().__init__(classes="dialog-screen")
        self.action_name = action
        self.label = label
        self.count = count
        self.hidden = hidden

    @property
    def confirmation_word(self) -> str:
        return self.action_name if self.count == 1 else str(self.count)

    def compose(self) -> ComposeResult:
        action = self.action_name
        with Vertical(classes="dialog", id="action-dialog"):
            yield Static(question(action, self.label, self.count, self.hidden), id="question")
            yield Static(Text(consequence(action), style="dim"), id="consequence")
            with VerticalScroll(id="fields"):
                if action == "suspend":
                    yield Label("Suspension kind")
                    yield Select([(kind.value, kind.value) for kind in SuspendKind], value=SuspendKind.ADMIN.value, allow_blank=False, compact=True, id="kind")
                if action == "cancel":
                    yield Label("Mode")
                    yield Select([("at the end of the cycle", CancelMode.END_OF_CYCLE.value), ("immediately", CancelMode.IMMEDIATE.value)], value=CancelMode.END_OF_CYCLE.value, allow_blank=False, compact=True, id="mode")
                if action == "renew":
                    yield Label("Cycles")
                    yield Input("1", id="cycles", restrict=r"\d*")
                    yield Checkbox("Record the renewal as free (amount 0)", compact=True, id="free")
                if action in {"add-days", "subtract-days"}:
                    yield Label("Days")
                    yield Input("", id="days", placeholder="a whole number such as 7", restrict=r"\d*")
                yield Label("Reason (kept in the activity log)")
                yield Input("", id="reason", placeholder="optional")
                if action == "suspend":
                    yield Checkbox("Notify the customer", compact=True, id="notify")
                if action in TYPED_CONFIRMATION:
                    what = f'the word "{action}"' if self.count == 1 else f"the number of services ({self.count})"
                    yield Label(f"Type {what} to confirm")
                    yield Input("", id="confirm", placeholder=self.confirmation_word)
            yield Static(id="dialog-error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel-button")
                label = "Cancel service" + ("s" if self.count != 1 else "") if action == "cancel" else TITLES.get(action, ACTIONS[action].title if action in ACTIONS else action).split(" (")[0]
                yield Button(label, id="confirm-button", variant="error" if action in FOCUS_CANCEL else "primary")

    def on_mount(self) -> None:
        self.query_one("#dialog-error", Static).display = False
        if self.action_name in FOCUS_CANCEL:
            self.query_one("#cancel-button", Button).focus()
        else:
            first = self.query("#fields Input, #fields Select").first()
            first.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel-button")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._confirm()

    @on(Button.Pressed, "#confirm-button")
    def _confirm(self) -> None:
        try:
            request = self.request()
        except SvcError as error:
            self.show_error(error.message)
            return
        self.dismiss(request)

    def show_error(self, message: str) -> None:
        error = self.query_one("#dialog-error", Static)
        error.update(Text(render.plain(message), style="bold red"))
        error.display = True

    def _value(self, selector: str) -> Any:
        found = self.query(selector)
        if not found:
            return None
        widget = found.first()
        return widget.value

    def request(self) -> ActionRequest:
        """The checked parameters; raises the core's InvalidInput naming the field."""
        from svcconsole.core.errors import InvalidInput

        action = self.action_name
        params: dict[str, Any] = {"reason": (self._value("#reason") or "").strip() or None}
        if action == "suspend":
            params["kind"] = self._value("#kind")
            params["notify"] = bool(self._value("#notify"))
        if action == "cancel":
            params["mode"] = self._value("#mode")
        if action == "renew":
            params["cycles"] = self._value("#cycles") or ""
            params["free"] = bool(self._value("#free"))
        if action in {"add-days", "subtract-days"}:
            params["days"] = self._value("#days") or ""
        if action in TYPED_CONFIRMATION and (self._value("#confirm") or "").strip() != self.confirmation_word:
            raise InvalidInput("confirm", f"type {self.confirmation_word} to confirm")
        core_action = services.normalize_action(action, params)
        clean = services.validate_params(core_action, {key: value for key, value in params.items() if key != "mode"})
        return ActionRequest(core_action, clean, ACTIONS[core_action].title)


class BulkMenu(ModalScreen[str | None]):
    """Every action that applies to several services, to pick one."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, label: str) -> None:
        super().__init__(classes="dialog-screen")
        self.label = label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="bulk-menu"):
            yield Static(Text(f"Actions on {render.plain(self.label)}", style="bold"))
            yield OptionList(*[Option(title, id=name) for name, title in BULK_MENU], id="bulk-actions")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel-button")

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel-button")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; No is focused."""

    BINDINGS = [Binding("escape", "no", "No", show=False)]

    def __init__(self, question_text: str, yes: str = "Yes") -> None:
        super().__init__(classes="dialog-screen")
        self.question_text = question_text
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(render.plain(self.question_text), style="bold"))
            with Horizontal(classes="buttons"):
                yield Button("No", id="no")
                yield Button(self.yes, id="yes", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_no(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class PromptDialog(ModalScreen[str | None]):
    """One line of text (a reason, a note); empty is refused when `required`."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, question_text: str, *, placeholder: str = "", required: bool = False) -> None:
        super().__init__(classes="dialog-screen")
        self.question_text = question_text
        self.placeholder = placeholder
        self.required = required

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(render.plain(self.question_text), style="bold"))
            yield Input(placeholder=self.placeholder, id="answer")
            yield Static(id="dialog-error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel-button")
                yield Button("OK", id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#dialog-error", Static).display = False
        self.query_one("#answer", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel-button")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        answer = self.query_one("#answer", Input).value.strip()
        if self.required and not answer:
            error = self.query_one("#dialog-error", Static)
            error.update(Text("a value is required", style="bold red"))
            error.display = True
            return
        self.dismiss(answer)
