"""Saved views (issue 18): `:view save NAME` writes views.toml, `:view NAME` shows it again,
config.toml's [views.NAME] with their columns, and `services list --view NAME` lists the same rows."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from textual.command import CommandPalette

from svcconsole.console.screens.services import ServicesScreen
from svcconsole.core import config
from svcconsole.widgets.service_table import ServiceTable
from tests.conftest import Cli, make_actor
from tests.console.conftest import make_app, notifications, settle
from tests.console.test_snapshots import interact

pytestmark = pytest.mark.anyio


async def palette(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("colon")
    await settle(pilot, rounds=2)
    assert CommandPalette.is_open(pilot.app)
    await pilot.press(*text)
    await pilot.pause(0.3)
    await settle(pilot, rounds=2)
    await pilot.press("enter")
    await settle(pilot)


def listed_ids(screen: ServicesScreen) -> list[int]:
    return [row.id for row in (screen.table.window.row(position) for position in range(screen.total or 0)) if row is not None]


async def test_save_a_view_then_show_it_again(demo, config_dir: Path, cli: Cli) -> None:
    alice = make_actor(demo, "alice", "admin")
    app = make_app(demo, alice, page_size=400)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"status:suspended", "enter")
        await settle(pilot)
        await pilot.press("o", "o")  # sort: customer, then name
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ServicesScreen)
        assert screen.sort.column == "name"
        wanted = listed_ids(screen)
        await palette(pilot, "view save susp-by-name")
        saved = tomllib.loads((config_dir / "views.toml").read_text())
        assert saved["views"]["susp-by-name"] == {"filter": "status:suspended", "sort": "name", "descending": False, "tab": False}
        assert any("view susp-by-name saved" in message for _, message in notifications(app))
        await pilot.press("escape")  # clear the filter
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        assert screen.filter_text == "" and screen.sort.column != "name"
        await palette(pilot, "view susp-by-name")
        assert screen.filter_text == "status:suspended"
        assert screen.sort.column == "name"
        assert screen.view_name == "susp-by-name"
        assert listed_ids(screen) == wanted
    same = cli("services", "list", "--view", "susp-by-name", "--format", "ids")
    assert same.exit_code == 0, same.stderr
    assert [int(line) for line in same.lines] == wanted


async def test_a_bad_view_name_is_refused_and_nothing_written(demo, config_dir: Path) -> None:
    alice = make_actor(demo, "alice", "admin")
    app = make_app(demo, alice)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await palette(pilot, "view save Bad/Name")
        said = [message for severity, message in notifications(app) if severity == "error"]
        assert said == ["view 'Bad/Name': a view's name is lower-case letters, digits, - and _ (up to 40)"]
    assert not (config_dir / "views.toml").exists()


async def test_a_view_from_config_toml_chooses_and_orders_the_columns(demo, config_dir: Path) -> None:
    alice = make_actor(demo, "alice", "admin")
    (config_dir / "config.toml").write_text('[views.late]\nfilter = "status:active"\nsort = "expires"\ncolumns = ["expires", "name", "customer", "status"]\n')
    app = make_app(demo, alice, config=config.load(environ={}))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await palette(pilot, "view late")
        table = app.screen.query_one(ServiceTable)
        layout = table.column_layout
        assert [column.key for column, _ in layout.columns] == ["id", "expires", "name", "customer", "status"]
        widths = {column.key: width for column, width in layout.columns}
        assert widths["status"] == len("suspended (temporary)")  # the status keeps its width...
        assert widths["name"] > 30 and widths["customer"] > 20  # ...name and customer take the slack of 120 columns
        assert sum(widths.values()) + len(widths) - 1 <= 120


async def test_config_columns_apply_to_the_list(demo, config_dir: Path) -> None:
    alice = make_actor(demo, "alice", "admin")
    (config_dir / "config.toml").write_text('columns = ["name", "status", "expires"]\n')
    app = make_app(demo, alice, config=config.load(environ={}))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        layout = app.screen.query_one(ServiceTable).column_layout
        assert [column.key for column, _ in layout.columns] == ["id", "name", "status", "expires"]


class TestSnapshots:
    def test_saved_view(self, demo, config_dir, snap_compare):  # type: ignore[no-untyped-def]
        alice = make_actor(demo, "alice", "admin")
        (config_dir / "config.toml").write_text(
            '[views.late]\nfilter = "status:active"\nsort = "expires"\ncolumns = ["expires", "name", "customer", "status"]\n'
        )
        app = make_app(demo, alice, config=config.load(environ={}))

        async def run(pilot) -> None:  # type: ignore[no-untyped-def]
            await settle(pilot)
            await palette(pilot, "view late")
            await interact(quiet=True)(pilot)

        assert snap_compare(app, terminal_size=(120, 30), run_before=run)


async def test_a_view_asked_as_a_tab_is_an_extra_tab_to_click_or_step_to(demo, config_dir: Path) -> None:
    from svcconsole.widgets.status_tabs import StatusTabs

    alice = make_actor(demo, "alice", "admin")
    (config_dir / "config.toml").write_text('[views.late]\nfilter = "status:suspended"\nsort = "expires"\ntab = true\n[views.plain]\nfilter = "x"\n')
    app = make_app(demo, alice, config=config.load(environ={}))
    async with app.run_test(size=(140, 30)) as pilot:
        await settle(pilot)
        tabs = app.screen.query_one(StatusTabs)
        labels = dict(tabs._labels())
        assert labels["view:late"] == " ★ late "
        assert "view:plain" not in labels
        x = 0
        for key, label in tabs._labels():
            if key == "view:late":
                break
            x += len(label) + 1
        await pilot.click(StatusTabs, offset=(x + 2, 0))
        await settle(pilot)
        screen = app.screen
        assert (screen.filter_text, screen.sort.column, screen.view_name, tabs.active) == ("status:suspended", "expires", "late", "view:late")
        assert screen.total == screen.by_status["suspended"]
        await pilot.press("right_square_bracket")  # from the last tab back to All
        await settle(pilot)
        assert tabs.active == "all"
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert tabs.active == "view:late"
