"""The Panel tab against a real sandbox panel over HTTP: live state, a power action that reaches
the panel, reinstall through a confirmed bulk run of one, and an unreachable or slow panel that
shows one error line while the console keeps answering keys."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlmodel import select
from textual.widgets import Label, Static, TabbedContent

from svcconsole.console.screens.detail import DetailScreen
from svcconsole.console.screens.dialogs import ActionDialog, PowerDialog
from svcconsole.core import catalog as catalog_module
from svcconsole.core import records
from svcconsole.modules.http import close_clients
from svcconsole.modules.ratelimits import reset_rate_limiters
from svcconsole.modules.sandbox import PterodactylSandbox
from svcconsole.modules.sandbox.pterodactyl import ExistingServer
from svcconsole.store.models import Activity
from tests.console.conftest import make_app, notifications, notified, settle

pytestmark = pytest.mark.anyio

FAST = ["poll_interval=0.02", "install_wait_seconds=1", "rate_limit_per_minute=0", "max_retry_after=1"]
PANEL_SERVER_ID = 500
IDENTIFIER = "0000abcd"


@pytest.fixture
def ptero() -> Iterator[PterodactylSandbox]:
    reset_rate_limiters()
    sandbox = PterodactylSandbox(install_delay=0.05, power_delay=0.01, fault_delay=1.5, rate_limit_per_minute=None, client_rate_limit_per_minute=None)
    sandbox.start()
    yield sandbox
    sandbox.stop()
    close_clients()
    reset_rate_limiters()


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connection refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass
class GameServer:
    """A pterodactyl service imported for a server that exists on the sandbox."""

    service_id: int
    sandbox: PterodactylSandbox


def game_server(db, admin, sandbox: PterodactylSandbox, *, url: str | None = None, running: bool = False, timeout: float = 5) -> GameServer:  # type: ignore[no-untyped-def]
    def work(session):  # type: ignore[no-untyped-def]
        customer = catalog_module.add_customer(session, admin, name="Greta Keller", email="greta@example.com")
        config = [*FAST, f"timeout={timeout}"]
        server = catalog_module.add_server(
            session, admin, name="ptero-1", module="pterodactyl", url=url or sandbox.url, credentials=sandbox.credentials, node="1", config=config
        )
        product = catalog_module.add_product(
            session, admin, name="Paper 4GB", type="pterodactyl", prices=["monthly=12.00"], config=["nest=1", "egg=1", "memory=4096", "disk=20480"]
        )
        draft = records.ServiceDraft(
            customer=str(customer.id), name="greta-mc", product=str(product.id), server=str(server.id), expires="2027-01-31", external=str(PANEL_SERVER_ID)
        )
        service = records.import_service(session, admin, draft, external={"server_id": PANEL_SERVER_ID, "identifier": IDENTIFIER})
        return service.id, service.uuid

    service_id, service_uuid = db.transaction(work)
    sandbox.add_servers(
        [
            ExistingServer(
                name="greta-mc",
                external_id=service_uuid,
                server_id=PANEL_SERVER_ID,
                identifier=IDENTIFIER,
                running=running,
                limits={"memory": 4096, "disk": 20480},
            )
        ]
    )
    return GameServer(service_id, sandbox)


async def shows(pilot, screen: DetailScreen, text: str, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    """Whether the panel tab shows `text` within `timeout` seconds (the panel answers in a worker)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while text not in panel_text(screen) and loop.time() < deadline:
        await settle(pilot, rounds=1)
    return text in panel_text(screen)


async def open_panel_tab(pilot, app, service_id: int) -> DetailScreen:  # type: ignore[no-untyped-def]
    await settle(pilot)
    app.open_service(service_id)
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, DetailScreen)
    await pilot.press("right_square_bracket")
    await settle(pilot)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while "asking the panel" in panel_text(screen) and loop.time() < deadline:
        await settle(pilot, rounds=1)
    await settle(pilot)
    return screen


def rendered(renderable) -> str:  # type: ignore[no-untyped-def]
    from rich.console import Console

    console = Console(width=120, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def panel_text(screen) -> str:  # type: ignore[no-untyped-def]
    return rendered(screen.query_one("#panel-state", Static).content)


def sub_tab_titles(screen) -> list[str]:  # type: ignore[no-untyped-def]
    from textual.widgets import Tab

    return [str(tab.label) for tab in screen.query_one("#module-tabs", TabbedContent).query(Tab)]


def shown_sub_tab(screen) -> str:  # type: ignore[no-untyped-def]
    """The text of the module sub-tab on view."""
    sub_tabs = screen.query_one("#module-tabs", TabbedContent)
    return rendered(sub_tabs.query_one(f"#{sub_tabs.active} .module-tab-rows", Static).content)


def customer_area(db, game: GameServer):  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    from svcconsole.client.app import ClientApp
    from svcconsole.core import customer

    with db.read() as session:
        actor = customer.open_area(session, "c-greta", "greta@example.com")
    return ClientApp(db, actor, tz=ZoneInfo("UTC"))


async def open_customer_panel_tab(pilot, app, service_id: int):  # type: ignore[no-untyped-def]
    from svcconsole.client.screens import ClientDetailScreen

    await settle(pilot)
    app.open_service(service_id)
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, ClientDetailScreen)
    await pilot.press("right_square_bracket")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not screen.query("#module-tabs") and loop.time() < deadline:
        await settle(pilot, rounds=1)
    await settle(pilot)
    return screen


async def test_the_panel_tab_shows_the_live_state_and_a_power_action_reaches_the_panel(db, admin, ptero, frozen):
    game = game_server(db, admin, ptero)
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_panel_tab(pilot, app, game.service_id)
        shown = panel_text(screen)
        assert "offline" in shown and "4096 MiB" in shown and IDENTIFIER in shown
        assert sub_tab_titles(screen) == ["Allocation", "Limits"]
        assert {button.id for button in screen.query(".power")} == {"power-start"}
        screen.query_one("#power-start").press()
        await settle(pilot)
        assert ptero.servers[PANEL_SERVER_ID].power_state in {"starting", "running"}
        assert await notified(pilot, "start sent")
        await pilot.pause(0.05)
        await pilot.press("R")
        await settle(pilot)
        assert await shows(pilot, screen, "running")
        assert {button.id for button in screen.query(".power")} == {"power-stop", "power-restart", "power-kill"}
    with db.read() as session:
        logged = session.exec(select(Activity).where(Activity.service_id == game.service_id, Activity.action == "power")).one()
    assert logged.details == {"signal": "start"}


async def test_the_modules_sub_tabs_are_tabs_of_their_own_stepped_with_braces_and_arrows(db, admin, ptero, frozen):
    game = game_server(db, admin, ptero)
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_panel_tab(pilot, app, game.service_id)
        sub_tabs = screen.query_one("#module-tabs", TabbedContent)
        assert sub_tab_titles(screen) == ["Allocation", "Limits"] and sub_tabs.active == "module-tab-allocation"
        assert "10.0.0.10:25615" in shown_sub_tab(screen) and "io weight" not in shown_sub_tab(screen)
        assert screen.active_bindings["right_curly_bracket"].binding.show and screen.check_action("next_sub_tab", ())
        await pilot.press("right_curly_bracket")
        await settle(pilot)
        assert sub_tabs.active == "module-tab-limits" and "io weight" in shown_sub_tab(screen)
        assert screen.query_one("#tabs", TabbedContent).active == "panel"
        await pilot.press("left")
        await settle(pilot)
        assert sub_tabs.active == "module-tab-allocation"
        await pilot.press("left_curly_bracket")
        await settle(pilot)
        assert sub_tabs.active == "module-tab-limits"
        await pilot.press("R")
        await settle(pilot)
        assert await shows(pilot, screen, "offline")
        assert sub_tabs.active == "module-tab-limits", "asking the panel again keeps the sub-tab on view"
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert screen.query_one("#tabs", TabbedContent).active == "renewals"
        assert not screen.check_action("next_sub_tab", ())
        await pilot.press("right_curly_bracket")
        assert screen.query_one("#tabs", TabbedContent).active == "renewals" and sub_tabs.active == "module-tab-limits"


async def test_the_customer_sees_the_same_sub_tabs_without_the_panels_references(db, admin, ptero, frozen):
    game = game_server(db, admin, ptero)
    app = customer_area(db, game)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_customer_panel_tab(pilot, app, game.service_id)
        shown = panel_text(screen)
        assert "offline" in shown and "4096 MiB" in shown and "10.0.0.10:25615" in shown
        assert IDENTIFIER not in shown and "server id" not in shown and "ghcr.io" not in shown
        assert sub_tab_titles(screen) == ["Allocation", "Limits"]
        await pilot.press("right_curly_bracket")
        await settle(pilot)
        assert screen.query_one("#module-tabs", TabbedContent).active == "module-tab-limits" and "io weight" in shown_sub_tab(screen)
        await pilot.press("right_curly_bracket")
        await settle(pilot)
        assert screen.query_one("#module-tabs", TabbedContent).active == "module-tab-allocation"


def test_snapshot_the_customers_panel_tab_on_its_limits_sub_tab(db, admin, ptero, frozen, snap_compare):
    game = game_server(db, admin, ptero)

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await open_customer_panel_tab(pilot, pilot.app, game.service_id)
        await pilot.press("right_curly_bracket")
        await settle(pilot)

    assert snap_compare(customer_area(db, game), terminal_size=(80, 24), run_before=run)


async def test_reinstall_is_confirmed_then_runs_as_a_bulk_run_of_one(db, admin, ptero, frozen):
    game = game_server(db, admin, ptero, running=True)
    ptero.set_install_delay(30)
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_panel_tab(pilot, app, game.service_id)
        screen.query_one("#reinstall").press()
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ActionDialog) and dialog.focused.id == "reason"
        assert "the data stored on it is lost" in str(dialog.query_one("#consequence").render())
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert app.screen is dialog, "reinstall ran without the typed word"
        assert "type reinstall to confirm" in str(dialog.query_one("#dialog-error").render())
        assert ptero.server_status(PANEL_SERVER_ID) != "installing"
        dialog.query_one("#confirm").value = "reinstall"
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert ptero.server_status(PANEL_SERVER_ID) == "installing"
        assert ("information", f"service {game.service_id}: reinstalled") in notifications(app)
        assert await shows(pilot, screen, "installing")
    with db.read() as session:
        assert session.exec(select(Activity).where(Activity.service_id == game.service_id, Activity.action == "reinstall")).one()


@pytest.mark.parametrize("signal", ["stop", "kill"])
async def test_stop_and_kill_ask_for_the_typed_word_as_terminate_does(db, admin, ptero, frozen, signal):
    game = game_server(db, admin, ptero, running=True)
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_panel_tab(pilot, app, game.service_id)
        assert await shows(pilot, screen, "running")
        screen.query_one(f"#power-{signal}").press()
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, PowerDialog) and dialog.focused.id == "confirm"
        assert f'Type the word "{signal}" to confirm' in str(dialog.query_one(Label).render())
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert app.screen is dialog and ptero.servers[PANEL_SERVER_ID].power_state == "running"
        dialog.query_one("#confirm").value = signal
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert app.screen is screen
        assert await notified(pilot, f"{signal} sent")
    with db.read() as session:
        logged = session.exec(select(Activity).where(Activity.service_id == game.service_id, Activity.action == "power")).one()
    assert logged.details == {"signal": signal}


async def test_read_only_shows_the_panel_with_its_actions_off(db, admin, ptero, frozen):
    from svcconsole.core.context import acting_operator

    game = game_server(db, admin, ptero)
    app = make_app(db, acting_operator(db, read_only=True))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_panel_tab(pilot, app, game.service_id)
        assert "offline" in panel_text(screen)
        assert screen.query_one("#power-start").disabled and screen.query_one("#reinstall").disabled
        assert all(button.disabled for button in screen.query("UpgradeView Button"))
        screen.action_service_action("reinstall")
        await settle(pilot)
        assert not isinstance(app.screen, ActionDialog)
    assert ptero.servers[PANEL_SERVER_ID].power_state == "offline"


async def test_an_unreachable_panel_is_one_error_line_and_the_console_keeps_answering(db, admin, ptero, frozen):
    game = game_server(db, admin, ptero, url=closed_port_url())
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_panel_tab(pilot, app, game.service_id)
        shown = panel_text(screen)
        assert "cannot connect to the panel" in shown and "Traceback" not in shown
        assert shown.strip().splitlines()[0].startswith("Pterodactyl panel: cannot connect")
        assert screen.query_one("#panel-retry")
        tabs = screen.query_one(TabbedContent)
        await pilot.press("right_square_bracket")
        assert tabs.active == "renewals"
        await pilot.press("left_square_bracket")
        assert tabs.active == "panel"
        await pilot.press("R")
        await settle(pilot)
        assert await shows(pilot, screen, "cannot connect to the panel")
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, DetailScreen)


async def test_a_slow_panel_is_waited_for_in_a_worker_and_times_out_to_an_error_line(db, admin, ptero, frozen):
    game = game_server(db, admin, ptero, timeout=3)
    ptero.fail_next("*", "timeout", count=2, delay=4)
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_service(game.service_id)
        await settle(pilot)
        screen = app.screen
        await pilot.press("right_square_bracket")
        await pilot.pause(0.05)
        assert "asking the panel" in panel_text(screen)
        tabs = screen.query_one(TabbedContent)
        await pilot.press("right_square_bracket")
        assert tabs.active == "renewals"
        assert "asking the panel" in panel_text(screen)
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert await shows(pilot, screen, "no answer within 3 s (timeout)")


def test_snapshot_the_live_state_of_a_stopped_game_server(db, admin, ptero, frozen, snap_compare):
    game = game_server(db, admin, ptero)

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await open_panel_tab(pilot, pilot.app, game.service_id)

    assert snap_compare(make_app(db, admin), terminal_size=(80, 24), run_before=run)


def test_snapshot_an_unreachable_panel(db, admin, ptero, frozen, snap_compare):
    game = game_server(db, admin, ptero, url=closed_port_url())

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await open_panel_tab(pilot, pilot.app, game.service_id)

    assert snap_compare(make_app(db, admin), terminal_size=(80, 24), run_before=run)


async def test_a_server_imported_with_the_wizard_keeps_the_panels_ids_and_shows_its_panel(db, admin, ptero, frozen):
    from textual.widgets import Select

    from svcconsole.console.screens.wizard import WizardScreen

    game_server(db, admin, ptero)
    [existing] = ptero.add_servers([ExistingServer(name="found-on-panel", server_id=777, identifier="0000beef")])
    app = make_app(db, admin)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        wizard = app.screen
        assert isinstance(wizard, WizardScreen)
        wizard.query_one("#customer").value = "greta@example.com"
        wizard.query_one("#type", Select).value = "pterodactyl"
        wizard.query_one("#mode", Select).value = "import"
        await pilot.click("#next")
        await settle(pilot)
        wizard.query_one("#name").value = "found"
        wizard.query_one("#price").value = "9.00"
        with db.read() as session:
            from svcconsole.store.models import Server

            server_id = session.exec(select(Server.id).where(Server.name == "ptero-1")).one()
        wizard.query_one("#server", Select).value = str(server_id)
        await settle(pilot)
        assert str(existing) in [value for _, value in wizard.query_one("#external-choice", Select)._options]
        wizard.query_one("#external-choice", Select).value = str(existing)
        await settle(pilot)
        await pilot.click("#next")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        stored = screen.detail.service
        assert (stored.status, stored.external["server_id"], stored.external["identifier"]) == ("active", 777, "0000beef")
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert await shows(pilot, screen, "0000beef")
