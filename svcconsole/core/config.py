"""The admin's `config.toml` and the console's own `views.toml` and `console.toml`, read and checked without a UI.

Every key is optional; a `SVCCONSOLE_*` environment variable overrides the file's value
(`SVCCONSOLE_DATABASE_URL`, `SVCCONSOLE_THEME`, `SVCCONSOLE_TIMEZONE`, `SVCCONSOLE_COLUMNS`
as a comma list, `SVCCONSOLE_KEYS_<ID>` for one key of `[keys]`, `-` in the id written `_`).
The theme picked in the console's palette is kept in `console.toml` beside config.toml and
wins over config.toml's `theme` (the environment still wins over both). A bad file never stops anything: `load` keeps every good key, drops each bad one (its
default applies) and says why in `problems`, one line each, naming the file and the key.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from svcconsole.core.paths import config_dir
from svcconsole.store.queries import SORT_COLUMNS

CONFIG_FILE = "config.toml"
VIEWS_FILE = "views.toml"
CONSOLE_FILE = "console.toml"
ENV_PREFIX = "SVCCONSOLE_"
KEYS_ENV_PREFIX = "SVCCONSOLE_KEYS_"
COLUMN_NAMES = tuple(SORT_COLUMNS)
"""The list's columns, by the names `columns = [...]` and `--sort` use."""
TOP_LEVEL_KEYS = ("database_url", "theme", "timezone", "columns", "keys", "views", "databases")
VIEW_KEYS = ("filter", "sort", "descending", "columns", "tab")
DATABASE_KEYS = ("url", "title", "accent")
VIEW_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class ViewSpec:
    """A saved view: a filter line, a sort and the columns shown, in that order, under a name."""

    name: str
    filter: str = ""
    sort: str = "id"
    descending: bool = False
    columns: tuple[str, ...] = ()
    tab: bool = False
    """Also shown as an extra tab of the service list."""

    def as_toml(self) -> dict[str, Any]:
        """The view as a `[views.NAME]` table (no `columns`: the list's)."""
        table: dict[str, Any] = {"filter": self.filter, "sort": self.sort, "descending": self.descending}
        if self.columns:
            table["columns"] = list(self.columns)
        table["tab"] = self.tab
        return table


@dataclass(frozen=True)
class DatabaseLook:
    """How the console marks one database: its title in the header and its accent colour."""

    title: str | None = None
    accent: str | None = None


@dataclass(frozen=True)
class Config:
    """What config.toml (and the environment) chose; empty values mean the built-in default."""

    path: Path | None = None
    database_url: str | None = None
    theme: str | None = None
    timezone: str | None = None
    columns: tuple[str, ...] = ()
    keys: dict[str, str] = field(default_factory=dict)
    views: dict[str, ViewSpec] = field(default_factory=dict)
    databases: dict[str, DatabaseLook] = field(default_factory=dict)
    """By database URL (a `[databases.NAME]` table with `url = ...` is filed under its URL too)."""
    problems: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)
    """Where each value set came from: the file or the environment variable."""

    def look_of(self, url: str) -> DatabaseLook:
        """The title and accent configured for the database at `url` (none: a plain look)."""
        return self.databases.get(url) or self.databases.get(url.replace("postgresql+psycopg://", "postgresql://")) or DatabaseLook()

    def shown(self) -> dict[str, Any]:
        """The values in force, for `config show` (database URLs as given)."""
        return {
            "path": str(self.path) if self.path else None,
            "database_url": self.database_url,
            "theme": self.theme,
            "timezone": self.timezone,
            "columns": list(self.columns),
            "keys": dict(self.keys),
            "views": {name: view.as_toml() for name, view in self.views.items()},
            "databases": {url: {"title": look.title, "accent": look.accent} for url, look in self.databases.items()},
            "sources": dict(self.sources),
            "problems": list(self.problems),
        }


def config_path() -> Path:
    return config_dir() / CONFIG_FILE


def views_path() -> Path:
    return config_dir() / VIEWS_FILE


def console_path(config_file: Path | None = None) -> Path:
    """console.toml: beside `config_file` when given, else in the config directory."""
    return config_file.with_name(CONSOLE_FILE) if config_file is not None else config_dir() / CONSOLE_FILE


class _Problems:
    """Collects one line per bad key, each naming the file and the key."""

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name
        self.lines: list[str] = []

    def add(self, key: str, why: str) -> None:
        self.lines.append(f"{self.file_name}: {key}: {why}; its default is used")


def _read_toml(path: Path, problems: _Problems) -> dict[str, Any]:
    """The file's tables, or nothing (and a problem) when it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        problems.lines.append(f"{path.name}: cannot be read ({type(error).__name__}); the console runs on its defaults")
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        problems.lines.append(f"{path.name}: not valid TOML ({error}); the console runs on its defaults")
        return {}


def _string(value: Any, key: str, problems: _Problems) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    problems.add(key, f"expected a non-empty string, got {value!r}")
    return None


def _columns(value: Any, key: str, problems: _Problems) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(name, str) for name in value):
        problems.add(key, f"expected a list of column names ({', '.join(COLUMN_NAMES)})")
        return ()
    unknown = [name for name in value if name not in COLUMN_NAMES]
    if unknown:
        problems.add(key, f"{unknown[0]!r} is not a column ({', '.join(COLUMN_NAMES)})")
        return ()
    if len(set(value)) != len(value):
        problems.add(key, "a column is named twice")
        return ()
    if "id" not in value:
        value = ["id", *value]
    return tuple(value)


def _timezone(value: Any, key: str, problems: _Problems) -> str | None:
    name = _string(value, key, problems)
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        problems.add(key, f"{name!r} is not a time zone (an IANA name such as Europe/Paris or UTC)")
        return None
    return name


def _keys(value: Any, problems: _Problems) -> dict[str, str]:
    if not isinstance(value, dict):
        problems.add("keys", 'expected a table of action id = "key"')
        return {}
    keys: dict[str, str] = {}
    for action_id, key in value.items():
        if isinstance(key, str) and key.strip() and " " not in key.strip():
            keys[str(action_id)] = key.strip()
        else:
            problems.add(f"keys.{action_id}", f'expected a key such as "S", "ctrl+e" or "f5", got {key!r}')
    return keys


def valid_view_name(name: str) -> bool:
    return bool(name) and len(name) <= 40 and set(name) <= VIEW_NAME_CHARACTERS


def parse_view(name: str, table: Any, key: str, problems: _Problems) -> ViewSpec | None:
    """One `[views.NAME]` table, or None (and a problem) when a value is wrong."""
    if not valid_view_name(name):
        problems.add(key, "a view's name is lower-case letters, digits, - and _ (up to 40)")
        return None
    if not isinstance(table, dict):
        problems.add(key, "expected a table (filter, sort, descending, columns, tab)")
        return None
    unknown = [item for item in table if item not in VIEW_KEYS]
    if unknown:
        problems.add(f"{key}.{unknown[0]}", f"unknown key (known: {', '.join(VIEW_KEYS)})")
        return None
    view_filter = table.get("filter", "")
    sort = table.get("sort", "id")
    descending = table.get("descending", False)
    tab = table.get("tab", False)
    if not isinstance(view_filter, str):
        problems.add(f"{key}.filter", 'expected a filter line such as "status:active expires<7d"')
        return None
    if sort not in COLUMN_NAMES:
        problems.add(f"{key}.sort", f"{sort!r} is not a column ({', '.join(COLUMN_NAMES)})")
        return None
    if not isinstance(descending, bool) or not isinstance(tab, bool):
        problems.add(f"{key}.{'descending' if not isinstance(descending, bool) else 'tab'}", "expected true or false")
        return None
    columns: tuple[str, ...] = ()
    if "columns" in table:
        columns = _columns(table["columns"], f"{key}.columns", problems)
        if not columns:
            return None
    return ViewSpec(name, view_filter.strip(), sort, descending, columns, tab)


def _views(value: Any, problems: _Problems) -> dict[str, ViewSpec]:
    if not isinstance(value, dict):
        problems.add("views", "expected tables [views.NAME]")
        return {}
    views: dict[str, ViewSpec] = {}
    for name, table in value.items():
        view = parse_view(str(name), table, f"views.{name}", problems)
        if view is not None:
            views[view.name] = view
    return views


def _databases(value: Any, problems: _Problems) -> dict[str, DatabaseLook]:
    if not isinstance(value, dict):
        problems.add("databases", 'expected tables [databases."URL"] or [databases.NAME] with url = ...')
        return {}
    looks: dict[str, DatabaseLook] = {}
    for name, table in value.items():
        key = f"databases.{name}"
        if not isinstance(table, dict):
            problems.add(key, "expected a table (url, title, accent)")
            continue
        unknown = [item for item in table if item not in DATABASE_KEYS]
        if unknown:
            problems.add(f"{key}.{unknown[0]}", f"unknown key (known: {', '.join(DATABASE_KEYS)})")
            continue
        values = {item: _string(table[item], f"{key}.{item}", problems) for item in table}
        if any(found is None for found in values.values()):
            continue
        url = values.get("url") or str(name)
        looks[url] = DatabaseLook(values.get("title"), values.get("accent"))
    return looks


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """config.toml (default: in the config directory) with the environment's overrides; never raises."""
    path = path or config_path()
    environ = os.environ if environ is None else environ
    problems = _Problems(path.name)
    raw = _read_toml(path, problems)
    sources: dict[str, str] = {}
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            problems.lines.append(f"{path.name}: {key}: unknown key (known: {', '.join(TOP_LEVEL_KEYS)}); it is ignored")
        else:
            sources[key] = str(path)
    chosen: dict[str, Any] = {key: raw[key] for key in TOP_LEVEL_KEYS if key in raw}
    picked_path = console_path(path)
    picked_problems = _Problems(picked_path.name)
    picked = _read_toml(picked_path, picked_problems)
    theme_picked = _string(picked["theme"], "theme", picked_problems) if "theme" in picked else None
    if theme_picked is not None:
        chosen["theme"] = theme_picked
        sources["theme"] = f"{picked_path} (picked in the console)"
    problems.lines += picked_problems.lines
    for key in ("database_url", "theme", "timezone", "columns"):
        variable = ENV_PREFIX + key.upper()
        if environ.get(variable):
            chosen[key] = environ[variable]
            sources[key] = f"${variable}"
    database_url = _string(chosen["database_url"], "database_url", problems) if "database_url" in chosen else None
    theme = _string(chosen["theme"], "theme", problems) if "theme" in chosen else None
    timezone = _timezone(chosen["timezone"], "timezone", problems) if "timezone" in chosen else None
    columns = _columns(chosen["columns"], "columns", problems) if "columns" in chosen else ()
    keys = _keys(chosen["keys"], problems) if "keys" in chosen else {}
    for variable, value in environ.items():
        if variable.startswith(KEYS_ENV_PREFIX) and value.strip():
            action_id = variable.removeprefix(KEYS_ENV_PREFIX).lower().replace("_", "-")
            keys[action_id] = value.strip()
            sources[f"keys.{action_id}"] = f"${variable}"
    return Config(
        path=path,
        database_url=database_url,
        theme=theme,
        timezone=timezone,
        columns=columns,
        keys=keys,
        views=_views(chosen["views"], problems) if "views" in chosen else {},
        databases=_databases(chosen["databases"], problems) if "databases" in chosen else {},
        problems=tuple(problems.lines),
        sources=sources,
    )


# ----------------------------------------------------------------------------- the console's views.toml


def load_saved_views(path: Path | None = None) -> tuple[dict[str, ViewSpec], tuple[str, ...]]:
    """The views the console saved (views.toml), and one line per bad one."""
    path = path or views_path()
    problems = _Problems(path.name)
    raw = _read_toml(path, problems)
    views = _views(raw.get("views", {}), problems)
    return views, tuple(problems.lines)


def all_views(config: Config, path: Path | None = None) -> tuple[dict[str, ViewSpec], tuple[str, ...]]:
    """config.toml's views, then the saved ones (a saved view of the same name replaces the admin's)."""
    saved, problems = load_saved_views(path)
    return {**config.views, **saved}, problems


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def save_view(view: ViewSpec, path: Path | None = None) -> Path:
    """Write `view` into views.toml (replacing one of the same name), whole or not at all."""
    path = path or views_path()
    saved, _ = load_saved_views(path)
    saved[view.name] = view
    lines = ["# Views saved from the console (:view save NAME). config.toml's [views.NAME] are the admin's.", ""]
    for name in sorted(saved):
        lines.append(f"[views.{json.dumps(name)}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in saved[name].as_toml().items()]
        lines.append("")
    return _write_whole(path, lines)


def save_theme(theme: str, path: Path | None = None) -> Path:
    """Keep the theme picked in the console in console.toml, so the next launch opens on it."""
    path = path or console_path()
    return _write_whole(path, ["# What the console remembers: the theme picked with `theme: choose`.", f"theme = {_toml_value(theme)}", ""])


def _write_whole(path: Path, lines: list[str]) -> Path:
    """Write `lines` to `path` whole or not at all (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("\n".join(lines), encoding="utf-8")
    temporary.replace(path)
    return path
