"""A dialog that shows a text in full: what a table cut with an ellipsis (Enter opens it)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from svcconsole.console.actions import bindings
from svcconsole.widgets import render


def shortened(value: str, width: int) -> Text:
    """One line of `value`, ending with an ellipsis when cut (Enter opens the whole)."""
    line = " ".join(render.plain(value).split())
    return Text(line if len(line) <= width else line[: width - 1] + "…", no_wrap=True)


class ReadingDialog(ModalScreen[None]):
    """A dialog to read, with one Close button (escape closes it too); subclasses give `body`."""

    BINDINGS = bindings("dialog")
    FRAME_ID = "reading-dialog"

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def body(self) -> ComposeResult:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id=self.FRAME_ID):
            yield from self.body()
            with Horizontal(classes="buttons"):
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(None)


class FullTextDialog(ReadingDialog):
    """A title and labelled texts shown whole, scrolled when long."""

    FRAME_ID = "full-text-dialog"

    def __init__(self, title: str, sections: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.sections = sections

    def body(self) -> ComposeResult:
        yield Static(Text(render.plain(self.title_text), style="bold"))
        with VerticalScroll(id="full-text"):
            for label, value in self.sections:
                text = Text()
                text.append(f"{label}\n", "dim")
                text.append(render.plain(value) or "-")
                yield Static(text, classes="full-text-section")
