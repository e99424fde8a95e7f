"""An in-memory Proxmox VE cluster: the `/api2/json` routes a delivery module uses.

It follows the real API (pve-manager, qemu-server, pve-http-server): every answer is
`{"data": ...}`; a refused token gets 401 with the reason in the status line; parameter errors
are 400 "Parameter verification failed." with `errors` per parameter; other failures are 500
with the message in the status line and in `message`; clone, start, stop, suspend, resume,
shutdown, reboot, async config and destroy return a UPID and run as tasks whose
`exitstatus` is "OK", "WARNINGS: N" (a success that logged N `WARN:` lines; fault
"task_warnings") or the error text. As on PVE, a clone's config is written inside its task:
the new VMID does not exist until `clone_config_delay` after the POST (half the task by
default), then holds only `lock: clone` until the task ends; `/nodes/{node}/tasks` lists tasks.
The rate limit is a sandbox addition (a real PVE has none; a reverse proxy in front may).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from svcconsole.modules.sandbox.http import (
    RateDecision,
    Request,
    Response,
    SandboxServer,
    json_response,
)

PREFIX = "/api2/json"
JSON_TYPE = "application/json;charset=UTF-8"
TOKEN_PATTERN = re.compile(r"^(?P<user>[^!\s=]+@[^!\s=]+)!(?P<tokenid>[A-Za-z][A-Za-z0-9._-]*)=(?P<secret>\S+)$")
TOKEN_FORMAT = "a Proxmox API token looks like USER@REALM!TOKENID=SECRET"
DNS_NAME = re.compile(r"^(?=.{1,255}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")
GIB = 1024**3
MIB = 1024**2
ERROR_TEXT_MODES = ("both", "status_line", "body")
DEFAULT_TASK_WARNING = "no efidisk configured! Using temporary efivars disk."
"""The warning a "task_warnings" fault logs when it names none (one a real PVE start logs)."""


def new_token(user: str = "root@pam", token_id: str = "svcconsole") -> str:
    """A fresh API token string `USER@REALM!TOKENID=SECRET` (the secret is a UUID, as in PVE)."""
    return f"{user}!{token_id}={uuid.uuid4()}"


class _ApiError(Exception):
    """A failure the API renders as an HTTP status with the message in the status line."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}


def _param_error(errors: dict[str, str]) -> _ApiError:
    return _ApiError(400, "Parameter verification failed.", errors)


BOOLEAN_VALUES = {"1": True, "0": False, "true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}


@dataclass
class _Param:
    """One parameter of an endpoint's schema: type, bounds, format, enumeration."""

    kind: str = "string"
    optional: bool = True
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] = ()
    format: str | None = None


def _check_params(given: dict[str, Any], schema: dict[str, _Param], families: tuple[tuple[re.Pattern[str], _Param], ...] = ()) -> dict[str, Any]:
    """Validate and convert parameters as PVE's JSON schema does, collecting every error;
    `families` are numbered keys (scsi0, net1...) given by a pattern."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, raw in given.items():
        spec = schema.get(name) or next((param for pattern, param in families if pattern.fullmatch(name)), None)
        if spec is None:
            errors[name] = "property is not defined in schema and the schema does not allow additional properties"
            continue
        text = str(raw).strip() if not isinstance(raw, bool) else ("1" if raw else "0")
        if spec.kind == "integer":
            if not re.fullmatch(r"[+-]?\d+", text):
                errors[name] = f"type check ('integer') failed - got '{raw}'"
                continue
            number = int(text)
            if spec.minimum is not None and number < spec.minimum:
                errors[name] = f"value must have a minimum value of {spec.minimum}"
                continue
            if spec.maximum is not None and number > spec.maximum:
                errors[name] = f"value must have a maximum value of {spec.maximum}"
                continue
            values[name] = number
        elif spec.kind == "boolean":
            if text.lower() not in BOOLEAN_VALUES:
                errors[name] = f"type check ('boolean') failed - got '{raw}'"
                continue
            values[name] = BOOLEAN_VALUES[text.lower()]
        else:
            if spec.enum and text not in spec.enum:
                errors[name] = f"value '{text}' does not have a value in the enumeration '{', '.join(spec.enum)}'"
                continue
            if spec.format == "dns-name" and not DNS_NAME.match(text):
                errors[name] = "value does not look like a valid DNS name"
                continue
            if spec.format == "memory" and not re.fullmatch(r"(current=)?\d+", text):
                errors[name] = "invalid format - value without key, but schema does not define a default key"
                continue
            if spec.format == "memory":
                amount = int(text.removeprefix("current="))
                if amount < 16:
                    errors[name] = "invalid format - current: value must have a minimum value of 16"
                    continue
            values[name] = text
    for name, spec in schema.items():
        if not spec.optional and name not in given:
            errors[name] = "property is missing and it is not optional"
    if errors:
        raise _param_error(errors)
    return values


PASSWORD_MASK = "**********"
CRYPTED = re.compile(r"^\$(?:[156]|2[ay])(\$.+){2}")
"""A value PVE takes as hashed already (its check before `encrypt_pw`)."""
DRIVE_KEY = re.compile(r"^(ide|scsi|sata|virtio)\d+$")
CLOUDINIT_KEYS = frozenset({"ciuser", "cipassword", "sshkeys", "ipconfig0", "nameserver", "searchdomain", "citype"})


def _crypt(password: str, salt: str | None = None) -> str:
    """A `$5$salt$digest` string in the shape of crypt(3) (a sandbox stand-in for PVE's encrypt_pw)."""
    salt = salt or secrets.token_hex(8)
    return f"$5${salt}${hashlib.sha256((salt + password).encode()).hexdigest()}"


CONFIG_SCHEMA = {
    "cores": _Param("integer", minimum=1, maximum=8192),
    "sockets": _Param("integer", minimum=1, maximum=16),
    "memory": _Param(format="memory"),
    "balloon": _Param("integer", minimum=0),
    "name": _Param(format="dns-name"),
    "description": _Param(),
    "tags": _Param(),
    "onboot": _Param("boolean"),
    "cpu": _Param(),
    "ostype": _Param(),
    "net0": _Param(),
    "ipconfig0": _Param(),
    "ciuser": _Param(),
    "cipassword": _Param(),
    "sshkeys": _Param(),
    "delete": _Param(),
    "digest": _Param(),
    "skiplock": _Param("boolean"),
    "agent": _Param(),
    "boot": _Param(),
    "bootdisk": _Param(),
    "scsihw": _Param(enum=("lsi", "lsi53c810", "virtio-scsi-pci", "virtio-scsi-single", "megasas", "pvscsi")),
    "bios": _Param(enum=("seabios", "ovmf")),
    "machine": _Param(),
    "vga": _Param(),
    "numa": _Param("boolean"),
    "vcpus": _Param("integer", minimum=1),
    "cpulimit": _Param(),
    "cpuunits": _Param("integer", minimum=1, maximum=262144),
    "hotplug": _Param(),
    "protection": _Param("boolean"),
    "startup": _Param(),
    "citype": _Param(enum=("configdrive2", "nocloud", "opennebula")),
    "cicustom": _Param(),
    "nameserver": _Param(),
    "searchdomain": _Param(),
    "efidisk0": _Param(),
    "tpmstate0": _Param(),
}
CONFIG_FAMILIES = (
    (re.compile(r"(scsi([0-9]|[12][0-9]|30)|virtio([0-9]|1[0-5])|sata[0-5]|ide[0-3])"), _Param()),
    (re.compile(r"(net|ipconfig)([0-9]|[12][0-9]|3[01])"), _Param()),
    (re.compile(r"(serial|usb|hostpci)[0-9]"), _Param()),
    (re.compile(r"unused[0-9]+"), _Param()),
)
"""Numbered config keys: disks, NICs and their IP configs, serial ports, passthrough."""
CLONE_SCHEMA = {
    "newid": _Param("integer", optional=False, minimum=100, maximum=999_999_999),
    "name": _Param(format="dns-name"),
    "description": _Param(),
    "pool": _Param(),
    "snapname": _Param(),
    "storage": _Param(),
    "format": _Param(enum=("raw", "qcow2", "vmdk")),
    "full": _Param("boolean"),
    "target": _Param(),
    "bwlimit": _Param("integer", minimum=0),
}
ACTION_SCHEMAS = {
    "start": {"timeout": _Param("integer", minimum=0), "skiplock": _Param("boolean")},
    "stop": {"timeout": _Param("integer", minimum=0), "skiplock": _Param("boolean"), "keepActive": _Param("boolean"), "overrule-shutdown": _Param("boolean")},
    "shutdown": {"timeout": _Param("integer", minimum=0), "forceStop": _Param("boolean"), "keepActive": _Param("boolean"), "skiplock": _Param("boolean")},
    "reboot": {"timeout": _Param("integer", minimum=0)},
    "suspend": {"todisk": _Param("boolean"), "statestorage": _Param(), "skiplock": _Param("boolean")},
    "resume": {"skiplock": _Param("boolean"), "nocheck": _Param("boolean")},
}
TASK_NAMES = {
    "start": "qmstart",
    "stop": "qmstop",
    "shutdown": "qmshutdown",
    "reboot": "qmreboot",
    "suspend": "qmpause",
    "resume": "qmresume",
}
TASK_LIST_SCHEMA = {
    "vmid": _Param("integer", minimum=100, maximum=999_999_999),
    "typefilter": _Param(),
    "userfilter": _Param(),
    "statusfilter": _Param(),
    "source": _Param(enum=("archive", "active", "all")),
    "errors": _Param("boolean"),
    "start": _Param("integer", minimum=0),
    "limit": _Param("integer", minimum=0),
    "since": _Param("integer"),
    "until": _Param("integer"),
}

RRD_STEPS = {"hour": 60, "day": 30 * 60, "week": 180 * 60, "month": 720 * 60, "year": 10080 * 60}
"""Seconds between two points of each time frame, as PVE's RRD keeps them; each frame has RRD_POINTS."""
RRD_POINTS = 70
RRDDATA_SCHEMA = {"timeframe": _Param(enum=tuple(RRD_STEPS), optional=False), "cf": _Param(enum=("AVERAGE", "MAX"))}

DESTROY_SCHEMA = {
    "purge": _Param("boolean"),
    "destroy-unreferenced-disks": _Param("boolean"),
    "skiplock": _Param("boolean"),
}


@dataclass
class _Vm:
    vmid: int
    node: str
    config: dict[str, Any]
    status: str = "stopped"
    qmpstatus: str = "stopped"
    started_at: float | None = None
    pid: int | None = None
    cloudinit_drive: dict[str, Any] = field(default_factory=dict)
    """The cloud-init settings as last written to its drive (`PUT .../cloudinit`)."""

    @property
    def template(self) -> bool:
        return str(self.config.get("template", "0")) == "1"

    @property
    def lock(self) -> str | None:
        return self.config.get("lock")


def _agent_enabled(vm: _Vm) -> bool:
    """Whether the VM's config enables the guest agent (`agent: 1` or `agent: enabled=1,...`)."""
    value = str(vm.config.get("agent", "0"))
    first = value.split(",")[0]
    return first.removeprefix("enabled=") in ("1", "true", "yes", "on")


def _guest_interfaces(vm: _Vm) -> list[dict[str, Any]]:
    """The interfaces a Debian guest reports: loopback, then eth0 with the address cloud-init
    gave it (`ipconfig0`) or one its DHCP server handed out, and a link-local IPv6 address."""
    found = re.search(r"ip=(\d+\.\d+\.\d+\.\d+)/(\d+)", str(vm.config.get("ipconfig0", "")))
    ipv4, prefix = (found.group(1), int(found.group(2))) if found else (f"10.20.{vm.vmid // 256 % 256}.{vm.vmid % 256}", 24)
    mac_found = re.search(r"=([0-9A-Fa-f:]{17})", str(vm.config.get("net0", "")))
    mac = (mac_found.group(1) if mac_found else "bc:24:11:00:00:00").lower()
    return [
        {
            "name": "lo",
            "hardware-address": "00:00:00:00:00:00",
            "ip-addresses": [
                {"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8},
                {"ip-address-type": "ipv6", "ip-address": "::1", "prefix": 128},
            ],
            "statistics": {"rx-bytes": 0, "rx-dropped": 0, "rx-errs": 0, "rx-packets": 0, "tx-bytes": 0, "tx-dropped": 0, "tx-errs": 0, "tx-packets": 0},
        },
        {
            "name": "eth0",
            "hardware-address": mac,
            "ip-addresses": [
                {"ip-address-type": "ipv4", "ip-address": ipv4, "prefix": prefix},
                {"ip-address-type": "ipv6", "ip-address": "fe80::be24:11ff:fe00:" + format(vm.vmid % 65536, "x"), "prefix": 64},
            ],
            "statistics": {
                "rx-bytes": 1048576,
                "rx-dropped": 0,
                "rx-errs": 0,
                "rx-packets": 900,
                "tx-bytes": 524288,
                "tx-dropped": 0,
                "tx-errs": 0,
                "tx-packets": 600,
            },
        },
    ]


@dataclass
class _Task:
    upid: str
    node: str
    type: str
    id: str
    user: str
    pid: int
    pstart: int
    starttime: int
    ends_at: float
    finish: Callable[[], str | None]
    status: str = "running"
    exitstatus: str | None = None
    log: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ExistingVm:
    """A VM for `ProxmoxSandbox.add_vms`: what a store already holds for it."""

    name: str
    description: str = ""
    vmid: int | None = None
    state: str = "running"
    cores: int | None = None
    memory: int | None = None


ALL_PRIVILEGES = frozenset(
    {
        "VM.Audit",
        "VM.Allocate",
        "VM.Clone",
        "VM.Config.CPU",
        "VM.Config.Memory",
        "VM.Config.Disk",
        "VM.Config.Network",
        "VM.Config.Options",
        "VM.Config.HWType",
        "VM.Config.Cloudinit",
        "VM.PowerMgmt",
        "VM.Console",
        "VM.Monitor",
        "VM.Migrate",
        "Datastore.Audit",
        "Datastore.AllocateSpace",
        "SDN.Use",
        "SDN.Audit",
        "Sys.Audit",
        "Sys.Modify",
        "Pool.Audit",
    }
)
"""The privileges a root-equivalent token holds (the part of PVE's list the sandbox checks)."""

AUDITOR_PRIVILEGES = frozenset({"VM.Audit", "Datastore.Audit", "SDN.Audit", "Sys.Audit", "Pool.Audit"})
"""The PVEAuditor role: read everything, change nothing."""

_CONFIG_PRIVILEGES = (
    (re.compile(r"^(cores|sockets|cpu|cpulimit|cpuunits|numa|vcpus)$"), "VM.Config.CPU"),
    (re.compile(r"^(memory|balloon|shares)$"), "VM.Config.Memory"),
    (re.compile(r"^(scsi|virtio|sata|ide|efidisk|tpmstate)\d+$"), "VM.Config.Disk"),
    (re.compile(r"^net\d+$"), "VM.Config.Network"),
    (re.compile(r"^(ipconfig\d+|ciuser|cipassword|sshkeys|nameserver|searchdomain|citype)$"), "VM.Config.Cloudinit"),
    (re.compile(r"^(scsihw|machine|bios|vga|serial\d+)$"), "VM.Config.HWType"),
)


def _config_privilege(key: str) -> str:
    """The privilege PVE's config update checks for one key."""
    for pattern, privilege in _CONFIG_PRIVILEGES:
        if pattern.match(key):
            return privilege
    return "VM.Config.Options"


def _privileges_needed(request: Request, params: dict[str, Any]) -> list[tuple[str, str]]:
    """The (ACL path, privilege) pairs a request needs, in the order PVE checks them."""
    vm = re.search(r"/qemu/(\d+)(/.*)?$", request.path)
    if vm is None:
        if request.method != "GET":
            return [("/", "Sys.Modify")]
        return []
    acl, rest = f"/vms/{vm.group(1)}", vm.group(2) or ""
    if request.method == "GET":
        if rest.startswith("/agent/"):
            return [(acl, "VM.Monitor")]
        return [(acl, "VM.Audit")] if rest in ("/config", "/status/current", "/pending", "/rrddata") else []
    if rest == "/clone":
        needed = [(acl, "VM.Clone"), (f"/vms/{params.get('newid', '')}", "VM.Allocate")]
        if str(params.get("full", "1")) not in ("0", "false", "no"):
            needed.append((f"/storage/{params.get('storage') or 'local-lvm'}", "Datastore.AllocateSpace"))
        needed.append(("/sdn/zones/localnetwork/vmbr0", "SDN.Use"))
        return needed
    if rest.startswith("/status/"):
        return [(acl, "VM.PowerMgmt")]
    if rest == "/cloudinit":
        return [(acl, "VM.Config.Cloudinit")]
    if rest == "/config":
        keys = [key for key in params if key not in ("digest", "skiplock", "delete")]
        keys += [key.strip() for key in str(params.get("delete", "")).split(",") if key.strip()]
        return [(acl, privilege) for privilege in dict.fromkeys(_config_privilege(key) for key in keys)]
    return [(acl, "VM.Allocate")]


class ProxmoxSandbox(SandboxServer):
    """A local, in-memory Proxmox VE cluster with one node and a Debian 12 template (vmid 9000)."""

    kind = "proxmox"
    effect_faults = frozenset({"task_error", "task_warnings"})

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: list[str] | None = None,
        rate_limit_per_minute: int | None = 240,
        rate_window_seconds: float = 60.0,
        task_delay: float = 0.3,
        nodes: tuple[str, ...] = ("pve1",),
        auth_failure_delay: float = 0.0,
        fault_delay: float = 2.0,
        verbose: bool = False,
        tls: bool = False,
        error_text: str = "both",
        clone_config_delay: float | None = None,
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
        self.error_text = "both"
        self.set_error_text(error_text)
        self.tokens: dict[tuple[str, str], str] = {}
        self.token_privileges: dict[str, frozenset[str]] = {}
        for token in tokens or [new_token()]:
            self.add_token(token)
        self.task_delay = task_delay
        self.clone_config_delay = clone_config_delay
        self._pending_clones: dict[int, tuple[float, _Vm]] = {}
        self.auth_failure_delay = auth_failure_delay
        self.node_names = list(nodes)
        self.offline_nodes: set[str] = set()
        self.booted_at = time.time()
        self.clock: Callable[[], float] = time.time
        """What the cluster reads as now for uptimes and the RRD history (a test may fix it, so what it draws stays the same)."""
        self.agents_down: set[int] = set()
        self.vms: dict[int, _Vm] = {}
        self.tasks: dict[str, _Task] = {}
        self._pid = 40000
        self._seed()
        self._declare_routes()

    def add_token(self, token: str, *, read_only: bool = False, privileges: Iterable[str] | None = None) -> None:
        """Accept another API token (`USER@REALM!TOKENID=SECRET`) holding `privileges` (all by
        default; a `read_only` one holds PVEAuditor's). A missing privilege is a 403 "Permission
        check failed (PATH, PRIVILEGE)"; VMs without VM.Audit are left out of lists silently."""
        found = TOKEN_PATTERN.match(token)
        if found is None:
            raise ValueError(TOKEN_FORMAT)
        self.tokens[(found["user"], found["tokenid"])] = found["secret"]
        identity = f"{found['user']}!{found['tokenid']}"
        held = AUDITOR_PRIVILEGES if read_only else ALL_PRIVILEGES if privileges is None else privileges
        self.token_privileges[identity] = frozenset(held)

    @property
    def token(self) -> str:
        """The first accepted token, as the adapter's credentials string."""
        (user, token_id), secret = next(iter(self.tokens.items()))
        return f"{user}!{token_id}={secret}"

    def set_node_online(self, node: str, online: bool) -> None:
        """Take a node down (requests proxied to it answer 595) or bring it back."""
        with self.lock:
            if online:
                self.offline_nodes.discard(node)
            else:
                self.offline_nodes.add(node)

    def migrate(self, vmid: int, node: str) -> None:
        """Move a VM to another node of the cluster, as a migration done outside svcconsole would."""
        with self.lock:
            if node not in self.node_names:
                raise ValueError(f"migrate: no node {node!r}")
            self.vms[vmid].node = node

    def set_guest_agent(self, vmid: int, running: bool) -> None:
        """Start or stop the QEMU guest agent inside a VM's guest (it runs in every running VM
        whose config enables it, unless stopped here)."""
        with self.lock:
            if running:
                self.agents_down.discard(vmid)
            else:
                self.agents_down.add(vmid)

    def set_task_delay(self, seconds: float) -> None:
        """How long a task (clone, start, stop...) runs before it stops."""
        with self.lock:
            self.task_delay = seconds

    def _seed(self) -> None:
        self.vms[9000] = _Vm(
            vmid=9000,
            node=self.node_names[0],
            config={
                "name": "debian-12-template",
                "description": "Debian 12 cloud-init template",
                "template": 1,
                "cores": 2,
                "sockets": 1,
                "memory": "2048",
                "ostype": "l26",
                "scsihw": "virtio-scsi-single",
                "scsi0": "local-lvm:base-9000-disk-0,iothread=1,size=20G",
                "ide2": "local-lvm:vm-9000-cloudinit,media=cdrom",
                "net0": "virtio=BC:24:11:00:90:00,bridge=vmbr0,firewall=1",
                "boot": "order=scsi0",
                "agent": "1",
                "smbios1": f"uuid={uuid.uuid4()}",
                "vmgenid": str(uuid.uuid4()),
                "meta": "creation-qemu=8.1.5,ctime=1704067200",
            },
        )

    def add_vms(self, specs: Iterable[ExistingVm], *, template: int = 9000, node: str | None = None) -> list[int]:
        """Create VMs straight in the state, as finished full clones of `template`.

        For demos whose database was seeded before the cluster existed: each VM gets the
        name and description its spec gives (the proxmox module trusts a stored vmid only when
        the description holds the service uuid), its cores and memory, and is running, paused
        or stopped. A vmid that is None or taken is replaced by the lowest free one. Returns
        the vmids, in the order of `specs`.
        """
        with self.lock:
            source = self.vms[template]
            target = node or source.node
            if target not in self.node_names:
                raise ValueError(f"add_vms: no node {target!r}")
            base = {k: v for k, v in source.config.items() if k not in ("template", "lock", "description")}
            wanted = list(specs)
            claimed: set[int] = set()
            vmids: list[int | None] = []
            for spec in wanted:
                keep = spec.vmid is not None and spec.vmid >= 100 and spec.vmid not in self.vms and spec.vmid not in claimed
                vmids.append(spec.vmid if keep else None)
                if keep:
                    claimed.add(spec.vmid)  # type: ignore[arg-type]  # keep is True only when vmid is not None
            free_from = 100
            created = []
            now = self.clock()
            for spec, vmid in zip(wanted, vmids, strict=True):
                if vmid is None:
                    while free_from in self.vms or free_from in claimed:
                        free_from += 1
                    vmid = free_from
                    claimed.add(vmid)
                config = dict(base)
                config["name"] = spec.name
                if spec.description:
                    config["description"] = spec.description
                if spec.cores is not None:
                    config["cores"] = spec.cores
                if spec.memory is not None:
                    config["memory"] = str(spec.memory)
                config["smbios1"] = f"uuid={uuid.uuid4()}"
                config["vmgenid"] = str(uuid.uuid4())
                config["net0"] = re.sub(
                    r"=([0-9A-F]{2}:){5}[0-9A-F]{2}", f"=BC:24:11:{vmid >> 16 & 255:02X}:{vmid >> 8 & 255:02X}:{vmid & 255:02X}", str(config.get("net0", ""))
                )
                if "scsi0" in config:
                    config["scsi0"] = re.sub(r"(base|vm)-\d+-disk-0", f"vm-{vmid}-disk-0", str(config["scsi0"]))
                if "ide2" in config:
                    config["ide2"] = str(config["ide2"]).replace(f"vm-{source.vmid}-cloudinit", f"vm-{vmid}-cloudinit")
                vm = _Vm(vmid=vmid, node=target, config=config)
                if spec.state in ("running", "paused"):
                    self._pid += 1
                    vm.status, vm.started_at, vm.pid = "running", now, self._pid
                    vm.qmpstatus = "paused" if spec.state == "paused" else "running"
                self.vms[vmid] = vm
                created.append(vmid)
            return created

    def vm_count(self, *, templates: bool = False) -> int:
        """How many VMs exist (templates excluded unless asked)."""
        with self.lock:
            self._advance()
            return sum(1 for vm in self.vms.values() if templates or not vm.template)

    def vm(self, vmid: int) -> dict[str, Any] | None:
        """A snapshot of one VM's state (config, status, lock), or None."""
        with self.lock:
            self._advance()
            vm = self.vms.get(vmid)
            if vm is None:
                return None
            return {"vmid": vm.vmid, "node": vm.node, "status": vm.status, "qmpstatus": vm.qmpstatus, "lock": vm.lock, "config": dict(vm.config)}

    def _declare_routes(self) -> None:
        node = r"/nodes/(?P<node>[^/]+)"
        vm = node + r"/qemu/(?P<vmid>[^/]+)"
        self.route("GET", PREFIX + "/version", self._version)
        self.route("GET", PREFIX + "/access/permissions", self._permissions)
        self.route("GET", PREFIX + "/nodes", self._nodes)
        self.route("GET", PREFIX + node + "/status", self._node_status)
        self.route("GET", PREFIX + "/cluster/resources", self._cluster_resources)
        self.route("GET", PREFIX + "/cluster/nextid", self._next_id)
        self.route("GET", PREFIX + node + "/qemu", self._list_qemu)
        self.route("GET", PREFIX + vm, self._vm_index)
        self.route("DELETE", PREFIX + vm, self._destroy)
        self.route("POST", PREFIX + vm + "/clone", self._clone)
        self.route("GET", PREFIX + vm + "/config", self._get_config)
        self.route("PUT", PREFIX + vm + "/config", self._put_config)
        self.route("POST", PREFIX + vm + "/config", self._post_config)
        self.route("PUT", PREFIX + vm + "/cloudinit", self._update_cloudinit)
        self.route("GET", PREFIX + vm + "/status/current", self._status_current)
        self.route("GET", PREFIX + vm + "/agent/network-get-interfaces", self._agent_interfaces)
        self.route("GET", PREFIX + vm + "/rrddata", self._rrddata)
        self.route("POST", PREFIX + vm + "/status/(?P<action>[a-z]+)", self._status_action)
        self.route("GET", PREFIX + node + "/tasks", self._task_list)
        self.route("GET", PREFIX + node + "/tasks/(?P<upid>[^/]+)/status", self._task_status)
        self.route("GET", PREFIX + node + "/tasks/(?P<upid>[^/]+)/log", self._task_log)

    # ----- framework hooks ---------------------------------------------------------------------

    def reply(self, data: Any) -> Response:
        """A successful answer in the `{"data": ...}` envelope."""
        return json_response(200, {"data": data}, content_type=JSON_TYPE)

    def set_error_text(self, mode: str) -> None:
        """Where failed answers carry their text: "both" (PVE 8.3+: status line and `message`),
        "status_line" (PVE before 8.3, pve-http-server < 5.2: the status line only) or "body" (a
        proxy that rewrites the status line to the standard phrase: `message` only)."""
        if mode not in ERROR_TEXT_MODES:
            raise ValueError(f"error text mode must be one of {', '.join(ERROR_TEXT_MODES)}")
        self.error_text = mode

    def failure(self, status: int, message: str, errors: dict[str, str] | None = None) -> Response:
        """A failed answer, `data` null, with the message where `error_text` puts it."""
        payload: dict[str, Any] = {"data": None}
        if self.error_text != "status_line":
            payload["message"] = message + "\n"
        if errors:
            payload["errors"] = errors
        reason = None if self.error_text == "body" else message
        return json_response(status, payload, reason=reason, content_type=JSON_TYPE)

    def authenticate(self, request: Request) -> str | Response:
        if not request.path.startswith(PREFIX + "/"):
            return Response(501, b"", reason="no such uri")
        header = request.header("Authorization").strip()
        if not header:
            return self._unauthorized("No ticket")
        if not header.startswith("PVEAPIToken="):
            return self._unauthorized("No ticket")
        found = TOKEN_PATTERN.match(header[len("PVEAPIToken=") :].strip())
        if found is None:
            return self._unauthorized("invalid token value!")
        secret = self.tokens.get((found["user"], found["tokenid"]))
        if secret is None:
            return self._unauthorized(f"no such token '{found['tokenid']}' for user '{found['user']}'")
        if not secrets.compare_digest(secret, found["secret"]):
            return self._unauthorized("invalid token value!")
        return f"{found['user']}!{found['tokenid']}"

    def _privileges(self, request: Request) -> frozenset[str]:
        return self.token_privileges.get(self._user(request), frozenset())

    def _may_audit(self, request: Request) -> bool:
        """Whether the caller sees VMs in lists (PVE leaves out those it may not VM.Audit)."""
        return "VM.Audit" in self._privileges(request)

    def _refusal(self, request: Request) -> Response | None:
        """403 for the first privilege the request needs and the token lacks; 400 for skiplock
        from a token (PVE lets only root@pam use it)."""
        try:
            params = self._params(request)
        except (_ApiError, ValueError):
            return None
        held = self._privileges(request)
        for acl, privilege in _privileges_needed(request, params):
            if privilege not in held:
                return self.failure(403, f"Permission check failed ({acl}, {privilege})")
        if str(params.get("skiplock", "0")) not in ("0", "false", "no", ""):
            return self.failure(400, "Parameter verification failed.", {"skiplock": "Only root may use this option."})
        return None

    def _unauthorized(self, reason: str) -> Response:
        if self.auth_failure_delay:
            time.sleep(self.auth_failure_delay)
        return Response(401, b"", reason=reason)

    def handle_exception(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, _ApiError):
            return self.failure(exc.status, exc.message, exc.errors)
        return super().handle_exception(request, exc)

    def rate_limited_response(self, decision: RateDecision) -> Response:
        response = self.failure(429, "Too Many Requests")
        response.headers["Retry-After"] = str(decision.retry_after)
        return response

    def error_response(self, request: Request, status: int, message: str | None = None) -> Response:
        return self.failure(status, message or "Internal Server Error")

    def not_found(self, request: Request) -> Response:
        return self.failure(501, f"Method '{request.method} {request.path[len(PREFIX) :]}' not implemented")

    def method_not_allowed(self, request: Request) -> Response:
        return self.not_found(request)

    def _route(self, request: Request) -> Response:
        self._advance()
        return self._refusal(request) or super()._route(request)

    # ----- helpers -----------------------------------------------------------------------------

    def _params(self, request: Request) -> dict[str, Any]:
        if request.method in ("GET", "DELETE"):
            return dict(request.query)
        params = dict(request.query)
        if "json" in request.header("Content-Type"):
            body = request.json_body() or {}
            if not isinstance(body, dict):
                raise _ApiError(400, "Parameter verification failed.", {"body": "expected a JSON object"})
            params.update(body)
        else:
            params.update(request.form_body())
        return params

    def _check_node(self, node: str) -> None:
        if node not in self.node_names:
            raise _ApiError(
                500,
                f"hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known",
            )
        if node in self.offline_nodes:
            raise _ApiError(595, "No route to host")

    def _vm(self, node: str, vmid: str) -> _Vm:
        self._check_node(node)
        if not re.fullmatch(r"\d+", vmid) or not 100 <= int(vmid) <= 999_999_999:
            raise _param_error({"vmid": f"type check ('integer') failed - got '{vmid}'" if not vmid.isdigit() else "value must have a minimum value of 100"})
        vm = self.vms.get(int(vmid))
        if vm is None or vm.node != node:
            raise _ApiError(500, f"Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist")
        return vm

    def _advance(self) -> None:
        now = time.monotonic()
        for newid, (appears_at, clone) in list(self._pending_clones.items()):
            if appears_at <= now:
                del self._pending_clones[newid]
                self.vms.setdefault(newid, clone)
        due = sorted((t for t in self.tasks.values() if t.status == "running" and t.ends_at <= now), key=lambda t: t.ends_at)
        for task in due:
            try:
                error = task.finish()
            except _ApiError as exc:
                error = exc.message
            task.status = "stopped"
            if error:
                task.exitstatus = error
                task.log.append(f"TASK ERROR: {error}")
            elif task.warnings:
                task.exitstatus = f"WARNINGS: {len(task.warnings)}"
                task.log += [f"WARN: {warning}" for warning in task.warnings]
                task.log.append(f"TASK {task.exitstatus}")
            else:
                task.exitstatus = "OK"
                task.log.append("TASK OK")

    def _start_task(
        self,
        node: str,
        task_type: str,
        object_id: str,
        user: str,
        finish: Callable[[], str | None],
        request: Request,
        failure: str,
    ) -> str:
        self._pid += 1
        starttime = int(time.time())
        upid = f"UPID:{node}:{self._pid:08X}:{(self._pid * 7919) % 0xFFFFFFFF:08X}:{starttime:08X}:{task_type}:{object_id}:{user}:"
        fault = request.fault if request.fault is not None and request.fault.kind == "task_error" else None
        warned = request.fault if request.fault is not None and request.fault.kind == "task_warnings" else None

        def run() -> str | None:
            if fault is not None:
                return fault.message or failure
            return finish()

        self.tasks[upid] = _Task(
            upid=upid,
            node=node,
            type=task_type,
            id=object_id,
            user=user,
            pid=self._pid,
            pstart=(self._pid * 7919) % 0xFFFFFFFF,
            starttime=starttime,
            ends_at=time.monotonic() + self.task_delay,
            finish=run,
            warnings=[line for line in (warned.message or DEFAULT_TASK_WARNING).split("\n") if line] if warned else [],
        )
        return upid

    def _user(self, request: Request) -> str:
        found = TOKEN_PATTERN.match(request.header("Authorization").strip()[len("PVEAPIToken=") :])
        return f"{found['user']}!{found['tokenid']}" if found else "root@pam"

    def _vm_summary(self, vm: _Vm) -> dict[str, Any]:
        running = vm.status == "running"
        maxmem = int(str(vm.config.get("memory", "512")).removeprefix("current=")) * MIB
        uptime = int(self.clock() - vm.started_at) if running and vm.started_at else 0
        return {
            "vmid": vm.vmid,
            "name": vm.config.get("name"),
            "status": vm.status,
            "maxmem": maxmem,
            "mem": int(maxmem * 0.35) if running else 0,
            "maxdisk": self._disk_size(vm),
            "disk": 0,
            "cpus": int(vm.config.get("cores", 1)) * int(vm.config.get("sockets", 1)),
            "cpu": 0.0123 if running else 0,
            "uptime": uptime,
            "netin": uptime * 1500 if running else 0,
            "netout": uptime * 900 if running else 0,
            "diskread": 0,
            "diskwrite": 0,
        }

    @staticmethod
    def _disk_size(vm: _Vm) -> int:
        disk = str(vm.config.get("scsi0", ""))
        found = re.search(r"size=(\d+)([GMT])", disk)
        if not found:
            return 0
        return int(found.group(1)) * {"M": MIB, "G": GIB, "T": 1024 * GIB}[found.group(2)]

    # ----- cluster and nodes -------------------------------------------------------------------

    def _version(self, request: Request) -> Response:
        return self.reply({"version": "8.2.4", "release": "8.2", "repoid": "faa83925c9641325"})

    def _node_entry(self, name: str) -> dict[str, Any]:
        used = sum(self._vm_summary(vm)["mem"] for vm in self.vms.values() if vm.node == name)
        return {
            "node": name,
            "id": f"node/{name}",
            "type": "node",
            "status": "offline" if name in self.offline_nodes else "online",
            "level": "",
            "cpu": 0.031,
            "maxcpu": 16,
            "mem": 4 * GIB + used,
            "maxmem": 64 * GIB,
            "disk": 12 * GIB,
            "maxdisk": 100 * GIB,
            "uptime": int(time.time() - self.booted_at) + 86400,
            "ssl_fingerprint": ":".join(f"{b:02X}" for b in hashlib.sha256(name.encode()).digest()),
        }

    def _nodes(self, request: Request) -> Response:
        return self.reply([self._node_entry(name) for name in self.node_names])

    def _node_status(self, request: Request, node: str) -> Response:
        self._check_node(node)
        entry = self._node_entry(node)
        return self.reply(
            {
                "uptime": entry["uptime"],
                "cpu": entry["cpu"],
                "memory": {"total": entry["maxmem"], "used": entry["mem"], "free": entry["maxmem"] - entry["mem"]},
                "pveversion": "pve-manager/8.2.4/faa83925c9641325",
                "kversion": "Linux 6.8.8-2-pve",
            }
        )

    def _resource_entry(self, vm: _Vm) -> dict[str, Any]:
        summary = self._vm_summary(vm)
        entry = {
            "id": f"qemu/{vm.vmid}",
            "type": "qemu",
            "vmid": vm.vmid,
            "node": vm.node,
            "status": vm.status,
            "maxmem": summary["maxmem"],
            "mem": summary["mem"],
            "maxcpu": summary["cpus"],
            "cpu": summary["cpu"],
            "maxdisk": summary["maxdisk"],
            "disk": 0,
            "uptime": summary["uptime"],
            "netin": summary["netin"],
            "netout": summary["netout"],
            "diskread": 0,
            "diskwrite": 0,
            "template": 1 if vm.template else 0,
        }
        if vm.config.get("name"):
            entry["name"] = vm.config["name"]
        if vm.config.get("tags"):
            entry["tags"] = vm.config["tags"]
        if vm.lock:
            entry["lock"] = vm.lock
        return entry

    def _cluster_resources(self, request: Request) -> Response:
        params = _check_params(
            self._params(request),
            {
                "type": _Param(enum=("vm", "storage", "node", "sdn")),
            },
        )
        kind = params.get("type")
        entries: list[dict[str, Any]] = []
        if kind in (None, "vm") and self._may_audit(request):
            entries += [self._resource_entry(vm) for vm in sorted(self.vms.values(), key=lambda v: v.vmid)]
        if kind in (None, "node"):
            entries += [self._node_entry(name) for name in self.node_names]
        if kind in (None, "storage"):
            for name in self.node_names:
                entries.append(
                    {
                        "id": f"storage/{name}/local-lvm",
                        "type": "storage",
                        "storage": "local-lvm",
                        "node": name,
                        "status": "available",
                        "plugintype": "lvmthin",
                        "content": "images,rootdir",
                        "shared": 0,
                        "disk": 20 * GIB,
                        "maxdisk": 800 * GIB,
                    }
                )
        return self.reply(entries)

    def _next_id(self, request: Request) -> Response:
        params = _check_params(self._params(request), {"vmid": _Param("integer", minimum=100, maximum=999_999_999)})
        wanted = params.get("vmid")
        if wanted is not None:
            if wanted in self.vms:
                raise _param_error({"vmid": f"VM {wanted} already exists"})
            return self.reply(str(wanted))
        vmid = 100
        while vmid in self.vms:
            vmid += 1
        return self.reply(str(vmid))

    def _list_qemu(self, request: Request, node: str) -> Response:
        self._check_node(node)
        entries = []
        for vm in sorted(self.vms.values(), key=lambda v: v.vmid):
            if vm.node != node or not self._may_audit(request):
                continue
            entry = self._vm_summary(vm)
            if vm.template:
                entry["template"] = 1
            if vm.lock:
                entry["lock"] = vm.lock
            if vm.status == "running":
                entry["pid"] = vm.pid
            if vm.config.get("tags"):
                entry["tags"] = vm.config["tags"]
            if entry["name"] is None:
                del entry["name"]
            entries.append(entry)
        return self.reply(entries)

    # ----- one VM ------------------------------------------------------------------------------

    def _vm_index(self, request: Request, node: str, vmid: str) -> Response:
        self._vm(node, vmid)
        subdirs = [
            "config",
            "pending",
            "status",
            "unlink",
            "vncproxy",
            "termproxy",
            "migrate",
            "resize",
            "move",
            "rrd",
            "rrddata",
            "monitor",
            "agent",
            "snapshot",
            "spiceproxy",
            "sendkey",
            "firewall",
            "mtunnel",
            "remote_migrate",
        ]
        return self.reply([{"subdir": name} for name in subdirs])

    def _digest(self, vm: _Vm) -> str:
        text = "\n".join(f"{k}: {v}" for k, v in sorted(vm.config.items()))
        return hashlib.sha1(text.encode()).hexdigest()

    def _get_config(self, request: Request, node: str, vmid: str) -> Response:
        """The config as PVE answers it: `cipassword` masked."""
        vm = self._vm(node, vmid)
        config = dict(vm.config)
        config["digest"] = self._digest(vm)
        if config.get("cipassword"):
            config["cipassword"] = PASSWORD_MASK
        return self.reply(config)

    def _apply_config(self, vm: _Vm, params: dict[str, Any]) -> None:
        for name in [part.strip() for part in str(params.get("delete", "")).split(",") if part.strip()]:
            vm.config.pop(name, None)
        for name, value in params.items():
            if name in ("delete", "digest", "skiplock"):
                continue
            vm.config[name] = _crypt(str(value)) if name == "cipassword" and not CRYPTED.match(str(value)) else value

    def _update_cloudinit(self, request: Request, node: str, vmid: str) -> Response:
        """PUT .../cloudinit: regenerate the cloud-init drive from the config (nothing without one)."""
        vm = self._vm(node, vmid)
        if vm.lock:
            raise _ApiError(500, f"VM {vm.vmid} is locked ({vm.lock})")
        if any("cloudinit" in str(value) for key, value in vm.config.items() if DRIVE_KEY.match(key)):
            vm.cloudinit_drive = {key: value for key, value in vm.config.items() if key in CLOUDINIT_KEYS}
        return self.reply(None)

    def cipassword_matches(self, vmid: int, password: str) -> bool:
        """Whether the VM's cloud-init drive carries `password` (for tests: the API masks it)."""
        stored = str(self.vms[vmid].cloudinit_drive.get("cipassword") or "")
        parts = stored.split("$")
        return len(parts) == 4 and _crypt(password, parts[2]) == stored

    def _prepare_config(self, request: Request, node: str, vmid: str) -> tuple[_Vm, dict[str, Any]]:
        vm = self._vm(node, vmid)
        params = _check_params(self._params(request), CONFIG_SCHEMA, CONFIG_FAMILIES)
        if "digest" in params and params["digest"] != self._digest(vm):
            raise _ApiError(500, "detected modified configuration - file changed by other user? Try again.")
        if "memory" in params:
            params["memory"] = str(params["memory"]).removeprefix("current=")
        return vm, params

    def _put_config(self, request: Request, node: str, vmid: str) -> Response:
        vm, params = self._prepare_config(request, node, vmid)
        if vm.lock and not params.get("skiplock"):
            raise _ApiError(500, f"VM {vm.vmid} is locked ({vm.lock})")
        self._apply_config(vm, params)
        return self.reply(None)

    def _post_config(self, request: Request, node: str, vmid: str) -> Response:
        vm, params = self._prepare_config(request, node, vmid)

        def finish() -> str | None:
            if vm.lock and not params.get("skiplock"):
                return f"VM {vm.vmid} is locked ({vm.lock})"
            self._apply_config(vm, params)
            return None

        upid = self._start_task(node, "qmconfig", str(vm.vmid), self._user(request), finish, request, "update VM failed: command failed")
        return self.reply(upid)

    def _status_current(self, request: Request, node: str, vmid: str) -> Response:
        vm = self._vm(node, vmid)
        data = self._vm_summary(vm)
        data["qmpstatus"] = vm.qmpstatus
        data["ha"] = {"managed": 0}
        data["agent"] = 1 if _agent_enabled(vm) else 0
        if vm.status == "running":
            data["pid"] = vm.pid
            data["running-machine"] = "pc-i440fx-9.0+pve0"
            data["running-qemu"] = "9.0.0"
        if vm.lock:
            data["lock"] = vm.lock
        if vm.template:
            data["template"] = 1
        if vm.config.get("tags"):
            data["tags"] = vm.config["tags"]
        if data["name"] is None:
            del data["name"]
        return self.reply(data)

    def _agent_interfaces(self, request: Request, node: str, vmid: str) -> Response:
        """The guest's interfaces as its agent reports them, or PVE's 500 when it cannot ask."""
        vm = self._vm(node, vmid)
        if not _agent_enabled(vm):
            raise _ApiError(500, "No QEMU guest agent configured")
        if vm.status != "running":
            raise _ApiError(500, f"VM {vm.vmid} is not running")
        if vm.vmid in self.agents_down or vm.qmpstatus == "paused":
            raise _ApiError(500, "QEMU guest agent is not running")
        return self.reply({"result": _guest_interfaces(vm)})

    def _rrddata(self, request: Request, node: str, vmid: str) -> Response:
        """RRD_POINTS points of the VM's figures, one per step of the time frame, oldest first."""
        vm = self._vm(node, vmid)
        params = _check_params(self._params(request), RRDDATA_SCHEMA)
        step = RRD_STEPS[params["timeframe"]]
        last = int(self.clock()) // step * step
        summary = self._vm_summary(vm)
        points = []
        for index in range(RRD_POINTS):
            at = last - (RRD_POINTS - 1 - index) * step
            wave = ((vm.vmid * 7 + at // step) % 12) / 12
            running = vm.status == "running"
            points.append(
                {
                    "time": at,
                    "maxcpu": summary["cpus"],
                    "cpu": round(0.02 + 0.4 * wave, 4) if running else 0,
                    "maxmem": summary["maxmem"],
                    "mem": int(summary["maxmem"] * (0.3 + 0.4 * wave)) if running else 0,
                    "maxdisk": summary["maxdisk"],
                    "disk": 0,
                    "netin": round(2000 + 60000 * wave, 2) if running else 0,
                    "netout": round(1000 + 30000 * (1 - wave), 2) if running else 0,
                    "diskread": 0,
                    "diskwrite": round(500 * wave, 2) if running else 0,
                }
            )
        return self.reply(points)

    def _status_action(self, request: Request, node: str, vmid: str, action: str) -> Response:
        if action not in ACTION_SCHEMAS:
            return self.not_found(request)
        vm = self._vm(node, vmid)
        params = _check_params(self._params(request), ACTION_SCHEMAS[action])
        skiplock = bool(params.get("skiplock"))
        user = self._user(request)
        if action in ("shutdown", "reboot", "suspend", "resume") and vm.status != "running":
            raise _ApiError(500, f"VM {vm.vmid} not running")

        def locked() -> str | None:
            if vm.lock and not skiplock:
                return f"VM {vm.vmid} is locked ({vm.lock})"
            return None

        def start() -> str | None:
            if vm.template:
                return "you can't start a vm if it's a template"
            if vm.status == "running":
                return f"VM {vm.vmid} already running"
            if error := locked():
                return error
            self._pid += 1
            vm.status, vm.qmpstatus, vm.started_at, vm.pid = "running", "running", self.clock(), self._pid
            return None

        def stop() -> str | None:
            if error := locked():
                return error
            vm.status, vm.qmpstatus, vm.started_at, vm.pid = "stopped", "stopped", None, None
            return None

        def reboot() -> str | None:
            if error := locked():
                return error
            vm.status, vm.qmpstatus, vm.started_at = "running", "running", self.clock()
            return None

        def suspend() -> str | None:
            if error := locked():
                return error
            if vm.status != "running":
                return f"VM {vm.vmid} not running"
            vm.qmpstatus = "paused"
            return None

        def resume() -> str | None:
            if error := locked():
                return error
            if vm.status != "running":
                return f"VM {vm.vmid} not running"
            vm.qmpstatus = "running"
            return None

        finishers = {"start": start, "stop": stop, "shutdown": stop, "reboot": reboot, "suspend": suspend, "resume": resume}
        failures = {
            "start": "start failed: QEMU exited with code 1",
            "stop": "VM quit/powerdown failed - got timeout",
            "shutdown": "VM quit/powerdown failed - got timeout",
            "reboot": "VM quit/powerdown failed - got timeout",
            "suspend": "VM suspend failed - got timeout",
            "resume": "VM resume failed - got timeout",
        }
        upid = self._start_task(node, TASK_NAMES[action], str(vm.vmid), user, finishers[action], request, failures[action])
        return self.reply(upid)

    def _clone(self, request: Request, node: str, vmid: str) -> Response:
        source = self._vm(node, vmid)
        params = _check_params(self._params(request), CLONE_SCHEMA)
        target = params.get("target") or node
        self._check_node(target)
        if source.lock:
            raise _ApiError(500, f"VM {source.vmid} is locked ({source.lock})")
        newid = params["newid"]
        full = params.get("full", not source.template)
        if not full and not source.template:
            full = True
        if "storage" in params and not full:
            raise _ApiError(500, "parameter 'storage' not allowed for linked clones")
        if newid in self.vms:
            raise _ApiError(500, f"unable to create VM {newid}: config file already exists")
        clone = _Vm(vmid=newid, node=target, config={"lock": "clone"})
        config_delay = self.task_delay / 2 if self.clone_config_delay is None else self.clone_config_delay
        self._pending_clones[newid] = (time.monotonic() + min(config_delay, self.task_delay), clone)
        name = params.get("name") or f"Copy-of-VM-{source.config.get('name', source.vmid)}"
        description = params.get("description")

        def finish() -> str | None:
            self._pending_clones.pop(newid, None)
            if self.vms.setdefault(newid, clone) is not clone:
                return f"unable to create VM {newid}: config file already exists"
            config = {k: v for k, v in source.config.items() if k not in ("template", "lock", "description")}
            config["name"] = name
            if description:
                config["description"] = description
            config["smbios1"] = f"uuid={uuid.uuid4()}"
            if "vmgenid" in config:
                config["vmgenid"] = str(uuid.uuid4())
            mac = "BC:24:11:" + ":".join(f"{b:02X}" for b in os.urandom(3))
            config["net0"] = re.sub(r"=([0-9A-F]{2}:){5}[0-9A-F]{2}", "=" + mac, str(config.get("net0", "")))
            disk = f"vm-{newid}-disk-0" if full else f"base-{source.vmid}-disk-0/vm-{newid}-disk-0"
            if "scsi0" in config:
                config["scsi0"] = re.sub(r"(base|vm)-\d+-disk-0", disk, str(config["scsi0"]))
            if "ide2" in config:
                config["ide2"] = str(config["ide2"]).replace(f"vm-{source.vmid}-cloudinit", f"vm-{newid}-cloudinit")
            clone.config = config
            return None

        def fail_cleanup(message: str) -> str:
            self._pending_clones.pop(newid, None)
            if self.vms.get(newid) is clone:
                del self.vms[newid]
            return message

        fault = request.fault if request.fault is not None and request.fault.kind == "task_error" else None
        if fault is not None:
            request.fault = None
        failure_message = None
        if fault is not None:
            failure_message = fault.message or (f"clone failed: command '/sbin/lvcreate -n vm-{newid}-disk-0 -V 20971520k pve/data' failed: exit code 5")

        def run() -> str | None:
            if failure_message is not None:
                return fail_cleanup(failure_message)
            return finish()

        upid = self._start_task(node, "qmclone", str(source.vmid), self._user(request), run, request, "")
        return self.reply(upid)

    def _destroy(self, request: Request, node: str, vmid: str) -> Response:
        vm = self._vm(node, vmid)
        _check_params(self._params(request), DESTROY_SCHEMA)
        if vm.status == "running":
            raise _ApiError(500, f"VM {vm.vmid} is running - destroy failed")

        def finish() -> str | None:
            if vm.status == "running":
                return f"VM {vm.vmid} is running - destroy failed"
            if vm.lock:
                return f"VM {vm.vmid} is locked ({vm.lock})"
            self.vms.pop(vm.vmid, None)
            return None

        upid = self._start_task(
            node, "qmdestroy", str(vm.vmid), self._user(request), finish, request, "error with cfs lock 'storage-local-lvm': got lock request timeout"
        )
        return self.reply(upid)

    # ----- tasks -------------------------------------------------------------------------------

    def _task(self, node: str, upid: str) -> _Task:
        self._check_node(node)
        if not re.fullmatch(r"UPID:[^:]+:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:[^:]+:[^:]*:[^:]+:", upid):
            raise _ApiError(400, "unable to parse worker upid")
        task = self.tasks.get(upid)
        if task is None or task.node != node:
            raise _ApiError(500, "no such task")
        return task

    def _permissions(self, request: Request) -> Response:
        """The caller's privileges per ACL path (the sandbox grants a token's set on "/")."""
        params = _check_params(self._params(request), {"path": _Param(), "userid": _Param()})
        held = sorted(self._privileges(request))
        return self.reply({params.get("path", "/"): {privilege: 1 for privilege in held}})

    def _task_list(self, request: Request, node: str) -> Response:
        """The node's tasks, newest first, filtered as PVE's node_tasks does."""
        self._check_node(node)
        params = _check_params(self._params(request), TASK_LIST_SCHEMA)
        source = params.get("source", "archive")
        entries = []
        for task in sorted(self.tasks.values(), key=lambda t: (t.starttime, t.pid), reverse=True):
            running = task.status == "running"
            if task.node != node or (source == "active" and not running) or (source == "archive" and running):
                continue
            if "vmid" in params and task.id != str(params["vmid"]):
                continue
            if params.get("typefilter") and task.type != params["typefilter"]:
                continue
            if params.get("userfilter") and params["userfilter"] not in task.user:
                continue
            if params.get("errors") and (running or task.exitstatus == "OK"):
                continue
            entry: dict[str, Any] = {
                "upid": task.upid,
                "node": task.node,
                "pid": task.pid,
                "pstart": task.pstart,
                "starttime": task.starttime,
                "type": task.type,
                "id": task.id,
                "user": task.user,
            }
            if not running:
                entry["status"] = task.exitstatus
                entry["endtime"] = task.starttime + max(1, int(self.task_delay))
            entries.append(entry)
        start = int(params.get("start", 0))
        return self.reply(entries[start : start + int(params.get("limit", 50))])

    def _task_status(self, request: Request, node: str, upid: str) -> Response:
        task = self._task(node, upid)
        data: dict[str, Any] = {
            "upid": task.upid,
            "node": task.node,
            "pid": task.pid,
            "pstart": task.pstart,
            "starttime": task.starttime,
            "type": task.type,
            "id": task.id,
            "user": task.user,
            "status": task.status,
        }
        if task.status == "stopped":
            data["exitstatus"] = task.exitstatus
        return self.reply(data)

    def _task_log(self, request: Request, node: str, upid: str) -> Response:
        task = self._task(node, upid)
        lines = [f"starting task {task.type} for {task.id}", *task.log]
        return self.reply([{"n": index + 1, "t": line} for index, line in enumerate(lines)])
