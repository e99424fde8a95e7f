"""`config path|show|check`: the admin's config.toml, where it is, what it sets, and what is wrong in it."""

from __future__ import annotations

import typer

from svcconsole.cli.base import EXIT_USAGE, new_app
from svcconsole.cli.output import Format, data, json_out, key_values, message, parse_format
from svcconsole.core import config

config_app = new_app("config.toml: where it is, what it sets, and whether it is right (every key is optional).")


def console_problems(loaded: config.Config) -> list[str]:
    """The file's problems and the console's (an unknown theme, a key already taken), one line each."""
    from svcconsole.console.look import config_problems

    return config_problems(loaded)


@config_app.command("path")
def config_path() -> None:
    """Print where config.toml is read from ($SVCCONSOLE_CONFIG_DIR, else the user config directory)."""
    data(str(config.config_path()))


@config_app.command("show")
def config_show(fmt: str = typer.Option("table", "--format", "-f", help="table or json.")) -> None:
    """The values in force (the file's, each overridden by its SVCCONSOLE_* variable) and where each came from."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    loaded = config.load()
    shown = loaded.shown()
    shown["problems"] = console_problems(loaded)
    saved, _ = config.load_saved_views()
    shown["saved_views"] = {name: view.as_toml() for name, view in saved.items()}
    if output is Format.JSON:
        json_out(shown)
        return
    key_values(shown)


@config_app.command("check")
def config_check() -> None:
    """Check config.toml: one line per wrong key on stderr and exit 2, else say it is fine."""
    loaded = config.load()
    problems = console_problems(loaded)
    if not loaded.path or not loaded.path.exists():
        message(f"no {config.CONFIG_FILE} at {config.config_path()}: every default applies")
    for problem in problems:
        message(f"error: {problem}")
    if problems:
        raise typer.Exit(EXIT_USAGE)
    if loaded.path and loaded.path.exists():
        message(f"{loaded.path}: ok")
