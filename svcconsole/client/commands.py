"""The customer area's command palette: its pages, a service by id, the open service's actions."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from svcconsole.client.host import ClientHost
from svcconsole.widgets.palette import service_id_in

SERVICE_COMMANDS = (
    ("service: renew", "Add a renewal of this service to an invoice.", "action_renew"),
    ("service: cancel", "Cancel this service at the end of its cycle, or now.", "action_cancel"),
    ("service: keep it", "Withdraw your end-of-cycle cancellation.", "action_uncancel"),
    ("service: auto-renewal on/off", "Turn auto-renewal on or off.", "action_auto_renew"),
    ("service: add an option", "Order an option from the catalogue (an invoice for the rest of the period).", "action_buy_option"),
    ("service: change the renewal cycle", "Renew at another cycle, from the next renewal.", "action_change_cycle"),
    ("service: power (start, stop, restart)", "Send a power action to the service's panel.", "action_power"),
    ("service: reinstall", "Reinstall the service (its data is lost).", "action_reinstall"),
    ("service: suspend or resume", "Suspend the service yourself, or resume it.", "action_suspend"),
    ("service: delete", "Delete the service (a running one is cancelled now first).", "action_delete"),
)


class ClientCommands(Provider):
    """Only the customer's own commands: "go: dashboard", "open service 12", "service: renew"."""

    def _entries(self) -> list[tuple[str, str, Callable[[], object]]]:
        app: ClientHost = self.app  # type: ignore[assignment]  # Textual types self.app as App; this provider runs in its own app
        entries: list[tuple[str, str, Callable[[], object]]] = [
            ("go: dashboard", "Active services and unpaid invoices.", app.action_dashboard),
            ("go: my services", "Every one of your services.", app.action_services),
            ("go: open a service by id", "Type the id of one of your services.", app.action_open_by_id),
            ("go: help", "Every key.", app.action_help),
        ]
        screen = self.screen
        for title, help_text, method in SERVICE_COMMANDS:
            offered = getattr(screen, "offers_action", None)
            if hasattr(screen, method) and (offered is None or offered(method.removeprefix("action_"))):
                entries.append((title, help_text, getattr(screen, method)))
        return entries

    async def discover(self) -> Hits:
        for title, help_text, callback in self._entries():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        app: ClientHost = self.app  # type: ignore[assignment]  # Textual types self.app as App; this provider runs in its own app
        service_id = service_id_in(query)
        if service_id is not None:
            yield Hit(1.0, f"open service {service_id}", partial(app.open_service, service_id), help="One of your services, by its id.")
        matcher = self.matcher(query)
        for title, help_text, callback in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
