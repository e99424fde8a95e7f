"""The command palette (`:` and ctrl+p): go to a screen, open a service by id or a customer by email, run an action."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from svcconsole.console.actions import BULK_MENU
from svcconsole.console.host import ConsoleHost
from svcconsole.core import profiles
from svcconsole.core.errors import SvcError
from svcconsole.store.models import Customer
from svcconsole.widgets import render
from svcconsole.widgets.keys import ConsoleAction
from svcconsole.widgets.palette import service_id_in

SAVE_VIEW = re.compile(r"^\s*:?\s*view\s+save\s+(\S+)\s*$")
"""`:view save NAME` typed in the palette."""


def with_key(entry: ConsoleAction) -> str:
    """An entry's help with the key in force after it: "Every key and what it does. (key: ?)"."""
    return f"{entry.help} (key: {entry.shown_key})" if entry.bound else entry.help


class ConsoleCommands(Provider):
    """Commands with area prefixes: "go: jobs", "service: suspend", "open service 123"."""

    def _entries(self) -> list[tuple[str, str, Callable[[], object]]]:
        """Every command that applies here; in read-only mode none that changes anything."""
        app: ConsoleHost = self.app  # type: ignore[assignment]  # Textual types self.app as App; this provider runs in its own app
        screen = self.screen
        acting = app.can_act
        registry = app.registry
        entries: list[tuple[str, str, Callable[[], object]]] = [
            ("go: services", "The service list.", app.show_services),
            ("theme: choose", "Textual's themes; the highlighted one shows at once (enter keeps it, esc goes back).", app.pick_theme),
        ]
        if acting:
            entries.append(("go: new service", "Create or import a service (wizard).", app.new_service))
        entries += [
            (entry.command, with_key(entry), partial(app.run_action, entry.action)) for entry in registry if entry.command and (acting or not entry.mutates)
        ]
        for name, view in sorted(app.views.items()):
            summary = f"filter {view.filter!r}" if view.filter else "no filter"
            entries.append(
                (f"view {name}", f"Saved view: {summary}, sort {view.sort}{' descending' if view.descending else ''}.", partial(app.open_view, name))
            )
        scope = getattr(screen, "SCOPE", None)
        if acting and hasattr(screen, "action_service_action"):
            keyed = {entry.id: entry for entry in registry if entry.scope == scope and "service_action" in entry.action}
            for name, title in BULK_MENU:
                help_text = "On the marked services, or the one under the cursor."
                if name in keyed:
                    help_text = with_key(replace(keyed[name], help=help_text))
                entries.append((f"service: {title.lower()}", help_text, partial(screen.action_service_action, name)))
        for entry in registry:
            if (
                entry.palette
                and entry.scope == scope
                and "service_action" not in entry.action
                and not entry.action.startswith("app.")
                and (acting or not entry.mutates)
            ):
                entries.append((f"{scope}: {entry.description.lower()}", with_key(entry), partial(screen.run_action, entry.action)))
        return entries

    def _customers_by_email(self, query: str) -> list[Customer]:
        """The customers whose email starts with the query's (after "open customer", if typed)."""
        app: ConsoleHost = self.app  # type: ignore[assignment]  # Textual types self.app as App; this provider runs in its own app
        typed = query.strip().lower().removeprefix("open").strip().removeprefix("customer").strip()
        try:
            with app.db.read() as session:
                return profiles.customers_by_email(session, app.actor, typed)
        except SvcError:
            return []

    async def discover(self) -> Hits:
        for title, help_text, callback in self._entries():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        app: ConsoleHost = self.app  # type: ignore[assignment]  # Textual types self.app as App; this provider runs in its own app
        saving = SAVE_VIEW.match(query)
        if saving:
            name = saving.group(1)
            yield Hit(1.0, f"view save {name}", partial(app.save_view, name), help="Save the list's filter, sort and columns under this name (views.toml).")
        service_id = service_id_in(query)
        if service_id is not None:
            yield Hit(1.0, f"open service {service_id}", partial(app.open_service, service_id), help="The detail screen of that service.")
        if "@" in query:
            for customer in await asyncio.to_thread(self._customers_by_email, query):
                title = f"open customer {customer.email}"
                yield Hit(0.95, title, partial(app.open_customer, customer.id or 0), help=f"The profile of {render.plain(customer.name)}.")
        matcher = self.matcher(query)
        for title, help_text, callback in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
