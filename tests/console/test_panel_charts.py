"""Issue 16 item 11: the Panel tab draws the panel's figures with Sparklines: Proxmox's recorded
history over an hour, a day or a week (`rrddata`), and Pterodactyl's live figures, one point per
answer; the CLI prints the same history."""

from __future__ import annotations

import io
import json

import pytest
from sqlmodel import col, select
from textual.widgets import Sparkline, Static

from svcconsole.store.models import Service
from svcconsole.widgets.panel_charts import live_rates
from tests.console.conftest import make_app, settle
from tests.console.test_panel import game_server, open_panel_tab, ptero, shows  # noqa: F401 - the sandbox panel fixture
from tests.console.test_panel_proxmox import open_panel, panels, running_vm  # noqa: F401 - the demo panels fixture

pytestmark = pytest.mark.anyio


def text_of(screen, selector: str) -> str:  # type: ignore[no-untyped-def]
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None, file=io.StringIO())
    console.print(screen.query_one(selector, Static).content)
    return console.export_text()


def test_live_network_figures_are_the_rate_between_two_answers_and_a_restart_gives_none() -> None:
    answers = [
        (0.0, {"cpu": 10.0, "memory": 100.0, "network in": 0.0, "network out": 0.0}),
        (2.0, {"cpu": 30.0, "memory": 300.0, "network in": 4096.0, "network out": 1024.0}),
        (4.0, {"cpu": 20.0, "memory": 200.0, "network in": 1024.0, "network out": 3072.0}),
    ]
    assert live_rates(answers) == {
        "cpu": [10.0, 30.0, 20.0],
        "memory": [100.0, 300.0, 200.0],
        "network in": [2048.0, None],
        "network out": [512.0, 1024.0],
    }


async def test_the_proxmox_panel_tab_charts_the_history_of_the_span_chosen(db, admin, panels):  # type: ignore[no-untyped-def]
    service, sandbox = running_vm(db, panels)
    sandbox.clock = lambda: 1_800_000_000
    app = make_app(db, admin)
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(pilot)
        screen = await open_panel(pilot, app, service.id)
        await settle(pilot)
        assert "history of the last hour (70 points, one every a minute)" in text_of(screen, "#charts-title")
        assert len(screen.query_one("#chart-0", Sparkline).data) == 70
        assert "address" in text_of(screen, "#panel-state")
        screen.query_one("#history-week").press()
        await settle(pilot)
        assert "history of the last week (70 points, one every three hours)" in text_of(screen, "#charts-title")
        assert screen.query_one("#history-week").variant == "primary"


def test_snapshot_the_proxmox_panel_tab_with_its_addresses_and_a_days_history(db, admin, panels, snap_compare):  # type: ignore[no-untyped-def]
    service, sandbox = running_vm(db, panels)
    sandbox.clock = lambda: 1_800_000_000
    with sandbox.lock:
        sandbox.vms[service.external["vmid"]].started_at = 1_800_000_000 - 3600

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        screen = await open_panel(pilot, pilot.app, service.id)
        screen.query_one("#history-day").press()
        await settle(pilot)
        screen.query_one("#panel-body").scroll_end(animate=False)
        await settle(pilot)

    assert snap_compare(make_app(db, admin), terminal_size=(120, 40), run_before=run)


async def test_the_pterodactyl_panel_tab_charts_one_live_point_per_answer(db, admin, ptero, frozen):  # type: ignore[no-untyped-def]
    game = game_server(db, admin, ptero, running=True)
    app = make_app(db, admin)
    async with app.run_test(size=(120, 50)) as pilot:
        screen = await open_panel_tab(pilot, app, game.service_id)
        assert not screen.query_one("#history-spans").display, "Pterodactyl keeps no history to choose a span of"
        assert "live: 1 answer since the tab opened" in text_of(screen, "#charts-title")
        await pilot.press("R")
        await settle(pilot)
        assert await shows(pilot, screen, "running")
        assert "live: 2 answers since the tab opened" in text_of(screen, "#charts-title")
        assert len(screen.query_one("#chart-0", Sparkline).data) == 2


def test_the_cli_prints_the_history_and_refuses_a_span_or_module_it_cannot_chart(db, cli, panels, admin):  # type: ignore[no-untyped-def]
    service, sandbox = running_vm(db, panels)
    sandbox.clock = lambda: 1_800_000_000
    shown = cli("services", "statistics", str(service.id), "--span", "day", "-f", "json")
    assert shown.exit_code == 0, shown.stderr
    rows = json.loads(shown.stdout)
    assert len(rows) == 70
    assert rows[-1]["time"] == "2027-01-15 08:00:00+00:00"
    assert set(rows[0]) == {"time", "cpu %", "memory MiB", "network in KiB/s", "network out KiB/s"}

    wrong = cli("services", "statistics", str(service.id), "--span", "decade")
    assert wrong.exit_code == 2 and "--span" in wrong.stderr and "hour, day, week" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1
    with db.read() as session:
        game = session.exec(select(Service.id).where(Service.type == "pterodactyl", Service.status == "active").order_by(col(Service.id))).first()
    no_history = cli("services", "statistics", str(game), "--span", "hour")
    assert no_history.exit_code == 2 and "keeps no history" in no_history.stderr
