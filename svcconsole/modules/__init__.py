"""Delivery modules: the protocol, the registry and the built-in adapters."""

from svcconsole.modules import manual as _manual  # noqa: F401  (registers itself)
from svcconsole.modules import proxmox as _proxmox  # noqa: F401  (registers itself)
from svcconsole.modules import pterodactyl as _pterodactyl  # noqa: F401  (registers itself)
from svcconsole.modules.base import (
    OPERATIONS,
    Checkpoint,
    CustomerRef,
    ImportableResource,
    Module,
    ModuleError,
    ModuleResult,
    ModuleTab,
    PanelState,
    ProductRef,
    ServerRef,
    ServiceRef,
    UnsupportedOperation,
    get_module,
    is_module,
    module_names,
    register,
)

__all__ = [
    "OPERATIONS",
    "Checkpoint",
    "CustomerRef",
    "ImportableResource",
    "Module",
    "ModuleError",
    "ModuleResult",
    "ModuleTab",
    "PanelState",
    "ProductRef",
    "ServerRef",
    "ServiceRef",
    "UnsupportedOperation",
    "get_module",
    "is_module",
    "module_names",
    "register",
]
