"""An Input that shows control and bidi-override characters as visible symbols.

An Input filled with stored text (an option's name, a metadata value, a service's notes) would
otherwise write that text's escape sequences to the terminal as they are. Each such character
is drawn as one symbol (ESC as "␛", other C0 controls as their control pictures, the rest as
"�"), so positions in the value and on screen still match; the value itself is unchanged, and
saving it stores exactly what was there.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable, Input, TabPane

from svcconsole.core.parse import CONTROL_CHARACTERS


def _symbol(character: str) -> str:
    code = ord(character)
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"


def shown(value: str) -> str:
    """`value` with each control or bidi-override character replaced by one visible symbol."""
    return CONTROL_CHARACTERS.sub(lambda match: _symbol(match.group()), value)


class InertInput(Input):
    """`textual.widgets.Input`, drawing its value inert (see the module docstring)."""

    @property
    def _value(self) -> Text:
        text = super()._value
        if not self.password and CONTROL_CHARACTERS.search(text.plain):
            inert = Text(shown(text.plain), no_wrap=True, overflow="ignore", end="")
            for span in text.spans:
                inert.stylize(span.style, span.start, span.end)
            return inert
        return text


class PaneInput(InertInput):
    """An InertInput in a tab of the detail (Options, Metadata): `[` and `]` change the tab as
    in the other tabs, and escape leaves the field for the tab's table (escape again goes back)."""

    BINDINGS = [
        Binding("left_square_bracket", "screen.previous_tab", show=False, priority=True),
        Binding("right_square_bracket", "screen.next_tab", show=False, priority=True),
        Binding("escape", "leave_field", show=False, priority=True),
    ]

    def action_leave_field(self) -> None:
        """Focus the tab's table (or nothing): the next escape is the screen's."""
        pane = next((ancestor for ancestor in self.ancestors if isinstance(ancestor, TabPane)), None)
        tables = pane.query(DataTable) if pane is not None else None
        if tables:
            tables.first().focus()
        else:
            self.screen.set_focus(None)
