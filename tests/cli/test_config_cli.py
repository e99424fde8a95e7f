"""`svcconsole config path|show|check` and config.toml's database_url, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from svcconsole.cli import app
from tests.conftest import Cli


def run(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False, prog_name="svcconsole")


def test_path_is_in_the_config_dir(config_dir: Path) -> None:
    result = run("config", "path")
    assert result.exit_code == 0
    assert result.stdout.strip() == str(config_dir / "config.toml")


def test_check_without_a_file_says_every_default_applies(config_dir: Path) -> None:
    result = run("config", "check")
    assert result.exit_code == 0
    assert result.stderr.strip() == f"no config.toml at {config_dir / 'config.toml'}: every default applies"


def test_check_a_good_file(config_dir: Path) -> None:
    (config_dir / "config.toml").write_text('theme = "nord"\n[keys]\nsuspend = "S"\n')
    result = run("config", "check")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip() == f"{config_dir / 'config.toml'}: ok"


def test_check_names_the_wrong_key_and_exits_2(config_dir: Path) -> None:
    (config_dir / "config.toml").write_text('timezone = "Mars/Olympus"\n')
    result = run("config", "check")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: config.toml: timezone: 'Mars/Olympus' is not a time zone (an IANA name such as Europe/Paris or UTC); its default is used"
    )


def test_check_knows_the_consoles_themes_and_keys(config_dir: Path) -> None:
    (config_dir / "config.toml").write_text('theme = "hotdog"\n[keys]\nnext-sort = "u"\nteleport = "z"\n')
    result = run("config", "check")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: config.toml: theme: 'hotdog' is not a theme (")
    assert "keys.teleport: no action has this id" in lines[1]
    assert lines[2] == "error: config.toml: keys.next-sort: 'u' is already 'Unsuspend' (services); Sort keeps 'o'"
    assert len(lines) == 3


def test_check_broken_toml(config_dir: Path) -> None:
    (config_dir / "config.toml").write_text("theme = nord\n")
    result = run("config", "check")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: config.toml: not valid TOML (Invalid value (at line 1")


def test_show_json_says_where_each_value_came_from(config_dir: Path) -> None:
    (config_dir / "config.toml").write_text('theme = "nord"\ntimezone = "UTC"\n')
    result = run("config", "show", "--format", "json", env={"SVCCONSOLE_THEME": "dracula"})
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert shown["theme"] == "dracula"
    assert shown["timezone"] == "UTC"
    assert shown["sources"] == {"theme": "$SVCCONSOLE_THEME", "timezone": str(config_dir / "config.toml")}
    assert shown["problems"] == []


def test_database_url_from_the_file_and_the_variable_before_it(config_dir: Path, cli: Cli, tmp_path: Path) -> None:
    """--db first, then SVCCONSOLE_DATABASE_URL, then config.toml's database_url."""
    cli("customers", "add", "--name", "Ada", "--email", "ada@example.com")
    (config_dir / "config.toml").write_text(f"database_url = {json.dumps(cli.url)}\n")
    from_file = run("customers", "list", "--format", "ids")
    assert from_file.exit_code == 0, from_file.stderr
    assert from_file.stdout.split() == ["1"]
    elsewhere = f"sqlite:///{tmp_path / 'other.db'}"
    from_variable = run("customers", "list", "--format", "ids", env={"SVCCONSOLE_DATABASE_URL": elsewhere})
    assert from_variable.exit_code == 0, from_variable.stderr
    assert from_variable.stdout.split() == []


def test_services_list_view_from_config_toml(config_dir: Path, cli: Cli) -> None:
    cli("customers", "add", "--name", "Ada", "--email", "ada@example.com")
    for name in ("zeta", "alpha", "mid"):
        created = cli(
            "services", "import", "--customer", "1", "--name", name, "--type", "manual", "--price", "5.00", "--cycle", "monthly", "--external", f"x-{name}"
        )
        assert created.exit_code == 0, created.stderr
    suspended = cli("services", "suspend", "--search", "mid", "--reason", "test", "--yes")
    assert suspended.exit_code == 0, suspended.stderr
    (config_dir / "config.toml").write_text('[views.live]\nfilter = "status:active"\nsort = "name"\ncolumns = ["name", "status"]\n')
    table = cli("services", "list", "--view", "live")
    assert table.exit_code == 0, table.stderr
    assert table.lines[0].split() == ["ID", "NAME", "STATUS"]
    assert [line.split()[1] for line in table.lines[1:]] == ["alpha", "zeta"]
    reverse = cli("services", "list", "--view", "live", "--sort", "name", "--desc", "--format", "json")
    assert [record["name"] for record in json.loads(reverse.stdout)] == ["zeta", "alpha"]
    both = cli("services", "list", "--view", "live", "--status", "suspended")
    assert both.exit_code == 2
    assert both.stderr.strip() == "error: --view: a view is its own filter: give --view or --status, not both"
    unknown = cli("services", "list", "--view", "nope")
    assert unknown.exit_code == 2
    assert unknown.stderr.strip() == "error: --view: no view 'nope' (live)"


def test_the_readme_example_is_a_valid_config(config_dir: Path) -> None:
    """The example config.toml of the README, copied as an admin would: no problem, every key set."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = readme[readme.index("```\n# ~/.config/svcconsole/config.toml") + len("```\n") :]
    example = example[: example.index("```")]
    (config_dir / "config.toml").write_text(example)
    result = run("config", "check")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(run("config", "show", "--format", "json").stdout)
    assert shown["theme"] == "nord" and shown["timezone"] == "Europe/Paris"
    assert shown["keys"] == {"suspend": "S", "focus-filter": "f"}
    assert shown["views"]["expiring"]["filter"] == "status:active expires<7d"
    assert shown["databases"]["sqlite:////srv/svcconsole/staging.db"] == {"title": "staging", "accent": "green"}
