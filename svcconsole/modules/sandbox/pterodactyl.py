"""An in-memory Pterodactyl panel: the Application API and the part of the Client API we use.

It follows the real panel (pterodactyl/panel 1.x): Fractal envelopes (`object`, `attributes`,
`meta.pagination`), the `{"errors": [{code, status, detail, meta}]}` error shape, Laravel's
validation messages and rule names, the rate limit counted per panel user (one bucket per API
shared by all of a user's keys, as the panel's RouteServiceProvider keys it by the user's uuid)
with its headers and a Retry-After up to the window (60 s), Wings-dependent actions that fail with `DaemonConnectionException` when a node is offline, and the install
process (`status: "installing"` until the install delay has passed).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from svcconsole.modules.sandbox.http import (
    FixedWindowRateLimiter,
    RateDecision,
    Request,
    Response,
    SandboxServer,
    iso_timestamp,
    json_response,
)

APPLICATION = "/api/application"
CLIENT = "/api/client"
READ, WRITE = 1, 2
RESOURCES = ("servers", "nodes", "allocations", "users", "locations", "nests", "eggs", "database_hosts", "server_databases")
"""The resources an application key has rights on (`r_<resource>`: 0 none, 1 read, 3 read & write)."""
_RESOURCE_OF_PATH = (
    (re.compile(r"^/nodes/\d+/allocations"), "allocations"),
    (re.compile(r"^/nests/\d+/eggs"), "eggs"),
    (re.compile(r"^/servers/\d+/databases"), "server_databases"),
    (re.compile(r"^/(servers|nodes|users|locations|nests|database_hosts)\b"), ""),
)
_RESOURCE_OF_INCLUDE = {"allocations": "allocations", "user": "users", "node": "nodes", "location": "locations", "egg": "eggs", "nest": "nests"}


def _resource_of(path: str) -> str | None:
    """The application API resource a path reads or changes (as its request class names it)."""
    for pattern, resource in _RESOURCE_OF_PATH:
        found = pattern.match(path)
        if found is not None:
            return resource or found.group(1)
    return None


NOT_FOUND_DETAIL = "The requested resource could not be found on the server."
DAEMON_DOWN_DETAIL = "Could not establish a connection to the machine running this server. Please try again."
USERNAME_PATTERN = re.compile(r"^[a-z0-9]([\w.-]+)[a-z0-9]$")
IMAGE_PATTERN = re.compile(r"^~?[\w./\-:@ ]*$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
THREADS_PATTERN = re.compile(r"^[0-9-,]+$")


def new_application_key() -> str:
    """A fresh application API key in the panel's `ptla_` format."""
    return "ptla_" + secrets.token_urlsafe(32)[:43]


def new_client_key() -> str:
    """A fresh client API key in the panel's `ptlc_` format."""
    return "ptlc_" + secrets.token_urlsafe(32)[:43]


class _ValidationFailed(Exception):
    """Laravel's ValidationException: a list of (field, rule, message)."""

    def __init__(self, errors: list[tuple[str, str, str]]) -> None:
        super().__init__(errors[0][2] if errors else "invalid")
        self.errors = errors


class _DisplayError(Exception):
    """An HTTP exception the panel renders with its class name as the error code."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def _attribute(name: str) -> str:
    return name.replace("_", " ")


def _lookup(data: Any, dotted: str) -> tuple[bool, Any]:
    current = data
    for part in dotted.split("."):
        if not isinstance(current, dict) or part not in current:
            return False, None
        current = current[part]
    return True, current


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return False


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()) is not None


class _Validator:
    """A small subset of Laravel's validator: one message per field, first failing rule wins."""

    def __init__(self, data: Any) -> None:
        self.data = data if isinstance(data, dict) else {}
        self.errors: list[tuple[str, str, str]] = []
        self._failed: set[str] = set()

    def fail(self, name: str, rule: str, message: str) -> None:
        if name not in self._failed:
            self._failed.add(name)
            self.errors.append((name, rule, message))

    def value(self, name: str) -> tuple[bool, Any]:
        return _lookup(self.data, name)

    def check(self, name: str, rules: str, *, label: str | None = None, extra: dict[str, Any] | None = None) -> None:
        """Apply pipe-separated rules to the field `name` (dotted for nested keys)."""
        attribute = label or _attribute(name)
        present, value = self.value(name)
        empty = not present or value is None or (isinstance(value, (str, list, dict)) and len(value) == 0)
        parts = [part for part in rules.split("|") if part]
        names = [part.split(":", 1)[0] for part in parts]
        if "required" in names and empty:
            self.fail(name, "required", f"The {attribute} field is required.")
            return
        if "present" in names and not present:
            self.fail(name, "present", f"The {attribute} field must be present.")
            return
        if "required_with" in names:
            other = parts[names.index("required_with")].split(":", 1)[1]
            other_present, _ = self.value(other)
            if other_present and empty:
                self.fail(name, "required_with", f"The {attribute} field is required when {other} is present.")
                return
        if empty:
            return
        numeric = "numeric" in names or "integer" in names
        for part in parts:
            rule, _, argument = part.partition(":")
            if not self._passes(rule, argument, value, extra or {}, numeric):
                self.fail(name, _snake(rule), self._message(rule, argument, attribute))
                return

    def _passes(self, rule: str, argument: str, value: Any, extra: dict[str, Any], numeric: bool) -> bool:
        if rule in ("required", "present", "required_with", "nullable", "sometimes"):
            return True
        if rule == "string":
            return isinstance(value, str)
        if rule == "array":
            return isinstance(value, (dict, list))
        if rule == "numeric":
            return _is_number(value)
        if rule == "integer":
            return _is_integer(value)
        if rule == "boolean":
            return value in (True, False, 0, 1, "0", "1", "true", "false")
        if rule == "email":
            return isinstance(value, str) and EMAIL_PATTERN.match(value) is not None
        if rule in ("min", "max", "between"):
            size = float(value) if numeric and _is_number(value) else len(value) if isinstance(value, (list, dict)) else len(str(value))
            bounds = [float(bound) for bound in argument.split(",")]
            if rule == "min":
                return size >= bounds[0]
            if rule == "max":
                return size <= bounds[0]
            return bounds[0] <= size <= bounds[1]
        if rule == "regex":
            pattern = extra.get("regex")
            return pattern is None or (isinstance(value, str) and pattern.match(value) is not None)
        if rule == "in":
            return str(value) in argument.split(",")
        if rule in ("unique", "exists", "username"):
            check = extra.get(rule)
            return check is None or check(value)
        return True

    def _message(self, rule: str, argument: str, attribute: str) -> str:
        if rule == "string":
            return f"The {attribute} must be a string."
        if rule == "array":
            return f"The {attribute} must be an array."
        if rule == "numeric":
            return f"The {attribute} must be a number."
        if rule == "integer":
            return f"The {attribute} must be an integer."
        if rule == "boolean":
            return f"The {attribute} field must be true or false."
        if rule == "email":
            return f"The {attribute} must be a valid email address."
        if rule == "min":
            return f"The {attribute} must be at least {argument}."
        if rule == "max":
            return f"The {attribute} may not be greater than {argument} characters."
        if rule == "between":
            low, high = argument.split(",")
            return f"The {attribute} must be between {low} and {high}."
        if rule == "regex":
            return f"The {attribute} format is invalid."
        if rule == "unique":
            return f"The {attribute} has already been taken."
        if rule == "username":
            return f"The {attribute} must start and end with alpha-numeric characters and contain only letters, numbers, dashes, underscores, and periods."
        return f"The selected {attribute} is invalid."

    def raise_if_failed(self) -> None:
        if self.errors:
            raise _ValidationFailed(self.errors)


def _snake(rule: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", rule).lower()


def _variable_rules(rules: str) -> tuple[str, dict[str, Any]]:
    """Split an egg variable's rule string, pulling out a `regex:` rule that may contain pipes."""
    extra: dict[str, Any] = {}
    found = re.search(r"regex:/(.*)/([a-z]*)", rules)
    if found:
        extra["regex"] = re.compile(found.group(1))
        rules = rules[: found.start()] + "regex" + rules[found.end() :]
    return rules, extra


@dataclass
class _User:
    id: int
    uuid: str
    username: str
    email: str
    first_name: str
    last_name: str
    external_id: str | None = None
    language: str = "en"
    root_admin: bool = False
    use_totp: bool = False
    password_hash: str | None = field(default=None, repr=False)
    """Set by a `password` on create or update; never in the API's answers (as the panel, which
    stores a bcrypt hash)."""
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)


def _hash_password(password: str) -> str:
    salt = secrets.token_hex(8)
    return f"{salt}${hashlib.sha256((salt + password).encode()).hexdigest()}"


@dataclass
class _Location:
    id: int
    short: str
    long: str
    created_at: float = field(default_factory=time.time)


@dataclass
class _Node:
    id: int
    uuid: str
    name: str
    location_id: int
    fqdn: str
    memory: int
    disk: int
    description: str = ""
    public: bool = True
    scheme: str = "https"
    behind_proxy: bool = False
    maintenance_mode: bool = False
    memory_overallocate: int = 0
    disk_overallocate: int = 0
    upload_size: int = 100
    daemon_listen: int = 8080
    daemon_sftp: int = 2022
    daemon_base: str = "/var/lib/pterodactyl/volumes"
    online: bool = True
    created_at: float = field(default_factory=time.time)


@dataclass
class _Allocation:
    id: int
    node_id: int
    ip: str
    port: int
    alias: str | None = None
    notes: str | None = None
    server_id: int | None = None


@dataclass
class _Nest:
    id: int
    uuid: str
    name: str
    description: str
    author: str = "support@pterodactyl.io"
    created_at: float = field(default_factory=time.time)


@dataclass
class _EggVariable:
    id: int
    egg_id: int
    name: str
    description: str
    env_variable: str
    default_value: str
    rules: str
    user_viewable: bool = True
    user_editable: bool = True
    created_at: float = field(default_factory=time.time)


@dataclass
class _Egg:
    id: int
    uuid: str
    nest_id: int
    name: str
    description: str
    docker_images: dict[str, str]
    startup: str
    variables: list[_EggVariable]
    author: str = "parker@pterodactyl.io"
    created_at: float = field(default_factory=time.time)


@dataclass
class _Server:
    id: int
    uuid: str
    external_id: str | None
    name: str
    description: str
    owner_id: int
    node_id: int
    allocation_id: int
    nest_id: int
    egg_id: int
    memory: int
    swap: int
    disk: int
    io: int
    cpu: int
    threads: str | None
    oom_disabled: bool
    database_limit: int | None
    allocation_limit: int | None
    backup_limit: int | None
    startup: str
    image: str
    environment: dict[str, str]
    status: str | None = "installing"
    install_done_at: float = 0.0
    install_outcome: str | None = None
    start_on_completion: bool = False
    power_state: str = "offline"
    power_queue: list[tuple[float, str]] = field(default_factory=list)
    started_at: float | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    @property
    def identifier(self) -> str:
        return self.uuid[:8]

    @property
    def installed(self) -> bool:
        return self.status not in ("installing", "install_failed")


@dataclass
class ExistingServer:
    """A server for `PterodactylSandbox.add_servers`: the panel ids a store already holds."""

    name: str
    external_id: str | None = None
    server_id: int | None = None
    identifier: str | None = None
    description: str = ""
    suspended: bool = False
    running: bool = True
    limits: dict[str, Any] = field(default_factory=dict)
    feature_limits: dict[str, Any] = field(default_factory=dict)


class PterodactylSandbox(SandboxServer):
    """A local, in-memory Pterodactyl panel, seeded with a location, a node, allocations, an egg."""

    kind = "pterodactyl"
    effect_faults = frozenset({"install_failed"})

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        application_keys: list[str] | None = None,
        client_keys: list[str] | None = None,
        rate_limit_per_minute: int | None = 240,
        client_rate_limit_per_minute: int | None = 720,
        rate_window_seconds: float = 60.0,
        install_delay: float = 0.3,
        power_delay: float = 0.05,
        allocations: int = 50,
        fault_delay: float = 2.0,
        verbose: bool = False,
        tls: bool = False,
    ) -> None:
        super().__init__(
            host=host,
            port=port,
            rate_limit_per_minute=rate_limit_per_minute,
            rate_window_seconds=rate_window_seconds,
            fault_delay=fault_delay,
            verbose=verbose,
            tls=tls,
        )
        self.application_keys = list(application_keys or [new_application_key()])
        self.client_keys = list(client_keys or [new_client_key()])
        self.key_owners: dict[str, int] = {}
        self.key_permissions: dict[str, dict[str, int]] = {}
        self._hidden_includes: frozenset[str] = frozenset()
        self.client_rate_limiter = FixedWindowRateLimiter(client_rate_limit_per_minute, rate_window_seconds)
        self.install_delay = install_delay
        self.power_delay = power_delay
        self.users: dict[int, _User] = {}
        self.locations: dict[int, _Location] = {}
        self.nodes: dict[int, _Node] = {}
        self.allocations: dict[int, _Allocation] = {}
        self.nests: dict[int, _Nest] = {}
        self.eggs: dict[int, _Egg] = {}
        self.servers: dict[int, _Server] = {}
        self._next_ids: dict[str, int] = {}
        self._seed(allocations)
        self._declare_routes()

    def add_key(self, key: str, *, owner: int = 1, permissions: dict[str, int] | None = None) -> None:
        """Accept another API key (`ptla_` application or `ptlc_` client) of panel user `owner`;
        the panel counts its rate limits per user, so keys of one user share the buckets. An
        application key's `permissions` ({resource: 0, 1 read or 3 read & write}; read & write on
        every resource by default) answer 403 to what they do not allow, and turn an include of
        a resource it may not read into a `null_resource`."""
        keys = self.client_keys if key.startswith("ptlc_") else self.application_keys
        if key not in keys:
            keys.append(key)
        self.key_owners[key] = owner
        if permissions is not None:
            self.key_permissions[key] = {resource: int(permissions.get(resource, 0)) for resource in RESOURCES}

    @property
    def application_key(self) -> str:
        """The first accepted application API key."""
        return self.application_keys[0]

    @property
    def client_key(self) -> str:
        """The first accepted client API key (it belongs to the seeded root admin)."""
        return self.client_keys[0]

    @property
    def credentials(self) -> str:
        """A credentials string for the adapter: the application key, a space, the client key."""
        return f"{self.application_key} {self.client_key}"

    def _next_id(self, table: str) -> int:
        value = self._next_ids.get(table, 0) + 1
        self._next_ids[table] = value
        return value

    def _seed(self, allocation_count: int) -> None:
        location = _Location(self._next_id("locations"), "sbx", "Sandbox datacenter")
        self.locations[location.id] = location
        node = _Node(
            id=self._next_id("nodes"),
            uuid=str(uuid.uuid4()),
            name="node-1",
            location_id=location.id,
            fqdn="node1.sandbox.test",
            memory=65536,
            disk=1_024_000,
            description="Sandbox Wings node",
        )
        self.nodes[node.id] = node
        self.add_allocations(node.id, allocation_count)
        nest = _Nest(self._next_id("nests"), str(uuid.uuid4()), "Minecraft", "Minecraft - the classic game from Mojang.")
        self.nests[nest.id] = nest
        egg_id = self._next_id("eggs")
        variables = [
            _EggVariable(
                self._next_id("egg_variables"),
                egg_id,
                "Minecraft Version",
                "The version of Minecraft to download. Leave at latest to always get the latest version.",
                "MINECRAFT_VERSION",
                "latest",
                "nullable|string|max:20",
            ),
            _EggVariable(
                self._next_id("egg_variables"),
                egg_id,
                "Server Jar File",
                "The name of the server jarfile to run the server with.",
                "SERVER_JARFILE",
                "server.jar",
                r"required|regex:/^([\w\d._-]+)(\.jar)$/",
            ),
            _EggVariable(
                self._next_id("egg_variables"),
                egg_id,
                "Build Number",
                "The build number for the paper release.",
                "BUILD_NUMBER",
                "latest",
                "required|string|max:20",
            ),
        ]
        self.eggs[egg_id] = _Egg(
            id=egg_id,
            uuid=str(uuid.uuid4()),
            nest_id=nest.id,
            name="Paper",
            description="High performance Spigot fork that aims to fix gameplay and mechanics inconsistencies.",
            docker_images={
                "Java 21": "ghcr.io/pterodactyl/yolks:java_21",
                "Java 17": "ghcr.io/pterodactyl/yolks:java_17",
            },
            startup="java -Xms128M -XX:MaxRAMPercentage=95.0 -Dterminal.jline=false -Dterminal.ansi=true -jar {{SERVER_JARFILE}}",
            variables=variables,
        )
        admin = _User(
            id=self._next_id("users"),
            uuid=str(uuid.uuid4()),
            username="admin",
            email="admin@sandbox.test",
            first_name="Sandbox",
            last_name="Admin",
            root_admin=True,
        )
        self.users[admin.id] = admin

    def add_allocations(self, node_id: int, count: int, ip: str = "10.0.0.10") -> list[int]:
        """Add `count` free allocations on a node, on the ports after the highest one in use."""
        with self.lock:
            ports = [a.port for a in self.allocations.values() if a.node_id == node_id and a.ip == ip]
            first = max(ports) + 1 if ports else 25565
            created = []
            for port in range(first, first + count):
                allocation = _Allocation(self._next_id("allocations"), node_id, ip, port)
                self.allocations[allocation.id] = allocation
                created.append(allocation.id)
            return created

    def set_node_online(self, node_id: int, online: bool) -> None:
        """Take a node's Wings daemon down (or bring it back): its servers' actions then fail."""
        with self.lock:
            self.nodes[node_id].online = online

    def set_install_delay(self, seconds: float) -> None:
        """How long a (re)install takes before `status` leaves "installing"."""
        with self.lock:
            self.install_delay = seconds

    def seed_servers(self, count: int, *, owner_id: int = 1, egg_id: int = 1, name_prefix: str = "seeded") -> list[int]:
        """Create `count` installed servers straight in the state (for benchmarks); returns their ids."""
        with self.lock:
            egg = self.eggs[egg_id]
            node_id = next(iter(self.nodes))
            free = [a for a in self.allocations.values() if a.server_id is None and a.node_id == node_id]
            if len(free) < count:
                self.add_allocations(node_id, count - len(free))
                free = [a for a in self.allocations.values() if a.server_id is None and a.node_id == node_id]
            ids = []
            for index in range(count):
                server = self._new_server(
                    name=f"{name_prefix}-{index + 1}",
                    owner_id=owner_id,
                    egg=egg,
                    allocation=free[index],
                    image=next(iter(egg.docker_images.values())),
                    startup=egg.startup,
                    environment={v.env_variable: v.default_value for v in egg.variables},
                    limits={"memory": 1024, "swap": 0, "disk": 5120, "io": 500, "cpu": 100},
                    feature_limits={"databases": 0, "allocations": 1, "backups": 0},
                    external_id=None,
                    description="",
                )
                server.status = None
                ids.append(server.id)
            return ids

    def add_servers(self, specs: Iterable[ExistingServer], *, owner_id: int = 1, egg_id: int = 1) -> list[int]:
        """Create installed servers straight in the state, with the ids a store already holds.

        For demos whose database was seeded before the panel existed: each server gets the
        `server_id`, `identifier` (the first 8 hex digits of its uuid) and `external_id` its
        spec gives (a fresh one for what is None), an allocation of its own, and is running,
        stopped or suspended. Raises ValueError, creating nothing, when a server id or an
        identifier is taken already. Returns the server ids.
        """
        wanted = list(specs)
        with self.lock:
            egg = self.eggs[egg_id]
            node_id = next(iter(self.nodes))
            ids = [spec.server_id for spec in wanted if spec.server_id is not None]
            identifiers = [spec.identifier.lower() for spec in wanted if spec.identifier]
            taken_ids = set(self.servers) & set(ids)
            taken_identifiers = {server.identifier for server in self.servers.values()} & set(identifiers)
            if taken_ids or taken_identifiers or len(set(ids)) != len(ids) or len(set(identifiers)) != len(identifiers):
                raise ValueError("add_servers: a server id or identifier is taken or given twice")
            if any(spec.identifier and not re.fullmatch(r"[0-9a-fA-F]{8}", spec.identifier) for spec in wanted):
                raise ValueError("add_servers: an identifier is 8 hexadecimal digits")
            allocations = self._fresh_allocations(node_id, len(wanted))
            issued = self._next_ids.get("servers", 0)
            self._next_ids["servers"] = max([issued, *self.servers, *ids])
            created = []
            now = time.time()
            for spec, allocation in zip(wanted, allocations, strict=True):
                limits = {"memory": 1024, "swap": 0, "disk": 5120, "io": 500, "cpu": 100, **spec.limits}
                features = {"databases": 0, "allocations": 1, "backups": 0, **spec.feature_limits}
                server = self._new_server(
                    name=spec.name,
                    owner_id=owner_id,
                    egg=egg,
                    allocation=allocation,
                    image=next(iter(egg.docker_images.values())),
                    startup=egg.startup,
                    environment={v.env_variable: v.default_value for v in egg.variables},
                    limits=limits,
                    feature_limits=features,
                    external_id=spec.external_id,
                    description=spec.description,
                )
                del self.servers[server.id]
                if spec.server_id is not None:
                    server.id = spec.server_id
                    allocation.server_id = server.id
                if spec.identifier:
                    server.uuid = spec.identifier.lower() + str(uuid.uuid4())[8:]
                server.status = "suspended" if spec.suspended else None
                if spec.running and not spec.suspended:
                    server.power_state, server.started_at = "running", now
                self.servers[server.id] = server
                created.append(server.id)
            self._next_ids["servers"] = max([issued, *self.servers])
            return created

    def _fresh_allocations(self, node_id: int, count: int) -> list[_Allocation]:
        """`count` new allocations on a node, over as many IPs as their ports need."""
        fresh: list[_Allocation] = []
        ip_index = 10
        while len(fresh) < count:
            ip = f"10.0.0.{ip_index}"
            highest = max((a.port for a in self.allocations.values() if a.node_id == node_id and a.ip == ip), default=25564)
            room = 65535 - highest
            if room > 0:
                added = self.add_allocations(node_id, min(room, count - len(fresh)), ip=ip)
                fresh.extend(self.allocations[allocation_id] for allocation_id in added)
            ip_index += 1
        return fresh

    def server_count(self) -> int:
        """How many servers exist."""
        with self.lock:
            return len(self.servers)

    def server_status(self, server_id: int) -> str | None:
        """A server's current `status` (after settling its install)."""
        with self.lock:
            server = self.servers[server_id]
            self._settle(server)
            return server.status

    def _declare_routes(self) -> None:
        a = APPLICATION
        number = r"(?P<%s>\d+)"
        self.route("GET", a + "/users", self._list_users)
        self.route("POST", a + "/users", self._create_user)
        self.route("GET", a + "/users/external/(?P<external_id>[^/]+)", self._get_external_user)
        self.route("GET", a + "/users/" + number % "user_id", self._get_user)
        self.route("PATCH", a + "/users/" + number % "user_id", self._update_user)
        self.route("DELETE", a + "/users/" + number % "user_id", self._delete_user)
        self.route("GET", a + "/locations", self._list_locations)
        self.route("GET", a + "/locations/" + number % "location_id", self._get_location)
        self.route("GET", a + "/nodes", self._list_nodes)
        self.route("GET", a + "/nodes/" + number % "node_id", self._get_node)
        self.route("GET", a + "/nodes/" + number % "node_id" + "/allocations", self._list_allocations)
        self.route("GET", a + "/nests", self._list_nests)
        self.route("GET", a + "/nests/" + number % "nest_id", self._get_nest)
        self.route("GET", a + "/nests/" + number % "nest_id" + "/eggs", self._list_eggs)
        self.route("GET", a + "/nests/" + number % "nest_id" + "/eggs/" + number % "egg_id", self._get_egg)
        self.route("GET", a + "/servers", self._list_servers)
        self.route("POST", a + "/servers", self._create_server)
        self.route("GET", a + "/servers/external/(?P<external_id>[^/]+)", self._get_external_server)
        self.route("GET", a + "/servers/" + number % "server_id", self._get_server)
        self.route("PATCH", a + "/servers/" + number % "server_id" + "/details", self._update_details)
        self.route("PATCH", a + "/servers/" + number % "server_id" + "/build", self._update_build)
        self.route("PATCH", a + "/servers/" + number % "server_id" + "/startup", self._update_startup)
        self.route("POST", a + "/servers/" + number % "server_id" + "/suspend", self._suspend)
        self.route("POST", a + "/servers/" + number % "server_id" + "/unsuspend", self._unsuspend)
        self.route("POST", a + "/servers/" + number % "server_id" + "/reinstall", self._reinstall)
        self.route("DELETE", a + "/servers/" + number % "server_id", self._delete_server)
        self.route("DELETE", a + "/servers/" + number % "server_id" + "/(?P<force>[^/]+)", self._delete_server)
        self.route("GET", CLIENT, self._client_list)
        self.route("GET", CLIENT + "/servers/(?P<identifier>[0-9a-f-]+)", self._client_view)
        self.route("GET", CLIENT + "/servers/(?P<identifier>[0-9a-f-]+)/resources", self._client_resources)
        self.route("POST", CLIENT + "/servers/(?P<identifier>[0-9a-f-]+)/power", self._client_power)

    # ----- framework hooks -------------------------------------------------------------------

    def error(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> Response:
        """The panel's error envelope for one error."""
        entry = {"code": code, "status": str(status), "detail": detail}
        return json_response(status, {"errors": [entry]}, headers)

    def authenticate(self, request: Request) -> str | Response:
        if request.path.startswith(APPLICATION):
            api = "application"
        elif request.path.startswith(CLIENT):
            api = "client"
        else:
            return self.not_found(request)
        header = request.header("Authorization")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if token in self.application_keys:
            key_type = "application"
        elif token in self.client_keys:
            key_type = "client"
        else:
            if "json" not in request.header("Accept").lower():
                return Response(302, b"", {"Location": "/auth/login"})
            return self.error(401, "AuthenticationException", "Unauthenticated.")
        if request.method in ("POST", "PATCH", "PUT") and request.body.strip() and "json" in request.header("Content-Type"):
            try:
                request.json_body()
            except ValueError as exc:
                return self.error(
                    400,
                    "BadRequestHttpException",
                    f"The JSON data passed in the request appears to be malformed: {exc}",
                )
        if api == "client" and key_type == "application":
            return self.error(
                403,
                "AccessDeniedHttpException",
                "You are attempting to use an application API key on an endpoint that requires a client API key.",
            )
        return f"{api}:user:{self.key_owners.get(token, 1)}"

    def _route(self, request: Request) -> Response:
        if request.path.startswith(APPLICATION):
            header = request.header("Authorization")
            token = header[7:].strip() if header[:7].lower() == "bearer " else ""
            rights = self.key_permissions.get(token)
            if rights is not None:
                resource = _resource_of(request.path[len(APPLICATION) :])
                needed = READ if request.method == "GET" else WRITE
                if resource is not None and not rights.get(resource, 0) & needed:
                    return self.error(403, "AccessDeniedHttpException", "This action is unauthorized.")
                self._hidden_includes = frozenset(include for include, resource in _RESOURCE_OF_INCLUDE.items() if not rights.get(resource, 0) & READ)
                try:
                    return super()._route(request)
                finally:
                    self._hidden_includes = frozenset()
        return super()._route(request)

    def limiter_for(self, key: str) -> FixedWindowRateLimiter:
        return self.client_rate_limiter if key.startswith("client:") else self.rate_limiter

    def handle_exception(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, _ValidationFailed):
            return self._validation_response(exc)
        if isinstance(exc, _DisplayError):
            return self.error(exc.status, exc.code, exc.detail)
        return super().handle_exception(request, exc)

    def set_rate_limit(self, per_minute: int | None, client_per_minute: int | None = None) -> None:
        """Set the Application API limit per key (None lifts it), and the Client API's when given."""
        super().set_rate_limit(per_minute)
        if client_per_minute is not None or not per_minute:
            self.client_rate_limiter.set_limit(client_per_minute)

    def _validation_response(self, exc: _ValidationFailed) -> Response:
        errors = [
            {
                "code": "ValidationException",
                "status": "422",
                "detail": message,
                "meta": {"source_field": name, "rule": rule},
            }
            for name, rule, message in exc.errors
        ]
        return json_response(422, {"errors": errors})

    def rate_limited_response(self, decision: RateDecision) -> Response:
        headers = {
            "Retry-After": str(decision.retry_after),
            "X-RateLimit-Limit": str(decision.limit or 0),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(decision.reset_at or time.time() + decision.retry_after)),
        }
        return self.error(429, "ThrottleRequestsException", "Too Many Attempts.", headers)

    def decorate(self, response: Response, decision: RateDecision) -> Response:
        if decision.limit is not None:
            response.headers.setdefault("X-RateLimit-Limit", str(decision.limit))
            response.headers.setdefault("X-RateLimit-Remaining", str(decision.remaining))
        return response

    def error_response(self, request: Request, status: int, message: str | None = None) -> Response:
        return self.error(
            status,
            "HttpException" if status != 500 else "ErrorException",
            message or "An unexpected error was encountered while processing this request, please try again.",
        )

    def not_found(self, request: Request) -> Response:
        return self.error(404, "NotFoundHttpException", NOT_FOUND_DETAIL)

    def method_not_allowed(self, request: Request) -> Response:
        return self.error(
            405,
            "MethodNotAllowedHttpException",
            f"The {request.method} method is not supported for this route.",
        )

    # ----- transformers ----------------------------------------------------------------------

    def _item(self, name: str, attributes: dict[str, Any]) -> dict[str, Any]:
        return {"object": name, "attributes": attributes}

    def _page(self, request: Request, name: str, rows: list[Any], transform: Any) -> Response:
        try:
            per_page = int(request.query.get("per_page") or 50)
            page = int(request.query.get("page") or 1)
        except ValueError:
            per_page, page = 50, 1
        per_page = max(per_page, 1)
        page = max(page, 1)
        total = len(rows)
        total_pages = max(1, -(-total // per_page))
        chunk = rows[(page - 1) * per_page : page * per_page]
        links: dict[str, str] = {}
        base = self.url + request.path
        if page > 1:
            links["previous"] = f"{base}?page={page - 1}"
        if page < total_pages:
            links["next"] = f"{base}?page={page + 1}"
        payload = {
            "object": "list",
            "data": [self._item(name, transform(row)) for row in chunk],
            "meta": {
                "pagination": {
                    "total": total,
                    "count": len(chunk),
                    "per_page": per_page,
                    "current_page": page,
                    "total_pages": total_pages,
                    "links": links,
                }
            },
        }
        return json_response(200, payload)

    def _includes(self, request: Request) -> set[str]:
        return {part.strip() for part in request.query.get("include", "").split(",") if part.strip()}

    def _user_attributes(self, user: _User) -> dict[str, Any]:
        return {
            "id": user.id,
            "external_id": user.external_id,
            "uuid": user.uuid,
            "username": user.username,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "language": user.language,
            "root_admin": user.root_admin,
            "2fa": user.use_totp,
            "created_at": iso_timestamp(user.created_at),
            "updated_at": iso_timestamp(user.updated_at),
        }

    def _location_attributes(self, location: _Location) -> dict[str, Any]:
        return {
            "id": location.id,
            "short": location.short,
            "long": location.long,
            "updated_at": iso_timestamp(location.created_at),
            "created_at": iso_timestamp(location.created_at),
        }

    def _node_attributes(self, node: _Node) -> dict[str, Any]:
        servers = [s for s in self.servers.values() if s.node_id == node.id]
        return {
            "id": node.id,
            "uuid": node.uuid,
            "public": node.public,
            "name": node.name,
            "description": node.description,
            "location_id": node.location_id,
            "fqdn": node.fqdn,
            "scheme": node.scheme,
            "behind_proxy": node.behind_proxy,
            "maintenance_mode": node.maintenance_mode,
            "memory": node.memory,
            "memory_overallocate": node.memory_overallocate,
            "disk": node.disk,
            "disk_overallocate": node.disk_overallocate,
            "upload_size": node.upload_size,
            "daemon_listen": node.daemon_listen,
            "daemon_sftp": node.daemon_sftp,
            "daemon_base": node.daemon_base,
            "created_at": iso_timestamp(node.created_at),
            "updated_at": iso_timestamp(node.created_at),
            "allocated_resources": {
                "memory": sum(s.memory for s in servers),
                "disk": sum(s.disk for s in servers),
            },
        }

    def _allocation_attributes(self, allocation: _Allocation) -> dict[str, Any]:
        return {
            "id": allocation.id,
            "ip": allocation.ip,
            "alias": allocation.alias,
            "port": allocation.port,
            "notes": allocation.notes,
            "assigned": allocation.server_id is not None,
        }

    def _variable_attributes(self, variable: _EggVariable) -> dict[str, Any]:
        return {
            "id": variable.id,
            "egg_id": variable.egg_id,
            "name": variable.name,
            "description": variable.description,
            "env_variable": variable.env_variable,
            "default_value": variable.default_value,
            "user_viewable": variable.user_viewable,
            "user_editable": variable.user_editable,
            "rules": variable.rules,
            "created_at": iso_timestamp(variable.created_at),
            "updated_at": iso_timestamp(variable.created_at),
        }

    def _egg_attributes(self, egg: _Egg, includes: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "id": egg.id,
            "uuid": egg.uuid,
            "name": egg.name,
            "nest": egg.nest_id,
            "author": egg.author,
            "description": egg.description,
            "docker_image": next(iter(egg.docker_images.values()), ""),
            "docker_images": dict(egg.docker_images),
            "config": {
                "files": {},
                "startup": {"done": ")! For help, type "},
                "stop": "stop",
                "logs": {},
                "file_denylist": [],
                "extends": None,
            },
            "startup": egg.startup,
            "script": {
                "privileged": True,
                "install": "#!/bin/ash\n# Paper Installation Script\n",
                "entry": "ash",
                "container": "ghcr.io/pterodactyl/installers:alpine",
                "extends": None,
            },
            "created_at": iso_timestamp(egg.created_at),
            "updated_at": iso_timestamp(egg.created_at),
        }
        relationships: dict[str, Any] = {}
        if "variables" in includes:
            relationships["variables"] = {
                "object": "list",
                "data": [self._item("egg_variable", self._variable_attributes(v)) for v in egg.variables],
            }
        if "nest" in includes:
            relationships["nest"] = self._item("nest", self._nest_attributes(self.nests[egg.nest_id]))
        if relationships:
            attributes["relationships"] = relationships
        return attributes

    def _nest_attributes(self, nest: _Nest) -> dict[str, Any]:
        return {
            "id": nest.id,
            "uuid": nest.uuid,
            "author": nest.author,
            "name": nest.name,
            "description": nest.description,
            "created_at": iso_timestamp(nest.created_at),
            "updated_at": iso_timestamp(nest.created_at),
        }

    def _environment(self, server: _Server) -> dict[str, Any]:
        environment: dict[str, Any] = dict(server.environment)
        environment["STARTUP"] = server.startup
        environment["P_SERVER_LOCATION"] = self.locations[self.nodes[server.node_id].location_id].short
        environment["P_SERVER_UUID"] = server.uuid
        environment["P_SERVER_ALLOCATION_LIMIT"] = server.allocation_limit
        return environment

    def _server_attributes(self, server: _Server, includes: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
        self._settle(server)
        attributes: dict[str, Any] = {
            "id": server.id,
            "external_id": server.external_id,
            "uuid": server.uuid,
            "identifier": server.identifier,
            "name": server.name,
            "description": server.description,
            "status": server.status,
            "suspended": server.status == "suspended",
            "limits": {
                "memory": server.memory,
                "swap": server.swap,
                "disk": server.disk,
                "io": server.io,
                "cpu": server.cpu,
                "threads": server.threads,
                "oom_disabled": server.oom_disabled,
            },
            "feature_limits": {
                "databases": server.database_limit,
                "allocations": server.allocation_limit,
                "backups": server.backup_limit,
            },
            "user": server.owner_id,
            "node": server.node_id,
            "allocation": server.allocation_id,
            "nest": server.nest_id,
            "egg": server.egg_id,
            "container": {
                "startup_command": server.startup,
                "image": server.image,
                "installed": 1 if server.installed else 0,
                "environment": self._environment(server),
            },
            "updated_at": iso_timestamp(server.updated_at),
            "created_at": iso_timestamp(server.created_at),
        }
        relationships: dict[str, Any] = {include: {"object": "null_resource", "attributes": None} for include in includes & self._hidden_includes}
        includes = includes - self._hidden_includes
        if "allocations" in includes:
            owned = [a for a in self.allocations.values() if a.server_id == server.id]
            relationships["allocations"] = {
                "object": "list",
                "data": [self._item("allocation", self._allocation_attributes(a)) for a in owned],
            }
        if "user" in includes:
            relationships["user"] = self._item("user", self._user_attributes(self.users[server.owner_id]))
        if "node" in includes:
            relationships["node"] = self._item("node", self._node_attributes(self.nodes[server.node_id]))
        if "location" in includes:
            node = self.nodes[server.node_id]
            relationships["location"] = self._item("location", self._location_attributes(self.locations[node.location_id]))
        if "egg" in includes:
            relationships["egg"] = self._item("egg", self._egg_attributes(self.eggs[server.egg_id]))
        if "nest" in includes:
            relationships["nest"] = self._item("nest", self._nest_attributes(self.nests[server.nest_id]))
        if relationships:
            attributes["relationships"] = relationships
        return attributes

    # ----- state helpers ---------------------------------------------------------------------

    def _settle(self, server: _Server) -> None:
        now = time.monotonic()
        if server.status == "installing" and now >= server.install_done_at:
            server.status = server.install_outcome
            server.updated_at = time.time()
            if server.status is None and server.start_on_completion:
                server.power_state = "running"
                server.started_at = time.time()
        while server.power_queue and server.power_queue[0][0] <= now:
            _, state = server.power_queue.pop(0)
            server.power_state = state
            if state == "running":
                server.started_at = time.time()
            elif state == "offline":
                server.started_at = None

    def _find_server(self, server_id: str) -> _Server:
        server = self.servers.get(int(server_id))
        if server is None:
            raise _DisplayError(404, "NotFoundHttpException", NOT_FOUND_DETAIL)
        self._settle(server)
        return server

    def _require_daemon(self, node_id: int) -> None:
        if not self.nodes[node_id].online:
            raise _DisplayError(504, "DaemonConnectionException", DAEMON_DOWN_DETAIL)

    def _start_install(self, server: _Server, request: Request, *, reinstall: bool) -> None:
        failed = request.fault is not None and request.fault.kind == "install_failed"
        server.status = "installing"
        server.install_done_at = time.monotonic() + self.install_delay
        server.install_outcome = ("reinstall_failed" if reinstall else "install_failed") if failed else None
        server.power_state = "offline"
        server.power_queue.clear()
        server.started_at = None
        server.updated_at = time.time()

    def _new_server(
        self,
        *,
        name: str,
        owner_id: int,
        egg: _Egg,
        allocation: _Allocation,
        image: str,
        startup: str,
        environment: dict[str, str],
        limits: dict[str, Any],
        feature_limits: dict[str, Any],
        external_id: str | None,
        description: str,
        start_on_completion: bool = False,
        oom_disabled: bool = True,
    ) -> _Server:
        def as_int(value: Any, default: int = 0) -> int:
            return default if value is None else int(float(value))

        def as_limit(value: Any) -> int | None:
            return None if value is None else int(float(value))

        server = _Server(
            id=self._next_id("servers"),
            uuid=str(uuid.uuid4()),
            external_id=external_id,
            name=name,
            description=description or "",
            owner_id=owner_id,
            node_id=allocation.node_id,
            allocation_id=allocation.id,
            nest_id=egg.nest_id,
            egg_id=egg.id,
            memory=as_int(limits.get("memory")),
            swap=as_int(limits.get("swap")),
            disk=as_int(limits.get("disk")),
            io=as_int(limits.get("io"), 500),
            cpu=as_int(limits.get("cpu")),
            threads=limits.get("threads"),
            oom_disabled=bool(oom_disabled),
            database_limit=as_limit(feature_limits.get("databases")),
            allocation_limit=as_limit(feature_limits.get("allocations")),
            backup_limit=as_limit(feature_limits.get("backups")),
            startup=startup,
            image=image,
            environment=environment,
            start_on_completion=start_on_completion,
            install_done_at=time.monotonic() + self.install_delay,
        )
        allocation.server_id = server.id
        self.servers[server.id] = server
        return server

    # ----- users -----------------------------------------------------------------------------

    def _check_filters(self, request: Request, allowed: Iterable[str]) -> None:
        """400 for a `filter[...]` the list does not allow, as spatie's QueryBuilder answers."""
        names = list(allowed)
        unknown = [
            key[len("filter[") : -1] for key in request.query if key.startswith("filter[") and key.endswith("]") and key[len("filter[") : -1] not in names
        ]
        if unknown:
            raise _DisplayError(
                400, "InvalidFilterQuery", f"Requested filter(s) `{', '.join(unknown)}` are not allowed. Allowed filter(s) are `{', '.join(names)}`."
            )

    def _filtered(self, request: Request, rows: list[Any], fields: dict[str, str]) -> list[Any]:
        self._check_filters(request, fields)
        for query_name, attribute in fields.items():
            wanted = request.query.get(f"filter[{query_name}]")
            if wanted is None or wanted == "":
                continue
            rows = [r for r in rows if wanted.lower() in str(getattr(r, attribute) or "").lower()]
        return rows

    def _list_users(self, request: Request) -> Response:
        rows = sorted(self.users.values(), key=lambda u: u.id)
        rows = self._filtered(
            request,
            rows,
            {"email": "email", "uuid": "uuid", "username": "username", "external_id": "external_id"},
        )
        return self._page(request, "user", rows, self._user_attributes)

    def _get_user(self, request: Request, user_id: str) -> Response:
        user = self.users.get(int(user_id))
        if user is None:
            return self.not_found(request)
        return json_response(200, self._item("user", self._user_attributes(user)))

    def _get_external_user(self, request: Request, external_id: str) -> Response:
        for user in self.users.values():
            if user.external_id == external_id:
                return json_response(200, self._item("user", self._user_attributes(user)))
        return self.not_found(request)

    def password_matches(self, user_id: int, password: str) -> bool:
        """Whether `password` is the panel user's (for tests: the API never tells)."""
        stored = self.users[user_id].password_hash
        if stored is None:
            return False
        salt, digest = stored.split("$", 1)
        return hashlib.sha256((salt + password).encode()).hexdigest() == digest

    def _validate_user(self, data: dict[str, Any], editing: _User | None = None) -> None:
        """The panel's user rules (`User::$validationRules`): on update the same fields are
        required, unique among the other users."""
        others = [u for u in self.users.values() if editing is None or u.id != editing.id]
        validator = _Validator(data)
        taken_emails = {u.email.lower() for u in others}
        taken_usernames = {u.username for u in others}
        taken_external = {u.external_id for u in others if u.external_id}
        validator.check("external_id", "sometimes|nullable|string|max:191|unique", extra={"unique": lambda v: v not in taken_external})
        validator.check("email", "required|email|between:1,191|unique", extra={"unique": lambda v: str(v).lower() not in taken_emails})
        validator.check(
            "username",
            "required|between:1,191|unique|username",
            extra={
                "unique": lambda v: str(v).lower() not in taken_usernames,
                "username": lambda v: USERNAME_PATTERN.match(str(v).lower()) is not None,
            },
        )
        validator.check("password", "sometimes|nullable|string")
        validator.check("language", "string")
        validator.check("root_admin", "boolean")
        validator.check("first_name", "required|string|between:1,191")
        validator.check("last_name", "required|string|between:1,191")
        validator.raise_if_failed()

    def _create_user(self, request: Request) -> Response:
        data = request.json_body() or {}
        self._validate_user(data)
        user = _User(
            id=self._next_id("users"),
            uuid=str(uuid.uuid4()),
            username=str(data["username"]).lower(),
            email=str(data["email"]),
            first_name=str(data["first_name"]),
            last_name=str(data["last_name"]),
            external_id=data.get("external_id"),
            language=data.get("language") or "en",
            root_admin=bool(data.get("root_admin", False)),
            password_hash=_hash_password(str(data["password"])) if data.get("password") else None,
        )
        self.users[user.id] = user
        payload = self._item("user", self._user_attributes(user))
        payload["meta"] = {"resource": f"{self.url}{APPLICATION}/users/{user.id}"}
        return json_response(201, payload)

    def _update_user(self, request: Request, user_id: str) -> Response:
        """PATCH /users/{id}: email, username, first and last name are required again; a
        non-empty `password` replaces the user's."""
        user = self.users.get(int(user_id))
        if user is None:
            return self.not_found(request)
        data = request.json_body() or {}
        self._validate_user(data, editing=user)
        user.email = str(data["email"])
        user.username = str(data["username"]).lower()
        user.first_name = str(data["first_name"])
        user.last_name = str(data["last_name"])
        if "external_id" in data:
            user.external_id = data.get("external_id")
        if data.get("language"):
            user.language = str(data["language"])
        if "root_admin" in data:
            user.root_admin = bool(data["root_admin"])
        if data.get("password"):
            user.password_hash = _hash_password(str(data["password"]))
        user.updated_at = time.time()
        return json_response(200, self._item("user", self._user_attributes(user)))

    def _delete_user(self, request: Request, user_id: str) -> Response:
        user = self.users.get(int(user_id))
        if user is None:
            return self.not_found(request)
        if any(s.owner_id == user.id for s in self.servers.values()):
            return self.error(400, "DisplayException", "Cannot delete a user with active servers attached to thier account.")
        del self.users[user.id]
        return Response(204)

    # ----- locations, nodes, allocations, nests, eggs ------------------------------------------

    def _list_locations(self, request: Request) -> Response:
        rows = sorted(self.locations.values(), key=lambda row: row.id)
        return self._page(request, "location", rows, self._location_attributes)

    def _get_location(self, request: Request, location_id: str) -> Response:
        location = self.locations.get(int(location_id))
        if location is None:
            return self.not_found(request)
        return json_response(200, self._item("location", self._location_attributes(location)))

    def _list_nodes(self, request: Request) -> Response:
        rows = sorted(self.nodes.values(), key=lambda row: row.id)
        return self._page(request, "node", rows, self._node_attributes)

    def _get_node(self, request: Request, node_id: str) -> Response:
        node = self.nodes.get(int(node_id))
        if node is None:
            return self.not_found(request)
        return json_response(200, self._item("node", self._node_attributes(node)))

    def _list_allocations(self, request: Request, node_id: str) -> Response:
        node = self.nodes.get(int(node_id))
        if node is None:
            return self.not_found(request)
        rows = sorted((a for a in self.allocations.values() if a.node_id == node.id), key=lambda a: a.id)
        self._check_filters(request, ("ip", "port", "ip_alias", "server_id"))
        if "filter[ip]" in request.query:
            rows = [a for a in rows if a.ip == request.query["filter[ip]"]]
        if "filter[port]" in request.query:
            rows = [a for a in rows if str(a.port) == request.query["filter[port]"]]
        if "filter[server_id]" in request.query:
            wanted = request.query["filter[server_id]"]
            if wanted.isdigit() and wanted.lstrip("0"):
                rows = [a for a in rows if a.server_id == int(wanted)]
            else:
                rows = [a for a in rows if a.server_id is None]
        return self._page(request, "allocation", rows, self._allocation_attributes)

    def _list_nests(self, request: Request) -> Response:
        rows = sorted(self.nests.values(), key=lambda row: row.id)
        return self._page(request, "nest", rows, self._nest_attributes)

    def _get_nest(self, request: Request, nest_id: str) -> Response:
        nest = self.nests.get(int(nest_id))
        if nest is None:
            return self.not_found(request)
        return json_response(200, self._item("nest", self._nest_attributes(nest)))

    def _list_eggs(self, request: Request, nest_id: str) -> Response:
        if int(nest_id) not in self.nests:
            return self.not_found(request)
        includes = self._includes(request)
        rows = sorted((e for e in self.eggs.values() if e.nest_id == int(nest_id)), key=lambda e: e.id)
        return self._page(request, "egg", rows, lambda egg: self._egg_attributes(egg, includes))

    def _get_egg(self, request: Request, nest_id: str, egg_id: str) -> Response:
        egg = self.eggs.get(int(egg_id))
        if egg is None or egg.nest_id != int(nest_id):
            return self.not_found(request)
        return json_response(200, self._item("egg", self._egg_attributes(egg, self._includes(request))))

    # ----- servers -----------------------------------------------------------------------------

    def _list_servers(self, request: Request) -> Response:
        rows = sorted(self.servers.values(), key=lambda s: s.id)
        rows = self._filtered(
            request,
            rows,
            {
                "uuid": "uuid",
                "uuidShort": "identifier",
                "name": "name",
                "description": "description",
                "image": "image",
                "external_id": "external_id",
            },
        )
        includes = self._includes(request)
        return self._page(request, "server", rows, lambda s: self._server_attributes(s, includes))

    def _get_server(self, request: Request, server_id: str) -> Response:
        server = self._find_server(server_id)
        return json_response(200, self._item("server", self._server_attributes(server, self._includes(request))))

    def _get_external_server(self, request: Request, external_id: str) -> Response:
        for server in self.servers.values():
            if server.external_id == external_id:
                return json_response(200, self._item("server", self._server_attributes(server, self._includes(request))))
        return self.not_found(request)

    def _create_server(self, request: Request) -> Response:
        data = request.json_body() or {}
        if not isinstance(data, dict):
            data = {}
        validator = _Validator(data)
        taken_external = {s.external_id for s in self.servers.values() if s.external_id}
        validator.check("external_id", "sometimes|nullable|string|between:1,191|unique", extra={"unique": lambda v: v not in taken_external})
        validator.check("name", "required|string|min:1|max:191")
        validator.check("description", "nullable|string")
        validator.check("user", "required|integer|exists", extra={"exists": lambda v: int(v) in self.users})
        validator.check("egg", "required|exists", extra={"exists": lambda v: _is_integer(v) and int(v) in self.eggs})
        validator.check("docker_image", "required|string|max:191|regex", extra={"regex": IMAGE_PATTERN})
        validator.check("startup", "required|string")
        validator.check("environment", "present|array")
        validator.check("skip_scripts", "sometimes|boolean")
        validator.check("oom_disabled", "sometimes|boolean")
        validator.check("limits", "required|array")
        validator.check("limits.memory", "required|numeric|min:0")
        validator.check("limits.swap", "required|numeric|min:-1")
        validator.check("limits.disk", "required|numeric|min:0")
        validator.check("limits.io", "required|numeric|between:10,1000")
        validator.check("limits.threads", "nullable|regex", extra={"regex": THREADS_PATTERN})
        validator.check("limits.cpu", "required|numeric|min:0")
        validator.check("feature_limits", "required|array")
        validator.check("feature_limits.databases", "present|nullable|integer|min:0")
        validator.check("feature_limits.allocations", "sometimes|nullable|integer|min:0")
        validator.check("feature_limits.backups", "present|nullable|integer|min:0")
        deploy = data.get("deploy")
        if deploy:
            validator.check("deploy", "required|array")
            validator.check("deploy.dedicated_ip", "required_with:deploy|boolean")
            validator.check("deploy.locations", "present|array")
            validator.check("deploy.port_range", "present|array")
        else:
            free = {a.id for a in self.allocations.values() if a.server_id is None}
            validator.check("allocation.default", "required|integer|exists", extra={"exists": lambda v: int(v) in free})
        validator.check("start_on_completion", "sometimes|boolean")
        validator.raise_if_failed()

        egg = self.eggs[int(data["egg"])]
        if deploy:
            allocation = self._deploy_allocation(deploy, data["limits"])
        else:
            allocation = self.allocations[int(data["allocation"]["default"])]
        environment = self._validate_environment(egg, data.get("environment") or {})
        self._require_daemon(allocation.node_id)
        server = self._new_server(
            name=str(data["name"]),
            owner_id=int(data["user"]),
            egg=egg,
            allocation=allocation,
            image=str(data["docker_image"]),
            startup=str(data["startup"]),
            environment=environment,
            limits=data["limits"],
            feature_limits=data["feature_limits"],
            external_id=data.get("external_id"),
            description=data.get("description") or "",
            start_on_completion=bool(data.get("start_on_completion", False)),
            oom_disabled=bool(data.get("oom_disabled", True)),
        )
        self._start_install(server, request, reinstall=False)
        return json_response(201, self._item("server", self._server_attributes(server)))

    def _deploy_allocation(self, deploy: dict[str, Any], limits: dict[str, Any]) -> _Allocation:
        locations = {int(x) for x in deploy.get("locations") or []}
        memory = float(limits.get("memory") or 0)
        disk = float(limits.get("disk") or 0)
        viable_nodes = []
        for node in sorted(self.nodes.values(), key=lambda n: n.id):
            if locations and node.location_id not in locations:
                continue
            used = [s for s in self.servers.values() if s.node_id == node.id]
            memory_cap = node.memory * (1 + node.memory_overallocate / 100)
            disk_cap = node.disk * (1 + node.disk_overallocate / 100)
            if sum(s.memory for s in used) + memory > memory_cap or sum(s.disk for s in used) + disk > disk_cap:
                continue
            viable_nodes.append(node)
        if not viable_nodes:
            raise _DisplayError(
                400,
                "NoViableNodeException",
                "No nodes satisfying the requirements specified for automatic deployment could be found.",
            )
        ports = self._port_set(deploy.get("port_range") or [])
        taken_ips = {(a.node_id, a.ip) for a in self.allocations.values() if a.server_id is not None}
        for node in viable_nodes:
            for allocation in sorted(self.allocations.values(), key=lambda a: a.id):
                if allocation.node_id != node.id or allocation.server_id is not None:
                    continue
                if ports and allocation.port not in ports:
                    continue
                if deploy.get("dedicated_ip") and (node.id, allocation.ip) in taken_ips:
                    continue
                return allocation
        raise _DisplayError(
            400,
            "NoViableAllocationException",
            "No allocations satisfying the requirements for automatic deployment were found.",
        )

    @staticmethod
    def _port_set(ranges: list[str]) -> set[int]:
        ports: set[int] = set()
        for item in ranges:
            text = str(item)
            if "-" in text:
                low, high = (int(x) for x in text.split("-", 1))
                ports.update(range(low, high + 1))
            elif text.isdigit():
                ports.add(int(text))
        return ports

    def _validate_environment(self, egg: _Egg, given: dict[str, Any]) -> dict[str, str]:
        validator = _Validator({"environment": {v.env_variable: given.get(v.env_variable) for v in egg.variables}})
        for variable in egg.variables:
            rules, extra = _variable_rules(variable.rules)
            validator.check(f"environment.{variable.env_variable}", rules, label=f"{variable.name} variable", extra=extra)
        validator.raise_if_failed()
        return {v.env_variable: "" if given.get(v.env_variable) is None else str(given[v.env_variable]) for v in egg.variables}

    def _update_details(self, request: Request, server_id: str) -> Response:
        server = self._find_server(server_id)
        data = request.json_body() or {}
        validator = _Validator(data)
        taken_external = {s.external_id for s in self.servers.values() if s.external_id and s.id != server.id}
        validator.check("external_id", "sometimes|nullable|string|between:1,191|unique", extra={"unique": lambda v: v not in taken_external})
        validator.check("name", "required|string|min:1|max:191")
        validator.check("user", "required|integer|exists", extra={"exists": lambda v: int(v) in self.users})
        validator.check("description", "nullable|string")
        validator.raise_if_failed()
        server.name = str(data["name"])
        server.owner_id = int(data["user"])
        server.external_id = data.get("external_id")
        server.description = data.get("description") or ""
        server.updated_at = time.time()
        return json_response(200, self._item("server", self._server_attributes(server)))

    def _update_startup(self, request: Request, server_id: str) -> Response:
        server = self._find_server(server_id)
        data = request.json_body() or {}
        validator = _Validator(data)
        validator.check("startup", "required|string")
        validator.check("environment", "present|array")
        validator.check("egg", "required|integer|exists", extra={"exists": lambda v: _is_integer(v) and int(v) in self.eggs})
        validator.check("image", "required|string|max:191")
        validator.check("skip_scripts", "present|boolean")
        validator.raise_if_failed()
        egg = self.eggs[int(data["egg"])]
        server.startup = str(data["startup"])
        server.image = str(data["image"])
        server.egg_id, server.nest_id = egg.id, egg.nest_id
        server.environment = {**server.environment, **{str(k): str(v) for k, v in dict(data["environment"] or {}).items()}}
        server.updated_at = time.time()
        return json_response(200, self._item("server", self._server_attributes(server)))

    def _update_build(self, request: Request, server_id: str) -> Response:
        server = self._find_server(server_id)
        data = request.json_body() or {}
        validator = _Validator(data)
        others = {s.allocation_id for s in self.servers.values() if s.id != server.id}
        validator.check(
            "allocation",
            "required|exists|unique",
            extra={
                "exists": lambda v: _is_integer(v) and int(v) in self.allocations,
                "unique": lambda v: int(v) not in others,
            },
        )
        validator.check("oom_disabled", "sometimes|boolean")
        has_limits = isinstance(data.get("limits"), dict)
        rules = {
            "memory": "numeric|min:0",
            "swap": "numeric|min:-1",
            "io": "numeric|between:10,1000",
            "cpu": "numeric|min:0",
            "threads": "nullable|regex",
            "disk": "numeric|min:0",
        }
        for name, rule in rules.items():
            extra = {"regex": THREADS_PATTERN}
            required = "" if name == "threads" else ("required_with:limits|" if has_limits else "required|")
            validator.check(f"limits.{name}" if has_limits else name, required + rule, extra=extra)
        validator.check("feature_limits", "required|array")
        validator.check("feature_limits.databases", "present|nullable|integer|min:0")
        validator.check("feature_limits.allocations", "sometimes|nullable|integer|min:0")
        validator.check("feature_limits.backups", "present|nullable|integer|min:0")
        validator.raise_if_failed()
        allocation = self.allocations[int(data["allocation"])]
        if allocation.server_id != server.id:
            raise _DisplayError(400, "DisplayException", "The requested default allocation is not currently assigned to this server.")
        limits = data["limits"] if has_limits else data
        server.allocation_id = allocation.id
        for name in ("memory", "swap", "disk", "io", "cpu"):
            if limits.get(name) is not None:
                setattr(server, name, int(float(limits[name])))
        if "threads" in limits:
            server.threads = limits.get("threads")
        if "oom_disabled" in data:
            server.oom_disabled = bool(data["oom_disabled"])
        features = data["feature_limits"]
        server.database_limit = features.get("databases")
        server.allocation_limit = features.get("allocations", server.allocation_limit)
        server.backup_limit = features.get("backups")
        server.updated_at = time.time()
        return json_response(200, self._item("server", self._server_attributes(server)))

    def _suspend(self, request: Request, server_id: str) -> Response:
        server = self._find_server(server_id)
        if server.status != "suspended":
            self._require_daemon(server.node_id)
            server.status = "suspended"
            server.power_state = "offline"
            server.power_queue.clear()
            server.started_at = None
            server.updated_at = time.time()
        return Response(204)

    def _unsuspend(self, request: Request, server_id: str) -> Response:
        server = self._find_server(server_id)
        if server.status == "suspended":
            self._require_daemon(server.node_id)
            server.status = None
            server.updated_at = time.time()
        return Response(204)

    def _reinstall(self, request: Request, server_id: str) -> Response:
        server = self._find_server(server_id)
        self._require_daemon(server.node_id)
        self._start_install(server, request, reinstall=True)
        return Response(204)

    def _delete_server(self, request: Request, server_id: str, force: str = "") -> Response:
        server = self._find_server(server_id)
        if force != "force":
            self._require_daemon(server.node_id)
        for allocation in self.allocations.values():
            if allocation.server_id == server.id:
                allocation.server_id = None
        del self.servers[server.id]
        return Response(204)

    # ----- client API --------------------------------------------------------------------------

    def _client_server(self, identifier: str, *, allow_installing: bool = False) -> _Server:
        for server in self.servers.values():
            if server.identifier == identifier or server.uuid == identifier:
                self._settle(server)
                if not allow_installing:
                    self._validate_state(server)
                return server
        raise _DisplayError(404, "NotFoundHttpException", "The requested resource does not exist on this server.")

    def _validate_state(self, server: _Server) -> None:
        message = None
        if server.status == "suspended":
            message = "This server is currently suspended and the functionality requested is unavailable."
        elif not server.installed:
            message = "This server has not yet completed its installation process, please try again later."
        if message:
            raise _DisplayError(409, "ConflictHttpException", message)

    def _client_attributes(self, server: _Server) -> dict[str, Any]:
        node = self.nodes[server.node_id]
        allocations = [a for a in self.allocations.values() if a.server_id == server.id]
        return {
            "server_owner": True,
            "identifier": server.identifier,
            "internal_id": server.id,
            "uuid": server.uuid,
            "name": server.name,
            "node": node.name,
            "is_node_under_maintenance": node.maintenance_mode,
            "sftp_details": {"ip": node.fqdn, "port": node.daemon_sftp},
            "description": server.description,
            "limits": {
                "memory": server.memory,
                "swap": server.swap,
                "disk": server.disk,
                "io": server.io,
                "cpu": server.cpu,
                "threads": server.threads,
                "oom_disabled": server.oom_disabled,
            },
            "invocation": server.startup.replace("{{SERVER_JARFILE}}", server.environment.get("SERVER_JARFILE", "")),
            "docker_image": server.image,
            "egg_features": ["eula", "java_version", "pid_limit"],
            "feature_limits": {
                "databases": server.database_limit,
                "allocations": server.allocation_limit,
                "backups": server.backup_limit,
            },
            "status": server.status,
            "is_suspended": server.status == "suspended",
            "is_installing": not server.installed,
            "is_transferring": False,
            "relationships": {
                "allocations": {
                    "object": "list",
                    "data": [
                        self._item(
                            "allocation",
                            {
                                "id": a.id,
                                "ip": a.ip,
                                "ip_alias": a.alias,
                                "port": a.port,
                                "notes": a.notes,
                                "is_default": a.id == server.allocation_id,
                            },
                        )
                        for a in allocations
                    ],
                }
            },
        }

    def _client_list(self, request: Request) -> Response:
        """The key owner's servers; with `type=admin` (root admins) the others, `admin-all` all,
        `owner` only those it owns (the sandbox has no subusers: owned is accessible)."""
        header = request.header("Authorization")
        owner = self.users.get(self.key_owners.get(header[7:].strip(), 1))
        kind = request.query.get("type", "")
        rows = sorted(self.servers.values(), key=lambda s: s.id)
        if kind in ("admin", "admin-all"):
            if owner is None or not owner.root_admin:
                rows = []
            elif kind == "admin":
                rows = [server for server in rows if server.owner_id != owner.id]
        else:
            rows = [server for server in rows if owner is not None and server.owner_id == owner.id]
        for server in rows:
            self._settle(server)
        return self._page(request, "server", rows, self._client_attributes)

    def _client_view(self, request: Request, identifier: str) -> Response:
        server = self._client_server(identifier, allow_installing=True)
        return json_response(200, self._item("server", self._client_attributes(server)))

    def _client_resources(self, request: Request, identifier: str) -> Response:
        server = self._client_server(identifier)
        self._require_daemon(server.node_id)
        state = server.power_state
        running = state in ("running", "starting", "stopping")
        uptime_ms = int((time.time() - server.started_at) * 1000) if server.started_at and state == "running" else 0
        memory_limit_bytes = (server.memory or 1024) * 1024 * 1024
        attributes = {
            "current_state": state,
            "is_suspended": server.status == "suspended",
            "resources": {
                "memory_bytes": int(memory_limit_bytes * 0.42) if running else 0,
                "cpu_absolute": round(7.5 + server.id % 10, 3) if running else 0,
                "disk_bytes": (150 + server.id % 50) * 1024 * 1024,
                "network_rx_bytes": uptime_ms * 2 if running else 0,
                "network_tx_bytes": uptime_ms if running else 0,
                "uptime": uptime_ms,
            },
        }
        return json_response(200, self._item("stats", attributes))

    def _client_power(self, request: Request, identifier: str) -> Response:
        server = self._client_server(identifier)
        data = request.json_body() or {}
        validator = _Validator(data)
        validator.check("signal", "required|string|in:start,stop,restart,kill")
        validator.raise_if_failed()
        self._require_daemon(server.node_id)
        now = time.monotonic()
        delay = self.power_delay
        signal = data["signal"]
        server.power_queue.clear()
        if signal == "start" and server.power_state in ("offline", "stopping"):
            server.power_state = "starting"
            server.power_queue = [(now + delay, "running")]
        elif signal == "stop" and server.power_state in ("running", "starting"):
            server.power_state = "stopping"
            server.power_queue = [(now + delay, "offline")]
        elif signal == "restart":
            server.power_state = "stopping"
            server.power_queue = [(now + delay, "starting"), (now + 2 * delay, "running")]
        elif signal == "kill":
            server.power_state = "offline"
            server.started_at = None
        return Response(204)
