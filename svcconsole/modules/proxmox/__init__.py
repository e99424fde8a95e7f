"""Proxmox VE delivery module: VPS cloned from a template VM through `/api2/json`.

Server (`ServerRef`):
    url          the cluster's base URL, e.g. https://pve.example.com:8006 (`/api2/json` is added)
    credentials  the API token "USER@REALM!TOKENID=SECRET" (sent as `PVEAPIToken=...`)
    node         default node of the template when the product names none
    config       rate_limit_per_minute (240 calls per rate_limit_window_seconds, 60; 0 = no
                 client-side limit), verify_tls (true), tls_fingerprint (the pinned SHA-256
                 of a self-signed certificate, AA:BB:...) or ca_file (PEM of the cluster's CA),
                 timeout (15 s), max_retry_after (10 s), rate_limit_retries (3),
                 task_timeout (600 s: how long to wait for a clone/start/stop task),
                 poll_interval (1 s: between task status reads)

Product config (`ProductRef.config`):
    template        vmid (or name) of the template VM to clone (required)
    node            node holding the template (default: found in /cluster/resources)
    target_node     node for the clone (default: the template's node)
    full            full clone (true) or linked clone (false); default true
    storage, pool   target storage (full clones) and pool for the clone
    cores, sockets, memory (MiB)   set on the clone after cloning, and by change_package
    ciuser          the cloud-init user given a generated password when the template has a
                    cloud-init drive (default: the template's ciuser, else "admin")
    start           start the VM after creating it (true)
    suspend_mode    "suspend" (pause, default) or "stop"

External (`service.external`): vmid, node, template, clone_upid. The VM is named `svc-{service id}`
and its description holds the service uuid; `create` calls `checkpoint({vmid, node, template})`
before the clone and again with the clone task's UPID once the POST returns. PVE writes the
clone's config inside that task, so on a retry the stored VMID may not exist yet: the retry waits
for the stored task (or for this token's clone tasks of the template still running) before it
looks again, and finds that VM (or the one named for the service) instead of cloning again.

The module operations live here (the package is the module's home: `BUILT_IN` imports it by
name); the HTTP client, its task waiting and its error mapping are in `api`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, ClassVar

from svcconsole.modules.base import (
    Checkpoint,
    ImportableResource,
    Module,
    ModuleError,
    ModuleResult,
    ModuleTab,
    NodeResources,
    PanelHistory,
    PanelResource,
    PanelState,
    ProductRef,
    ServerRef,
    ServiceRef,
    UsageReading,
    register,
    resource_key,
)
from svcconsole.modules.http import config_bool
from svcconsole.modules.proxmox import cloudinit, statistics
from svcconsole.modules.proxmox.api import PANEL, Api, error_from_response, message_of

POWER_SIGNALS = ("start", "stop", "shutdown", "reboot", "suspend", "resume")
CLONE_ATTEMPTS = 3
REQUIRED_PRIVILEGES = (
    "VM.Audit",
    "VM.Clone",
    "VM.Allocate",
    "VM.Config.CPU",
    "VM.Config.Memory",
    "VM.PowerMgmt",
    "Datastore.AllocateSpace",
)
"""What the token needs: see templates, clone (VM.Clone on the template, VM.Allocate on the new
VMID, Datastore.AllocateSpace on the storage; SDN.Use on the bridge from PVE 8), size, power."""
MIB = 1024 * 1024


def _with_warnings(message: str, warnings: list[str]) -> str:
    """A result message with the warnings the panel's tasks logged, so the activity row keeps them."""
    return f"{message}; panel warnings: {'; '.join(warnings)}" if warnings else message


def _vm_name(service: ServiceRef) -> str:
    return f"svc-{service.id}"


def _owned(config: dict[str, Any], service: ServiceRef) -> bool:
    return service.uuid in str(config.get("description", ""))


def _memory_mib(value: Any) -> int:
    text = str(value or "0").removeprefix("current=").split(",")[0]
    return int(text) if text.isdigit() else 0


@register
class ProxmoxModule(Module):
    """Delivers VPS on Proxmox VE by cloning a template VM."""

    name = "proxmox"
    label = "Proxmox VE"
    needs_server = True
    supports = frozenset(
        {
            "test_connection",
            "create",
            "suspend",
            "unsuspend",
            "terminate",
            "change_package",
            "add_option",
            "change_password",
            "list_importable",
            "list_resources",
            "panel",
            "history",
            "power",
            "tabs",
            "node_resources",
            "usage",
        }
    )
    option_resources = frozenset({"cores", "sockets", "memory"})
    customer_power: ClassVar[dict[str, str]] = {"start": "start", "stop": "shutdown", "restart": "reboot"}

    @classmethod
    def external_key(cls, external: dict[str, Any]) -> str | None:
        """The VM's vmid, unique in the cluster (what `services import --external` takes)."""
        return resource_key(external.get("vmid"))

    def _api(self, server: ServerRef | None) -> Api:
        return Api(self._require_server(server))

    def _wait_unlocked(self, api: Api, node: str, vmid: int, operation: str) -> dict[str, Any] | None:
        """The VM's config once no clone holds it (None if it vanished: the clone failed)."""
        deadline = time.monotonic() + api.task_timeout
        while True:
            config = api.config(node, vmid, operation)
            if config is None or config.get("lock") != "clone":
                return config
            if time.monotonic() >= deadline:
                raise api.error(
                    operation,
                    f"VM {vmid} is still being cloned after {api.task_timeout:g} s",
                    retryable=True,
                    code="locked",
                    external={"vmid": vmid, "node": node},
                )
            time.sleep(api.poll_interval)

    def _locate(self, api: Api, service: ServiceRef, operation: str) -> tuple[int, str] | None:
        """The service's VM: the stored vmid when it is ours (or was imported), on the stored node
        or, when it is not there (migrated), on the node /cluster/resources names; else the VM
        named for the service whose description holds its uuid; None when there is none."""
        stored = service.external.get("vmid")
        if stored is not None:
            vmid = int(stored)
            stored_node = service.external.get("node")
            if stored_node and self._is_ours(api, service, str(stored_node), vmid, operation):
                return vmid, str(stored_node)
            node = next((str(vm["node"]) for vm in api.vms(operation) if int(vm.get("vmid", -1)) == vmid), None)
            if node is not None and node != stored_node and self._is_ours(api, service, node, vmid, operation):
                return vmid, node
        for vm in api.vms(operation):
            if vm.get("name") != _vm_name(service) or vm.get("template"):
                continue
            config = self._wait_unlocked(api, str(vm["node"]), int(vm["vmid"]), operation)
            if config is not None and _owned(config, service):
                return int(vm["vmid"]), str(vm["node"])
        return None

    def _await_unfinished_clone(self, api: Api, service: ServiceRef, config: dict[str, Any], operation: str) -> tuple[int, str] | None:
        """The VM of a clone an earlier attempt started and that has not written its config yet.

        PVE writes the clone's config inside the task, after the POST returned: in that gap the
        checkpointed VMID "does not exist". Before a retry clones again, wait for the stored clone
        task (its UPID), or, when the attempt died before storing it, for this token's clone tasks
        of the template still running on the template's node; then look for the VM again.
        """
        if service.external.get("vmid") is None:
            return None
        upids = [str(service.external["clone_upid"])] if service.external.get("clone_upid") else []
        if not upids:
            template_vmid, template_node = self._template(api, config, operation)
            running = (
                api.call(
                    "GET",
                    f"/nodes/{template_node}/tasks",
                    operation,
                    params={
                        "vmid": template_vmid,
                        "typefilter": "qmclone",
                        "source": "active",
                        "userfilter": api.user,
                    },
                )
                or []
            )
            upids = [str(task["upid"]) for task in running if task.get("upid")]
        if not upids:
            return None
        for upid in upids:
            try:
                api.wait_task(upid, operation, dict(service.external))
            except ModuleError as error:
                if error.code != "task_error":
                    raise
        return self._locate(api, service, operation)

    def _is_ours(self, api: Api, service: ServiceRef, node: str, vmid: int, operation: str) -> bool:
        """True when VM `vmid` is on `node` and belongs to the service (or was imported for it)."""
        config = self._wait_unlocked(api, node, vmid, operation)
        return config is not None and bool(_owned(config, service) or service.external.get("imported"))

    def _require(self, api: Api, service: ServiceRef, operation: str) -> tuple[int, str]:
        found = self._locate(api, service, operation)
        if found is None:
            raise api.error(operation, f"no VM for service {service.id} on the cluster", retryable=False, code="not_found", status=404)
        return found

    def _template(self, api: Api, config: dict[str, Any], operation: str) -> tuple[int, str]:
        wanted = config.get("template")
        if wanted in (None, ""):
            raise api.error(operation, "the product config needs `template` (a template VM's vmid or name)", retryable=False, code="config")
        for vm in api.vms(operation):
            if str(vm.get("vmid")) == str(wanted) or vm.get("name") == str(wanted):
                if not vm.get("template"):
                    raise api.error(operation, f"VM {vm.get('vmid')} is not a template", retryable=False, code="config")
                return int(vm["vmid"]), str(config.get("node") or vm["node"])
        raise api.error(
            operation,
            f"template {wanted!r} does not exist on the cluster (or the API token lacks VM.Audit on it: PVE leaves such VMs out of lists)",
            retryable=False,
            code="config",
        )

    @staticmethod
    def _hardware(config: dict[str, Any]) -> dict[str, Any]:
        hardware: dict[str, Any] = {}
        for key in ("cores", "sockets", "memory"):
            if config.get(key) not in (None, ""):
                hardware[key] = int(config[key])
        return hardware

    # ----- capacity ----------------------------------------------------------------------------

    def node_resources(self, server: ServerRef, product: ProductRef | None) -> NodeResources | None:
        """The memory of the node the clone goes to, from `GET /nodes/{node}/status` (PVE reports
        memory in use on the node, not what its VMs were given; its disks live on storages)."""
        operation = "node resources"
        config = product.config if product is not None else {}
        api = self._api(server)
        node = config.get("target_node") or config.get("node") or server.node
        if not node:
            if not config.get("template"):
                return None
            node = self._template(api, config, operation)[1]
        status = api.call("GET", f"/nodes/{node}/status", operation) or {}
        memory = status.get("memory") or {}
        if "total" not in memory:
            return NodeResources(str(node))
        return NodeResources(str(node), memory_total=int(memory["total"]) // MIB, memory_used=int(memory.get("used") or 0) // MIB)

    def resource_needs(self, config: dict[str, Any]) -> dict[str, int]:
        """The memory the product sets on the clone (a clone that keeps the template's is not counted)."""
        memory = self._hardware(config).get("memory")
        return {"memory": memory} if memory else {}

    # ----- lifecycle ---------------------------------------------------------------------------

    def test_connection(self, server: ServerRef) -> ModuleResult:
        """Read the API version with the token, then check it holds every privilege the module
        needs (`/access/permissions`), naming each one missing."""
        operation = "test connection"
        api = self._api(server)
        version = api.call("GET", "/version", operation) or {}
        release = str(version.get("version", "?"))
        needed = list(REQUIRED_PRIVILEGES)
        if release.split(".")[0].isdigit() and int(release.split(".")[0]) >= 8:
            needed.append("SDN.Use")
        granted = api.call("GET", "/access/permissions", operation) or {}
        held = {privilege for privileges in granted.values() if isinstance(privileges, dict) for privilege, value in privileges.items() if value}
        missing = [privilege for privilege in needed if privilege not in held]
        if missing:
            raise api.error(
                operation,
                f"the API token lacks {', '.join(missing)} (grant them to the token, not only to its user, on / or on /vms, /storage and /sdn)",
                retryable=False,
                code="auth",
            )
        return ModuleResult(message=f"connected to {PANEL} {release}")

    def create(self, service: ServiceRef, *, checkpoint: Checkpoint | None = None) -> ModuleResult:
        """Clone the template (or find the VM an earlier attempt cloned), size it, start it."""
        operation = "create"
        api = self._api(service.server)
        config = dict(service.product.config) if service.product else {}
        found = self._locate(api, service, operation) or self._await_unfinished_clone(api, service, config, operation)
        template_vmid = service.external.get("template")
        warnings: list[str] = []
        if found is None:
            template_vmid, template_node = self._template(api, config, operation)
            vmid, node, warnings = self._clone(api, service, config, template_vmid, template_node, checkpoint, operation)
            verb = f"cloned from template {template_vmid}"
        else:
            vmid, node = found
            verb = "found existing"
        external = {"vmid": vmid, "node": node, "template": template_vmid}
        hardware = self._hardware(config)
        if hardware:
            api.call("PUT", f"/nodes/{node}/qemu/{vmid}/config", operation, data=hardware)
        running = api.status(node, vmid, operation).get("status") == "running"
        login = None if running else cloudinit.set_login(api, node, vmid, config, operation)
        state = "stopped"
        if config_bool(config, "start", True):
            if not running:
                warnings += api.action(node, vmid, "start", operation, external)
            state = "running"
        message = _with_warnings(f"VM {vmid} on {node} {verb}; {state}", warnings)
        return ModuleResult(message=message, external=external, credentials=login)

    def change_password(self, service: ServiceRef) -> ModuleResult:
        """A new cloud-init password for the VM's user (applied by the guest at its next boot)."""
        operation = "change password"
        api = self._api(service.server)
        vmid, node = self._require(api, service, operation)
        config = dict(service.product.config) if service.product else {}
        login = cloudinit.set_login(api, node, vmid, config, operation)
        if login is None:
            raise api.error(operation, f"VM {vmid} has no cloud-init drive: its password is not set by the cluster", retryable=False, code="unsupported")
        running = api.status(node, vmid, operation).get("status") == "running"
        later = "; the VM applies it at its next boot" if running else ""
        return ModuleResult(
            message=f"new cloud-init password for {login.username} on VM {vmid}{later}", external={"vmid": vmid, "node": node}, credentials=login
        )

    def _clone(
        self,
        api: Api,
        service: ServiceRef,
        config: dict[str, Any],
        template_vmid: int,
        template_node: str,
        checkpoint: Checkpoint | None,
        operation: str,
    ) -> tuple[int, str, list[str]]:
        """Clone the template to a free VMID; return it, its node and the task's warnings."""
        target = str(config.get("target_node") or template_node)
        for attempt in range(CLONE_ATTEMPTS):
            vmid = int(api.call("GET", "/cluster/nextid", operation))
            external = {"vmid": vmid, "node": target, "template": template_vmid}
            if checkpoint is not None:
                checkpoint(external)
            data: dict[str, Any] = {
                "newid": vmid,
                "name": _vm_name(service),
                "description": f"svcconsole service {service.uuid}",
                "full": 1 if config_bool(config, "full", True) else 0,
            }
            if target != template_node:
                data["target"] = target
            for key in ("storage", "pool"):
                if config.get(key):
                    data[key] = str(config[key])
            response = api.raw("POST", f"/nodes/{template_node}/qemu/{template_vmid}/clone", operation, data=data, allow=(500,))
            if response.status_code == 500:
                if "already exists" in message_of(response) and attempt + 1 < CLONE_ATTEMPTS:
                    continue
                error = error_from_response(response, operation)
                error.external = external
                raise error
            upid = str(response.json()["data"])
            external["clone_upid"] = upid
            if checkpoint is not None:
                checkpoint(external)
            warnings = api.wait_task(upid, operation, external)
            return vmid, target, warnings
        raise api.error(operation, "no free VMID could be taken", retryable=True, code="conflict")

    def suspend(self, service: ServiceRef) -> ModuleResult:
        """Pause the VM (`status/suspend`), or stop it when the product says `suspend_mode: stop`."""
        operation = "suspend"
        api = self._api(service.server)
        vmid, node = self._require(api, service, operation)
        mode = str((service.product.config if service.product else {}).get("suspend_mode", "suspend"))
        status = api.status(node, vmid, operation)
        external = {"vmid": vmid, "node": node}
        if status.get("status") != "running":
            return ModuleResult(message=f"VM {vmid} is already stopped", external=external)
        if mode == "stop":
            warnings = api.action(node, vmid, "stop", operation, external)
            return ModuleResult(message=_with_warnings(f"VM {vmid} stopped", warnings), external=external)
        if status.get("qmpstatus") == "paused":
            return ModuleResult(message=f"VM {vmid} is already paused", external=external)
        warnings = api.action(node, vmid, "suspend", operation, external)
        return ModuleResult(message=_with_warnings(f"VM {vmid} paused", warnings), external=external)

    def unsuspend(self, service: ServiceRef) -> ModuleResult:
        """Resume a paused VM or start a stopped one."""
        operation = "unsuspend"
        api = self._api(service.server)
        vmid, node = self._require(api, service, operation)
        status = api.status(node, vmid, operation)
        external = {"vmid": vmid, "node": node}
        if status.get("status") == "running" and status.get("qmpstatus") == "paused":
            warnings = api.action(node, vmid, "resume", operation, external)
            return ModuleResult(message=_with_warnings(f"VM {vmid} resumed", warnings), external=external)
        if status.get("status") != "running":
            warnings = api.action(node, vmid, "start", operation, external)
            return ModuleResult(message=_with_warnings(f"VM {vmid} started", warnings), external=external)
        return ModuleResult(message=f"VM {vmid} is already running", external=external)

    def terminate(self, service: ServiceRef, *, force: bool = False) -> ModuleResult:
        """Stop the VM, then destroy it with `purge=1` (its disks and jobs go with it)."""
        operation = "terminate"
        api = self._api(service.server)
        found = self._locate(api, service, operation)
        if found is None:
            return ModuleResult(message=f"no VM for service {service.id} on the cluster; nothing to delete")
        vmid, node = found
        external = {"vmid": vmid, "node": node}
        status = api.status(node, vmid, operation)
        if status.get("status") == "running":
            stop = {"overrule-shutdown": 1} if force else {}
            warnings = api.action(node, vmid, "stop", operation, external, **stop)
        else:
            warnings = []
        response = api.raw("DELETE", f"/nodes/{node}/qemu/{vmid}", operation, params={"purge": 1, "destroy-unreferenced-disks": 1}, allow=(500,))
        if response.status_code == 500:
            if "does not exist" in message_of(response):
                return ModuleResult(message=f"VM {vmid} was already destroyed")
            raise error_from_response(response, operation)
        warnings += api.wait_task(str(response.json()["data"]), operation, external)
        return ModuleResult(message=_with_warnings(f"VM {vmid} destroyed", warnings))

    def change_package(self, service: ServiceRef, product: ProductRef) -> ModuleResult:
        """Set the target product's cores/sockets/memory on the VM's config."""
        operation = "change package"
        api = self._api(service.server)
        vmid, node = self._require(api, service, operation)
        hardware = self._hardware(product.config)
        if not hardware:
            return ModuleResult(message=f"the product {product.name} sets no cores or memory; nothing to change")
        api.call("PUT", f"/nodes/{node}/qemu/{vmid}/config", operation, data=hardware)
        status = api.status(node, vmid, operation)
        applied = ", ".join(f"{key} {value}" for key, value in hardware.items())
        later = "; a running VM applies what it cannot hotplug at its next restart" if status.get("status") == "running" else ""
        return ModuleResult(message=f"VM {vmid}: {applied}{later}", external={"vmid": vmid, "node": node})

    def add_option(self, service: ServiceRef, option: dict[str, Any]) -> ModuleResult:
        """Set the option's resource (cores, sockets or memory) to the build with the service's options."""
        operation = "add option"
        api = self._api(service.server)
        resource = str(option.get("resource") or "")
        hardware = self._hardware(service.product.config if service.product else {})
        if resource not in hardware:
            raise api.error(operation, f"the option {option.get('name')!r} raises {resource!r}, which the module does not size", retryable=False, code="config")
        vmid, node = self._require(api, service, operation)
        api.call("PUT", f"/nodes/{node}/qemu/{vmid}/config", operation, data={resource: hardware[resource]})
        status = api.status(node, vmid, operation)
        later = "; a running VM applies what it cannot hotplug at its next restart" if status.get("status") == "running" else ""
        return ModuleResult(message=f"VM {vmid}: {resource} {hardware[resource]} ({option.get('name')}){later}", external={"vmid": vmid, "node": node})

    def list_importable(self, server: ServerRef) -> list[ImportableResource]:
        """Every VM of the cluster that is not a template."""
        api = self._api(server)
        resources = []
        for vm in sorted(api.vms("import"), key=lambda entry: int(entry.get("vmid", 0))):
            if vm.get("template"):
                continue
            vmid = int(vm["vmid"])
            resources.append(
                ImportableResource(
                    external_ref=str(vmid),
                    name=vm.get("name") or f"VM {vmid}",
                    description=(f"vmid {vmid} · node {vm.get('node')} · {vm.get('status')} · {vm.get('maxcpu')} vCPU · {int(vm.get('maxmem', 0)) // MIB} MiB"),
                    details={
                        "external": {"vmid": vmid, "node": vm.get("node"), "imported": True},
                        "status": vm.get("status"),
                        "maxcpu": vm.get("maxcpu"),
                        "maxmem": vm.get("maxmem"),
                    },
                )
            )
        return resources

    def list_resources(self, server: ServerRef, *, on_total: Callable[[int], None] | None = None) -> Iterator[PanelResource]:
        """Every VM of the cluster but templates, from one `/cluster/resources?type=vm` call.

        PVE keeps no owner on a VM (and a tag cannot hold an email address), so no owner is
        reported and that comparison is not made; the list shows a paused VM as `running`, so
        suspension is not reported either (None). A VM with a `lock` (a clone, a backup) is busy.
        """
        api = self._api(server)
        vms = sorted((vm for vm in api.vms("reconcile") if not vm.get("template")), key=lambda entry: int(entry.get("vmid", 0)))
        if on_total is not None:
            on_total(len(vms))
        for vm in vms:
            vmid = int(vm["vmid"])
            yield PanelResource(
                key=str(vmid),
                name=str(vm.get("name") or f"VM {vmid}"),
                status=str(vm.get("status") or "unknown"),
                limits={"memory": int(vm.get("maxmem") or 0) // MIB, "cpus": int(vm.get("maxcpu") or 0)},
                node=str(vm.get("node")),
                busy=bool(vm.get("lock")),
            )

    def expected_build(self, config: dict[str, Any]) -> dict[str, Any]:
        """Memory (MiB) and vCPUs (cores x sockets) when the product config sets them."""
        hardware = self._hardware(config)
        build: dict[str, Any] = {}
        if "memory" in hardware:
            build["memory"] = hardware["memory"]
        if "cores" in hardware or "sockets" in hardware:
            build["cpus"] = hardware.get("cores", 1) * hardware.get("sockets", 1)
        return build

    # ----- live state --------------------------------------------------------------------------

    def panel(self, service: ServiceRef) -> PanelState:
        """Live state from `status/current`, with the power actions that fit it."""
        operation = "panel"
        api = self._api(service.server)
        vmid, node = self._require(api, service, operation)
        status = api.status(node, vmid, operation)
        state = str(status.get("status", "unknown"))
        if state == "running" and status.get("qmpstatus") == "paused":
            state = "paused"
        maxmem = int(status.get("maxmem") or 0)
        resources = {
            "cpu": f"{float(status.get('cpu') or 0) * 100:.1f} % of {status.get('cpus', '?')} vCPU",
            "memory": f"{int(status.get('mem') or 0) // MIB} MiB / {maxmem // MIB} MiB",
            "disk": f"{int(status.get('maxdisk') or 0) // (1024 * MIB)} GiB",
            "uptime": f"{int(status.get('uptime') or 0)} s",
            "network": f"in {int(status.get('netin') or 0) // MIB} MiB, out {int(status.get('netout') or 0) // MIB} MiB",
        }
        actions = {"running": ["shutdown", "stop", "reboot", "suspend"], "paused": ["resume", "stop"], "stopped": ["start"]}.get(state, [])
        details = {"vmid": str(vmid), "node": node}
        if status.get("lock"):
            details["lock"] = str(status["lock"])
            actions = []
        addresses, source = statistics.guest_addresses(api, node, vmid, operation)
        details["addresses from"] = source
        samples = {
            "cpu": float(status.get("cpu") or 0) * 100,
            "memory": float(status.get("mem") or 0),
            "network in": float(status.get("netin") or 0),
            "network out": float(status.get("netout") or 0),
        }
        return PanelState(status=state, resources=resources, addresses=addresses, actions=actions, details=details, samples=samples)

    def history(self, service: ServiceRef, span: str) -> PanelHistory:
        """The VM's cpu, memory and network over an hour, a day or a week (`rrddata`)."""
        operation = f"history {span}"
        api = self._api(service.server)
        vmid, node = self._require(api, service, operation)
        return statistics.history(api, node, vmid, span, operation)

    def usage(self, service: ServiceRef, start: datetime, end: datetime) -> list[UsageReading]:
        """The VM's traffic (netin + netout) over the billing period so far, from `rrddata`."""
        operation = "usage"
        api = self._api(service.server)
        vmid, node = self._require(api, service, operation)
        return [statistics.traffic_gb(api, node, vmid, start, end, operation)]

    def power(self, service: ServiceRef, signal: str) -> ModuleResult:
        """Run start, stop, shutdown, reboot, suspend or resume and wait for its task."""
        operation = f"power {signal}"
        api = self._api(service.server)
        if signal not in POWER_SIGNALS:
            raise api.error(operation, f"unknown signal; use one of {', '.join(POWER_SIGNALS)}", retryable=False, code="invalid")
        vmid, node = self._require(api, service, operation)
        warnings = api.action(node, vmid, signal, operation, {"vmid": vmid, "node": node})
        return ModuleResult(message=_with_warnings(f"VM {vmid}: {signal} done", warnings))

    def tabs(self, service: ServiceRef) -> list[ModuleTab]:
        """Hardware (from the VM config) and Placement sub-tabs."""
        api = self._api(service.server)
        vmid, node = self._require(api, service, "tabs")
        config = api.config(node, vmid, "tabs") or {}
        hardware = [
            ("cores", str(config.get("cores", 1))),
            ("sockets", str(config.get("sockets", 1))),
            ("memory", f"{_memory_mib(config.get('memory'))} MiB"),
        ]
        hardware += [(key, str(config[key])) for key in sorted(config) if re.fullmatch(r"(scsi|virtio|sata|ide|net)\d+", key)]
        placement = [("vmid", str(vmid)), ("node", node), ("name", str(config.get("name", ""))), ("template", str(service.external.get("template", "")))]
        return [
            ModuleTab(key="hardware", title="Hardware", rows=hardware),
            ModuleTab(key="placement", title="Placement", rows=placement),
        ]
