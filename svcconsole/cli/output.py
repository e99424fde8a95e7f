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
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import typer

from svcconsole.core import clock
from svcconsole.core.errors import InvalidInput
from svcconsole.core.parse import inert, parse_int
from svcconsole.core.views import csv_value


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


def emit(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    fmt: Format,
    *,
    id_key: str = "id",
    json_columns: Sequence[str] | None = None,
    tz: ZoneInfo | None = None,
) -> None:
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


LIST_LIMIT = 100
"""Rows a list shows by default in table, json and csv; `--format ids` (made for pipes) shows every row."""
PAGE_ROWS = 1000
"""Rows a streamed list reads from the database at a time (keyset pages: memory stays bounded)."""
COUNT_CAP = 10_000
"""How far a cut list counts the rows it left out, so the notice stays quick at a million rows."""

LIMIT_HELP = f"At most N rows (default {LIST_LIMIT}; every row with --format ids; 0 = every row)."
ALL_HELP = "Every matching row, streamed page by page."
LIMIT_OPTION = typer.Option(None, "--limit", help=LIMIT_HELP)
ALL_OPTION = typer.Option(False, "--all", help=ALL_HELP)
FORMAT_OPTION = typer.Option("table", "--format", "-f", help="table, json, csv or ids.")


def row_limit(limit: str | None, every: bool, fmt: Format, default: int = LIST_LIMIT) -> int:
    """The `--limit` a list applies: what was typed, else none (0) for `--all` and ids, else `default`."""
    if limit is not None:
        if every:
            raise InvalidInput("--limit", "give --limit N or --all, not both")
        return parse_int("--limit", limit, minimum=0)
    return 0 if every or fmt is Format.IDS else default


def cut_notice(shown: int, count_up_to: Callable[[int], int]) -> None:
    """Say on stderr that a list shows `shown` of its matching rows, counted by `count_up_to(COUNT_CAP)`
    (which may stop counting past the cap)."""
    total = count_up_to(COUNT_CAP)
    if total <= shown:
        return
    of = f"more than {COUNT_CAP:,}" if total > COUNT_CAP else str(total)
    message(f"{shown} of {of} shown; --limit N or --all")


Fetch = Callable[[Any, int], Sequence[Any]]
"""Reads up to N rows after a keyset position (None = from the start)."""


def keyset_pages(fetch: Fetch, key: Callable[[Any], Any], maximum: int = 0) -> Iterator[Sequence[Any]]:
    """Pages of PAGE_ROWS rows from `fetch` until it runs dry or `maximum` rows (0 = no maximum)."""
    after = None
    shown = 0
    while True:
        size = PAGE_ROWS if not maximum else min(PAGE_ROWS, maximum - shown)
        if size <= 0:
            return
        rows = fetch(after, size)
        if not rows:
            return
        yield rows
        shown += len(rows)
        after = key(rows[-1])
        if len(rows) < size:
            return


def rows_after(fetch: Fetch, key: Callable[[Any], Any], last: Any, cap: int) -> int:
    """How many rows follow `last`, read page by page and not kept, stopping once past `cap`."""
    counted = 0
    after = key(last)
    while counted <= cap:
        rows = fetch(after, PAGE_ROWS)
        counted += len(rows)
        if len(rows) < PAGE_ROWS:
            break
        after = key(rows[-1])
    return counted


def emit_pages(
    fetch: Fetch,
    key: Callable[[Any], Any],
    record: Callable[[Any], dict[str, Any]],
    columns: Sequence[str],
    fmt: Format,
    maximum: int,
    *,
    id_key: str = "id",
    tz: ZoneInfo | None = None,
) -> int:
    """Print a list read in keyset pages (`record` turns a row into its dict), then say on stderr if `maximum` cut it; how many rows it printed."""
    shown = 0
    last = None
    widths: list[int] | None = None
    keys: list[str] | None = None
    if fmt is Format.JSON:
        typer.echo("[")
    held: str | None = None
    for rows in keyset_pages(fetch, key, maximum):
        records = [record(row) for row in rows]
        if fmt is Format.IDS:
            typer.echo("\n".join(str(item[id_key]) for item in records))
        elif fmt is Format.JSON:
            for item in records:
                if held is not None:
                    typer.echo(held + ",")
                held = "  " + json.dumps(item, ensure_ascii=False, default=str)
        elif fmt is Format.CSV:
            csv_out(records, keys or list(records[0]), header=keys is None)
            keys = keys or list(records[0])
        else:
            widths = table_page([localized(item, tz) for item in records], columns, widths)
        shown += len(rows)
        last = rows[-1]
    if fmt is Format.JSON:
        if held is not None:
            typer.echo(held)
        typer.echo("]")
    if fmt is Format.CSV and keys is None:
        csv_out([], columns)
    if fmt is Format.TABLE and widths is None:
        table_page([], columns, None)
    if maximum and shown == maximum and last is not None:
        cut_notice(shown, lambda cap: shown + rows_after(fetch, key, last, cap - shown))
    return shown


def table_page(rows: Sequence[dict[str, Any]], columns: Sequence[str], widths: list[int] | None) -> list[int]:
    """Print one page of a streamed table; the first page fixes the column widths (and prints the titles)."""
    cells = [[_clip(cell(row.get(column))) for column in columns] for row in rows]
    if widths is None:
        widths = [len(column) for column in columns]
        for values in cells:
            for index, value in enumerate(values):
                widths[index] = max(widths[index], len(value))
        typer.echo("  ".join(column.upper().ljust(widths[index]) for index, column in enumerate(columns)).rstrip())
    for values in cells:
        typer.echo("  ".join(fit(value, widths[index]) for index, value in enumerate(values)).rstrip())
    return widths


def fit(value: str, width: int) -> str:
    """`value` padded to `width`, or cut to it with an ellipsis."""
    return value.ljust(width) if len(value) <= width else value[: width - 1] + "…"
