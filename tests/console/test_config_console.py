"""config.toml in the console (issue 18): a broken file still opens it and says which key;
[keys] remaps what the footer, help and the palette show; themes (from the file and the palette,
with a live preview) and a database's title and accent."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from textual.color import Color
from textual.command import CommandPalette

from svcconsole.console.app import ConsoleApp
from svcconsole.console.screens.dialogs import ActionDialog
from svcconsole.console.screens.services import ServicesScreen
from svcconsole.core import config
from svcconsole.widgets import render
from svcconsole.widgets.help import HelpScreen
from tests.conftest import make_actor
from tests.console.conftest import make_app, notifications, settle
from tests.console.test_snapshots import interact

pytestmark = pytest.mark.anyio


def loaded(config_dir: Path, text: str) -> config.Config:
    (config_dir / "config.toml").write_text(text, encoding="utf-8")
    return config.load(environ={})


def footer_keys(app: ConsoleApp) -> dict[str, str]:
    """The footer's keys as shown, by their description."""
    from textual.widgets._footer import FooterKey

    return {key.description or key.action: key.key_display for key in app.screen.query(FooterKey)}


async def test_a_broken_file_still_opens_the_console_and_says_which_key(demo, config_dir: Path) -> None:
    alice = make_actor(demo, "alice", "admin")
    settings = loaded(config_dir, 'theme = "nord"\ntimezone = "Mars/Olympus"\n[keys]\nsuspend = 7\n')
    app = make_app(demo, alice, config=settings)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ServicesScreen)
        assert app.screen.total and app.screen.total > 200  # the rows are listed
        said = [message for severity, message in notifications(app) if severity == "error"]
        assert "config.toml: timezone: 'Mars/Olympus' is not a time zone (an IANA name such as Europe/Paris or UTC); its default is used" in said
        assert 'config.toml: keys.suspend: expected a key such as "S", "ctrl+e" or "f5", got 7; its default is used' in said
        assert app.theme == "nord"  # the good keys are kept


async def test_unparsable_toml_opens_on_defaults(demo, config_dir: Path) -> None:
    alice = make_actor(demo, "alice", "admin")
    settings = loaded(config_dir, 'theme = "nord"\n[keys\n')
    app = make_app(demo, alice, config=settings)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ServicesScreen)
        assert app.theme == "textual-dark"
        said = [message for severity, message in notifications(app) if severity == "error"]
        assert len(said) == 1 and said[0].startswith("config.toml: not valid TOML (") and "line 2" in said[0]


async def test_a_remapped_key_runs_its_action_and_shows_everywhere(demo, config_dir: Path) -> None:
    alice = make_actor(demo, "alice", "admin")
    app = make_app(demo, alice, config=loaded(config_dir, '[keys]\nsuspend = "S"\nhelp = "f1"\n'))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"status:active", "enter")
        await settle(pilot)
        keys = footer_keys(app)
        assert keys["Suspend"] == "S"
        assert keys["Help"] == "f1"
        await pilot.press("s")
        await settle(pilot)
        assert not isinstance(app.screen, ActionDialog)  # the default key is free now
        await pilot.press("S")
        await settle(pilot)
        assert isinstance(app.screen, ActionDialog)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = help_text(app.screen)
        assert (
            "S  Suspend" in text
            or "S    Suspend" in text
            or "S         Suspend" in text
            or any(line.split()[:2] == ["S", "Suspend"] for line in text.splitlines())
        )
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"service: suspend")
        await settle(pilot)
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        shown = " ".join(str(option.prompt) for option in palette.query_one("CommandList").options)  # type: ignore[attr-defined]
        assert "(key: S)" in shown


def help_text(screen: HelpScreen) -> str:
    console = Console(width=200, record=True)
    console.print(screen.table)
    return console.export_text()


async def test_a_key_already_taken_is_reported_and_the_default_kept(demo, config_dir: Path) -> None:
    alice = make_actor(demo, "alice", "admin")
    app = make_app(demo, alice, config=loaded(config_dir, '[keys]\nnext-sort = "u"\n'))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        said = [message for severity, message in notifications(app) if severity == "error"]
        assert said == ["config.toml: keys.next-sort: 'u' is already 'Unsuspend' (services); Sort keeps 'o'"]
        await pilot.press("o")
        await settle(pilot)
        assert app.screen.sort.column == "customer"


async def test_theme_from_the_file_colours_statuses_for_a_light_background(demo, config_dir: Path) -> None:
    alice = make_actor(demo, "alice", "admin")
    app = make_app(demo, alice, config=loaded(config_dir, 'theme = "textual-light"\n'))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert app.theme == "textual-light"
        assert render.STATUS_STYLES["active"] == "#005f00"
        assert render.STATUS_STYLES["suspended"] == "bold #875f00"
        assert app.theme_variables["status-active"] == "#005f00"
    assert render.STATUS_STYLES["active"] == "#5fd75f"  # back to the dark theme's once the app is gone


async def test_the_theme_picker_previews_esc_goes_back_and_enter_keeps_it_for_the_next_launch(demo, config_dir: Path) -> None:
    alice = make_actor(demo, "alice", "admin")
    app = make_app(demo, alice)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"theme: choose", "enter")
        await settle(pilot)
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"dracula")
        await settle(pilot)
        await pilot.press("down")
        await settle(pilot)
        assert app.theme == "dracula"  # shown while highlighted
        await pilot.press("escape")
        await settle(pilot)
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+p")
        await pilot.press(*"theme: choose", "enter")
        await settle(pilot)
        assert not (config_dir / "console.toml").exists()  # esc keeps nothing
        await pilot.press(*"nord", "down", "enter")
        await settle(pilot)
        assert app.theme == "nord"
    assert config.load(environ={}).theme == "nord"  # kept in console.toml for the next launch
    reopened = make_app(demo, alice, config=config.load(environ={}))
    async with reopened.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert reopened.theme == "nord"


async def test_a_production_database_has_its_title_and_accent(demo, config_dir: Path) -> None:
    alice = make_actor(demo, "alice", "admin")
    settings = loaded(config_dir, f'[databases."{demo.url}"]\ntitle = "PRODUCTION"\naccent = "red"\n')
    app = make_app(demo, alice, config=settings, database_label=None)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        title = str(app.screen.query_one("#title").render())
        assert "PRODUCTION" in title
        accent = Color.parse(app.theme_variables["accent"])
        assert accent.r > 240 and accent.g < 10 and accent.b < 10
    plain = make_app(demo, alice)
    async with plain.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert "PRODUCTION" not in str(plain.screen.query_one("#title").render())
        assert Color.parse(plain.theme_variables["accent"]).g > 10


class TestSnapshots:
    def test_remapped_footer(self, demo, config_dir, snap_compare):  # type: ignore[no-untyped-def]
        alice = make_actor(demo, "alice", "admin")
        settings = loaded(config_dir, '[keys]\nsuspend = "S"\nunsuspend = "U"\nfocus-filter = "f"\n')
        active_tab = ("right_square_bracket", "right_square_bracket")
        assert snap_compare(make_app(demo, alice, config=settings), run_before=interact(*active_tab))

    def test_second_theme(self, demo, config_dir, snap_compare):  # type: ignore[no-untyped-def]
        alice = make_actor(demo, "alice", "admin")
        assert snap_compare(make_app(demo, alice, config=loaded(config_dir, 'theme = "textual-light"\n')), run_before=interact())

    def test_production_title(self, demo, config_dir, snap_compare):  # type: ignore[no-untyped-def]
        alice = make_actor(demo, "alice", "admin")
        settings = loaded(config_dir, f'[databases.prod]\nurl = "{demo.url}"\ntitle = "PRODUCTION"\naccent = "red"\n')
        assert snap_compare(make_app(demo, alice, config=settings, database_label=None), run_before=interact())


async def test_the_display_time_zone_comes_from_the_file(demo, config_dir: Path) -> None:
    alice = make_actor(demo, "alice", "admin")
    settings = loaded(config_dir, 'timezone = "Asia/Tokyo"\n')
    app = ConsoleApp(demo, alice, config=settings, database_label="test.db", health_check_seconds=None)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert app.tz.key == "Asia/Tokyo"
        assert app.screen.query_one("ServiceTable").tz.key == "Asia/Tokyo"
