"""Transfer against the sandbox panels over HTTP: the Pterodactyl server's owner changes with
PATCH /servers/{id}/details, its panel user made when the new customer has none."""

import json


def test_transfer_on_pterodactyl_creates_the_panel_user_and_changes_the_owner(cli, panels):
    created = cli(
        "services",
        "create",
        "--customer",
        "greta@example.com",
        "--name",
        "greta-mc",
        "--product",
        "Paper 4GB",
        "--server",
        "ptero-1",
        "--deliver",
        "-f",
        "json",
    )
    service = json.loads(created.stdout)
    assert service["status"] == "active", created.stderr
    server_id = service["external"]["server_id"]
    assert panels.ptero.users[panels.ptero.servers[server_id].owner_id].email == "greta@example.com"
    assert cli("customers", "add", "--name", "Hugo Brandt", "--email", "hugo@example.com").exit_code == 0
    assert not [user for user in panels.ptero.users.values() if user.email == "hugo@example.com"]

    result = cli("services", "transfer", str(service["id"]), "--to", "hugo@example.com", "-f", "json")
    assert result.exit_code == 0, result.stderr
    [line] = [json.loads(text) for text in result.lines]
    assert line["outcome"] == "ok", line

    owner = panels.ptero.users[panels.ptero.servers[server_id].owner_id]
    assert owner.email == "hugo@example.com"
    shown = json.loads(cli("services", "show", str(service["id"]), "-f", "json").stdout)
    assert shown["customer"] == "Hugo Brandt"
    assert shown["external"]["user_id"] == owner.id and shown["operation"] is None
    drift = cli("reconcile", "--server", "ptero-1", "-f", "json")
    assert '"owner"' not in drift.stdout, drift.stdout


def test_transfer_on_proxmox_moves_billing_only(cli, panels):
    created = cli(
        "services", "create", "--customer", "greta@example.com", "--name", "greta-vps", "--product", "VPS M", "--server", "pve-1", "--deliver", "-f", "json"
    )
    service = json.loads(created.stdout)
    assert cli("customers", "add", "--name", "Hugo Brandt", "--email", "hugo@example.com").exit_code == 0
    result = cli("services", "transfer", str(service["id"]), "--to", "hugo@example.com")
    assert result.exit_code == 0, result.stderr
    assert service["external"]["vmid"] in panels.pve.vms
    assert json.loads(cli("services", "show", str(service["id"]), "-f", "json").stdout)["customer"] == "Hugo Brandt"
