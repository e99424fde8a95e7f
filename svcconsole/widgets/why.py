"""Why a key did nothing: the words a screen shows when a key of its footer does not apply
(k9s says so at the bottom of the screen instead of staying silent)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.actions import parse

from svcconsole.widgets.keys import ConsoleAction


def entry_for(registry: Iterable[ConsoleAction], scope: str, key: str) -> ConsoleAction | None:
    """The entry of `registry` in `scope` that `key` is bound to."""
    for entry in registry:
        if entry.scope == scope and entry.bound and key in entry.key.split(","):
            return entry
    return None


def why_off(screen: Any, entry: ConsoleAction) -> str | None:
    """Why `entry`'s action does nothing on `screen` now (None when it applies): off in read-only
    mode or for a viewer, or of no use here now."""
    _, action, parameters = parse(entry.action)
    if screen.check_action(action, parameters):
        return None
    if entry.mutates and not screen.app.can_act:
        why = "read-only mode" if screen.app.actor.read_only else f"{screen.app.actor.name} is a viewer"
        return f"{entry.description} is off: {why}"
    return f"{entry.description} does not apply here now"


def why_not(screen: Any, registry: Iterable[ConsoleAction], scope: str, key: str) -> str | None:
    """Why `key` did nothing on `screen`, or None when the key is not one of the scope's or it applies."""
    entry = entry_for(registry, scope, key)
    return why_off(screen, entry) if entry is not None else None
