"""config.toml as issue 18 describes it: every key optional, SVCCONSOLE_* overrides, a bad key
named in one line and dropped (its default applies), never an exception; views.toml written whole."""

from __future__ import annotations

from pathlib import Path

from svcconsole.core import config
from svcconsole.core.config import ViewSpec

GOOD = """
database_url = "postgresql://svc@db.example/svc"
theme = "nord"
timezone = "Europe/Paris"
columns = ["customer", "name", "status", "expires"]

[keys]
suspend = "S"

[views.expiring]
filter = "status:active expires<7d"
sort = "expires"
columns = ["id", "name", "customer", "expires"]
tab = true

[databases."postgresql://svc@db.example/svc"]
title = "PRODUCTION"
accent = "red"

[databases.test]
url = "sqlite:///tmp/test.db"
title = "test"
"""


def write(folder: Path, text: str) -> Path:
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_is_every_default(config_dir: Path) -> None:
    loaded = config.load(environ={})
    assert loaded.path == config_dir / "config.toml"
    assert (loaded.database_url, loaded.theme, loaded.timezone, loaded.columns, loaded.keys, loaded.views, loaded.problems) == (
        None,
        None,
        None,
        (),
        {},
        {},
        (),
    )


def test_a_good_file_sets_every_key(config_dir: Path) -> None:
    write(config_dir, GOOD)
    loaded = config.load(environ={})
    assert loaded.problems == ()
    assert loaded.database_url == "postgresql://svc@db.example/svc"
    assert loaded.theme == "nord"
    assert loaded.timezone == "Europe/Paris"
    assert loaded.columns == ("id", "customer", "name", "status", "expires")  # id is always first
    assert loaded.keys == {"suspend": "S"}
    assert loaded.views["expiring"] == ViewSpec("expiring", "status:active expires<7d", "expires", False, ("id", "name", "customer", "expires"), True)
    assert loaded.look_of("postgresql://svc@db.example/svc").title == "PRODUCTION"
    assert loaded.look_of("postgresql+psycopg://svc@db.example/svc").accent == "red"
    assert loaded.look_of("sqlite:///tmp/test.db").title == "test"
    assert loaded.look_of("sqlite:///other.db").title is None


def test_environment_overrides_the_file(config_dir: Path) -> None:
    write(config_dir, GOOD)
    environ = {
        "SVCCONSOLE_DATABASE_URL": "sqlite:///elsewhere.db",
        "SVCCONSOLE_THEME": "dracula",
        "SVCCONSOLE_TIMEZONE": "UTC",
        "SVCCONSOLE_COLUMNS": "name,status",
        "SVCCONSOLE_KEYS_SUSPEND": "ctrl+s",
        "SVCCONSOLE_KEYS_NEXT_SORT": "f6",
    }
    loaded = config.load(environ=environ)
    assert loaded.database_url == "sqlite:///elsewhere.db"
    assert loaded.theme == "dracula"
    assert loaded.timezone == "UTC"
    assert loaded.columns == ("id", "name", "status")
    assert loaded.keys == {"suspend": "ctrl+s", "next-sort": "f6"}
    assert loaded.sources["theme"] == "$SVCCONSOLE_THEME"
    assert loaded.sources["keys.next-sort"] == "$SVCCONSOLE_KEYS_NEXT_SORT"


def test_a_bad_key_is_named_and_dropped_the_others_kept(config_dir: Path) -> None:
    write(config_dir, 'theme = "nord"\ntimezone = "Mars/Olympus"\ncolumns = ["name", "colour"]\n[keys]\nsuspend = 5\n')
    loaded = config.load(environ={})
    assert loaded.theme == "nord"
    assert loaded.timezone is None and loaded.columns == () and loaded.keys == {}
    assert loaded.problems == (
        "config.toml: timezone: 'Mars/Olympus' is not a time zone (an IANA name such as Europe/Paris or UTC); its default is used",
        "config.toml: columns: 'colour' is not a column (id, customer, name, product, server, status, cycle, price, expires, domain); its default is used",
        'config.toml: keys.suspend: expected a key such as "S", "ctrl+e" or "f5", got 5; its default is used',
    )


def test_broken_toml_is_one_line_with_its_line_number(config_dir: Path) -> None:
    write(config_dir, 'timezone = "UTC"\ntheme = nord\n')
    loaded = config.load(environ={})
    assert loaded.theme is None and loaded.timezone is None
    assert len(loaded.problems) == 1
    assert loaded.problems[0].startswith("config.toml: not valid TOML (")
    assert "line 2" in loaded.problems[0]
    assert loaded.problems[0].endswith("the console runs on its defaults")


def test_unknown_keys_and_bad_views_are_named(config_dir: Path) -> None:
    write(config_dir, 'colour = "red"\n[views.Bad]\nfilter = "x"\n[views.ok]\nsort = "colour"\n[views.fine]\nfilter = "status:active"\n')
    loaded = config.load(environ={})
    assert list(loaded.views) == ["fine"]
    assert loaded.problems[0].startswith("config.toml: colour: unknown key")
    assert loaded.problems[1].startswith("config.toml: views.Bad: a view's name is lower-case")
    assert loaded.problems[2].startswith("config.toml: views.ok.sort: 'colour' is not a column")


def test_saved_views_are_written_whole_and_read_back(config_dir: Path) -> None:
    first = ViewSpec("late", 'status:active expires<0d "quoted \\\\ name"', "expires", True, ("id", "name", "expires"), False)
    config.save_view(first)
    config.save_view(ViewSpec("all-vps", "type:vps"))
    saved, problems = config.load_saved_views()
    assert problems == ()
    assert saved == {"all-vps": ViewSpec("all-vps", "type:vps"), "late": first}
    assert not (config_dir / "views.toml.tmp").exists()
    assert not (config_dir / "config.toml").exists()  # the admin's file is never written


def test_a_saved_view_replaces_the_admins_of_the_same_name(config_dir: Path) -> None:
    write(config_dir, '[views.late]\nfilter = "status:active"\n[views.vps]\nfilter = "type:vps"\n')
    config.save_view(ViewSpec("late", "status:suspended"))
    views, _ = config.all_views(config.load(environ={}))
    assert views["late"].filter == "status:suspended"
    assert views["vps"].filter == "type:vps"


def test_the_theme_picked_in_the_console_wins_over_the_files_and_loses_to_the_environment(config_dir: Path) -> None:
    write(config_dir, 'theme = "nord"\n')
    kept = config.save_theme("dracula")
    assert kept == config_dir / "console.toml"
    loaded = config.load(environ={})
    assert loaded.theme == "dracula"
    assert loaded.sources["theme"] == f"{config_dir / 'console.toml'} (picked in the console)"
    assert config.load(environ={"SVCCONSOLE_THEME": "gruvbox"}).theme == "gruvbox"
    config.save_theme("monokai")
    assert config.load(environ={}).theme == "monokai"


def test_a_bad_picked_theme_is_named_and_the_files_theme_kept(config_dir: Path) -> None:
    write(config_dir, 'theme = "nord"\n')
    (config_dir / "console.toml").write_text("theme = 7\n", encoding="utf-8")
    loaded = config.load(environ={})
    assert loaded.theme == "nord"
    assert loaded.problems == ("console.toml: theme: expected a non-empty string, got 7; its default is used",)
