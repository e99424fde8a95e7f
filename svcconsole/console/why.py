"""Why a key did nothing: the words a screen shows when a key of its footer does not apply
(k9s says so at the bottom of the screen instead of staying silent)."""

from __future__ import annotations

from typing import Any

from textual.actions import parse

from svcconsole.console.actions import REGISTRY, applies
from svcconsole.core.statuses import Status
from svcconsole.widgets.keys import ConsoleAction


def entry_for(scope: str, key: str) -> ConsoleAction | None:
    """The registry entry of `scope` that `key` is bound to."""
    for entry in REGISTRY:
        if entry.scope == scope and entry.bound and key in entry.key.split(","):
            return entry
    return None


def statuses_allowing(name: str) -> list[str]:
    return [status.value for status in Status if applies(name, status.value)]


def why_not(screen: Any, scope: str, key: str, status: str | None) -> str | None:
    """Why `key` did nothing on `screen` (whose row or service is in `status`), or None when
    the key is not one of the scope's or it applies."""
    entry = entry_for(scope, key)
    if entry is None:
        return None
    _, action, parameters = parse(entry.action)
    if screen.check_action(action, parameters):
        return None
    if entry.mutates and not screen.app.can_act:
        why = "read-only mode" if screen.app.actor.read_only else f"{screen.app.actor.name} is a viewer"
        return f"{entry.description} is off: {why}"
    if action == "service_action" and parameters:
        name = str(parameters[0])
        if status is None:
            return f"{entry.description}: no service under the cursor"
        allowed = ", ".join(statuses_allowing(name)) or "no status"
        article = "an" if status[:1] in "aeiou" else "a"
        return f"{entry.description} does not apply to {article} {status} service (it applies to: {allowed})"
    return f"{entry.description} does not apply here now"
