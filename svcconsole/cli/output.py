"""How the CLI prints: one function per format, data on stdout, messages on stderr.

Times are stored in UTC and shown in the configured time zone (SPEC.md section 2): a table
or a `key: value` record given `tz` shows its time columns (`*_at`, `period_start`,
`period_end`) as local `YYYY-MM-DD HH:MM`. JSON and CSV are data for programs and keep ISO
8601 UTC (SPEC.md section 10).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import typer

from svcconsole.core import clock
from svcconsole.core.errors import InvalidInput
from svcconsole.core.parse import inert


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    IDS = "ids"


def parse_format(text: str, allowed: Sequence[Format] = tuple(Format)) -> Format:
    try:
        value = Format(text.strip().lower())
    except ValueError:
        value = None
    if value is None or value not in allowed:
        raise InvalidInput("--format", f"{text!r} is not a format ({', '.join(item.value for item in allowed)})")
    return value


def message(text: str) -> None:
    """A message for the user (stderr, so stdout stays data)."""
    typer.echo(inert_lines(text), err=True)


def data(text: str) -> None:
    typer.echo(text)


def inert_lines(text: str) -> str:
    return "\n".join(inert(line) for line in text.split("\n"))


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return inert(json.dumps(value, sort_keys=True, default=str))
    return inert(str(value))


MAX_CELL = 60
PERIOD_COLUMNS = ("period_start", "period_end")


def is_time_column(column: str) -> bool:
    """True for the columns that hold a moment: `*_at`, and the start and end of a period."""
    return column.endswith("_at") or column in PERIOD_COLUMNS


def local_time(value: Any, tz: ZoneInfo) -> Any:
    """A moment (a datetime or ISO 8601 text) as local `YYYY-MM-DD HH:MM` in `tz`; anything else as it is."""
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(moment, datetime):
        return value
    return clock.as_utc(moment).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def localized(record: dict[str, Any], tz: ZoneInfo | None) -> dict[str, Any]:
    """`record` with its time columns shown in `tz` (unchanged without `tz`)."""
    if tz is None:
        return record
    return {key: local_time(value, tz) if is_time_column(key) else value for key, value in record.items()}


def table(rows: Iterable[dict[str, Any]], columns: Sequence[str], *, headers: Sequence[str] | None = None) -> None:
    """Rows as an aligned plain-text table; every cell made inert and cut to a sane width."""
    materialized = [[_clip(cell(row.get(column))) for column in columns] for row in rows]
    titles = [title.upper() for title in (headers or columns)]
    widths = [len(title) for title in titles]
    for values in materialized:
        for index, value in enumerate(values):
            widths[index] = max(widths[index], len(value))
    typer.echo("  ".join(title.ljust(widths[index]) for index, title in enumerate(titles)).rstrip())
    for values in materialized:
        typer.echo("  ".join(value.ljust(widths[index]) for index, value in enumerate(values)).rstrip())


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def json_out(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def json_line(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, default=str))


def csv_out(rows: Iterable[dict[str, Any]], columns: Sequence[str], *, header: bool = True) -> None:
    """Rows as CSV with the given columns (and a header line first, unless `header` is false)."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    if header:
        writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_value(row.get(column)) for column in columns])
    sys.stdout.flush()


def csv_value(value: Any) -> str:
    """A value as its CSV cell, written as JSON writes it (true / false, objects as JSON); None is empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: Format, *, id_key: str = "id", json_columns: Sequence[str] | None = None, tz: ZoneInfo | None = None) -> None:
    """Print rows in the chosen format (table shows `columns`, json and csv every key).

    With `tz`, the table shows times in that zone; json and csv keep ISO 8601 UTC.
    """
    if fmt is Format.JSON:
        json_out(list(rows))
    elif fmt is Format.CSV:
        csv_out(rows, json_columns or (list(rows[0].keys()) if rows else columns))
    elif fmt is Format.IDS:
        for row in rows:
            typer.echo(str(row[id_key]))
    else:
        table([localized(row, tz) for row in rows], columns)


def key_values(record: dict[str, Any], keys: Sequence[str] | None = None, *, tz: ZoneInfo | None = None) -> None:
    """One record as `key: value` lines (times in `tz` when given)."""
    keys = keys or list(record)
    record = localized(record, tz)
    width = max((len(key) for key in keys), default=0)
    for key in keys:
        typer.echo(f"{key.ljust(width)}  {cell(record.get(key))}")
