"""`services list`, `show` and `history`: the read commands, which import only what they read.

The `services` group loads them from here and every other command from `cli.service_commands`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Optional

import typer

from svcconsole.cli.base import lazy_app, new_app, read_session, state
from svcconsole.cli.output import (
    ALL_OPTION,
    FORMAT_OPTION,
    LIMIT_OPTION,
    Format,
    cell,
    csv_out,
    cut_notice,
    data,
    emit,
    emit_pages,
    fit,
    json_out,
    key_values,
    keyset_pages,
    parse_format,
    row_limit,
)
from svcconsole.core import activity, config, lookups, placement, records, usage, views
from svcconsole.core.errors import InvalidInput
from svcconsole.core.filters import build_filter, parse_filter
from svcconsole.core.parse import parse_id
from svcconsole.store import jobs, queries
from svcconsole.store.models import Service
from svcconsole.store.queries import ServiceFilter, Sort

services_group = lazy_app(
    "Services: list, show, create, import, edit, history, and every lifecycle action.",
    {"list": "svcconsole.cli.services_read:read_app", "show": "svcconsole.cli.services_read:read_app", "history": "svcconsole.cli.services_read:read_app"},
    fallback="svcconsole.cli.service_commands:services_app",
)
"""The `services` group: the read commands from this module, the rest loaded on use."""

read_app = new_app("Services: the read commands.")

LIST_COLUMNS = ["id", "customer", "name", "domain", "product", "server", "status", "cycle", "price", "expires"]


def list_row(row: Any, tz: Any) -> dict[str, Any]:
    """A list row for the table: local expiry date, price with currency, in-progress status."""
    status = row.status
    if row.status == "suspended" and row.suspend_kind:
        status = f"suspended ({row.suspend_kind})"
    if row.operation:
        status += f" [in progress: {row.operation}]"
    if row.approval and row.status == "pending":
        status += " [awaiting approval]"
    elif row.status == "pending" and row.placement_note:
        status += " [not available]"
    return {
        "id": row.id,
        "customer": row.customer_name,
        "name": row.name,
        "domain": row.domain,
        "product": row.product_name or "(custom)",
        "server": row.server_name,
        "status": status,
        "cycle": row.billing_cycle,
        "price": f"{row.price:.2f} {row.currency}",
        "expires": row.expires_at.astimezone(tz).date().isoformat() if row.expires_at else None,
    }


# ----------------------------------------------------------------------------- the list filters


LIST_FILTERS: dict[str, tuple[Any, Any]] = {
    "status": (Optional[str], typer.Option(None, "--status", help="One or more statuses, comma separated.")),
    "product": (Optional[str], typer.Option(None, "--product", help="Product id or name.")),
    "server": (Optional[str], typer.Option(None, "--server", help="Server id or name.")),
    "customer": (Optional[str], typer.Option(None, "--customer", help="Customer id, email or name prefix.")),
    "cycle": (Optional[str], typer.Option(None, "--cycle", help="Billing cycle (comma separated).")),
    "search": (Optional[str], typer.Option(None, "--search", help="Free text: name, customer, email, product, id, uuid, domain.")),
    "domain": (Optional[str], typer.Option(None, "--domain", help="Part of the domain, as given or in punycode.")),
    "expiring_within": (
        Optional[str],
        typer.Option(None, "--expiring-within", help="Expires within this span from now (7d, 12h, 2w); 0d lists the ones already expired."),
    ),
    "include_deleted": (bool, typer.Option(False, "--include-deleted", help="Deleted services too.")),
}
"""The options that select services, the same for `services list` and every action."""


def with_list_filters(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give `command` the list filter options; it receives their values as `filters`."""
    signature = inspect.signature(command)
    own = [parameter for parameter in signature.parameters.values() if parameter.name != "filters"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation) for name, (annotation, option) in LIST_FILTERS.items()
    ]

    @functools.wraps(command)
    def with_filters(*args: Any, **kwargs: Any) -> Any:
        chosen = {name: kwargs.pop(name) for name in LIST_FILTERS}
        return command(*args, filters=chosen, **kwargs)

    with_filters.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]  # functions take a __signature__ at runtime; typeshed does not declare it
    return with_filters


# ----------------------------------------------------------------------------- list


@read_app.command("list")
@with_list_filters
def services_list(
    ctx: typer.Context,
    sort: str | None = typer.Option(None, "--sort", help=f"Sort column: {', '.join(queries.SORT_COLUMNS)} (default: the view's, else id)."),
    descending: bool = typer.Option(False, "--desc", help="Sort descending."),
    limit: str | None = LIMIT_OPTION,
    every: bool = ALL_OPTION,
    fmt: str = FORMAT_OPTION,
    view_name: str | None = typer.Option(
        None, "--view", help="A saved view (config.toml's [views.NAME] or one saved with :view save NAME): its filter, sort and columns."
    ),
    *,
    filters: dict[str, Any],
) -> None:
    """List services, filtered and sorted in the database (keyset pages, never every row at once)."""
    output = parse_format(fmt)
    maximum = row_limit(limit, every, output)
    view = _view(ctx, view_name, filters) if view_name is not None else None
    column = sort or (view.sort if view else "id")
    if column not in queries.SORT_COLUMNS:
        raise InvalidInput("--sort", f"{column!r} is not a column ({', '.join(queries.SORT_COLUMNS)})")
    order = Sort(column, descending or (sort is None and view is not None and view.descending))
    columns = [name for name in view.columns] if view and view.columns else LIST_COLUMNS
    with read_session(ctx) as session:
        tz = lookups.timezone_of(session)
        if view is not None:
            service_filter = parse_filter(session, view.filter, tz_name=tz.key)
        else:
            service_filter = build_filter(session, **filters)
        shown = _stream(session, service_filter, order, maximum, output, tz, columns)
        if maximum and shown == maximum:
            cut_notice(shown, lambda cap: queries.count_up_to(session, service_filter, cap))


def _view(ctx: typer.Context, name: str, filters: dict[str, Any]) -> config.ViewSpec:
    """The saved view `name`; refused beside filter options (the view is the filter)."""
    given = [f"--{option.replace('_', '-')}" for option, value in filters.items() if value]
    if given:
        raise InvalidInput("--view", f"a view is its own filter: give --view or {given[0]}, not both")
    views, _ = config.all_views(state(ctx).config)
    if name not in views:
        raise InvalidInput(
            "--view", f"no view {name!r} ({', '.join(sorted(views)) or 'none: add [views.NAME] to config.toml or :view save NAME in the console'})"
        )
    return views[name]


def _stream(session: Any, service_filter: ServiceFilter, order: Sort, maximum: int, output: Format, tz: Any, table_columns: list[str] = LIST_COLUMNS) -> int:
    """Print matching services in keyset pages; returns how many were printed."""
    shown = 0
    held: str | None = None
    widths: list[int] | None = None
    if output is Format.JSON:
        data("[")
    if output is Format.CSV:
        csv_out([], views.LIST_FIELDS)
    columns: tuple[Any, ...]
    if output is Format.IDS:
        columns = (Service.id,) if order.column == "id" else (Service.id, queries.SORT_COLUMNS[order.column])
    else:
        columns = queries.EXPORT_COLUMNS if output in (Format.JSON, Format.CSV) else queries.LIST_COLUMNS

    def fetch(after: Any, size: int) -> list[Any]:
        return queries.page(session, service_filter, order, after=after, limit=size, columns=columns)

    for rows in keyset_pages(fetch, lambda row: queries.sort_key(row, order), maximum):
        if output is Format.IDS:
            data("\n".join(str(row.id) for row in rows))
        elif output is Format.JSON:
            for row in rows:
                if held is not None:
                    data(held + ",")
                held = "  " + _json_text(views.service_dict(row))
        elif output is Format.CSV:
            csv_out([views.service_dict(row) for row in rows], views.LIST_FIELDS, header=False)
        else:
            table_rows = [list_row(row, tz) for row in rows]
            widths = _print_table(table_rows, widths, table_columns)
        shown += len(rows)
    if output is Format.JSON:
        if held is not None:
            data(held)
        data("]")
    if output is Format.TABLE and widths is None:
        _print_table([], None, table_columns)
    return shown


def _json_text(record: dict[str, Any]) -> str:
    return views.json_record(record)


def _print_table(rows: list[dict[str, Any]], widths: list[int] | None, columns: list[str] = LIST_COLUMNS) -> list[int]:
    """Print table rows; the first batch fixes the column widths for the ones streamed after."""
    cells = [[cell(row.get(column)) for column in columns] for row in rows]
    if widths is None:
        widths = [len(column) for column in columns]
        for values in cells:
            for index, value in enumerate(values):
                widths[index] = min(max(widths[index], len(value)), 40)
        data("  ".join(column.upper().ljust(widths[index]) for index, column in enumerate(columns)).rstrip())
    for values in cells:
        data("  ".join(fit(value, widths[index]) for index, value in enumerate(values)).rstrip())
    return widths


# ----------------------------------------------------------------------------- show, history


@read_app.command("show")
def services_show(ctx: typer.Context, service_id: str = typer.Argument(..., metavar="ID"), fmt: str = FORMAT_OPTION) -> None:
    """Show one service with its options, metadata, recent renewals and open jobs."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    identifier = parse_id("id", service_id)
    with read_session(ctx) as session:
        service = lookups.get_service(session, identifier)
        record = views.service_dict(service)
        note = placement.not_available_text(service)
        if note:
            record["availability"] = note
        record["options"] = [views.option_dict(option) for option in records.options_of(session, identifier)]
        record["metadata"] = {row.key: row.value for row in records.meta_items(session, identifier)}
        record["renewal_history"] = [views.renewal_dict(renewal) for renewal in records.renewals_of(session, identifier)[:10]]
        record["jobs"] = [
            views.job_dict(job) for job in jobs.list_jobs(session, service_id=identifier, limit=10) if job.status in {"queued", "running", "failed"}
        ]
        report = usage.current_report(session, service)
        if report.lines:
            record["overage"] = report.as_json() if output is Format.JSON else usage.overage_text(report)
    if output is Format.JSON:
        json_out(record)
        return
    key_values({key: value for key, value in record.items() if key not in {"options", "metadata", "renewal_history", "jobs"}})
    for title, rows, columns in (
        ("options", record["options"], ["id", "name", "value", "quantity", "price", "expires_at"]),
        ("renewals", record["renewal_history"], ["id", "period_start", "period_end", "cycles", "amount", "invoice_id", "actor"]),
        ("jobs", record["jobs"], ["id", "operation", "status", "attempts", "last_error"]),
    ):
        if rows:
            data(f"\n{title}:")
            emit(rows, columns, Format.TABLE)
    if record["metadata"]:
        data("\nmetadata:")
        key_values(record["metadata"])


HISTORY_ROWS = 50


@read_app.command("history")
def services_history(
    ctx: typer.Context,
    service_id: str = typer.Argument(..., metavar="ID"),
    limit: str | None = typer.Option(None, "--limit", help=f"At most N rows (default {HISTORY_ROWS}; 0 = every row)."),
    every: bool = ALL_OPTION,
    fmt: str = FORMAT_OPTION,
) -> None:
    """The service's activity log, newest first."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.CSV))
    identifier = parse_id("id", service_id)
    maximum = row_limit(limit, every, output, default=HISTORY_ROWS)
    with read_session(ctx) as session:
        lookups.get_service(session, identifier)
        emit_pages(
            lambda before, size: activity.history(session, identifier, limit=size, before_id=before),
            lambda row: row.id,
            views.activity_dict,
            ["id", "at", "actor_kind", "actor", "action", "from_status", "to_status", "reason"],
            output,
            maximum,
        )
