"""`seed demo` without sandboxes: its Pterodactyl and Proxmox servers are demo servers whose
module calls answer, in one line, what gives them a panel; `svcconsole demo` points them at its
sandboxes and gives them back as demo servers when it stops; pointing one at a panel ends it."""

from __future__ import annotations

import re

from sqlmodel import col, select

from svcconsole.console.demo import start_demo_panels
from svcconsole.core import seed, seed_catalog
from svcconsole.modules.ratelimits import reset_rate_limiters
from svcconsole.modules.sandbox import PterodactylSandbox
from svcconsole.store.models import Server, Service

WHAT_TO_DO = "demo server: start `svcconsole demo` or point it at a panel (svcconsole servers edit {server} --url URL --credentials KEY)"


def first_suspended_on(db, module: str) -> Service:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return session.exec(select(Service).where(Service.type == module, Service.status == "suspended").order_by(col(Service.id))).first()


def test_a_demo_servers_services_answer_what_to_do_in_one_line_each(cli, db):
    seeded = cli("seed", "demo", "--services", "300")
    assert seeded.exit_code == 0
    assert "ptero-fra-1, ptero-waw-1, pve-fra-1 are demo servers with no panel: `svcconsole demo` starts sandbox panels for them" in seeded.stderr
    game, vps = first_suspended_on(db, "pterodactyl"), first_suspended_on(db, "proxmox")
    result = cli("services", "unsuspend", str(game.id), str(vps.id), "--yes")
    assert result.exit_code == 1, "every service failed: nothing changed"
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert sorted(lines) == sorted(f"{service.id:>8}  {'failed':<11}  {WHAT_TO_DO.format(server=service.server_name)}" for service in (game, vps))
    assert "credentials" not in (result.stdout + result.stderr).replace("--credentials KEY", "")
    with db.read() as session:
        assert {session.get(Service, service.id).status for service in (game, vps)} == {"suspended"}  # type: ignore[union-attr]
    tested = cli("servers", "test", "pve-fra-1")
    assert (tested.exit_code, tested.stderr.strip()) == (1, "error: server pve-fra-1: " + WHAT_TO_DO.format(server="pve-fra-1"))


def test_the_demo_points_its_servers_at_sandboxes_and_gives_them_back_as_demo_servers(db):
    reset_rate_limiters()
    seed.seed_demo(db, services=60, random_seed=5)
    panels = start_demo_panels(db)
    try:
        with db.read() as session:
            running = {server.name: server.url for server in session.exec(select(Server).where(col(Server.name).in_(seed_catalog.PANEL_SERVERS))).all()}
        assert running == {name: sandbox.url for name, sandbox in panels.sandboxes.items()}
    finally:
        panels.stop()
        reset_rate_limiters()
    with db.read() as session:
        after = {
            server.name: (server.url, server.credentials)
            for server in session.exec(select(Server).where(col(Server.name).in_(seed_catalog.PANEL_SERVERS))).all()
        }
    assert after == {name: (f"https://{name}.demo.invalid", None) for name in seed_catalog.PANEL_SERVERS}


def test_a_demo_server_pointed_at_a_panel_is_a_panel_server(cli, db):
    assert cli("seed", "demo", "--services", "40").exit_code == 0
    sandbox = PterodactylSandbox()
    sandbox.start()
    try:
        edited = cli("servers", "edit", "ptero-fra-1", "--url", sandbox.url, "--credentials", sandbox.credentials)
        assert edited.exit_code == 0, edited.stderr
        tested = cli("servers", "test", "ptero-fra-1")
        assert tested.exit_code == 0 and re.match(r"server ptero-fra-1: ok", tested.stdout), tested.stdout + tested.stderr
    finally:
        sandbox.stop()
