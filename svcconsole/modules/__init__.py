"""Delivery modules: the protocol, the registry and the built-in adapters (imported by the
registry on first use)."""

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
    external_key,
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
    "external_key",
    "get_module",
    "is_module",
    "module_names",
    "register",
]
