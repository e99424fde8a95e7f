"""A key of the console and what it runs, as the admin console's and the customer area's registries list it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from textual.binding import Binding
from textual.dom import DOMNode

from svcconsole.core.i18n import Translate, untranslated


@dataclass(frozen=True)
class ConsoleAction:
    """One action: its key, the action it runs, where it applies and how it is described."""

    scope: str
    key: str
    action: str
    description: str
    help: str
    show: bool = False
    mutates: bool = False
    key_display: str | None = None
    palette: bool = True
    priority: bool = False
    bound: bool = True
    command: str | None = None
    """The palette's title of an app-wide action ("go: jobs"); the palette lists screen actions by scope."""

    @property
    def shown_key(self) -> str:
        return self.key_display or self.key

    def binding(self) -> Binding:
        return Binding(
            self.key,
            self.action,
            self.description,
            show=self.show,
            key_display=self.key_display,
            priority=self.priority,
            id=f"{self.scope}.{self.action}",
            tooltip=self.help,
        )


def translate_bindings(node: DOMNode, translate: Translate = untranslated) -> None:
    """Put `node`'s key descriptions and tooltips (footer, palette) in the reader's language.

    Textual copies the class's bindings into each node, so this changes this node's only; an
    English reader's `translate` leaves them as they are.
    """
    if translate is untranslated:
        return
    bindings = node._bindings  # Textual keeps each node's own copy of its class's bindings here
    bindings.key_to_bindings = {
        key: [
            replace(binding, description=translate(binding.description), tooltip=translate(binding.tooltip) if binding.tooltip else "") for binding in entries
        ]
        for key, entries in bindings.key_to_bindings.items()
    }
