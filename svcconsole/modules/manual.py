"""The manual module: nothing remote; an admin delivers by hand and marks the service active."""

from __future__ import annotations

from svcconsole.modules.base import Module, ModuleResult, PanelState, ServerRef, ServiceRef, register


@register
class ManualModule(Module):
    """Hand delivery: every lifecycle step is a status change in the store only."""

    name = "manual"
    label = "Manual"
    supports = frozenset({"test_connection", "panel"})

    def test_connection(self, server: ServerRef) -> ModuleResult:
        return ModuleResult(message="manual servers have nothing to connect to")

    def panel(self, service: ServiceRef) -> PanelState:
        return PanelState(status="managed by hand", details={"module": "manual"})
