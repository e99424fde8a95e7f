"""An Input that shows control and bidi-override characters as visible symbols.

An Input filled with stored text (an option's name, a metadata value, a service's notes) would
otherwise write that text's escape sequences to the terminal as they are. Each such character
is drawn as one symbol (ESC as "␛", other C0 controls as their control pictures, the rest as
"�"), so positions in the value and on screen still match; the value itself is unchanged, and
saving it stores exactly what was there.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Input

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
