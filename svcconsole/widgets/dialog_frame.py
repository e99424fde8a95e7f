"""The frame of every action dialog: a question, what it does, its fields, an error line, two buttons.

The admin console's action dialog and the customer area's renew and cancel dialogs are this
frame with their own fields. Escape and the first button back out (the dialog answers None);
the confirm button, or enter in the last field, answers `answer()`, or shows the SvcError it
raised on the error line and stays open; enter in another field moves to the next one (a
dropdown opens with space or a click, so enter never opens it), and on a button presses it. Textual runs every class's `on_mount`, so subclasses name
the widget to focus first in `initial_focus` rather than focusing it in their own.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Select, Static

from svcconsole.core.errors import SvcError
from svcconsole.widgets import render, words

AnswerType = TypeVar("AnswerType")


class DialogFrame(ModalScreen[AnswerType | None], Generic[AnswerType]):
    """A modal question with fields; subclasses give the texts, the fields and `answer`."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False), Binding("enter", "enter_key", show=False, priority=True)]
    FRAME_ID: str | None = None
    BACK_LABEL = "Back"
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

    def back_label(self) -> str:
        return self.BACK_LABEL

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
                yield Button(self.back_label(), id="cancel-button")
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
        error.update(Text(render.plain(words.console_text(message)), style="bold red"))
        error.display = True

    def action_cancel(self) -> None:
        """Close the dialog with no answer (escape, as the dialog scope of the registry binds it)."""
        self.dismiss(None)

    @on(Button.Pressed, "#cancel-button")
    def _back(self) -> None:
        self.dismiss(None)

    def input_fields(self) -> list[Widget]:
        """The fields the admin can reach now (shown and enabled), in focus order."""
        area = self.query_one("#fields")
        return [widget for widget in self.focus_chain if isinstance(widget, (Input, Select, Checkbox)) and area in widget.ancestors]

    def action_enter_key(self) -> None:
        """Enter: in a field, the next field, or the action from the last one; elsewhere (a
        button, an open dropdown) what that widget does with it."""
        fields = self.input_fields()
        focused = self.focused
        if focused is None or focused not in fields:
            raise SkipAction()
        if focused is fields[-1]:
            self._confirm()
        else:
            self.focus_next()

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
