"""Memory and disk where the panels report them (issue 16 item 10), against the sandbox panels:
Pterodactyl's node (`GET /api/application/nodes/{id}`: memory, disk, their overallocation and
`allocated_resources`) and Proxmox's node status (`GET /nodes/{node}/status`: memory in use)."""

from __future__ import annotations

import json

from svcconsole.modules import ProductRef, ServerRef, get_module
from svcconsole.modules.sandbox import PterodactylSandbox


def create(cli, product: str, server: str, name: str):  # type: ignore[no-untyped-def]
    result = cli(
        "services", "create", "--customer", "greta@example.com", "--name", name, "--product", product, "--server", server, "--deliver", "--format", "json"
    )
    return result


def show(cli, service_id: int) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(cli("services", "show", str(service_id), "-f", "json").stdout)


def test_pterodactyl_node_without_memory_left_holds_the_delivery_back_until_it_has(cli, panels):  # type: ignore[no-untyped-def]
    panels.ptero.nodes[1].memory = 6000
    first = create(cli, "Paper 4GB", "ptero-1", "first")
    assert json.loads(first.stdout)["status"] == "active", first.stderr
    second = create(cli, "Paper 4GB", "ptero-1", "second")
    service = json.loads(second.stdout)
    assert service["status"] == "pending"
    assert panels.ptero.server_count() == 1, "no panel call was made for the service that did not fit"
    shown = show(cli, service["id"])
    assert shown["availability"] == "not available: ptero-1 (node node-1) has 1904 MiB memory free of 6000 MiB; the product needs 4096 MiB"
    assert shown["operation"] is None
    listed = cli("services", "list", "--status", "pending")
    assert "pending [not available]" in listed.stdout

    assert cli("automation", "run").exit_code == 0
    assert show(cli, service["id"])["status"] == "pending", "still no room: it waits"

    panels.ptero.nodes[1].memory_overallocate = 50
    assert cli("automation", "run").exit_code == 0
    placed = show(cli, service["id"])
    assert (placed["status"], placed["placement_note"]) == ("active", None)
    assert panels.ptero.server_count() == 2


def test_proxmox_memory_cap_below_the_nodes_total_is_the_limit(cli, panels):  # type: ignore[no-untyped-def]
    assert cli("servers", "edit", "pve-1", "--memory", "6000").exit_code == 0
    waiting = json.loads(create(cli, "VPS M", "pve-1", "vps").stdout)
    assert waiting["status"] == "pending"
    assert show(cli, waiting["id"])["availability"] == ("not available: pve-1 (node pve1) has 1904 MiB memory free of 6000 MiB; the product needs 4096 MiB")
    assert not [vm for vm in panels.pve.vms.values() if not vm.template]
    assert cli("servers", "edit", "pve-1", "--memory", "none").exit_code == 0
    assert cli("automation", "run").exit_code == 0
    assert show(cli, waiting["id"])["status"] == "active"


def test_pterodactyl_node_resources_follow_the_panels_figures(panels):  # type: ignore[no-untyped-def]
    sandbox: PterodactylSandbox = panels.ptero
    server = ServerRef(id=1, name="p", module="pterodactyl", url=sandbox.url, credentials=sandbox.credentials, node="1", config={"verify_tls": False})
    module = get_module("pterodactyl")
    product = ProductRef(id=1, name="x", type="pterodactyl", config={"nest": 1, "egg": 1, "memory": 512, "disk": 0})
    assert module.resource_needs(product.config) == {"memory": 512}
    sandbox.nodes[1].memory, sandbox.nodes[1].memory_overallocate = 1000, 20
    sandbox.nodes[1].disk, sandbox.nodes[1].disk_overallocate = 5000, -1
    read = module.node_resources(server, product)
    assert read is not None
    assert (read.memory_total, read.memory_used, read.disk_total) == (1200, 0, None)
    location_only = ProductRef(id=2, name="y", type="pterodactyl", config={"nest": 1, "egg": 1, "location": 1})
    assert module.node_resources(ServerRef(id=1, name="p", module="pterodactyl", url=sandbox.url, credentials=sandbox.credentials), location_only) is None


def test_a_product_with_a_group_needs_no_server_and_delivery_picks_one(cli, panels):  # type: ignore[no-untyped-def]
    refused = cli("services", "create", "--customer", "greta@example.com", "--name", "no-server", "--product", "Paper 4GB")
    assert refused.exit_code == 2 and "--server" in refused.stderr, "without a group a pterodactyl service still needs --server"
    assert cli("products", "edit", "Paper 4GB", "--servers", "ptero-1", "--placement", "fill-first").exit_code == 0
    created = cli("services", "create", "--customer", "greta@example.com", "--name", "grouped", "--product", "Paper 4GB", "--deliver", "--format", "json")
    service = json.loads(created.stdout)
    assert (service["status"], service["server"]) == ("active", "ptero-1"), created.stderr
    wrong = cli("products", "edit", "Paper 4GB", "--servers", "pve-1")
    assert wrong.exit_code == 2 and wrong.stderr.strip() == "error: --servers: server 'pve-1' runs module 'proxmox', not 'pterodactyl'"


def test_a_group_places_the_service_elsewhere_once_a_node_lacked_memory_for_it(cli, panels):  # type: ignore[no-untyped-def]
    from tests.integration.conftest import FAST

    second = PterodactylSandbox(install_delay=0.05, power_delay=0.01, fault_delay=1.0, rate_limit_per_minute=None, tls=True)
    second.start()
    try:
        added = cli(
            "servers", "add", "--name", "ptero-2", "--module", "pterodactyl", "--url", second.url, "--credentials", second.credentials,
            "--node", "1", "--tls-fingerprint", second.fingerprint, *FAST,
        )  # fmt: skip
        assert added.exit_code == 0, added.stderr
        assert cli("products", "edit", "Paper 4GB", "--servers", "ptero-1,ptero-2", "--placement", "fill-first").exit_code == 0
        panels.ptero.nodes[1].memory = 3000
        created = cli("services", "create", "--customer", "greta@example.com", "--name", "mc", "--product", "Paper 4GB", "--deliver", "--format", "json")
        service = json.loads(created.stdout)
        assert (service["status"], service["server"]) == ("pending", "ptero-1"), "fill-first tried ptero-1 first: it has places, not memory"
        waiting = show(cli, service["id"])
        assert waiting["availability"].startswith("not available: ptero-1 (node node-1) has 3000 MiB memory free")
        assert waiting["metadata"]["placement_short_of_room"] == "1"

        assert cli("automation", "run").exit_code == 0
        placed = show(cli, service["id"])
        assert (placed["status"], placed["server"]) == ("active", "ptero-2")
        assert (panels.ptero.server_count(), second.server_count()) == (0, 1)
        assert "placement_short_of_room" not in placed["metadata"], "delivered: the note of the server short of memory is dropped"
    finally:
        second.stop()
