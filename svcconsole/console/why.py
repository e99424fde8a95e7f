"""Why a key did nothing in the admin console: the shared reasons, and for a service action
the statuses it applies to."""

from __future__ import annotations

from typing import Any

from textual.actions import parse

from svcconsole.console.actions import REGISTRY, applies
from svcconsole.core.statuses import Status
from svcconsole.widgets.why import entry_for, why_off


def statuses_allowing(name: str) -> list[str]:
    return [status.value for status in Status if applies(name, status.value)]


def why_not(screen: Any, scope: str, key: str, status: str | None) -> str | None:
    """Why `key` did nothing on `screen` (whose row or service is in `status`), or None when
    the key is not one of the scope's or it applies."""
    entry = entry_for(getattr(screen.app, "registry", REGISTRY), scope, key)
    if entry is None:
        return None
    _, action, parameters = parse(entry.action)
    if action == "service_action" and parameters and screen.app.can_act and not screen.check_action(action, parameters):
        name = str(parameters[0])
        if status is None:
            return f"{entry.description}: no service under the cursor"
        allowed = ", ".join(statuses_allowing(name)) or "no status"
        article = "an" if status[:1] in "aeiou" else "a"
        return f"{entry.description} does not apply to {article} {status} service (it applies to: {allowed})"
    return why_off(screen, entry)
