"""The Proxmox sandbox behaves like PVE: envelope, auth, parameter errors, tasks, locks."""

from __future__ import annotations

import time
from urllib.parse import quote

import httpx
import pytest

from svcconsole.modules.sandbox import ProxmoxSandbox

from .conftest import trusting


def api(sandbox: ProxmoxSandbox) -> httpx.Client:
    return httpx.Client(base_url=sandbox.url + "/api2/json", verify=trusting(sandbox), headers={"Authorization": f"PVEAPIToken={sandbox.token}"}, timeout=5)


def task_status(client: httpx.Client, upid: str) -> dict:
    node = upid.split(":")[1]
    return client.get(f"/nodes/{node}/tasks/{quote(upid, safe='')}/status").json()["data"]


def wait_task(client: httpx.Client, upid: str) -> dict:
    for _ in range(100):
        status = task_status(client, upid)
        if status["status"] == "stopped":
            return status
        time.sleep(0.02)
    raise AssertionError("task did not stop")


def test_every_answer_is_a_data_envelope(pve: ProxmoxSandbox) -> None:
    with api(pve) as client:
        assert client.get("/version").json()["data"]["version"].startswith("8.")
        nodes = client.get("/nodes").json()["data"]
        assert [n["node"] for n in nodes] == ["pve1"]
        resources = client.get("/cluster/resources", params={"type": "vm"}).json()["data"]
        template = next(r for r in resources if r["vmid"] == 9000)
        assert template["template"] == 1
        assert template["name"] == "debian-12-template"
        assert {"maxmem", "maxcpu", "node", "status"} <= set(template)


def test_auth_failures_are_401_with_the_reason_in_the_status_line(pve: ProxmoxSandbox) -> None:
    user_token, secret = pve.token.split("=", 1)
    cases = {
        None: "No ticket",
        f"PVEAPIToken={user_token}=wrong-secret": "invalid token value!",
        "PVEAPIToken=root@pam!other=abc": "no such token 'other' for user 'root@pam'",
    }
    for header, reason in cases.items():
        headers = {"Authorization": header} if header else {}
        response = httpx.get(pve.url + "/api2/json/version", headers=headers, verify=trusting(pve))
        assert response.status_code == 401
        assert response.reason_phrase == reason
        assert response.content == b""
        assert secret not in response.reason_phrase


def test_a_read_only_token_reads_but_any_change_is_403_permission_check_failed(pve: ProxmoxSandbox) -> None:
    pve.add_token("auditor@pve!ro=ro-secret", read_only=True)
    with httpx.Client(
        base_url=pve.url + "/api2/json", headers={"Authorization": "PVEAPIToken=auditor@pve!ro=ro-secret"}, verify=trusting(pve), timeout=5
    ) as client:
        assert client.get("/nodes/pve1/qemu/9000/config").json()["data"]["name"] == "debian-12-template"
        response = client.post("/nodes/pve1/qemu/9000/clone", data={"newid": 120})
    assert response.status_code == 403
    assert response.reason_phrase == "Permission check failed (/vms/9000, VM.Clone)"
    assert response.json() == {"data": None, "message": "Permission check failed (/vms/9000, VM.Clone)\n"}
    assert 120 not in pve.vms


def test_next_id_is_a_string_and_refuses_a_used_id(pve: ProxmoxSandbox) -> None:
    with api(pve) as client:
        assert client.get("/cluster/nextid").json() == {"data": "100"}
        taken = client.get("/cluster/nextid", params={"vmid": 9000})
        assert taken.status_code == 400
        assert taken.json()["errors"] == {"vmid": "VM 9000 already exists"}


def test_clone_writes_its_config_inside_the_task_and_holds_a_clone_lock_until_it_stops(pve: ProxmoxSandbox) -> None:
    pve.set_task_delay(0.6)
    pve.clone_config_delay = 0.3
    with api(pve) as client:
        upid = client.post("/nodes/pve1/qemu/9000/clone", data={"newid": 100, "name": "svc-1", "full": 1}).json()["data"]
        assert upid.startswith("UPID:pve1:") and ":qmclone:9000:" in upid
        gap = client.get("/nodes/pve1/qemu/100/config")
        assert gap.status_code == 500 and "does not exist" in gap.json()["message"]
        active = client.get("/nodes/pve1/tasks", params={"vmid": 9000, "source": "active"}).json()["data"]
        assert [task["upid"] for task in active] == [upid] and "status" not in active[0]
        time.sleep(0.35)
        temporary = client.get("/nodes/pve1/qemu/100/config").json()["data"]
        assert temporary["lock"] == "clone" and "name" not in temporary
        assert task_status(client, upid)["status"] == "running"
        assert "exitstatus" not in task_status(client, upid)
        busy = client.put("/nodes/pve1/qemu/100/config", data={"cores": 4})
        assert busy.status_code == 500
        assert busy.reason_phrase == "VM 100 is locked (clone)"
        assert wait_task(client, upid)["exitstatus"] == "OK"
        config = client.get("/nodes/pve1/qemu/100/config").json()["data"]
        assert "lock" not in config
        assert config["name"] == "svc-1"
        assert "template" not in config


def test_clone_to_an_existing_vmid_is_refused(pve: ProxmoxSandbox) -> None:
    with api(pve) as client:
        response = client.post("/nodes/pve1/qemu/9000/clone", data={"newid": 9000})
        assert response.status_code == 500
        assert response.json() == {"data": None, "message": "unable to create VM 9000: config file already exists\n"}


def test_task_error_fault_ends_the_clone_with_an_error_and_no_vm(pve: ProxmoxSandbox) -> None:
    pve.fail_next("POST /api2/json/nodes/*/clone", "task_error", message="clone failed: disk full")
    with api(pve) as client:
        upid = client.post("/nodes/pve1/qemu/9000/clone", data={"newid": 100}).json()["data"]
        assert wait_task(client, upid)["exitstatus"] == "clone failed: disk full"
        assert pve.vm(100) is None


def test_parameter_errors_are_400_with_errors_per_parameter(pve: ProxmoxSandbox) -> None:
    with api(pve) as client:
        response = client.post("/nodes/pve1/qemu/9000/clone", data={"name": "not a dns name!", "extra": 1})
        assert response.status_code == 400
        assert response.reason_phrase == "Parameter verification failed."
        body = response.json()
        assert body["data"] is None
        assert body["errors"] == {
            "newid": "property is missing and it is not optional",
            "name": "value does not look like a valid DNS name",
            "extra": "property is not defined in schema and the schema does not allow additional properties",
        }


def test_start_stop_suspend_resume_are_tasks(pve: ProxmoxSandbox) -> None:
    with api(pve) as client:
        wait_task(client, client.post("/nodes/pve1/qemu/9000/clone", data={"newid": 100}).json()["data"])
        for action, status, qmp in (
            ("start", "running", "running"),
            ("suspend", "running", "paused"),
            ("resume", "running", "running"),
            ("stop", "stopped", "stopped"),
        ):
            upid = client.post(f"/nodes/pve1/qemu/100/status/{action}").json()["data"]
            assert wait_task(client, upid)["exitstatus"] == "OK"
            current = client.get("/nodes/pve1/qemu/100/status/current").json()["data"]
            assert (current["status"], current["qmpstatus"]) == (status, qmp)
        not_running = client.post("/nodes/pve1/qemu/100/status/suspend")
        assert (not_running.status_code, not_running.reason_phrase) == (500, "VM 100 not running")


def test_destroy_refuses_a_running_vm_and_purges_a_stopped_one(pve: ProxmoxSandbox) -> None:
    with api(pve) as client:
        wait_task(client, client.post("/nodes/pve1/qemu/9000/clone", data={"newid": 100}).json()["data"])
        wait_task(client, client.post("/nodes/pve1/qemu/100/status/start").json()["data"])
        refused = client.delete("/nodes/pve1/qemu/100", params={"purge": 1})
        assert refused.status_code == 500
        assert refused.reason_phrase == "VM 100 is running - destroy failed"
        wait_task(client, client.post("/nodes/pve1/qemu/100/status/stop").json()["data"])
        upid = client.delete("/nodes/pve1/qemu/100", params={"purge": 1}).json()["data"]
        assert ":qmdestroy:100:" in upid
        assert wait_task(client, upid)["exitstatus"] == "OK"
        gone = client.get("/nodes/pve1/qemu/100/status/current")
        assert gone.status_code == 500
        assert gone.reason_phrase == "Configuration file 'nodes/pve1/qemu-server/100.conf' does not exist"


def test_config_put_is_sync_and_post_is_a_task(pve: ProxmoxSandbox) -> None:
    with api(pve) as client:
        wait_task(client, client.post("/nodes/pve1/qemu/9000/clone", data={"newid": 100}).json()["data"])
        assert client.put("/nodes/pve1/qemu/100/config", data={"cores": 4, "memory": 4096}).json() == {"data": None}
        config = client.get("/nodes/pve1/qemu/100/config").json()["data"]
        assert (config["cores"], config["memory"]) == (4, "4096")
        upid = client.post("/nodes/pve1/qemu/100/config", data={"cores": 8}).json()["data"]
        assert ":qmconfig:100:" in upid
        wait_task(client, upid)
        assert client.get("/nodes/pve1/qemu/100/config").json()["data"]["cores"] == 8


def test_unknown_node_and_unknown_path(pve: ProxmoxSandbox) -> None:
    with api(pve) as client:
        node = client.get("/nodes/pve9/qemu")
        assert node.status_code == 500
        assert node.reason_phrase.startswith("hostname lookup 'pve9' failed")
        path = client.get("/nodes/pve1/nothing")
        assert path.status_code == 501


def test_rate_limit_is_per_token_with_retry_after() -> None:
    with ProxmoxSandbox(rate_limit_per_minute=2, tls=True) as sandbox, api(sandbox) as client:
        assert [client.get("/version").status_code for _ in range(3)] == [200, 200, 429]
        limited = client.get("/version")
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["data"] is None


def test_reset_fault_cuts_the_connection(pve: ProxmoxSandbox) -> None:
    pve.fail_next("/api2/json/version", "reset")
    with api(pve) as client:
        with pytest.raises(httpx.TransportError):
            client.get("/version")
        assert client.get("/version").status_code == 200


def test_a_node_that_is_down_answers_595() -> None:
    with ProxmoxSandbox(nodes=("pve1", "pve2"), tls=True) as sandbox, api(sandbox) as client:
        sandbox.set_node_online("pve2", False)
        response = client.get("/nodes/pve2/qemu")
        assert (response.status_code, response.reason_phrase) == (595, "No route to host")
        assert {n["node"]: n["status"] for n in client.get("/nodes").json()["data"]} == {"pve1": "online", "pve2": "offline"}
        assert client.get("/nodes/pve1/qemu").status_code == 200


def test_task_warnings_fault_ends_the_task_as_a_success_with_warn_lines(pve: ProxmoxSandbox) -> None:
    pve.fail_next("POST /api2/json/nodes/*/qemu/*/clone", "task_warnings", message="disk discard ignored")
    with api(pve) as client:
        upid = client.post("/nodes/pve1/qemu/9000/clone", data={"newid": 130, "name": "warned"}).json()["data"]
        status = wait_task(client, upid)
        log = [line["t"] for line in client.get(f"/nodes/pve1/tasks/{quote(upid, safe='')}/log").json()["data"]]
    assert status["exitstatus"] == "WARNINGS: 1"
    assert log[-2:] == ["WARN: disk discard ignored", "TASK WARNINGS: 1"]
    assert pve.vm(130)["config"]["name"] == "warned"


@pytest.mark.parametrize(
    ("error_text", "reason", "body"),
    [
        (
            "both",
            "Configuration file 'nodes/pve1/qemu-server/4242.conf' does not exist",
            {"data": None, "message": "Configuration file 'nodes/pve1/qemu-server/4242.conf' does not exist\n"},
        ),
        ("status_line", "Configuration file 'nodes/pve1/qemu-server/4242.conf' does not exist", {"data": None}),
        ("body", "Internal Server Error", {"data": None, "message": "Configuration file 'nodes/pve1/qemu-server/4242.conf' does not exist\n"}),
    ],
)
def test_error_text_mode_puts_the_text_in_the_status_line_the_body_or_both(pve: ProxmoxSandbox, error_text: str, reason: str, body: dict) -> None:
    pve.set_error_text(error_text)
    with api(pve) as client:
        response = client.get("/nodes/pve1/qemu/4242/config")
    assert response.status_code == 500
    assert response.json() == body
    assert response.reason_phrase == reason


def test_task_list_filters_by_vmid_type_and_source_and_refuses_unknown_filters(pve: ProxmoxSandbox) -> None:
    with api(pve) as client:
        clone = client.post("/nodes/pve1/qemu/9000/clone", data={"newid": 100}).json()["data"]
        wait_task(client, clone)
        start = client.post("/nodes/pve1/qemu/100/status/start").json()["data"]
        wait_task(client, start)
        listed = client.get("/nodes/pve1/tasks", params={"vmid": 9000}).json()["data"]
        assert [(task["upid"], task["status"]) for task in listed] == [(clone, "OK")]
        starts = client.get("/nodes/pve1/tasks", params={"typefilter": "qmstart"}).json()["data"]
        assert [task["upid"] for task in starts] == [start]
        assert client.get("/nodes/pve1/tasks", params={"source": "active"}).json()["data"] == []
        unknown = client.get("/nodes/pve1/tasks", params={"color": "red"})
    assert unknown.status_code == 400 and "color" in unknown.json()["errors"]


def test_privileges_are_checked_per_request_and_listed_by_access_permissions(pve: ProxmoxSandbox) -> None:
    pve.add_token("svc@pve!sizing=sizing-secret", privileges={"VM.Audit", "VM.Config.CPU"})
    with httpx.Client(
        base_url=pve.url + "/api2/json", verify=trusting(pve), timeout=5, headers={"Authorization": "PVEAPIToken=svc@pve!sizing=sizing-secret"}
    ) as client:
        assert client.get("/access/permissions").json()["data"] == {"/": {"VM.Audit": 1, "VM.Config.CPU": 1}}
        assert client.put("/nodes/pve1/qemu/9000/config", data={"cores": 2}).status_code == 200
        memory = client.put("/nodes/pve1/qemu/9000/config", data={"memory": 2048})
        assert (memory.status_code, memory.reason_phrase) == (403, "Permission check failed (/vms/9000, VM.Config.Memory)")
        clone = client.post("/nodes/pve1/qemu/9000/clone", data={"newid": 140})
        assert clone.reason_phrase == "Permission check failed (/vms/9000, VM.Clone)"
        skiplock = client.put("/nodes/pve1/qemu/9000/config", data={"cores": 2, "skiplock": 1})
        assert skiplock.status_code == 400
        assert skiplock.json()["errors"] == {"skiplock": "Only root may use this option."}
    pve.add_token("svc@pve!blind=blind-secret", privileges={"VM.Clone"})
    with httpx.Client(
        base_url=pve.url + "/api2/json", verify=trusting(pve), timeout=5, headers={"Authorization": "PVEAPIToken=svc@pve!blind=blind-secret"}
    ) as client:
        assert client.get("/cluster/resources", params={"type": "vm"}).json()["data"] == []
        assert client.get("/nodes/pve1/qemu").json()["data"] == []


def test_config_takes_agent_boot_disks_and_extra_nics_and_refuses_unknown_keys(pve: ProxmoxSandbox) -> None:
    with api(pve) as client:
        accepted = client.put(
            "/nodes/pve1/qemu/9000/config",
            data={
                "agent": "enabled=1",
                "boot": "order=scsi0;net0",
                "scsi1": "local-lvm:8",
                "virtio2": "local-lvm:4",
                "net1": "virtio,bridge=vmbr1",
                "ipconfig1": "ip=dhcp",
            },
        )
        assert accepted.status_code == 200, accepted.json()
        config = client.get("/nodes/pve1/qemu/9000/config").json()["data"]
        assert (config["agent"], config["net1"]) == ("enabled=1", "virtio,bridge=vmbr1")
        refused = client.put("/nodes/pve1/qemu/9000/config", data={"scsi31": "local-lvm:1", "colour": "red"})
    assert refused.status_code == 400
    assert set(refused.json()["errors"]) == {"scsi31", "colour"}
