"""`svcconsole demo`'s panels: the demo servers point at in-process sandboxes that hold every
seeded active or suspended service, so the demo's actions cross HTTP through the real adapters."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import col, select

from svcconsole.console.demo import DemoPanels, start_demo_panels
from svcconsole.core import bulk, delivery, lookups, seed
from svcconsole.core.secrets import decrypt
from svcconsole.modules.http import close_clients
from svcconsole.modules.ratelimits import reset_rate_limiters
from svcconsole.modules.sandbox import PterodactylSandbox
from svcconsole.store.models import Server, Service


@pytest.fixture
def panels(demo) -> Iterator[DemoPanels]:  # type: ignore[no-untyped-def]
    reset_rate_limiters()
    started = start_demo_panels(demo)
    yield started
    started.stop()
    reset_rate_limiters()


def on_panels(db, module: str, status: str) -> list[Service]:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return list(session.exec(select(Service).where(Service.type == module, Service.status == status).order_by(col(Service.id))).all())


def sandbox_of(db, panels: DemoPanels, service: Service):  # type: ignore[no-untyped-def]
    with db.read() as session:
        server = session.get(Server, service.server_id)
    return panels.sandboxes[server.name]


def test_every_active_or_suspended_remote_service_exists_on_its_panel(db, panels):
    with db.read() as session:
        servers = {server.name: server for server in session.exec(select(Server)).all()}
    assert set(panels.sandboxes) == {"ptero-fra-1", "ptero-waw-1", "pve-fra-1"}
    for name, sandbox in panels.sandboxes.items():
        server = servers[name]
        assert server.url == sandbox.url
        expected = sandbox.credentials if isinstance(sandbox, PterodactylSandbox) else sandbox.token
        assert decrypt(server.credentials) == expected and server.config["rate_limit_per_minute"] >= 10_000
    for module in ("pterodactyl", "proxmox"):
        for status in ("active", "suspended"):
            for service in on_panels(db, module, status):
                sandbox = sandbox_of(db, panels, service)
                if module == "pterodactyl":
                    held = sandbox.servers[service.external["server_id"]]
                    assert (held.external_id, held.identifier) == (service.uuid, service.external["identifier"])
                    assert (held.status == "suspended") == (status == "suspended")
                else:
                    held = sandbox.vm(service.external["vmid"])
                    assert service.uuid in held["config"]["description"]
                    assert held["qmpstatus"] == ("paused" if status == "suspended" else "running")
    assert panels.skipped == []
    assert sum(panels.created.values()) == len(on_panels(db, "pterodactyl", "active")) + len(on_panels(db, "pterodactyl", "suspended")) + len(
        on_panels(db, "proxmox", "active")
    ) + len(on_panels(db, "proxmox", "suspended"))


def test_a_seeded_game_server_is_suspended_and_a_vps_resumed_through_the_real_adapters(db, admin, panels):
    game = on_panels(db, "pterodactyl", "active")[0]
    vps = on_panels(db, "proxmox", "suspended")[0]
    ptero = sandbox_of(db, panels, game)
    pve = sandbox_of(db, panels, vps)
    before = ptero.stats["requests"] + pve.stats["requests"]
    report = bulk.run(db, admin, "suspend", {"reason": "demo"}, [game.id], selection={"ids": [game.id]})
    assert [item.outcome for item in report.items] == ["ok"], report.items
    assert ptero.servers[game.external["server_id"]].status == "suspended"
    report = bulk.run(db, admin, "unsuspend", {}, [vps.id], selection={"ids": [vps.id]})
    assert [item.outcome for item in report.items] == ["ok"], report.items
    assert pve.vm(vps.external["vmid"])["qmpstatus"] == "running"
    assert ptero.stats["requests"] + pve.stats["requests"] > before
    with db.read() as session:
        assert lookups.get_service(session, game.id).status == "suspended"
        assert lookups.get_service(session, vps.id).status == "active"
    assert delivery.panel_state(db, game.id).status == "suspended"


def test_the_demo_command_stops_its_panels_when_the_console_closes(cli, monkeypatch):
    seen: dict[str, str] = {}

    def fake_console(db, actor) -> None:  # type: ignore[no-untyped-def]
        with db.read() as session:
            server = session.exec(select(Server).where(Server.name == "ptero-fra-1")).one()
        seen["url"] = server.url
        assert server.url.startswith("https://") and server.config["tls_fingerprint"]
        assert httpx.get(f"{server.url}/api/application/nodes", headers={"Accept": "application/json"}, verify=False).status_code == 401

    import svcconsole.console.app

    monkeypatch.setattr(svcconsole.console.app, "run_console", fake_console)
    result = cli("demo", "--services", "60")
    assert result.exit_code == 0, result.stderr
    assert "pterodactyl sandbox at https://127.0.0.1:" in result.stderr
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{seen['url']}/api/application/nodes", verify=False)
    close_clients()
    reset_rate_limiters()


def test_a_second_seeding_into_the_same_database_gets_panel_ids_of_its_own(db, frozen):
    seed.seed_demo(db, services=120, random_seed=5)
    seed.seed_demo(db, services=120, random_seed=6)
    started = start_demo_panels(db)
    try:
        held = sum(len(on_panels(db, module, status)) for module in ("pterodactyl", "proxmox") for status in ("active", "suspended"))
        assert started.skipped == [] and sum(started.created.values()) == held
    finally:
        started.stop()
        reset_rate_limiters()
