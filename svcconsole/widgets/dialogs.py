"""The yes/no and one-line dialogs both consoles ask with, and the keys every dialog shares."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from svcconsole.widgets import render
from svcconsole.widgets.inputs import InertInput as Input
from svcconsole.widgets.keys import ConsoleAction

DIALOG_KEYS: tuple[ConsoleAction, ...] = (
    ConsoleAction("dialog", "escape", "cancel", "Back", "Close the dialog; nothing is done.", show=True, key_display="esc"),
    ConsoleAction("dialog", "tab", "focus_next", "Next field", "The next field or button (shift+tab: the one before).", key_display="tab", bound=False),
    ConsoleAction(
        "dialog",
        "enter",
        "enter_key",
        "Next / run",
        "In a field: the next field; in the last field: run the action; on a button: press it (space opens a dropdown).",
        key_display="⏎",
        bound=False,
    ),
)
"""The keys of every dialog, in both registries."""
DIALOG_BINDINGS: list[BindingType] = [entry.binding() for entry in DIALOG_KEYS if entry.bound]


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question, with what yes does under it when given; No is focused."""

    BINDINGS = DIALOG_BINDINGS

    def __init__(self, question_text: str, yes: str = "Yes", *, detail: str | None = None, variant: str = "primary") -> None:
        super().__init__(classes="dialog-screen")
        self.question_text = question_text
        self.yes = yes
        self.detail = detail
        self.variant = variant

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(render.plain(self.question_text), style="bold"))
            if self.detail:
                yield Static(Text(render.plain(self.detail), style="dim"))
            with Horizontal(classes="buttons"):
                yield Button("No", id="no")
                yield Button(self.yes, id="yes", variant=self.variant)  # type: ignore[arg-type]  # one of Button's variant names, given by the caller

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_cancel(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class PromptDialog(ModalScreen[str | None]):
    """One line of text (a reason, a note); empty is refused when `required`."""

    BINDINGS = DIALOG_BINDINGS

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
                yield Button("Back", id="cancel-button")
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
