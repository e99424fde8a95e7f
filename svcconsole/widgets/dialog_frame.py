"""The frame of every action dialog: a question, what it does, its fields, an error line, two buttons.

The admin console's action dialog and the customer area's renew and cancel dialogs are this
frame with their own fields. Escape and the first button back out (the dialog answers None);
the confirm button, or enter in a field, answers `answer()`, or shows the SvcError it raised
on the error line and stays open. Textual runs every class's `on_mount`, so subclasses name
the widget to focus first in `initial_focus` rather than focusing it in their own.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from svcconsole.console import render
from svcconsole.core.errors import SvcError

AnswerType = TypeVar("AnswerType")


class DialogFrame(ModalScreen[AnswerType | None], Generic[AnswerType]):
    """A modal question with fields; subclasses give the texts, the fields and `answer`."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]
    FRAME_ID: str | None = None
    BACK_LABEL = "Cancel"
    CONFIRM_LABEL = "OK"
    CONFIRM_VARIANT = "primary"

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def question_text(self) -> RenderableType:
        raise NotImplementedError

    def consequence_text(self) -> RenderableType:
        raise NotImplementedError

    def fields(self) -> ComposeResult:
        yield from ()

    def confirm_label(self) -> str:
        return self.CONFIRM_LABEL

    def confirm_variant(self) -> str:
        return self.CONFIRM_VARIANT

    def answer(self) -> AnswerType:
        """The dialog's answer from its fields; raises the core's SvcError naming the field."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id=self.FRAME_ID):
            yield Static(self.question_text(), id="question")
            yield Static(self.consequence_text(), id="consequence")
            with VerticalScroll(id="fields"):
                yield from self.fields()
            yield Static(id="dialog-error")
            with Horizontal(classes="buttons"):
                yield Button(self.BACK_LABEL, id="cancel-button")
                yield Button(self.confirm_label(), id="confirm-button", variant=self.confirm_variant())  # type: ignore[arg-type]  # CONFIRM_VARIANT holds one of Button's variant names

    def initial_focus(self) -> str:
        """The selector of the widget focused when the dialog opens."""
        return "#cancel-button"

    def on_mount(self) -> None:
        self.query_one("#dialog-error", Static).display = False
        self.query_one(self.initial_focus()).focus()

    def show_error(self, message: str) -> None:
        """`message` on the error line, in red, as one inert line."""
        error = self.query_one("#dialog-error", Static)
        error.update(Text(render.plain(message), style="bold red"))
        error.display = True

    def action_cancel(self) -> None:
        """Close the dialog with no answer (escape, as the dialog scope of the registry binds it)."""
        self.dismiss(None)

    @on(Button.Pressed, "#cancel-button")
    def _back(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm-button")
    def _confirm(self) -> None:
        try:
            answer: Any = self.answer()
        except SvcError as error:
            self.show_error(error.message)
            return
        self.dismiss(answer)


__all__ = ["DialogFrame"]
