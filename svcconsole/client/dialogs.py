"""The customer's action dialogs: renew (how many periods) and cancel (when, and why).

They use the admin console's dialog layout; yes/no questions use its `ConfirmDialog`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from svcconsole.console import render
from svcconsole.core import parse
from svcconsole.core.errors import SvcError
from svcconsole.core.statuses import CancelMode

MAX_CYCLES = 36


@dataclass(frozen=True)
class CancelRequest:
    """When to cancel and the customer's reason."""

    mode: str
    reason: str | None


class _CustomerDialog(ModalScreen[object]):
    """A question, its fields, an error line and two buttons; escape or the first button backs out."""

    BINDINGS = [Binding("escape", "back_out", "Cancel", show=False)]
    BACK_LABEL = "Back"
    CONFIRM_LABEL = "OK"
    CONFIRM_VARIANT = "primary"

    def __init__(self, question: str, consequence: str) -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.consequence = consequence

    def fields(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="customer-dialog"):
            yield Static(Text(render.plain(self.question), style="bold"), id="question")
            yield Static(Text(render.plain(self.consequence), style="dim"), id="consequence")
            with VerticalScroll(id="fields"):
                yield from self.fields()
            yield Static(id="dialog-error")
            with Horizontal(classes="buttons"):
                yield Button(self.BACK_LABEL, id="cancel-button")
                yield Button(self.CONFIRM_LABEL, id="confirm-button", variant=self.CONFIRM_VARIANT)  # type: ignore[arg-type]

    def on_mount(self) -> None:
        self.query_one("#dialog-error", Static).display = False
        self.query_one("#cancel-button", Button).focus()

    def action_back_out(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel-button")
    def _back(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm-button")
    def _confirm(self) -> None:
        try:
            answer = self.answer()
        except SvcError as error:
            error_line = self.query_one("#dialog-error", Static)
            error_line.update(Text(render.plain(error.message), style="bold red"))
            error_line.display = True
            return
        self.dismiss(answer)

    def answer(self) -> object:
        return True


class RenewDialog(_CustomerDialog):
    """How many billing periods to renew; the answer is the number."""

    CONFIRM_LABEL = "Renew"

    def fields(self) -> ComposeResult:
        yield Label("Billing periods to renew")
        yield Input("1", id="cycles", restrict=r"\d*")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#cycles", Input).focus()

    def answer(self) -> int:
        return parse.parse_int("cycles", self.query_one("#cycles", Input).value, minimum=1, maximum=MAX_CYCLES)


class CancelDialog(_CustomerDialog):
    """End of cycle or now (only the modes the service allows), and an optional reason."""

    BACK_LABEL = "Keep the service"
    CONFIRM_LABEL = "Cancel the service"
    CONFIRM_VARIANT = "error"

    def __init__(self, question: str, modes: list[str]) -> None:
        super().__init__(question, "At the end of the cycle: the service runs until its expiry, then stops. "
                                   "Now: the service stops at once and is removed from its server; this cannot be undone.")
        self.modes = modes

    def fields(self) -> ComposeResult:
        labels = {CancelMode.END_OF_CYCLE.value: "at the end of the cycle", CancelMode.IMMEDIATE.value: "now"}
        yield Label("When")
        yield Select([(labels[mode], mode) for mode in self.modes], value=self.modes[0], allow_blank=False, compact=True, id="mode")
        yield Label("Why are you leaving? (optional)")
        yield Input("", id="reason", placeholder="optional")

    def answer(self) -> CancelRequest:
        reason = parse.parse_text("reason", self.query_one("#reason", Input).value, max_length=2000)
        return CancelRequest(str(self.query_one("#mode", Select).value), reason)
