"""What config.toml says about the console's look and keys, checked against what the console has:
the theme's name, each database's accent colour, and the `[keys]` remaps."""

from __future__ import annotations

from textual.color import Color, ColorParseError
from textual.theme import BUILTIN_THEMES

from svcconsole.console.actions import remapped
from svcconsole.core.config import Config

THEME_NAMES = tuple(sorted(BUILTIN_THEMES))


def theme_problem(config: Config) -> str | None:
    if config.theme is None or config.theme in BUILTIN_THEMES:
        return None
    return f"theme: {config.theme!r} is not a theme ({', '.join(THEME_NAMES)}); textual-dark is used"


def accent_problems(config: Config) -> list[str]:
    problems = []
    for url, look in config.databases.items():
        if look.accent is None:
            continue
        try:
            Color.parse(look.accent)
        except ColorParseError:
            problems.append(f"databases.{url}.accent: {look.accent!r} is not a colour (a name such as red, or #rrggbb); the theme's accent is used")
    return problems


def config_problems(config: Config) -> list[str]:
    """Every problem of the config in force, one line each: the file's, then the console's."""
    console = [theme_problem(config), *accent_problems(config), *remapped(config.keys).problems]
    return [*config.problems, *(f"{config.path.name if config.path else 'config'}: {line}" for line in console if line)]


def valid_accent(config: Config, url: str) -> str | None:
    """The accent colour configured for the database at `url`, when it is one."""
    accent = config.look_of(url).accent
    if accent is None:
        return None
    try:
        return Color.parse(accent).hex
    except ColorParseError:
        return None
