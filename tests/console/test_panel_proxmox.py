"""Issue 23 item 11: the Proxmox panel names "suspend" (a VM pause) "pause", says why it offers
no reinstall, and asks the panel again by itself while an operation holds the VM."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from sqlmodel import col, select
from textual.widgets import Static

from svcconsole.console.demo import DemoPanels, start_demo_panels
from svcconsole.console.screens import detail_panel
from svcconsole.console.screens.detail import DetailScreen
from svcconsole.modules.http import close_clients
from svcconsole.modules.ratelimits import reset_rate_limiters
from svcconsole.store.models import Server, Service
from tests.console.conftest import make_app, settle

pytestmark = pytest.mark.anyio


def plain(renderable) -> str:  # type: ignore[no-untyped-def]
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


@pytest.fixture
def panels(demo) -> Iterator[DemoPanels]:  # type: ignore[no-untyped-def]
    reset_rate_limiters()
    started = start_demo_panels(demo)
    yield started
    started.stop()
    close_clients()
    reset_rate_limiters()


def running_vm(db, panels: DemoPanels):  # type: ignore[no-untyped-def]
    with db.read() as session:
        for service in session.exec(select(Service).where(Service.type == "proxmox", Service.status == "active").order_by(col(Service.id))).all():
            server = session.get(Server, service.server_id)
            sandbox = panels.sandboxes[server.name]
            if sandbox.vm(service.external["vmid"])["status"] == "running":
                return service, sandbox
    raise AssertionError("the demo has no running VM")


async def open_panel(pilot, app, service_id: int) -> DetailScreen:  # type: ignore[no-untyped-def]
    app.open_service(service_id)
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, DetailScreen)
    screen.query_one("#tabs").active = "panel"
    await settle(pilot)
    return screen


async def test_the_vm_pause_is_named_pause_and_the_missing_reinstall_is_explained(db, admin, panels):  # type: ignore[no-untyped-def]
    service, _ = running_vm(db, panels)
    app = make_app(db, admin)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        screen = await open_panel(pilot, app, service.id)
        labels = {str(button.label) for button in screen.query("#panel-actions Button")}
        assert "pause" in labels and "suspend" not in labels, labels
        why = plain(screen.query_one("#no-reinstall", Static).content)
        assert "Proxmox VE cannot reinstall" in why, why


async def test_the_panel_is_asked_again_by_itself_while_an_operation_holds_the_vm(db, admin, panels, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(detail_panel, "BUSY_POLL_SECONDS", 0.3)
    service, sandbox = running_vm(db, panels)
    vmid = service.external["vmid"]
    with sandbox.lock:
        sandbox.vms[vmid].config["lock"] = "backup"
    app = make_app(db, admin)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        screen = await open_panel(pilot, app, service.id)
        assert "backup" in plain(screen.query_one("#panel-state").content)
        assert not screen.query("#panel-actions Button.power")
        with sandbox.lock:
            del sandbox.vms[vmid].config["lock"]
        for _ in range(30):
            await pilot.pause(0.1)
            await settle(pilot, rounds=2)
            if screen.query("#panel-actions Button.power"):
                break
        assert "backup" not in plain(screen.query_one("#panel-state").content), "the panel was not asked again"
        assert {str(button.label) for button in screen.query("#panel-actions Button.power")} >= {"pause", "stop"}
