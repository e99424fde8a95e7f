"""The module protocol: what a delivery module is asked to do, and what it answers.

Modules receive plain snapshots (`ServiceRef`, `ServerRef`, `ProductRef`), never ORM rows, so a
call can run in a worker thread or process with no database session open.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlsplit

OPERATIONS = (
    "test_connection",
    "create",
    "suspend",
    "unsuspend",
    "terminate",
    "renew",
    "reinstall",
    "change_package",
    "add_option",
    "list_importable",
    "list_resources",
    "transfer",
    "change_password",
    "panel",
    "history",
    "power",
    "tabs",
    "node_resources",
    "usage",
)


Checkpoint = Callable[[dict[str, Any]], None]
"""Called by `create` with `external` data to persist before a step that may not finish."""


class ModuleError(Exception):
    """A module call failed; `retryable` says whether trying again later can help.

    `external` carries what the module created before failing (e.g. a server id), to merge
    into `service.external` so a later terminate or retry can find it.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        code: str | None = None,
        status: int | None = None,
        external: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.code = code
        self.status = status
        self.external = dict(external or {})

    def __str__(self) -> str:
        return self.message


class UnsupportedOperation(ModuleError):
    """The module does not implement this operation."""

    def __init__(self, module: str, operation: str) -> None:
        super().__init__(f"module {module} does not support {operation}", retryable=False)
        self.operation = operation


@dataclass(frozen=True)
class ServerRef:
    """A server as a module sees it: where the panel is and how to log in."""

    id: int
    name: str
    module: str
    url: str
    credentials: str | None = field(default=None, repr=False)
    node: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    memory_capacity: int | None = None
    """The most memory (MiB) the admin lets this server hand out (None: the panel's total)."""
    disk_capacity: int | None = None

    def __repr__(self) -> str:
        return f"ServerRef(id={self.id}, name={self.name!r}, module={self.module!r}, url={self.url!r})"


DEMO_HOST_SUFFIX = ".demo.invalid"
"""The host of a seeded demo server: `.invalid` never resolves (RFC 2606), and pointing the
server at a real panel (a new URL) ends its demo status."""


def demo_server_url(name: str) -> str:
    """The URL `seed demo` gives a panel server that has no panel behind it."""
    return f"https://{name}{DEMO_HOST_SUFFIX}"


def is_demo_server(server: ServerRef) -> bool:
    return (urlsplit(server.url).hostname or "").endswith(DEMO_HOST_SUFFIX)


def refuse_demo_server(server: ServerRef) -> None:
    """Refuse a call to a seeded demo server in one line that says what gives it a panel."""
    if is_demo_server(server):
        raise ModuleError(
            f"demo server: start `svcconsole demo` or point it at a panel (svcconsole servers edit {server.name} --url URL --credentials KEY)",
            retryable=False,
            code="demo",
        )


@dataclass(frozen=True)
class ProductRef:
    """A product as a module sees it: its module config (egg, limits, template, cores...)."""

    id: int
    name: str
    type: str
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CustomerRef:
    id: int
    name: str
    email: str
    company: str | None = None


@dataclass(frozen=True)
class ServiceRef:
    """A service as a module sees it, with what the module stored before in `external`."""

    id: int
    uuid: str
    name: str
    customer: CustomerRef
    product: ProductRef | None
    server: ServerRef | None
    external: dict[str, Any] = field(default_factory=dict)
    billing_cycle: str | None = None


@dataclass(frozen=True)
class Credentials:
    """The login a module provisioned for the customer (a panel user, a cloud-init user).

    `password` is None when the module reused a login whose password it never knew. Its repr
    never shows the password, so a log line or traceback that prints a result shows none."""

    username: str
    password: str | None = field(default=None, repr=False)


@dataclass
class ModuleResult:
    """What a successful call returns; `external` is merged into `service.external`;
    `credentials`, when the call made or changed a login, is stored encrypted (never in `external`)."""

    message: str = ""
    external: dict[str, Any] = field(default_factory=dict)
    credentials: Credentials | None = field(default=None, repr=False)


@dataclass
class ImportableResource:
    """An existing resource on a server that can be imported as a service."""

    external_ref: str
    name: str
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PanelResource:
    """One resource a panel holds, as reconcile compares it with billing.

    `key` is what `Module.external_key` reads from a service's `external` for this resource;
    `owner_email` is None and `suspended` is None where the panel cannot tell (that comparison
    is then not made); `limits` holds only the build values the module compares; `busy` marks a
    resource in the middle of a panel task (a clone), left out of the comparison.
    """

    key: str
    name: str
    external_id: str | None = None
    owner_email: str | None = None
    status: str | None = None
    suspended: bool | None = None
    limits: dict[str, Any] = field(default_factory=dict)
    node: str | None = None
    busy: bool = False


@dataclass
class PanelState:
    """The live state of a service on its panel, for the Panel tab."""

    status: str
    resources: dict[str, str] = field(default_factory=dict)
    addresses: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)
    samples: dict[str, float] = field(default_factory=dict)
    """The live figures as numbers, keyed by HISTORY_SERIES (cpu %, memory bytes, and the network
    counters in bytes since the start: a chart of successive answers draws their rate)."""


HISTORY_SERIES = ("cpu", "memory", "network in", "network out")
"""The series a panel's history and live samples hold: cpu in %, memory in bytes, network in bytes/s."""
HISTORY_SPANS = ("hour", "day", "week")


@dataclass
class PanelHistory:
    """A service's recorded figures over a span, oldest first (None where the panel has no value)."""

    span: str
    step_seconds: int
    times: list[int] = field(default_factory=list)
    """Each point's time, in seconds since the epoch (UTC)."""
    series: dict[str, list[float | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeResources:
    """What a panel reports of the node a new service would be created on, in MiB (None: not reported)."""

    node: str
    memory_total: int | None = None
    memory_used: int | None = None
    disk_total: int | None = None
    disk_used: int | None = None


USAGE_KINDS = ("total", "counter", "peak")


@dataclass(frozen=True)
class UsageReading:
    """What a panel says of one metered resource (a metric of `core.overage`, in its unit).

    `kind` says how billing folds it into the period: `total` is what the period used so far;
    `counter` a running counter the panel keeps (billing adds what came since its last reading,
    the whole reading when it went back); `peak` a level now (billing keeps the period's highest)."""

    metric: str
    amount: Decimal
    kind: str = "total"


@dataclass
class ModuleTab:
    """An extra sub-page a module shows on the detail screen: a title and key/value rows."""

    key: str
    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)


class Module:
    """Base class of every delivery module; subclasses list the operations they implement."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    supports: ClassVar[frozenset[str]] = frozenset()
    needs_server: ClassVar[bool] = False
    option_resources: ClassVar[frozenset[str]] = frozenset()
    """The product config keys an option from the catalogue may raise (applied by `add_option`)."""
    customer_power: ClassVar[dict[str, str]] = {}
    """The module's own power signal for each of the customer area's start, stop and restart (a verb
    missing here is refused to the customer)."""

    def supports_operation(self, operation: str) -> bool:
        return operation in self.supports

    @classmethod
    def external_key(cls, external: dict[str, Any]) -> str | None:
        """The panel's id of the resource `external` names (None: it names none). One live service
        per server holds a given key; this default reads the reference an import stored."""
        return resource_key(external.get("ref"))

    def _unsupported(self, operation: str) -> ModuleError:
        return UnsupportedOperation(self.name, operation)

    def _require_server(self, server: ServerRef | None) -> ServerRef:
        """The server a service is delivered to; none is a configuration error, never retried."""
        if server is None:
            raise ModuleError(f"{self.label}: the service has no server", retryable=False, code="config")
        return server

    def test_connection(self, server: ServerRef) -> ModuleResult:
        raise self._unsupported("test_connection")

    def create(self, service: ServiceRef, *, checkpoint: Checkpoint | None = None) -> ModuleResult:
        """Deliver the service; `checkpoint(external)` persists ids before a long step."""
        raise self._unsupported("create")

    def suspend(self, service: ServiceRef) -> ModuleResult:
        raise self._unsupported("suspend")

    def unsuspend(self, service: ServiceRef) -> ModuleResult:
        raise self._unsupported("unsuspend")

    def terminate(self, service: ServiceRef, *, force: bool = False) -> ModuleResult:
        raise self._unsupported("terminate")

    def renew(self, service: ServiceRef) -> ModuleResult:
        raise self._unsupported("renew")

    def reinstall(self, service: ServiceRef) -> ModuleResult:
        raise self._unsupported("reinstall")

    def change_package(self, service: ServiceRef, product: ProductRef) -> ModuleResult:
        raise self._unsupported("change_package")

    def add_option(self, service: ServiceRef, option: dict[str, Any]) -> ModuleResult:
        """Apply an option on the panel: `service.product.config` holds the build with every
        option of the service added (the one chosen included), so setting `option["resource"]`
        to it is the same on a retry; `option` holds the name, value and quantity chosen."""
        raise self._unsupported("add_option")

    def list_importable(self, server: ServerRef) -> list[ImportableResource]:
        raise self._unsupported("list_importable")

    def list_resources(self, server: ServerRef, *, on_total: Callable[[int], None] | None = None) -> Iterator[PanelResource]:
        """Every resource the panel holds, page by page within its rate limit (for reconcile).

        `on_total` is called once with how many the panel says it holds, as soon as it says so
        (reconcile draws its progress bar with it)."""
        raise self._unsupported("list_resources")

    def transfer(self, service: ServiceRef, customer: CustomerRef) -> ModuleResult:
        """Make `customer` the owner of the service's resource on the panel."""
        raise self._unsupported("transfer")

    def change_password(self, service: ServiceRef) -> ModuleResult:
        """Set a new generated password on the login the service was delivered with; the result's
        `credentials` carry it."""
        raise self._unsupported("change_password")

    def expected_build(self, config: dict[str, Any]) -> dict[str, Any]:
        """The build values (the keys of `PanelResource.limits`) a product's config asks for;
        only the keys the config sets, so a default the panel may apply differently is not compared."""
        return {}

    def panel(self, service: ServiceRef) -> PanelState:
        raise self._unsupported("panel")

    def history(self, service: ServiceRef, span: str) -> PanelHistory:
        """The figures the panel recorded over `span` (one of HISTORY_SPANS)."""
        raise self._unsupported("history")

    def power(self, service: ServiceRef, signal: str) -> ModuleResult:
        raise self._unsupported("power")

    def tabs(self, service: ServiceRef) -> list[ModuleTab]:
        return []

    def node_resources(self, server: ServerRef, product: ProductRef | None) -> NodeResources | None:
        """The memory and disk of the node a service of `product` would be created on (None: no node named)."""
        raise self._unsupported("node_resources")

    def resource_needs(self, config: dict[str, Any]) -> dict[str, int]:
        """The memory and disk (MiB) a service of a product with this config takes on its node."""
        return {}

    def usage(self, service: ServiceRef, start: datetime, end: datetime) -> list[UsageReading]:
        """What the service used of its metered resources in the billing period [start, end)
        so far, as the panel reports it (see `UsageReading` for the kinds)."""
        raise self._unsupported("usage")


_REGISTRY: dict[str, type[Module]] = {}
BUILT_IN = ("manual", "proxmox", "pterodactyl")


def register(module_class: type[Module]) -> type[Module]:
    """Class decorator: make a module available under its `name`."""
    if not module_class.name:
        raise ValueError("a module needs a name")
    _REGISTRY[module_class.name] = module_class
    return module_class


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def _registry() -> dict[str, type[Module]]:
    """The registry, with the built-in adapters imported on first use (they bring httpx, which a
    console that never calls a panel need not load at launch)."""
    for name in BUILT_IN:
        if name not in _REGISTRY:
            importlib.import_module(f"svcconsole.modules.{name}")
    return _REGISTRY


def external_key(module_name: str, external: dict[str, Any] | None) -> str | None:
    """The key of the panel resource `external` names, as module `module_name` reads it."""
    if not external or not is_module(module_name):
        return None
    return _registry()[module_name].external_key(external)


def resource_key(value: Any) -> str | None:
    """A resource id as the text stored in `service.external_key` (at most 200 characters)."""
    if value is None or isinstance(value, (dict, list, bool)) or str(value).strip() == "":
        return None
    return str(value).strip()[:200]


def module_names() -> list[str]:
    return sorted(_registry())


def get_module(name: str) -> Module:
    """An instance of the module registered under `name`; `KeyError` if there is none."""
    return _registry()[name]()


def is_module(name: str) -> bool:
    return name in _registry()
