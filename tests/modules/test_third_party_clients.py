"""Third-party clients as judges: `proxmoxer` and `py-dactyl`, written by nobody here, drive the
sandboxes over HTTPS the way their users do. Every call the adapters make must work from them too,
so the adapters and the sandboxes cannot share one misreading of the real APIs."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from proxmoxer import ProxmoxAPI, ResourceException
from proxmoxer.tools import Tasks
from pydactyl import PterodactylClient
from pydactyl.exceptions import PterodactylApiError

from svcconsole.modules.sandbox import ProxmoxSandbox, PterodactylSandbox


def proxmox_client(pve: ProxmoxSandbox, verify: str | bool, token: str | None = None) -> ProxmoxAPI:
    """proxmoxer logged in with an API token, verifying the sandbox certificate against `verify`."""
    user, _, rest = (token or pve.token).partition("!")
    token_name, _, secret = rest.partition("=")
    address = urlsplit(pve.url)
    return ProxmoxAPI(address.hostname, port=address.port, user=user, token_name=token_name, token_value=secret, verify_ssl=verify, timeout=5)


def finished(proxmox: ProxmoxAPI, upid: str) -> dict:
    status = Tasks.blocking_status(proxmox, upid, timeout=10, polling_interval=0.02)
    assert status is not None and status["status"] == "stopped", status
    return status


def test_proxmoxer_refuses_the_sandbox_certificate_unless_it_trusts_its_ca(pve: ProxmoxSandbox) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        proxmox_client(pve, True).version.get()
    assert proxmox_client(pve, pve.ca_file).version.get()["release"]


def test_proxmoxer_reads_version_nodes_and_cluster_resources(pve: ProxmoxSandbox) -> None:
    proxmox = proxmox_client(pve, pve.ca_file)
    assert proxmox.version.get()["version"].startswith("8.")
    assert [node["node"] for node in proxmox.nodes.get()] == ["pve1"]
    vms = proxmox.cluster.resources.get(type="vm")
    assert [(vm["vmid"], vm["template"]) for vm in vms] == [(9000, 1)]
    assert proxmox.nodes("pve1").qemu.get()[0]["name"] == "debian-12-template"


def test_proxmoxer_clones_polls_the_upid_configures_powers_and_purges(pve: ProxmoxSandbox) -> None:
    proxmox = proxmox_client(pve, pve.ca_file)
    node = proxmox.nodes("pve1")
    newid = int(proxmox.cluster.nextid.get())
    upid = node.qemu(9000).clone.post(newid=newid, name="judged-by-proxmoxer", full=1, description="svcconsole service judge")
    assert Tasks.decode_upid(upid)["type"] == "qmclone"
    assert finished(proxmox, upid)["exitstatus"] == "OK"
    vm = node.qemu(newid)
    digest = vm.config.get()["digest"]
    vm.config.put(cores=2, memory=2048, agent="enabled=1", boot="order=scsi0", net1="virtio,bridge=vmbr0", digest=digest)
    config = vm.config.get()
    assert (int(config["cores"]), str(config["memory"]), config["agent"]) == (2, "2048", "enabled=1")
    assert finished(proxmox, vm.config.post(sockets=1))["exitstatus"] == "OK"
    for action, state in (("start", "running"), ("suspend", "paused"), ("resume", "running"), ("stop", "stopped")):
        assert finished(proxmox, vm.status(action).post())["exitstatus"] == "OK"
        current = vm.status.current.get()
        assert (current["qmpstatus"] if action in ("suspend", "resume") else current["status"]) == state
    log = Tasks.decode_log(node.tasks(upid).log.get())
    assert "TASK OK" in log
    assert finished(proxmox, vm.delete(purge=1, **{"destroy-unreferenced-disks": 1}))["exitstatus"] == "OK"
    assert newid not in [entry["vmid"] for entry in proxmox.cluster.resources.get(type="vm")]


def test_proxmoxer_sees_the_errors_a_real_pve_gives(pve: ProxmoxSandbox) -> None:
    pve.add_token("judge@pve!audit=audit-secret", read_only=True)
    auditor = proxmox_client(pve, pve.ca_file, "judge@pve!audit=audit-secret")
    with pytest.raises(ResourceException) as refused:
        auditor.nodes("pve1").qemu(9000).clone.post(newid=150)
    assert refused.value.status_code == 403
    assert "Permission check failed (/vms/9000, VM.Clone)" in str(refused.value)
    proxmox = proxmox_client(pve, pve.ca_file)
    with pytest.raises(ResourceException) as bad:
        proxmox.nodes("pve1").qemu(9000).config.put(cores=2, skiplock=1)
    assert bad.value.status_code == 400 and bad.value.errors == {"skiplock": "Only root may use this option."}
    with pytest.raises(ResourceException) as missing:
        proxmox.nodes("pve1").qemu(4242).config.get()
    assert missing.value.status_code == 500 and "does not exist" in str(missing.value)


@pytest.fixture
def dactyl(ptero: PterodactylSandbox, monkeypatch: pytest.MonkeyPatch) -> PterodactylClient:
    """py-dactyl with the application key, trusting the sandbox CA as its users do (REQUESTS_CA_BUNDLE)."""
    assert ptero.ca_file is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ptero.ca_file)
    return PterodactylClient(ptero.url, ptero.application_key, retries=0)


def test_py_dactyl_lists_with_pagination_and_reads_the_catalog(ptero: PterodactylSandbox, dactyl: PterodactylClient) -> None:
    ptero.seed_servers(60)
    pages = [len(page.data) for page in dactyl.servers.list_servers()]
    assert pages == [50, 10]
    assert len(dactyl.servers.list_servers().collect()) == 60
    assert [node["attributes"]["id"] for node in dactyl.nodes.list_nodes().collect()] == [1]
    assert dactyl.nests.get_egg_info(1, 1, includes=["variables"])["attributes"]["docker_image"]
    assert dactyl.locations.list_locations().collect()[0]["attributes"]["short"]
    assert len(dactyl.nodes.list_node_allocations(1).collect()) >= 1


def test_py_dactyl_creates_a_user_and_a_server_and_runs_its_lifecycle(ptero: PterodactylSandbox, dactyl: PterodactylClient) -> None:
    user = dactyl.user.create_user(username="judge", email="judge@example.com", first_name="Judge", last_name="Dactyl", external_id="svc-customer-1")
    user_id = user["attributes"]["id"]
    assert dactyl.user.list_users(email="judge@example.com").collect()[0]["attributes"]["id"] == user_id
    created = dactyl.servers.create_server(
        name="judged",
        user_id=user_id,
        nest_id=1,
        egg_id=1,
        memory_limit=1024,
        swap_limit=0,
        disk_limit=5120,
        location_ids=[1],
        environment={"MINECRAFT_VERSION": "1.21.1"},
        external_id="svc-service-1",
        start_on_completion=False,
    )
    assert created.status_code == 201
    server_id = created.json()["attributes"]["id"]
    found = dactyl.servers.get_server_info(external_id="svc-service-1")
    assert found["id"] == server_id
    dactyl.servers.suspend_server(server_id)
    assert ptero.servers[server_id].status == "suspended"
    dactyl.servers.unsuspend_server(server_id)
    assert ptero.servers[server_id].status != "suspended"
    allocation = found["allocation"]
    dactyl.servers.update_server_build(
        server_id,
        allocation_id=allocation,
        memory_limit=2048,
        swap_limit=0,
        disk_limit=10240,
        cpu_limit=150,
        io_limit=500,
        database_limit=0,
        allocation_limit=1,
        backup_limit=0,
    )
    assert ptero.servers[server_id].memory == 2048
    dactyl.servers.update_server_startup(
        server_id, egg_id=1, docker_image="ghcr.io/pterodactyl/yolks:java_21", environment={"MINECRAFT_VERSION": "1.20.4"}, skip_scripts=False
    )
    assert ptero.servers[server_id].image == "ghcr.io/pterodactyl/yolks:java_21"
    dactyl.servers.reinstall_server(server_id)
    dactyl.servers.delete_server(server_id, force=True)
    assert server_id not in ptero.servers
    with pytest.raises(requests.exceptions.HTTPError) as gone:
        dactyl.servers.get_server_info(server_id=server_id)
    assert gone.value.response.status_code == 404
    with pytest.raises(PterodactylApiError, match="external id"):
        dactyl.user.create_user(username="judge2", email="judge2@example.com", first_name="J", last_name="D", external_id="svc-customer-1")


def test_py_dactyl_client_api_lists_views_and_powers_a_server(ptero: PterodactylSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ptero.ca_file is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ptero.ca_file)
    (server_id,) = ptero.seed_servers(1)
    identifier = ptero.servers[server_id].identifier
    user_api = PterodactylClient(ptero.url, ptero.client_key, retries=0).client
    assert [s["attributes"]["identifier"] for s in user_api.servers.list_servers().collect()] == [identifier]
    assert user_api.servers.get_server(identifier)["identifier"] == identifier
    user_api.servers.send_power_action(identifier, "start")
    assert user_api.servers.get_server_utilization(identifier)["current_state"] in ("starting", "running")
