"""The Proxmox VE adapter against the sandbox over loopback: every operation and error mapping."""

from __future__ import annotations

import dataclasses
import logging
import time
import traceback

import pytest

from svcconsole.modules import ModuleError, ProductRef, ServerRef, get_module
from svcconsole.modules.proxmox import ProxmoxModule
from svcconsole.modules.sandbox import ProxmoxSandbox
from svcconsole.modules.sandbox.proxmox import ExistingVm

from .conftest import ServiceFactory, base_config

module = get_module("proxmox")


def created(factory: ServiceFactory, **fields: object):
    service = factory(**fields)
    result = module.create(service)
    return dataclasses.replace(service, external=result.external), result


def test_is_registered_with_its_operations() -> None:
    assert isinstance(module, ProxmoxModule)
    assert {"create", "suspend", "unsuspend", "terminate", "change_package", "list_importable", "panel", "power", "tabs", "test_connection"} <= module.supports


def test_test_connection_reads_the_version(pve_server: ServerRef) -> None:
    assert module.test_connection(pve_server).message == "connected to Proxmox VE 8.2.4"


def test_create_checkpoints_then_clones_sizes_and_starts(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service = vps_service()
    seen_before_clone: list[tuple[dict, object]] = []
    result = module.create(service, checkpoint=lambda ext: seen_before_clone.append((dict(ext), pve.vm(ext["vmid"]))))
    assert result.external == {"vmid": 100, "node": "pve1", "template": 9000}
    assert seen_before_clone[0] == ({"vmid": 100, "node": "pve1", "template": 9000}, None)
    after_post, _ = seen_before_clone[1]
    assert after_post["vmid"] == 100 and ":qmclone:9000:" in after_post["clone_upid"]
    assert len(seen_before_clone) == 2
    vm = pve.vm(100)
    assert vm["status"] == "running"
    assert vm["config"]["name"] == f"svc-{service.id}"
    assert service.uuid in vm["config"]["description"]
    assert (vm["config"]["cores"], vm["config"]["memory"]) == (2, "2048")
    assert "lock" not in vm["config"]
    assert "cloned from template 9000" in result.message


def test_template_can_be_named_and_start_can_be_skipped(pve: ProxmoxSandbox, vps_service: ServiceFactory, vps_product: ProductRef) -> None:
    product = dataclasses.replace(vps_product, config={"template": "debian-12-template", "start": False})
    result = module.create(vps_service(product=product))
    assert pve.vm(result.external["vmid"])["status"] == "stopped"
    assert result.message.endswith("stopped")


def test_create_retried_after_a_clone_timeout_reuses_the_checkpointed_vm(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service = vps_service()
    checkpoint: dict = {}
    pve.fail_next("POST /api2/json/nodes/*/qemu/*/clone", "timeout")
    with pytest.raises(ModuleError) as failure:
        module.create(service, checkpoint=checkpoint.update)
    assert failure.value.retryable and failure.value.code == "timeout"
    assert pve.vm_count() == 1
    result = module.create(dataclasses.replace(service, external=checkpoint))
    assert result.message.startswith(f"VM {checkpoint['vmid']} on pve1 found existing")
    assert pve.vm_count() == 1


def test_create_retried_without_the_checkpoint_finds_the_vm_by_name(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service = vps_service()
    pve.fail_next("POST /api2/json/nodes/*/qemu/*/clone", "timeout")
    with pytest.raises(ModuleError):
        module.create(service)
    module.create(service)
    module.create(service)
    assert pve.vm_count() == 1


def test_retry_during_a_running_clone_waits_for_the_lock(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    pve.set_task_delay(2.0)
    pve.clone_config_delay = 0.1
    service = vps_service()
    checkpoint: dict = {}
    pve.fail_next("POST /api2/json/nodes/*/qemu/*/clone", "timeout")
    with pytest.raises(ModuleError):
        module.create(service, checkpoint=checkpoint.update)
    assert pve.vm(checkpoint["vmid"])["lock"] == "clone"
    pve.set_task_delay(0.02)
    result = module.create(dataclasses.replace(service, external=checkpoint))
    assert pve.vm(result.external["vmid"])["status"] == "running"
    assert pve.vm_count() == 1


def test_failed_clone_task_is_a_module_error_with_the_task_text(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service = vps_service()
    pve.fail_next("POST /api2/json/nodes/*/qemu/*/clone", "task_error", message="clone failed: storage 'local-lvm' is full")
    with pytest.raises(ModuleError) as failure:
        module.create(service)
    error = failure.value
    assert error.code == "task_error"
    assert not error.retryable
    assert "clone failed: storage 'local-lvm' is full" in error.message
    assert error.external["vmid"] == 100
    assert pve.vm_count() == 0
    module.create(dataclasses.replace(service, external=error.external))
    assert pve.vm_count() == 1


def test_a_checkpointed_vmid_taken_by_someone_else_is_not_reused(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    other, _ = created(vps_service)
    service = vps_service(external={"vmid": other.external["vmid"], "node": "pve1"})
    result = module.create(service)
    assert result.external["vmid"] != other.external["vmid"]
    assert pve.vm_count() == 2


def test_suspend_pauses_and_unsuspend_resumes(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service, _ = created(vps_service)
    vmid = service.external["vmid"]
    assert module.suspend(service).message == f"VM {vmid} paused"
    assert pve.vm(vmid)["qmpstatus"] == "paused"
    assert module.suspend(service).message == f"VM {vmid} is already paused"
    assert module.unsuspend(service).message == f"VM {vmid} resumed"
    assert pve.vm(vmid)["qmpstatus"] == "running"


def test_suspend_mode_stop_stops_and_unsuspend_starts(pve: ProxmoxSandbox, vps_service: ServiceFactory, vps_product: ProductRef) -> None:
    product = dataclasses.replace(vps_product, config={**vps_product.config, "suspend_mode": "stop"})
    service, _ = created(vps_service, product=product)
    vmid = service.external["vmid"]
    module.suspend(service)
    assert pve.vm(vmid)["status"] == "stopped"
    module.unsuspend(service)
    assert pve.vm(vmid)["status"] == "running"


def test_terminate_stops_then_purges_and_is_idempotent(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service, _ = created(vps_service)
    assert module.terminate(service).message == f"VM {service.external['vmid']} destroyed"
    assert pve.vm_count() == 0
    assert pve.vm(9000) is not None
    assert "nothing to delete" in module.terminate(service).message


def test_change_package_puts_cores_and_memory(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service, _ = created(vps_service)
    bigger = ProductRef(id=21, name="VPS M", type="proxmox", config={"template": 9000, "cores": 4, "memory": 8192})
    result = module.change_package(service, bigger)
    config = pve.vm(service.external["vmid"])["config"]
    assert (config["cores"], config["memory"]) == (4, "8192")
    assert "cores 4, memory 8192" in result.message


def test_import_lists_vms_but_not_templates(pve: ProxmoxSandbox, pve_server: ServerRef, vps_service: ServiceFactory) -> None:
    created(vps_service)
    created(vps_service)
    resources = module.list_importable(pve_server)
    assert [r.external_ref for r in resources] == ["100", "101"]
    assert resources[0].details["external"] == {"vmid": 100, "node": "pve1", "imported": True}


def test_an_imported_vm_can_be_managed(pve: ProxmoxSandbox, pve_server: ServerRef, vps_service: ServiceFactory) -> None:
    created(vps_service)
    resource = module.list_importable(pve_server)[0]
    imported = vps_service(external=resource.details["external"])
    module.suspend(imported)
    assert pve.vm(100)["qmpstatus"] == "paused"


def test_a_vm_migrated_to_another_node_is_found_through_the_cluster_resources(vps_service: ServiceFactory) -> None:
    two_nodes = ProxmoxSandbox(task_delay=0.05, rate_limit_per_minute=None, nodes=("pve1", "pve2"), tls=True)
    two_nodes.start()
    try:
        server = ServerRef(
            id=5,
            name="two",
            module="proxmox",
            url=two_nodes.url,
            credentials=two_nodes.token,
            node="pve1",
            config=base_config(tls_fingerprint=two_nodes.fingerprint),
        )
        (vmid,) = two_nodes.add_vms([ExistingVm(name="legacy-box", description="made by hand")])
        resource = next(r for r in module.list_importable(server) if r.external_ref == str(vmid))
        service = vps_service(server=server, external=resource.details["external"])
        assert module.panel(service).details["node"] == "pve1"
        two_nodes.migrate(vmid, "pve2")
        result = module.change_package(service, ProductRef(id=23, name="big", type="proxmox", config={"cores": 4}))
        assert result.external == {"vmid": vmid, "node": "pve2"}
        assert str(two_nodes.vms[vmid].config["cores"]) == "4"
    finally:
        two_nodes.stop()


def test_panel_power_and_tabs(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service, _ = created(vps_service)
    state = module.panel(service)
    assert state.status == "running"
    assert state.actions == ["shutdown", "stop", "reboot", "suspend"]
    assert state.resources["memory"].endswith("/ 2048 MiB")
    module.power(service, "shutdown")
    stopped = module.panel(service)
    assert (stopped.status, stopped.actions) == ("stopped", ["start"])
    module.power(service, "start")
    module.power(service, "suspend")
    assert module.panel(service).status == "paused"
    tabs = {tab.key: tab for tab in module.tabs(service)}
    assert ("cores", "2") in tabs["hardware"].rows
    assert ("memory", "2048 MiB") in tabs["hardware"].rows
    assert ("vmid", str(service.external["vmid"])) in tabs["placement"].rows


def test_power_rejects_an_unknown_signal(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service, _ = created(vps_service)
    with pytest.raises(ModuleError) as failure:
        module.power(service, "explode")
    assert failure.value.code == "invalid"


# ----- error mapping -------------------------------------------------------------------------


def test_wrong_token_is_a_non_retryable_authentication_error(pve: ProxmoxSandbox, pve_server: ServerRef) -> None:
    identity = pve.token.split("=", 1)[0]
    with pytest.raises(ModuleError) as failure:
        module.test_connection(dataclasses.replace(pve_server, credentials=f"{identity}=wrong-secret"))
    error = failure.value
    assert (error.retryable, error.status, error.code) == (False, 401, "auth")
    assert "wrong-secret" not in error.message


def test_a_token_without_the_privilege_is_a_non_retryable_403_naming_it(pve: ProxmoxSandbox, pve_server: ServerRef, vps_service: ServiceFactory) -> None:
    service, _ = created(vps_service)
    pve.add_token("auditor@pve!readonly=ro-secret-42", read_only=True)
    auditor = dataclasses.replace(pve_server, credentials="auditor@pve!readonly=ro-secret-42")
    assert module.panel(dataclasses.replace(service, server=auditor)).status == "running"
    with pytest.raises(ModuleError) as failure:
        module.suspend(dataclasses.replace(service, server=auditor))
    error = failure.value
    assert (error.retryable, error.status, error.code) == (False, 403, "auth")
    assert f"permission denied (HTTP 403): Permission check failed (/vms/{service.external['vmid']}, VM.PowerMgmt)" in error.message
    assert "ro-secret-42" not in error.message
    assert pve.vms[service.external["vmid"]].qmpstatus == "running"


def test_malformed_token_is_a_config_error(pve_server: ServerRef) -> None:
    with pytest.raises(ModuleError) as failure:
        module.test_connection(dataclasses.replace(pve_server, credentials="just-a-secret"))
    assert failure.value.code == "config"
    assert "just-a-secret" not in failure.value.message


def test_parameter_error_is_non_retryable_with_the_parameter(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service, _ = created(vps_service)
    tiny = ProductRef(id=22, name="tiny", type="proxmox", config={"template": 9000, "memory": 8})
    with pytest.raises(ModuleError) as failure:
        module.change_package(service, tiny)
    error = failure.value
    assert (error.retryable, error.status, error.code) == (False, 400, "invalid")
    assert "Parameter verification failed." in error.message
    assert "memory:" in error.message


def test_missing_vm_is_a_non_retryable_not_found(vps_service: ServiceFactory) -> None:
    with pytest.raises(ModuleError) as failure:
        module.panel(vps_service(external={"vmid": 4242, "node": "pve1"}))
    assert (failure.value.retryable, failure.value.code) == (False, "not_found")


def test_locked_vm_is_a_retryable_error(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service, _ = created(vps_service)
    pve.vms[service.external["vmid"]].config["lock"] = "backup"
    with pytest.raises(ModuleError) as failure:
        module.change_package(service, ProductRef(id=23, name="M", type="proxmox", config={"cores": 3}))
    assert (failure.value.retryable, failure.value.code) == (True, "locked")
    assert "is locked (backup)" in failure.value.message


def test_task_refused_by_a_lock_is_retryable(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service, _ = created(vps_service)
    module.power(service, "stop")
    pve.vms[service.external["vmid"]].config["lock"] = "backup"
    with pytest.raises(ModuleError) as failure:
        module.power(service, "start")
    assert (failure.value.retryable, failure.value.code) == (True, "task_error")


def test_429_is_retried_after_retry_after(pve: ProxmoxSandbox, pve_server: ServerRef) -> None:
    pve.fail_next("GET /api2/json/version", "429", retry_after=1)
    started = time.monotonic()
    module.test_connection(pve_server)
    assert time.monotonic() - started >= 1.0


def test_429_with_a_long_retry_after_becomes_a_retryable_error(pve: ProxmoxSandbox, pve_server: ServerRef) -> None:
    pve.fail_next("GET /api2/json/version", "429", retry_after=45)
    with pytest.raises(ModuleError) as failure:
        module.test_connection(pve_server)
    assert (failure.value.retryable, failure.value.retry_after, failure.value.status) == (True, 45.0, 429)


def test_server_error_timeout_and_refused_are_retryable(pve: ProxmoxSandbox, pve_server: ServerRef) -> None:
    pve.fail_next("GET /api2/json/version", "500")
    pve.fail_next("GET /api2/json/version", "timeout")
    codes = []
    for _ in range(2):
        with pytest.raises(ModuleError) as failure:
            module.test_connection(pve_server)
        assert failure.value.retryable
        codes.append(failure.value.code)
    assert codes == ["server_error", "timeout"]
    with ProxmoxSandbox() as gone:
        url = gone.url
    with pytest.raises(ModuleError) as failure:
        module.test_connection(dataclasses.replace(pve_server, url=url))
    assert (failure.value.retryable, failure.value.code) == (True, "connection")


def test_unreachable_node_is_retryable(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service, _ = created(vps_service)
    pve.set_node_online("pve1", False)
    with pytest.raises(ModuleError) as failure:
        module.suspend(service)
    assert (failure.value.retryable, failure.value.status) == (True, 595)
    assert "No route to host" in failure.value.message


def test_task_wait_gives_up_after_task_timeout(pve: ProxmoxSandbox, pve_server: ServerRef, vps_service: ServiceFactory) -> None:
    pve.set_task_delay(5)
    hasty = dataclasses.replace(pve_server, config={**pve_server.config, "task_timeout": 0.3})
    with pytest.raises(ModuleError) as failure:
        module.create(vps_service(server=hasty))
    error = failure.value
    assert (error.retryable, error.code) == (True, "timeout")
    assert error.external["vmid"] == 100


def test_credentials_never_leak_into_errors_reprs_or_logs(
    pve: ProxmoxSandbox, pve_server: ServerRef, vps_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = pve.token.split("=", 1)[1]
    service, result = created(vps_service)
    texts = [repr(pve_server), repr(service), repr(result), result.message, repr(module.panel(service))]
    pve.fail_next("POST /api2/json/nodes/*/qemu/*/status/suspend", "timeout")
    failures = []
    for call in (
        lambda: module.suspend(service),
        lambda: module.test_connection(dataclasses.replace(pve_server, credentials=pve.token + "x")),
        lambda: module.test_connection(dataclasses.replace(pve_server, credentials=secret)),
    ):
        with pytest.raises(ModuleError) as failure:
            call()
        failures.append(failure.value)
    for error in failures:
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
    texts.append(caplog.text)
    for text in texts:
        assert secret not in text


def test_tasks_ending_with_warnings_are_successes_whose_warnings_reach_the_result(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    pve.fail_next("POST /api2/json/nodes/*/qemu/*/clone", "task_warnings", message="storage 'local-lvm' is 91% full")
    pve.fail_next("POST /api2/json/nodes/*/qemu/*/status/start", "task_warnings")
    service, result = created(vps_service)
    assert len([vm for vm in pve.vms.values() if not vm.template]) == 1
    assert pve.vm(service.external["vmid"])["status"] == "running"
    assert "storage 'local-lvm' is 91% full" in result.message
    assert "no efidisk configured" in result.message
    pve.fail_next("POST /api2/json/nodes/*/qemu/*/status/suspend", "task_warnings", message="guest agent not running")
    assert "guest agent not running" in module.suspend(service).message


@pytest.mark.parametrize("error_text", ["both", "status_line", "body"])
def test_missing_locked_and_taken_vms_are_told_apart_wherever_the_panel_puts_the_error_text(
    pve: ProxmoxSandbox, vps_service: ServiceFactory, error_text: str
) -> None:
    service, _ = created(vps_service)
    pve.set_error_text(error_text)
    with pytest.raises(ModuleError) as missing:
        module.panel(vps_service(external={"vmid": 4242, "node": "pve1"}))
    assert (missing.value.retryable, missing.value.code) == (False, "not_found")

    pve.vms[service.external["vmid"]].config["lock"] = "backup"
    with pytest.raises(ModuleError) as locked:
        module.change_package(service, ProductRef(id=23, name="M", type="proxmox", config={"cores": 3}))
    assert (locked.value.retryable, locked.value.code) == (True, "locked")
    assert "is locked (backup)" in locked.value.message

    next_id = next(route for route in pve.routes if "nextid" in route.pattern.pattern)
    free_id, taken = next_id.handler, ["9000"]
    next_id.handler = lambda request: pve.reply(taken.pop()) if taken else free_id(request)
    second, _ = created(vps_service)
    assert not taken
    assert second.external["vmid"] not in (9000, service.external["vmid"])
    assert pve.vm(9000)["config"]["template"] == 1


class _WorkerDied(Exception):
    """Stands for a worker killed right after it stored the clone's UPID."""


@pytest.mark.parametrize("stored", ["upid", "vmid only"])
def test_a_create_retried_while_the_clone_has_not_written_its_config_waits_for_the_clone(pve: ProxmoxSandbox, vps_service: ServiceFactory, stored: str) -> None:
    pve.set_task_delay(3.0)
    pve.clone_config_delay = 2.0
    service = vps_service()
    checkpoint: dict = {}

    def store(external: dict) -> None:
        checkpoint.update(external)
        if "clone_upid" in external:
            raise _WorkerDied

    if stored == "upid":
        with pytest.raises(_WorkerDied):
            module.create(service, checkpoint=store)
    else:
        pve.fail_next("POST /api2/json/nodes/*/qemu/*/clone", "timeout")
        with pytest.raises(ModuleError):
            module.create(service, checkpoint=store)
        assert "clone_upid" not in checkpoint
    assert pve.vm(checkpoint["vmid"]) is None
    result = module.create(dataclasses.replace(service, external=checkpoint))
    assert result.message.startswith(f"VM {checkpoint['vmid']} on pve1 found existing")
    assert pve.vm_count() == 1


def test_a_token_without_clone_privileges_is_named_by_test_connection_and_refused_by_create(
    pve: ProxmoxSandbox, pve_server: ServerRef, vps_service: ServiceFactory
) -> None:
    held = {"VM.Audit", "VM.Allocate", "VM.Config.CPU", "VM.Config.Memory", "VM.PowerMgmt"}
    pve.add_token("svc@pve!deliver=limited-secret", privileges=held)
    limited = dataclasses.replace(pve_server, credentials="svc@pve!deliver=limited-secret")
    with pytest.raises(ModuleError) as tested:
        module.test_connection(limited)
    assert (tested.value.code, tested.value.retryable) == ("auth", False)
    for privilege in ("VM.Clone", "Datastore.AllocateSpace", "SDN.Use"):
        assert privilege in tested.value.message
    assert "VM.Audit" not in tested.value.message.split("lacks")[1]
    with pytest.raises(ModuleError) as created_without:
        module.create(vps_service(server=limited))
    assert created_without.value.status == 403
    assert "Permission check failed (/vms/9000, VM.Clone)" in created_without.value.message
    assert pve.vm_count() == 0
    module.test_connection(pve_server)


def test_a_token_without_vm_audit_sees_no_vms_and_the_template_error_says_why(pve: ProxmoxSandbox, pve_server: ServerRef, vps_service: ServiceFactory) -> None:
    pve.add_token("svc@pve!blind=blind-secret", privileges={"VM.Clone", "VM.Allocate"})
    blind = dataclasses.replace(pve_server, credentials="svc@pve!blind=blind-secret")
    assert module.list_importable(blind) == []
    with pytest.raises(ModuleError) as failure:
        module.create(vps_service(server=blind))
    assert "lacks VM.Audit" in failure.value.message
