"""The customer area's command palette: its pages, a service by id, the open service's actions."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from svcconsole.client.host import ClientHost
from svcconsole.core.i18n import N_
from svcconsole.widgets.palette import service_id_in

SERVICE_COMMANDS = (
    (N_("service: renew"), N_("Add a renewal of this service to an invoice."), "action_renew"),
    (N_("service: cancel"), N_("Cancel this service at the end of its cycle, or now."), "action_cancel"),
    (N_("service: keep it"), N_("Withdraw your end-of-cycle cancellation."), "action_uncancel"),
    (N_("service: auto-renewal on/off"), N_("Turn auto-renewal on or off."), "action_auto_renew"),
    (N_("service: add an option"), N_("Order an option from the catalogue (an invoice for the rest of the period)."), "action_buy_option"),
    (N_("service: change the renewal cycle"), N_("Renew at another cycle, from the next renewal."), "action_change_cycle"),
    (N_("service: power (start, stop, restart)"), N_("Send a power action to the service's panel."), "action_power"),
    (N_("service: reinstall"), N_("Reinstall the service (its data is lost)."), "action_reinstall"),
    (N_("service: suspend or resume"), N_("Suspend the service yourself, or resume it."), "action_suspend"),
    (N_("service: delete"), N_("Delete the service (a running one is cancelled now first)."), "action_delete"),
)


class ClientCommands(Provider):
    """Only the customer's own commands: "go: dashboard", "open service 12", "service: renew"."""

    def _entries(self) -> list[tuple[str, str, Callable[[], object]]]:
        app: ClientHost = self.app  # type: ignore[assignment]  # Textual types self.app as App; this provider runs in its own app
        tr = app.tr
        entries: list[tuple[str, str, Callable[[], object]]] = [
            (tr("go: dashboard"), tr("Active services and unpaid invoices."), app.action_dashboard),
            (tr("go: my services"), tr("Every one of your services."), app.action_services),
            (tr("go: open a service by id"), tr("Type the id of one of your services."), app.action_open_by_id),
            (tr("go: help"), tr("Every key."), app.action_help),
        ]
        screen = self.screen
        for title, help_text, method in SERVICE_COMMANDS:
            offered = getattr(screen, "offers_action", None)
            if hasattr(screen, method) and (offered is None or offered(method.removeprefix("action_"))):
                entries.append((tr(title), tr(help_text), getattr(screen, method)))
        return entries

    async def discover(self) -> Hits:
        for title, help_text, callback in self._entries():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        app: ClientHost = self.app  # type: ignore[assignment]  # Textual types self.app as App; this provider runs in its own app
        service_id = service_id_in(query)
        if service_id is not None:
            title = app.tr("open service {id}").format(id=service_id)
            yield Hit(1.0, title, partial(app.open_service, service_id), help=app.tr("One of your services, by its id."))
        matcher = self.matcher(query)
        for title, help_text, callback in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
