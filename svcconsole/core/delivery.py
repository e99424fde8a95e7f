"""Reading from the panels: live state, module sub-tabs, importable resources, power, tests.

Each function reads what it needs in a short session, then calls the module with no session
open, so a slow panel never holds a database lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from svcconsole.core import activity, lookups
from svcconsole.core.catalog import resolve_server
from svcconsole.core.errors import InvalidInput, NotFound, TransitionRefused
from svcconsole.core.operators import Actor, require
from svcconsole.core.statuses import Role, Status
from svcconsole.modules import (
    HISTORY_SPANS,
    ImportableResource,
    ModuleResult,
    ModuleTab,
    PanelHistory,
    PanelState,
    ServerRef,
    ServiceRef,
    external_key,
    get_module,
)
from svcconsole.store.engine import Database
from svcconsole.store.models import RESOURCE_HOLDING_STATUSES, Service

KEY_BATCH = 500


def _service_snapshot(db: Database, service_id: int, customer_id: int | None = None) -> tuple[ServiceRef, str, str]:
    with db.read() as session:
        service = lookups.get_service(session, service_id, customer_id=customer_id)
        return lookups.service_ref(session, service), service.type, service.status


def _server_snapshot(db: Database, server: str | int) -> ServerRef:
    with db.read() as session:
        return lookups.server_ref(resolve_server(session, server))


def panel_state(db: Database, service_id: int, *, customer_id: int | None = None) -> PanelState:
    """The service's live state on its panel (ModuleError when the panel cannot say)."""
    ref, module_name, _ = _service_snapshot(db, service_id, customer_id)
    module = get_module(module_name)
    if not module.supports_operation("panel"):
        return PanelState(status="no panel", details={"module": module_name})
    return module.panel(ref)


def panel_history(db: Database, service_id: int, span: str, *, customer_id: int | None = None) -> PanelHistory:
    """What the panel recorded of the service over `span` (hour, day or week)."""
    if span not in HISTORY_SPANS:
        raise InvalidInput("--span", f"{span!r} is not a span; use one of {', '.join(HISTORY_SPANS)}")
    ref, module_name, _ = _service_snapshot(db, service_id, customer_id)
    module = get_module(module_name)
    if not module.supports_operation("history"):
        raise InvalidInput("--span", f"module {module.label or module_name} keeps no history; its Panel tab charts the live figures instead")
    return module.history(ref, span)


def module_tabs(db: Database, service_id: int, *, customer_id: int | None = None) -> list[ModuleTab]:
    """The module's own sub-tabs for the service (ModuleError when the panel cannot say)."""
    ref, module_name, _ = _service_snapshot(db, service_id, customer_id)
    return get_module(module_name).tabs(ref)


def power(db: Database, actor: Actor, service_id: int, signal: str) -> ModuleResult:
    """Send a power signal (start, stop, restart, kill...) and log it on the service."""
    require(actor, Role.OPERATOR, "power actions")
    ref, module_name, status = _service_snapshot(db, service_id, actor.customer_id if actor.is_client else None)
    module = get_module(module_name)
    if not module.supports_operation("power"):
        raise InvalidInput("signal", f"module {module_name} has no power actions")
    if status != Status.ACTIVE.value:
        raise TransitionRefused(service_id, status, "send a power signal", "allowed when active")
    result = module.power(ref, signal)

    def log(session: Session) -> None:
        service = lookups.get_service(session, service_id)
        activity.record(session, service, actor, "power", from_status=service.status, to_status=service.status, details={"signal": signal})

    db.transaction(log)
    return result


@dataclass
class Importables:
    """The resources of a server that no live service holds yet, and how many were left out."""

    resources: list[ImportableResource]
    linked: int = 0

    @property
    def linked_note(self) -> str:
        """'3 already linked, not shown', or '' when none were left out."""
        return f"{self.linked} already linked, not shown" if self.linked else ""


def list_importable(db: Database, server: str | int) -> Importables:
    """What already exists on a server and could be imported: what no live service holds yet."""
    ref = _server_snapshot(db, server)
    module = get_module(ref.module)
    if not module.supports_operation("list_importable"):
        return Importables([])
    resources = module.list_importable(ref)
    keys = [_resource_key(ref.module, resource) for resource in resources]
    held = _held_keys(db, ref.id, [key for key in keys if key is not None])
    free = [resource for resource, key in zip(resources, keys, strict=True) if key is None or key not in held]
    return Importables(free, len(resources) - len(free))


def _resource_key(module_name: str, resource: ImportableResource) -> str | None:
    """The key a service importing `resource` would hold (as `action_base.store_external` computes it)."""
    return external_key(module_name, resource.details.get("external") or {"ref": resource.external_ref})


def _held_keys(db: Database, server_id: int, keys: list[str]) -> set[str]:
    """Which of `keys` a live service of the server holds (read through the unique index, in batches)."""
    held: set[str] = set()
    with db.read() as session:
        for start in range(0, len(keys), KEY_BATCH):
            batch = keys[start : start + KEY_BATCH]
            rows = session.exec(
                select(Service.external_key).where(
                    Service.server_id == server_id, col(Service.external_key).in_(batch), col(Service.status).in_(RESOURCE_HOLDING_STATUSES)
                )
            ).all()
            held.update(key for key in rows if key is not None)
    return held


def importable_external(db: Database, server: str | int | None, reference: str) -> dict[str, Any]:
    """What to store in `service.external` for importing `reference` from `server`."""
    if server is None:
        return {"ref": reference}
    ref = _server_snapshot(db, server)
    module = get_module(ref.module)
    if not module.supports_operation("list_importable"):
        return {"ref": reference}
    resources = module.list_importable(ref)
    for resource in resources:
        if resource.external_ref == reference:
            return dict(resource.details.get("external") or {"ref": reference})
    known = ", ".join(resource.external_ref for resource in resources[:10]) or "none"
    raise NotFound(f"--external: server {ref.name} has no resource {reference!r} (found: {known})")


def test_server(db: Database, server: str | int) -> ModuleResult:
    ref = _server_snapshot(db, server)
    return get_module(ref.module).test_connection(ref)
