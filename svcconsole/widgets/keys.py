"""A key of the console and what it runs, as the admin console's and the customer area's registries list it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from textual.binding import Binding
from textual.dom import DOMNode
from textual.keys import _character_to_key

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
    name: str | None = None
    """The id `[keys]` in config.toml remaps it by, when the one made from the action would be unclear."""

    @property
    def id(self) -> str:
        """The action's id in `[keys]`: "suspend", "help", "next-sort" (the same in every scope it has)."""
        if self.name:
            return self.name
        action = self.action.removeprefix("app.")
        if action.startswith("service_action('"):
            action = action.removeprefix("service_action('").removesuffix("')")
        return action.replace("_", "-")

    @property
    def binding_id(self) -> str:
        return f"{self.scope}.{self.id}"

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
            id=self.binding_id,
            tooltip=self.help,
        )


def normal_keys(keys: str) -> tuple[str, ...]:
    """A comma list of keys as Textual names them ("?" is "question_mark")."""
    return tuple(_character_to_key(key) if len(key) == 1 else key for key in (part.strip() for part in keys.split(",")) if key)


@dataclass(frozen=True)
class Remap:
    """The registry with `[keys]` applied: the entries with their keys in force, Textual's keymap
    (binding id to keys) and one line per remap refused (an unknown id, a key already taken)."""

    registry: tuple[ConsoleAction, ...]
    keymap: dict[str, str]
    problems: tuple[str, ...]


def remap(registry: Iterable[ConsoleAction], keys: Mapping[str, str], together: Mapping[str, tuple[str, ...]]) -> Remap:
    """Apply `[keys]` (id or scope.id to keys) to `registry`; a key that another action of the same
    screen already has (its own scope, or one of the scopes `together` says are active with it) is
    refused, and the default kept."""
    entries = list(registry)
    known = {entry.id for entry in entries} | {entry.binding_id for entry in entries}
    problems = [f"keys.{action_id}: no action has this id (help, ?, lists the ids); ignored" for action_id in keys if action_id not in known]
    wanted: dict[int, str] = {}
    for index, entry in enumerate(entries):
        chosen = keys.get(entry.binding_id) or keys.get(entry.id)
        if chosen and entry.bound:
            wanted[index] = chosen

    def keys_in_force(index: int) -> tuple[str, ...]:
        return normal_keys(wanted.get(index, entries[index].key))

    for index in sorted(wanted):
        entry = entries[index]
        scopes = {entry.scope, *together.get(entry.scope, ())}
        clash = next(
            (
                other
                for position, other in enumerate(entries)
                if position != index
                and other.scope in scopes
                and other.id != entry.id
                and other.bound
                and set(keys_in_force(position)) & set(normal_keys(wanted[index]))
            ),
            None,
        )
        if clash is not None:
            problems.append(
                f"keys.{entry.id}: {wanted[index]!r} is already {clash.description!r} ({clash.scope}); {entry.description} keeps {entry.shown_key!r}"
            )
            del wanted[index]
    remapped = tuple(replace(entry, key=wanted[index], key_display=wanted[index]) if index in wanted else entry for index, entry in enumerate(entries))
    keymap = {entries[index].binding_id: ",".join(normal_keys(key)) for index, key in wanted.items()}
    return Remap(remapped, keymap, tuple(dict.fromkeys(problems)))


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
