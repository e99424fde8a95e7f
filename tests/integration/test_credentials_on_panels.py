"""Provisioned credentials against the sandbox panels over HTTP (issue 16, item 2).

Pterodactyl: the customer's panel user is made with a generated password (POST /users) and a
reset sets another (PATCH /users/{id}, which asks for the user's fields again). Proxmox: a VM
cloned from a cloud-init template gets a user and a password in `ciuser` / `cipassword` (read
back masked) and its cloud-init drive regenerated (PUT .../cloudinit)."""

import json

from svcconsole.modules.proxmox.api import Api as ProxmoxApi
from svcconsole.modules.proxmox.cloudinit import DEFAULT_USER


def deliver(cli, product, name, server):
    created = cli("services", "create", "--customer", "greta@example.com", "--name", name, "--product", product, "--server", server, "--deliver", "-f", "json")
    service = json.loads(created.stdout)
    assert service["status"] == "active", created.stderr
    return service


def login(cli, service_id, *extra):
    result = cli("services", "credentials", str(service_id), *extra, "-f", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_pterodactyl_panel_user_password_is_provisioned_reset_and_follows_a_transfer(cli, panels):
    service = deliver(cli, "Paper 4GB", "greta-mc", "ptero-1")
    owner = panels.ptero.users[panels.ptero.servers[service["external"]["server_id"]].owner_id]
    first = login(cli, service["id"])
    assert first["username"] == owner.username and first["password"]
    assert panels.ptero.password_matches(owner.id, first["password"])

    second = deliver(cli, "Paper 4GB", "greta-mc-2", "ptero-1")
    assert login(cli, second["id"]) == {**first, "service_id": second["id"]}, "the customer's panel user is found again, its password kept"

    reset = login(cli, service["id"], "--reset")
    assert reset["password"] != first["password"] and reset["shared_with"] == [second["id"]]
    assert panels.ptero.password_matches(owner.id, reset["password"]) and not panels.ptero.password_matches(owner.id, first["password"])
    assert login(cli, second["id"])["password"] == reset["password"]

    assert cli("customers", "add", "--name", "Hugo Brandt", "--email", "hugo@example.com").exit_code == 0
    assert cli("services", "transfer", str(service["id"]), "--to", "hugo@example.com").exit_code == 0
    moved = login(cli, service["id"])
    hugo = next(user for user in panels.ptero.users.values() if user.email == "hugo@example.com")
    assert moved["username"] == hugo.username and panels.ptero.password_matches(hugo.id, moved["password"])
    assert moved["password"] != reset["password"], "the old owner's password is not shown to the new one"


def test_proxmox_cloud_init_login_is_provisioned_masked_and_reset(cli, panels):
    service = deliver(cli, "VPS M", "greta-vps", "pve-1")
    vmid = service["external"]["vmid"]
    first = login(cli, service["id"])
    assert first["username"] == DEFAULT_USER
    assert panels.pve.cipassword_matches(vmid, first["password"])
    vm = panels.pve.vms[vmid]
    assert vm.config["ciuser"] == DEFAULT_USER and first["password"] not in vm.config["cipassword"]

    reset = login(cli, service["id"], "--reset")
    assert reset["password"] != first["password"]
    assert panels.pve.cipassword_matches(vmid, reset["password"]) and not panels.pve.cipassword_matches(vmid, first["password"])


def test_proxmox_reads_cipassword_masked(panels, db):
    from svcconsole.core import lookups
    from svcconsole.store.models import Server

    with db.read() as session:
        server = lookups.server_ref(session.get(Server, 2))
    api = ProxmoxApi(server)
    api.call("PUT", "/nodes/pve1/qemu/9000/config", "test", data={"cipassword": "hunter2-hunter2"})
    assert api.call("GET", "/nodes/pve1/qemu/9000/config", "test")["cipassword"] == "**********"
