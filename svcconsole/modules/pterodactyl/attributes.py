"""What the Pterodactyl module reads from a panel server's attributes and sends for a customer,
and the units the Panel tab shows in words."""

from __future__ import annotations

import re
from typing import Any

from svcconsole.modules.base import CustomerRef, ModuleError
from svcconsole.modules.pterodactyl.api import PANEL

MIB = 1024 * 1024


def external_of(attributes: dict[str, Any]) -> dict[str, Any]:
    external: dict[str, Any] = {
        "server_id": attributes["id"],
        "identifier": attributes.get("identifier"),
        "uuid": attributes.get("uuid"),
        "user_id": attributes.get("user"),
        "node": attributes.get("node"),
        "allocation": attributes.get("allocation"),
        "egg": attributes.get("egg"),
        "nest": attributes.get("nest"),
    }
    address = address_of(attributes)
    if address:
        external["address"] = address
    return external


def allocations_of(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    included = (attributes.get("relationships") or {}).get("allocations") or {}
    if included.get("object") == "null_resource":
        raise ModuleError(
            f"{PANEL}: the application key may not read allocations (the panel answered null_resource for include=allocations); give it Read on Allocations",
            retryable=False,
            code="auth",
            status=403,
        )
    data = included.get("data") or []
    return [entry.get("attributes", {}) for entry in data]


def address_of(attributes: dict[str, Any]) -> str | None:
    for allocation in allocations_of(attributes):
        if allocation.get("id") == attributes.get("allocation"):
            host = allocation.get("alias") or allocation.get("ip")
            return f"{host}:{allocation.get('port')}"
    return None


def mib(value: float) -> str:
    return f"{value / MIB:.0f} MiB"


def limit_text(value: Any, unit: str) -> str:
    return "unlimited" if value in (0, None) else f"{value} {unit}"


def duration_text(milliseconds: float) -> str:
    seconds = int(milliseconds // 1000)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds:02d}s"


def username_for(customer: CustomerRef) -> str:
    local = re.sub(r"[^a-z0-9_.-]", "", customer.email.split("@")[0].lower())
    local = re.sub(r"^[^a-z0-9]+|[^a-z0-9]+$", "", local) or "customer"
    return f"{local[:150]}-{customer.id}"


def names_of(customer: CustomerRef) -> tuple[str, str]:
    parts = customer.name.split()
    if not parts:
        return "Customer", str(customer.id)
    if len(parts) == 1:
        return parts[0][:191], "-"
    return parts[0][:191], " ".join(parts[1:])[:191]
