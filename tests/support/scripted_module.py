"""A delivery module for tests: in-process, supports every operation, fails on command.

It stands in for a panel where a test needs to control exactly which call fails and how;
the real adapters are tested against the sandbox panels over HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from svcconsole.modules.base import (
    Checkpoint,
    Credentials,
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
    register,
    unregister,
)


@dataclass
class Script:
    """What the module does next: the calls seen, and failures to raise per (operation, service id)."""

    calls: list[tuple[str, int]] = field(default_factory=list)
    failures: dict[tuple[str, int], list[ModuleError]] = field(default_factory=dict)
    hooks: dict[tuple[str, int], list[Callable[[], None]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    password: str = "scripted-login-password-5e1f"
    """The password `create` reports for the login it provisions; `change_password` appends a count."""
    resets: int = 0

    def fail(self, operation: str, service_id: int, error: ModuleError, times: int = 1) -> None:
        self.failures.setdefault((operation, service_id), []).extend([error] * times)

    def during(self, operation: str, service_id: int, hook: Callable[[], None]) -> None:
        """Run `hook` inside the next such call, before it answers (a call that takes a while)."""
        self.hooks.setdefault((operation, service_id), []).append(hook)

    def record(self, operation: str, service: ServiceRef) -> None:
        with self.lock:
            self.calls.append((operation, service.id))
            queued = self.failures.get((operation, service.id))
            error = queued.pop(0) if queued else None
            hooks = self.hooks.get((operation, service.id))
            hook = hooks.pop(0) if hooks else None
        if hook is not None:
            hook()
        if error is not None:
            raise error

    def count(self, operation: str, service_id: int | None = None) -> int:
        return sum(1 for name, identifier in self.calls if name == operation and (service_id is None or identifier == service_id))


SCRIPT = Script()


class ScriptedModule(Module):
    name = "scripted"
    label = "Scripted (tests)"
    supports = frozenset(
        {
            "test_connection",
            "create",
            "suspend",
            "unsuspend",
            "terminate",
            "reinstall",
            "change_package",
            "list_importable",
            "panel",
            "tabs",
            "power",
            "transfer",
            "change_password",
        }
    )

    def test_connection(self, server: ServerRef) -> ModuleResult:
        return ModuleResult(message=f"connected to {server.url}")

    def create(self, service: ServiceRef, *, checkpoint: Checkpoint | None = None) -> ModuleResult:
        if checkpoint is not None:
            checkpoint({"reserved": f"slot-{service.id}"})
        SCRIPT.record("create", service)
        return ModuleResult(message="created", external={"ref": f"srv-{service.id}"}, credentials=Credentials(f"user{service.customer.id}", SCRIPT.password))

    def change_password(self, service: ServiceRef) -> ModuleResult:
        SCRIPT.record("change_password", service)
        SCRIPT.resets += 1
        return ModuleResult(message="password changed", credentials=Credentials(f"user{service.customer.id}", f"{SCRIPT.password}-{SCRIPT.resets}"))

    def suspend(self, service: ServiceRef) -> ModuleResult:
        SCRIPT.record("suspend", service)
        return ModuleResult()

    def unsuspend(self, service: ServiceRef) -> ModuleResult:
        SCRIPT.record("unsuspend", service)
        return ModuleResult()

    def terminate(self, service: ServiceRef, *, force: bool = False) -> ModuleResult:
        SCRIPT.record("terminate", service)
        return ModuleResult()

    def reinstall(self, service: ServiceRef) -> ModuleResult:
        SCRIPT.record("reinstall", service)
        return ModuleResult()

    def change_package(self, service: ServiceRef, product: ProductRef) -> ModuleResult:
        SCRIPT.record("change_package", service)
        return ModuleResult(external={"package": product.name})

    def transfer(self, service: ServiceRef, customer: CustomerRef) -> ModuleResult:
        SCRIPT.record("transfer", service)
        return ModuleResult(message=f"owner {customer.email}", external={"owner": customer.email})

    def list_importable(self, server: ServerRef) -> list[ImportableResource]:
        return [ImportableResource(external_ref="srv-900", name="existing box")]

    def panel(self, service: ServiceRef) -> PanelState:
        return PanelState(status="running", resources={"memory": "512 MiB"}, addresses=["10.0.0.9:25565"], actions=["start", "stop"])

    def tabs(self, service: ServiceRef) -> list[ModuleTab]:
        return [ModuleTab(key="network", title="Network", rows=[("address", "10.0.0.9")])]


def install() -> Script:
    """Register the module with a fresh script; call `uninstall` after."""
    global SCRIPT
    SCRIPT = Script()
    register(ScriptedModule)
    return SCRIPT


def uninstall() -> None:
    unregister(ScriptedModule.name)
