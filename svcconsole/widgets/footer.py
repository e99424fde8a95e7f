"""The footer of the list and detail screens: the keys in context, kept on one 80-column line.

Textual's footer shows every enabled binding with its description and cuts what does not fit.
This one drops the descriptions of the service actions (s u c r t x + -) when the line would
be too long, so every key that applies stays in view; help (`?`) says what each one does.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


def _width(widget: Widget) -> int:
    """The cells a compact footer key takes, its right margin included (the registry uses no groups)."""
    if isinstance(widget, FooterKey):
        return len(widget.key_display) + (len(widget.description) + 1 if widget.description else 0) + 1
    return 0


class ContextFooter(Footer):
    """A compact footer that shortens the service actions to their keys when space runs out."""

    def __init__(self) -> None:
        super().__init__(compact=True, show_command_palette=False)

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        if sum(_width(widget) for widget in widgets) > (self.size.width or self.app.size.width):
            for widget in widgets:
                if isinstance(widget, FooterKey) and widget.action.startswith("service_action"):
                    widget.description = ""
        yield from widgets

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self.recompose)
