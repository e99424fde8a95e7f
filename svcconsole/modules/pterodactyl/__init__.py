"""Pterodactyl delivery module: game servers through the panel's Application and Client APIs.

Server (`ServerRef`):
    url          the panel's base URL, e.g. https://panel.example.com
    credentials  "ptla_APPLICATION_KEY" or "ptla_APPLICATION_KEY ptlc_CLIENT_KEY" (space
                 separated); the client key (of a root admin) enables the live Panel tab and
                 power actions. Keys without a prefix are taken in that order.
    node         default node (id or name) when the product names none
    config       rate_limit_per_minute (240 calls per rate_limit_window_seconds, 60; 0 = no
                 client-side limit), client_rate_limit_per_minute (720), verify_tls (true),
                 tls_fingerprint (pinned SHA-256 of the certificate) or ca_file (PEM of CAs),
                 panel_user (the panel user owning the keys: the panel counts its rate limits
                 per user, so every server record with keys of that user shares one bucket
                 per API), timeout (15 s), max_retry_after (10 s: a longer 429 wait, up to
                 the panel's 60 s window, is not slept through: the job is rescheduled then),
                 rate_limit_retries (3), install_wait_seconds (3: how long create watches
                 the install to report `install_failed`; a server still installing then is
                 a retryable error, so the queue checks it again later; 0 = create
                 returns at once and does not watch), poll_interval (0.5 s)

Product config (`ProductRef.config`):
    nest, egg                 ids of the egg to install (required)
    docker_image, startup     default: the egg's
    environment               {VARIABLE: value}, over the egg variables' defaults
    memory, swap, disk, io, cpu, threads     limits (MiB, MiB, MiB, 10-1000, %, "0-3");
                              default 1024, 0, 5120, 500, 100, none
    oom_disabled              default true
    databases, allocations, backups         feature limits, default 0, 0, 0
    node                      node id or name: the first free allocation there is used
    location / locations      location id(s): the panel's deploy picks node and port instead
    dedicated_ip, port_range  deploy options (false; e.g. ["25565-25600"])
    start_on_completion       start the server once installed (false)

External (`service.external`, what `create` returns): server_id, identifier, uuid, user_id,
node, allocation, address, egg, nest. The panel's `external_id` of the server is the service
uuid, looked up before every create so a retried create never makes a second server.

The module operations live here (the package is the module's home: `BUILT_IN` imports it by
name); the HTTP client and its error mapping are in `api`, the reading of a server's attributes
and the user fields sent for a customer in `attributes`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from svcconsole.modules.base import (
    Checkpoint,
    CustomerRef,
    ImportableResource,
    Module,
    ModuleError,
    ModuleResult,
    ModuleTab,
    NodeResources,
    PanelResource,
    PanelState,
    ProductRef,
    ServerRef,
    ServiceRef,
    UsageReading,
    register,
    resource_key,
)
from svcconsole.modules.http import config_bool, config_float, one_line
from svcconsole.modules.pterodactyl.api import DAEMON_DOWN, PAGE_SIZE, PANEL, Api, error_from_response, source_fields
from svcconsole.modules.pterodactyl.attributes import address_of, allocations_of, duration_text, external_of, limit_text, mib
from svcconsole.modules.pterodactyl.logins import panel_user, set_new_password, user_by_id

_PROBES = (
    ("nodes", "/nodes"),
    ("allocations", "/nodes/{id}/allocations"),
    ("locations", "/locations"),
    ("nests", "/nests"),
    ("eggs", "/nests/{id}/eggs"),
    ("servers", "/servers"),
    ("users", "/users"),
)
"""What test_connection reads: each resource the module needs (a `{id}` is the first of its parent)."""
POWER_SIGNALS = ("start", "stop", "restart", "kill")
CREATE_ATTEMPTS = 5
BUILD_LIMITS = ("memory", "swap", "disk", "io", "cpu", "threads")
BUILD_FEATURES = ("databases", "allocations", "backups")
"""The build values reconcile compares: the server's `limits` and `feature_limits`."""


def _install_wait_seconds(server: ServerRef) -> float:
    """How long create watches an install (the server's `install_wait_seconds`; 0: not at all)."""
    return config_float(server.config, "install_wait_seconds", 3.0)


@register
class PterodactylModule(Module):
    """Delivers game servers on a Pterodactyl panel."""

    name = "pterodactyl"
    label = "Pterodactyl"
    needs_server = True
    supports = frozenset(
        {
            "test_connection",
            "create",
            "suspend",
            "unsuspend",
            "terminate",
            "reinstall",
            "change_package",
            "add_option",
            "list_importable",
            "list_resources",
            "transfer",
            "change_password",
            "panel",
            "power",
            "tabs",
            "node_resources",
            "usage",
        }
    )
    option_resources = frozenset({*BUILD_LIMITS, *BUILD_FEATURES} - {"threads"})
    customer_power: ClassVar[dict[str, str]] = {"start": "start", "stop": "stop", "restart": "restart"}

    @classmethod
    def external_key(cls, external: dict[str, Any]) -> str | None:
        """The panel's server id (what `services import --external` takes)."""
        return resource_key(external.get("server_id"))

    def _api(self, server: ServerRef | None) -> Api:
        return Api(self._require_server(server))

    def _located(self, api: Api, service: ServiceRef, operation: str) -> dict[str, Any] | None:
        """The panel's server for this service: by stored id, else by external id (the uuid)."""
        server_id = service.external.get("server_id")
        if server_id is not None:
            found = api.server_by_id(int(server_id), operation, missing_ok=True)
            if found is not None:
                return found
        return api.server_by_external_id(service.uuid, operation)

    def _require(self, api: Api, service: ServiceRef, operation: str) -> dict[str, Any]:
        found = self._located(api, service, operation)
        if found is None:
            raise api.error(operation, f"no server for service {service.id} on the panel", retryable=False, code="not_found", status=404)
        return found

    # ----- lifecycle ---------------------------------------------------------------------------

    def test_connection(self, server: ServerRef) -> ModuleResult:
        """Read each resource the module needs with the application key, naming every one it may
        not read (write rights cannot be probed without a change), then try the client key."""
        operation = "test connection"
        api = self._api(server)
        readable: dict[str, dict[str, Any]] = {}
        missing: list[str] = []
        for resource, path in _PROBES:
            if "{" in path:
                parent = readable.get(path.split("/")[1])
                first = (parent or {}).get("data") or []
                if not first:
                    continue
                path = path.format(id=first[0]["attributes"]["id"])
            response = api.app("GET", path, operation, params={"per_page": 1}, allow=(403,))
            if response.status_code == 403:
                missing.append(resource)
            else:
                readable[resource] = response.json()
        if missing:
            raise api.error(
                operation,
                f"the application key may not read {', '.join(missing)} (give it Read on "
                "Nodes, Allocations, Locations, Nests, Eggs and Read & Write on Servers and Users)",
                retryable=False,
                code="auth",
                status=403,
            )
        body = readable["nodes"]
        total = (body.get("meta") or {}).get("pagination", {}).get("total", len(body.get("data", [])))
        message = f"connected to {PANEL}: {total} node(s)"
        if api.client is not None:
            api.user_api("GET", "", "test connection", params={"per_page": 1})
            message += "; client key accepted"
        return ModuleResult(message=message)

    def create(self, service: ServiceRef, *, checkpoint: Checkpoint | None = None) -> ModuleResult:
        """Create the server (or find the one an earlier attempt made) and watch its install."""
        operation = "create"
        api = self._api(service.server)
        config = dict(service.product.config) if service.product else {}
        attributes = api.server_by_external_id(service.uuid, operation)
        reused = attributes is not None
        if attributes is None:
            owner = panel_user(api, service.customer, operation)
            attributes = self._create_server(api, service, config, operation, owner.id)
        else:
            owner = user_by_id(api, int(attributes["user"]), operation)
        external = external_of(attributes)
        if checkpoint is not None:
            checkpoint(external)
        attributes = self._watch_install(api, attributes, operation)
        external = external_of(attributes)
        status = attributes.get("status")
        if status in ("install_failed", "reinstall_failed"):
            raise api.error(
                operation,
                f"server {attributes.get('identifier')} was created but its installation failed (status {status}); reinstall it or terminate and deliver again",
                retryable=False,
                code="install_failed",
                external=external,
            )
        wait = _install_wait_seconds(api.server)
        if status == "installing" and wait > 0:
            raise api.error(
                operation,
                f"server {attributes.get('identifier')} is still installing after {wait:g} s; its installation is checked again later",
                retryable=True,
                code="installing",
                external=external,
            )
        state = "installing" if status == "installing" else "installed"
        verb = "found existing" if reused else "created"
        where = f" at {external['address']}" if external.get("address") else ""
        return ModuleResult(message=f"{verb} server {external['identifier']}{where}; {state}", external=external, credentials=owner.credentials)

    def _create_server(self, api: Api, service: ServiceRef, config: dict[str, Any], operation: str, user_id: int) -> dict[str, Any]:
        if "nest" not in config or "egg" not in config:
            raise api.error(operation, "the product config needs `nest` and `egg` ids", retryable=False, code="config")
        egg = api.app("GET", f"/nests/{int(config['nest'])}/eggs/{int(config['egg'])}", operation, params={"include": "variables"}).json()["attributes"]
        variables = ((egg.get("relationships") or {}).get("variables") or {}).get("data") or []
        environment = {v["attributes"]["env_variable"]: v["attributes"].get("default_value") for v in variables}
        environment.update(config.get("environment") or {})
        payload: dict[str, Any] = {
            "external_id": service.uuid,
            "name": service.name[:191] or f"service-{service.id}",
            "description": f"svcconsole service {service.id}",
            "user": user_id,
            "egg": int(config["egg"]),
            "docker_image": config.get("docker_image") or egg.get("docker_image"),
            "startup": config.get("startup") or egg.get("startup"),
            "environment": environment,
            "limits": self._limits(config),
            "feature_limits": self._feature_limits(config),
            "oom_disabled": config_bool(config, "oom_disabled", True),
            "start_on_completion": config_bool(config, "start_on_completion", False),
        }
        deploy = self._deploy_block(config)
        node_id = None if deploy else self._node_id(api, config, operation)
        if deploy is not None:
            payload["deploy"] = deploy
        for attempt in range(CREATE_ATTEMPTS):
            if node_id is not None:
                payload["allocation"] = {"default": self._free_allocation(api, node_id, operation, attempt)}
            response = api.app("POST", "/servers", operation, json=payload, allow=(422,))
            if response.status_code != 422:
                return response.json()["attributes"]
            fields = source_fields(response)
            if "external_id" in fields:
                existing = api.server_by_external_id(service.uuid, operation)
                if existing is not None:
                    return existing
            if fields == {"allocation.default"} and attempt + 1 < CREATE_ATTEMPTS:
                continue
            raise error_from_response(response, operation)
        raise api.error(operation, "no free allocation could be taken on the node", retryable=True, code="conflict")

    def node_resources(self, server: ServerRef, product: ProductRef | None) -> NodeResources | None:
        """The node's memory and disk from `GET /api/application/nodes/{id}`: its size raised by
        its overallocation percentage (-1: the panel does not check), against the limits of the
        servers it holds (`allocated_resources`). None when the product deploys by location."""
        operation = "node resources"
        config = product.config if product is not None else {}
        if config.get("node", server.node) in (None, ""):
            return None
        api = self._api(server)
        node = api.app("GET", f"/nodes/{self._node_id(api, config, operation)}", operation).json().get("attributes") or {}
        allocated = node.get("allocated_resources") or {}

        def total(kind: str) -> int | None:
            overallocate = int(node.get(f"{kind}_overallocate") or 0)
            return None if overallocate < 0 else int(int(node.get(kind) or 0) * (100 + overallocate) / 100)

        return NodeResources(
            str(node.get("name") or node.get("id")),
            memory_total=total("memory"),
            memory_used=int(allocated.get("memory") or 0),
            disk_total=total("disk"),
            disk_used=int(allocated.get("disk") or 0),
        )

    def resource_needs(self, config: dict[str, Any]) -> dict[str, int]:
        """The memory and disk limits the server is created with (0 is unlimited: not counted)."""
        limits = self._limits(config)
        return {kind: limits[kind] for kind in ("memory", "disk") if limits[kind] > 0}

    def _limits(self, config: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
        current = current or {}
        defaults = {"memory": 1024, "swap": 0, "disk": 5120, "io": 500, "cpu": 100}
        limits: dict[str, Any] = {}
        for key, default in defaults.items():
            value = config.get(key, current.get(key, default))
            limits[key] = int(value)
        threads = config.get("threads", current.get("threads"))
        if threads not in (None, ""):
            limits["threads"] = str(threads)
        return limits

    def _feature_limits(self, config: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
        current = current or {}
        return {key: int(config.get(key, current.get(key) or 0)) for key in ("databases", "allocations", "backups")}

    def _deploy_block(self, config: dict[str, Any]) -> dict[str, Any] | None:
        locations = config.get("locations", config.get("location"))
        if locations is None:
            return None
        if not isinstance(locations, (list, tuple)):
            locations = [part for part in str(locations).replace(",", " ").split() if part]
        ports = config.get("port_range") or []
        if isinstance(ports, str):
            ports = [part.strip() for part in ports.split(",") if part.strip()]
        return {
            "locations": [int(x) for x in locations],
            "dedicated_ip": config_bool(config, "dedicated_ip", False),
            "port_range": [str(p) for p in ports],
        }

    def _node_id(self, api: Api, config: dict[str, Any], operation: str) -> int:
        wanted = config.get("node", api.server.node)
        if wanted in (None, ""):
            raise api.error(operation, "no node: set `node` or `location` in the product config, or the server's node", retryable=False, code="config")
        if str(wanted).isdigit():
            return int(wanted)
        for node in api.pages("/nodes", operation):
            if str(wanted) in (node.get("name"), node.get("fqdn")):
                return int(node["id"])
        raise api.error(operation, f"node {wanted!r} does not exist on the panel", retryable=False, code="config")

    def _free_allocation(self, api: Api, node_id: int, operation: str, attempt: int) -> int:
        free: list[int] = []
        page = 1
        while True:
            body = api.app("GET", f"/nodes/{node_id}/allocations", operation, params={"filter[server_id]": "0", "page": page, "per_page": PAGE_SIZE}).json()
            free.extend(e["attributes"]["id"] for e in body.get("data", []) if not e["attributes"].get("assigned"))
            pagination = (body.get("meta") or {}).get("pagination") or {}
            if free or page >= int(pagination.get("total_pages") or 1):
                break
            page += 1
        if not free:
            raise api.error(operation, f"node {node_id} has no free allocation", retryable=False, code="no_allocation")
        return free[0] if attempt == 0 else random.choice(free)

    def _watch_install(self, api: Api, attributes: dict[str, Any], operation: str) -> dict[str, Any]:
        """Poll the server for up to `install_wait_seconds` while it is installing."""
        wait = _install_wait_seconds(api.server)
        interval = max(0.01, config_float(api.server.config, "poll_interval", 0.5))
        deadline = time.monotonic() + wait
        current = attributes
        if "relationships" not in current:
            current = api.server_by_id(int(attributes["id"]), operation) or attributes
        while current.get("status") == "installing" and time.monotonic() < deadline:
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            current = api.server_by_id(int(attributes["id"]), operation) or current
        return current

    def suspend(self, service: ServiceRef) -> ModuleResult:
        """Suspend the server (the panel stops it and refuses power actions)."""
        return self._management(service, "suspend", "suspended")

    def unsuspend(self, service: ServiceRef) -> ModuleResult:
        """Lift the suspension."""
        return self._management(service, "unsuspend", "unsuspended")

    def reinstall(self, service: ServiceRef) -> ModuleResult:
        """Run the egg's install script again (the server shows installing meanwhile)."""
        return self._management(service, "reinstall", "reinstalling")

    def _management(self, service: ServiceRef, action: str, done: str) -> ModuleResult:
        api = self._api(service.server)
        server_id = service.external.get("server_id")
        if server_id is None:
            server_id = self._require(api, service, action)["id"]
        response = api.app("POST", f"/servers/{int(server_id)}/{action}", action, allow=(404,))
        if response.status_code == 404:
            found = api.server_by_external_id(service.uuid, action)
            if found is None:
                raise api.error(action, f"no server for service {service.id} on the panel", retryable=False, code="not_found", status=404)
            server_id = found["id"]
            api.app("POST", f"/servers/{int(server_id)}/{action}", action)
        return ModuleResult(message=f"server {server_id} {done}", external={"server_id": int(server_id)})

    def terminate(self, service: ServiceRef, *, force: bool = False) -> ModuleResult:
        """Delete the server; with its node down (Wings unreachable), or with `force`, by the
        panel's force delete, which removes the panel's record without the daemon."""
        operation = "terminate"
        api = self._api(service.server)
        found = self._located(api, service, operation)
        if found is None:
            return ModuleResult(message=f"no server for service {service.id} on the panel; nothing to delete")
        server_id = int(found["id"])
        note = " (forced)"
        if not force:
            try:
                response = api.app("DELETE", f"/servers/{server_id}", operation, allow=(404,))
            except ModuleError as error:
                if error.code != DAEMON_DOWN:
                    raise
                force, note = True, " (forced: its node's daemon did not answer)"
        if force:
            response = api.app("DELETE", f"/servers/{server_id}/force", operation, allow=(404,))
        if response.status_code == 404:
            return ModuleResult(message=f"server {server_id} was already deleted")
        return ModuleResult(message=f"server {server_id} deleted" + (note if force else ""))

    def change_package(self, service: ServiceRef, product: ProductRef, *, operation: str = "change package") -> ModuleResult:
        """Apply the target product's limits and feature limits with PATCH /build."""
        api = self._api(service.server)
        current = self._require(api, service, operation)
        limits = self._limits(product.config, current.get("limits") or {})
        features = self._feature_limits(product.config, current.get("feature_limits") or {})
        body = {"allocation": current["allocation"], "limits": limits, "feature_limits": features}
        if "oom_disabled" in product.config:
            body["oom_disabled"] = config_bool(product.config, "oom_disabled", True)
        updated = api.app("PATCH", f"/servers/{int(current['id'])}/build", operation, json=body).json()["attributes"]
        applied = updated.get("limits") or limits
        return ModuleResult(
            message=(f"server {updated['id']} now has {applied.get('memory')} MiB memory, {applied.get('disk')} MiB disk, {applied.get('cpu')} % CPU"),
            external={"server_id": int(updated["id"])},
        )

    def add_option(self, service: ServiceRef, option: dict[str, Any]) -> ModuleResult:
        """Apply the build with the service's options (an extra allocation raises the feature
        limit `allocations`, so the customer can add one from the panel) with PATCH /build."""
        if service.product is None:
            raise ModuleError(f"{PANEL}: the service has no product to build from", retryable=False, code="config")
        result = self.change_package(service, service.product, operation="add option")
        resource = option.get("resource")
        return ModuleResult(message=f"{option.get('name')}: {resource} {service.product.config.get(str(resource))}; {result.message}", external=result.external)

    def list_importable(self, server: ServerRef) -> list[ImportableResource]:
        """Every server on the panel, page by page."""
        api = self._api(server)
        resources = []
        for attributes in api.pages("/servers", "import", params={"include": "allocations"}):
            external = external_of(attributes)
            status = attributes.get("status") or "ready"
            limits = attributes.get("limits") or {}
            resources.append(
                ImportableResource(
                    external_ref=str(attributes["id"]),
                    name=attributes.get("name") or attributes.get("identifier") or str(attributes["id"]),
                    description=(f"{attributes.get('identifier')} · node {attributes.get('node')} · {status} · {limits.get('memory')} MiB"),
                    details={
                        "external": external,
                        "external_id": attributes.get("external_id"),
                        "user_id": attributes.get("user"),
                        "status": attributes.get("status"),
                        "limits": limits,
                    },
                )
            )
        return resources

    def list_resources(self, server: ServerRef, *, on_total: Callable[[int], None] | None = None) -> Iterator[PanelResource]:
        """Every server on the panel with its owner (`include=user`), a page of 100 at a time."""
        api = self._api(server)
        for attributes in api.each("/servers", "reconcile", params={"include": "user"}, on_total=on_total):
            owner = ((attributes.get("relationships") or {}).get("user") or {}).get("attributes") or {}
            limits = attributes.get("limits") or {}
            features = attributes.get("feature_limits") or {}
            status = attributes.get("status")
            suspended = attributes.get("suspended")
            yield PanelResource(
                key=str(attributes["id"]),
                name=str(attributes.get("name") or attributes.get("identifier") or attributes["id"]),
                external_id=attributes.get("external_id"),
                owner_email=str(owner["email"]).lower() if owner.get("email") else None,
                status=str(status) if status else "installed",
                suspended=bool(suspended) if suspended is not None else status == "suspended",
                limits={
                    **{key: limits.get(key) for key in BUILD_LIMITS},
                    **{key: features.get(key) for key in BUILD_FEATURES},
                },
                node=str(attributes.get("node")),
                busy=status in ("installing", "reinstalling"),
            )

    def transfer(self, service: ServiceRef, customer: CustomerRef) -> ModuleResult:
        """Give the server to the customer's panel user (found or created) with PATCH /details."""
        operation = "transfer"
        api = self._api(service.server)
        current = self._require(api, service, operation)
        owner = panel_user(api, customer, operation)
        body = {"name": current.get("name"), "user": owner.id, "external_id": current.get("external_id"), "description": current.get("description") or ""}
        api.app("PATCH", f"/servers/{int(current['id'])}/details", operation, json=body)
        return ModuleResult(
            message=f"server {current['id']} now belongs to {customer.email}",
            external={"server_id": int(current["id"]), "user_id": owner.id},
            credentials=owner.credentials,
        )

    def change_password(self, service: ServiceRef) -> ModuleResult:
        """A new generated password for the server owner's panel user (PATCH /users/{id});
        every server of that user on the panel shares the login."""
        operation = "change password"
        api = self._api(service.server)
        current = self._require(api, service, operation)
        user = set_new_password(api, int(current["user"]), operation)
        return ModuleResult(message=f"new password set for panel user {user.username}", credentials=user.credentials)

    def expected_build(self, config: dict[str, Any]) -> dict[str, Any]:
        """The limits and feature limits the product config sets (as the panel stores them)."""
        build: dict[str, Any] = {}
        for key in (*BUILD_LIMITS, *BUILD_FEATURES):
            if config.get(key) in (None, ""):
                continue
            build[key] = str(config[key]) if key == "threads" else int(config[key])
        return build

    # ----- live state --------------------------------------------------------------------------

    def panel(self, service: ServiceRef) -> PanelState:
        """Status from the Application API, live resources from the Client API when it has a key."""
        operation = "panel"
        api = self._api(service.server)
        attributes = self._require(api, service, operation)
        status = attributes.get("status")
        limits = attributes.get("limits") or {}
        details = {
            "server id": str(attributes["id"]),
            "identifier": str(attributes.get("identifier")),
            "node": str(attributes.get("node")),
            "image": str((attributes.get("container") or {}).get("image")),
        }
        addresses = [address] if (address := address_of(attributes)) else []
        actions = ["reinstall"]
        samples: dict[str, float] = {}
        resources: dict[str, str] = {
            "memory limit": limit_text(limits.get("memory"), "MiB"),
            "disk limit": limit_text(limits.get("disk"), "MiB"),
            "cpu limit": limit_text(limits.get("cpu"), "%"),
        }
        if status is None and api.client is not None:
            response = api.user_api("GET", f"/servers/{attributes['identifier']}/resources", operation, allow=(409,))
            if response.status_code == 200:
                stats = response.json()["attributes"]
                live = stats.get("resources") or {}
                status = stats.get("current_state") or "offline"
                resources.update(
                    {
                        "memory": f"{mib(live.get('memory_bytes', 0))} / {limit_text(limits.get('memory'), 'MiB')}",
                        "cpu": f"{live.get('cpu_absolute', 0):.1f} % / {limit_text(limits.get('cpu'), '%')}",
                        "disk": f"{mib(live.get('disk_bytes', 0))} / {limit_text(limits.get('disk'), 'MiB')}",
                        "network": f"rx {mib(live.get('network_rx_bytes', 0))}, tx {mib(live.get('network_tx_bytes', 0))}",
                        "uptime": duration_text(live.get("uptime", 0)),
                    }
                )
                samples = {
                    "cpu": float(live.get("cpu_absolute") or 0),
                    "memory": float(live.get("memory_bytes") or 0),
                    "network in": float(live.get("network_rx_bytes") or 0),
                    "network out": float(live.get("network_tx_bytes") or 0),
                }
                offered = {"running": ["stop", "restart", "kill"], "starting": ["stop", "kill"], "stopping": ["kill"], "offline": ["start"]}
                actions = offered.get(status, list(POWER_SIGNALS)) + actions
            else:
                status = "unavailable"
                details["client api"] = one_line(response.json().get("errors", [{}])[0].get("detail", "conflict"))
        elif status is None:
            status = "installed"
            details["client api"] = "no client key: live resources and power actions are off"
        return PanelState(status=str(status), resources=resources, addresses=addresses, actions=actions, details=details, samples=samples)

    def usage(self, service: ServiceRef, start: datetime, end: datetime) -> list[UsageReading]:
        """Traffic and disk from the Client API's `resources`: `network_rx_bytes` + `network_tx_bytes`
        (a counter since the container started: billing adds what came since the last reading)
        and `disk_bytes` (the disk in use now: billing keeps the period's highest), in GB."""
        operation = "usage"
        api = self._api(service.server)
        if api.client is None:
            raise api.error(operation, "no client key: the usage of a server is read from the Client API", retryable=False, code="config")
        identifier = service.external.get("identifier") or self._require(api, service, operation)["identifier"]
        live = (api.user_api("GET", f"/servers/{identifier}/resources", operation).json()["attributes"].get("resources")) or {}
        gigabyte = Decimal(10) ** 9

        def gb(*keys: str) -> Decimal:
            return (sum((Decimal(str(live.get(key) or 0)) for key in keys), Decimal(0)) / gigabyte).quantize(Decimal("0.001"))

        return [UsageReading("traffic_gb", gb("network_rx_bytes", "network_tx_bytes"), "counter"), UsageReading("disk_gb", gb("disk_bytes"), "peak")]

    def power(self, service: ServiceRef, signal: str) -> ModuleResult:
        """Send a power signal (start, stop, restart, kill) through the Client API."""
        operation = f"power {signal}"
        api = self._api(service.server)
        if signal not in POWER_SIGNALS:
            raise api.error(operation, f"unknown signal; use one of {', '.join(POWER_SIGNALS)}", retryable=False, code="invalid")
        identifier = service.external.get("identifier") or self._require(api, service, operation)["identifier"]
        api.user_api("POST", f"/servers/{identifier}/power", operation, json={"signal": signal})
        return ModuleResult(message=f"server {identifier}: {signal} sent")

    def tabs(self, service: ServiceRef) -> list[ModuleTab]:
        """Allocation (address, node) and Limits sub-tabs."""
        api = self._api(service.server)
        attributes = self._require(api, service, "tabs")
        allocation_rows: list[tuple[str, str]] = []
        for allocation in allocations_of(attributes):
            role = "default" if allocation.get("id") == attributes.get("allocation") else "additional"
            allocation_rows.append(
                (f"{allocation.get('ip')}:{allocation.get('port')}", f"{role}{', alias ' + allocation['alias'] if allocation.get('alias') else ''}")
            )
        allocation_rows.append(("node", str(attributes.get("node"))))
        limits = attributes.get("limits") or {}
        features = attributes.get("feature_limits") or {}
        limit_rows = [
            ("memory", limit_text(limits.get("memory"), "MiB")),
            ("swap", "unlimited" if limits.get("swap") == -1 else f"{limits.get('swap')} MiB"),
            ("disk", limit_text(limits.get("disk"), "MiB")),
            ("io weight", str(limits.get("io"))),
            ("cpu", limit_text(limits.get("cpu"), "%")),
            ("threads", str(limits.get("threads") or "any")),
            ("databases", str(features.get("databases"))),
            ("allocations", str(features.get("allocations"))),
            ("backups", str(features.get("backups"))),
        ]
        return [
            ModuleTab(key="allocation", title="Allocation", rows=allocation_rows),
            ModuleTab(key="limits", title="Limits", rows=limit_rows),
        ]
