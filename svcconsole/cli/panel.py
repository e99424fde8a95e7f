"""`services statistics`: what a service's panel recorded of it over an hour, a day or a week."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from svcconsole.cli.base import state
from svcconsole.cli.output import Format, emit, parse_format
from svcconsole.core import delivery
from svcconsole.core.errors import SvcError
from svcconsole.core.operators import require
from svcconsole.core.parse import parse_id
from svcconsole.core.statuses import NON_TRANSITION_ROLES
from svcconsole.modules import HISTORY_SPANS, ModuleError, PanelHistory

FORMAT_OPTION = typer.Option("table", "--format", "-f", help="table, json or csv.")
COLUMNS = ["time", "cpu %", "memory MiB", "network in KiB/s", "network out KiB/s"]
SCALES = {"cpu": ("cpu %", 1.0), "memory": ("memory MiB", 1024.0**2), "network in": ("network in KiB/s", 1024.0), "network out": ("network out KiB/s", 1024.0)}


def history_rows(history: PanelHistory) -> list[dict[str, object]]:
    """One row per point, oldest first: its time and each series in the unit its column names."""
    rows: list[dict[str, object]] = []
    for index, at in enumerate(history.times):
        row: dict[str, object] = {"time": datetime.fromtimestamp(at, UTC)}
        for name, (column, scale) in SCALES.items():
            values = history.series.get(name) or []
            value = values[index] if index < len(values) else None
            row[column] = None if value is None else round(value / scale, 2)
        rows.append(row)
    return rows


def statistics_command(
    ctx: typer.Context,
    service_id: str = typer.Argument(..., metavar="ID"),
    span: str = typer.Option("hour", "--span", help=f"The time frame: {', '.join(HISTORY_SPANS)}."),
    fmt: str = FORMAT_OPTION,
) -> None:
    """The service's cpu, memory and network over an hour, a day or a week, as its panel recorded them."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.CSV))
    identifier = parse_id("id", service_id)
    require(state(ctx).actor, NON_TRANSITION_ROLES["read"], "reading")
    try:
        history = delivery.panel_history(state(ctx).db, identifier, span.strip().lower())
    except ModuleError as error:
        raise SvcError(f"statistics: service {identifier}: {error.message}") from None
    emit(history_rows(history), COLUMNS, output, id_key="time")
