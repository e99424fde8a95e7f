"""`services` lifecycle actions (suspend, cancel, renew, ... over ids or the list filters), `services bulk` and the panel commands.

They register on `services_app` after the commands of `cli.services`; import `services_app` from
here to have them all, listed in that order.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import typer

from svcconsole.cli.base import confirm, new_app, read_session, read_stdin_ids, state
from svcconsole.cli.output import (
    ALL_OPTION,
    FORMAT_OPTION,
    LIMIT_OPTION,
    Format,
    data,
    emit,
    emit_pages,
    json_line,
    json_out,
    key_values,
    message,
    parse_format,
    row_limit,
)
from svcconsole.cli.services import services_app
from svcconsole.cli.services_read import with_list_filters
from svcconsole.core import actions, bulk, delivery, views
from svcconsole.core.errors import InvalidInput, NotFound, SvcError
from svcconsole.core.filters import build_filter
from svcconsole.core.operators import require
from svcconsole.core.parse import inert, parse_id
from svcconsole.core.statuses import ACTIONS, NON_TRANSITION_ROLES
from svcconsole.modules import ModuleError
from svcconsole.store import queries
from svcconsole.store.models import BulkRun

__all__ = ["services_app"]


# ----------------------------------------------------------------------------- actions


def resolve_selection(ctx: typer.Context, ids: list[str], filters: dict[str, Any]) -> tuple[list[int], Any]:
    """The services an action applies to: ids, `-` (ids on stdin), or the list filters."""
    raw = list(ids or [])
    if "-" in raw:
        raw = [item for item in raw if item != "-"] + read_stdin_ids()
    explicit = [parse_id("id", item) for item in raw]
    given = {key: value for key, value in filters.items() if value not in (None, False)}
    if not explicit and not given:
        raise InvalidInput("ids", "give service ids, - to read them from stdin, or a filter such as --status active")
    with read_session(ctx) as session:
        missing = queries.missing_ids(session, explicit)
    if missing:
        shown = ", ".join(str(identifier) for identifier in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise NotFound(f"id: no service with id {shown}; nothing was changed")
    if not given:
        return list(dict.fromkeys(explicit)), {"ids": sorted(set(explicit))}
    with read_session(ctx) as session:
        service_filter = build_filter(session, **given)
        if explicit:
            service_filter = replace(service_filter, ids=tuple(explicit))
        selected = list(queries.iter_ids(session, service_filter))
    return selected, {"filters": given, "ids": sorted(set(explicit))}


def run_action(
    ctx: typer.Context,
    action: str,
    params: dict[str, Any],
    ids: list[str],
    filters: dict[str, Any],
    *,
    yes: bool,
    dry_run: bool,
    fmt: str,
) -> None:
    """Check, confirm, run and report an action over the selected services."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    cli = state(ctx)
    key = actions.normalize_action(action, params)
    clean = actions.validate_params(key, {k: v for k, v in params.items() if k != "mode"})
    rule = ACTIONS[key]
    require(cli.actor, rule.role, rule.title.lower())
    selected, selection = resolve_selection(ctx, ids, filters)
    if not selected:
        message(f"{rule.title.lower()}: no services match")
        return
    printer = _ItemPrinter(output, dry_run)
    if dry_run:
        result = bulk.dry_run(cli.db, cli.actor, key, clean, selected, progress=printer)
        message(result.summary())
        raise typer.Exit(result.exit_code)
    if rule.destructive or len(selected) > 1:
        confirm(f"{rule.title} {len(selected)} service{'s' if len(selected) != 1 else ''}?", yes=yes)
    run_id, resumed = bulk.start(cli.db, cli.actor, key, clean, selected, selection=selection)
    if resumed:
        message(f"resuming unfinished run {run_id} of the same command")
    result = bulk.process(cli.db, cli.actor, run_id, progress=printer)
    printer.print_remaining(result)
    message(result.summary())
    if result.exit_code:
        raise typer.Exit(result.exit_code)


class _ItemPrinter:
    """Prints each service's outcome as it ends (thread-safe: module jobs finish in workers)."""

    def __init__(self, output: Format, dry_run: bool) -> None:
        self.output = output
        self.dry_run = dry_run
        self.lock = threading.Lock()
        self.printed: set[int] = set()

    def __call__(self, item: bulk.ItemResult) -> None:
        with self.lock:
            self.printed.add(item.service_id)
            outcome = f"would: {item.outcome}" if self.dry_run and item.outcome == "ok" else item.outcome
            if self.output is Format.JSON:
                json_line({"service_id": item.service_id, "outcome": item.outcome, "message": item.message, "dry_run": self.dry_run})
            else:
                data(f"{item.service_id:>8}  {outcome:<11}  {inert(item.message)}")

    def print_remaining(self, result: bulk.RunReport) -> None:
        for item in result.items:
            if item.service_id not in self.printed:
                self(item)


IDS_ARGUMENT = typer.Argument(None, metavar="[IDS...|-]", help="Service ids, or - to read them from stdin.")
YES_OPTION = typer.Option(False, "--yes", "-y", help="Confirm without asking (required off a terminal).")
DRY_RUN_OPTION = typer.Option(False, "--dry-run", help="Show what would change; change nothing.")
REASON_OPTION = typer.Option(None, "--reason", help="Why (kept in the activity log).")
ACTION_FORMAT = typer.Option("table", "--format", "-f", help="table (a line per service) or json (an object per line).")


def action_help(*names: str) -> str:
    return " ".join(ACTIONS[name].describe() for name in names)


def action_command(command: str, *actions_described: str) -> Callable[[Callable[..., tuple[str, dict[str, Any]]]], None]:
    """Register `services COMMAND` from `describe(**its own options) -> (action, params)`: the ids,
    --dry-run, --yes, --format and the list filters are added around its options, and the action runs
    on the selection. Its help is the status table's description of `actions_described` (default: COMMAND)."""
    help_text = action_help(*(actions_described or (command,)))

    def register(describe: Callable[..., tuple[str, dict[str, Any]]]) -> None:
        own = list(inspect.signature(describe).parameters.values())

        @functools.wraps(describe)
        def handler(ctx: typer.Context, ids: list[str] | None, dry_run: bool, yes: bool, fmt: str, filters: dict[str, Any], **options: Any) -> None:
            action, params = describe(**options)
            run_action(ctx, action, params, ids or [], filters, yes=yes, dry_run=dry_run, fmt=fmt)

        def option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
            return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation)

        handler.__signature__ = inspect.Signature(  # type: ignore[attr-defined]  # functions take a __signature__ at runtime; typeshed does not declare it
            [
                inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
                option("ids", list[str] | None, IDS_ARGUMENT),
                *own,
                option("dry_run", bool, DRY_RUN_OPTION),
                option("yes", bool, YES_OPTION),
                option("fmt", str, ACTION_FORMAT),
            ]
        )
        handler.__doc__ = help_text
        services_app.command(command, help=help_text)(with_list_filters(handler))

    return register


def _reason_only(action: str) -> Callable[..., tuple[str, dict[str, Any]]]:
    def describe(reason: str | None = REASON_OPTION) -> tuple[str, dict[str, Any]]:
        return action, {"reason": reason}

    return describe


for _command in ("deliver", "unsuspend", "uncancel", "terminate", "delete", "redeliver", "reinstall"):
    action_command(_command)(_reason_only(_command))


@action_command("suspend")
def services_suspend(
    reason: str | None = REASON_OPTION,
    kind: str = typer.Option("admin", "--kind", help="admin, client, abuse, overdue or temporary."),
    notify: bool = typer.Option(False, "--notify", help="Mail the customer."),
) -> tuple[str, dict[str, Any]]:
    return "suspend", {"reason": reason, "kind": kind, "notify": notify}


@action_command("cancel", "cancel-end-of-cycle", "cancel-immediately")
def services_cancel(
    mode: str = typer.Option(
        "end-of-cycle",
        "--mode",
        help="end-of-cycle (the service runs until its expiry), or immediate: cancelled now and deleted from its panel "
        "by the module's terminate, which cannot be undone (an operator may do this; `terminate` needs an admin).",
    ),
    reason: str | None = REASON_OPTION,
) -> tuple[str, dict[str, Any]]:
    return "cancel", {"reason": reason, "mode": mode}


@action_command("renew")
def services_renew(
    cycles: str = typer.Option("1", "--cycles", help="How many billing cycles."),
    invoice: str | None = typer.Option(None, "--invoice", help="new, or an unpaid invoice id: renew when it is paid."),
    free: bool = typer.Option(False, "--free", help="Record the renewal with amount 0 (default: the price)."),
    reason: str | None = REASON_OPTION,
) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {"cycles": cycles, "reason": reason, "free": free}
    if invoice is None:
        return "renew", params
    return "renew-invoice", {**params, "invoice": invoice}


@action_command("add-option")
def services_add_option(
    option: str = typer.Option(..., "--option", help="NAME=VALUE from the product's option catalogue (see products options PRODUCT)."),
) -> tuple[str, dict[str, Any]]:
    return "add-option", {"option": option}


def _days(action: str) -> Callable[..., tuple[str, dict[str, Any]]]:
    def describe(days: str = typer.Option(..., "--days", help="How many days."), reason: str | None = REASON_OPTION) -> tuple[str, dict[str, Any]]:
        return action, {"days": days, "reason": reason}

    return describe


for _command in ("add-days", "subtract-days"):
    action_command(_command)(_days(_command))


# ----------------------------------------------------------------------------- bulk runs


bulk_app = new_app("Bulk runs: what each multi-service command did to each service.")
RECENT_RUNS = 20
services_app.add_typer(bulk_app, name="bulk")


@bulk_app.command("list")
def bulk_list(
    ctx: typer.Context,
    limit: str | None = typer.Option(None, "--limit", help=f"At most N runs (default {RECENT_RUNS}; every run with --format ids; 0 = every run)."),
    every: bool = ALL_OPTION,
    fmt: str = FORMAT_OPTION,
) -> None:
    """Recent bulk runs, newest first."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.IDS))
    maximum = row_limit(limit, every, output, default=RECENT_RUNS)
    columns = ["id", "action", "actor", "total", "started_at", "finished_at"]
    with read_session(ctx) as session:
        emit_pages(
            lambda before, size: bulk.list_runs(session, limit=size, before=before),
            lambda run: run.id,
            lambda run: {key: views.plain(getattr(run, key)) for key in columns},
            columns,
            output,
            maximum,
        )


@bulk_app.command("show")
def bulk_show(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., metavar="RUN"),
    limit: str | None = LIMIT_OPTION,
    every: bool = ALL_OPTION,
    fmt: str = FORMAT_OPTION,
) -> None:
    """Every service of a run and how it ended (pending = untouched so far)."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.CSV, Format.IDS))
    maximum = row_limit(limit, every, output)
    identifier = parse_id("RUN", run_id)
    with read_session(ctx) as session:
        run = session.get(BulkRun, identifier)
        if run is None:
            raise NotFound(f"RUN: no bulk run {identifier}")
        message(
            f"run {identifier}: {run.action} by {run.actor}, started {views.plain(run.started_at)}, "
            + (f"finished {views.plain(run.finished_at)}" if run.finished_at else "unfinished")
        )
        emit_pages(
            lambda after, size: bulk.item_page(session, identifier, after=after, limit=size),
            lambda row: row[0].id,
            lambda row: {"service_id": row[0].service_id, "outcome": row[0].outcome, "job": row[1], "message": row[0].message or ""},
            ["service_id", "outcome", "job", "message"],
            output,
            maximum,
            id_key="service_id",
        )
    message(bulk.totals(state(ctx).db, identifier).summary())


# ----------------------------------------------------------------------------- panel


@services_app.command("panel")
def services_panel(ctx: typer.Context, service_id: str = typer.Argument(..., metavar="ID"), fmt: str = FORMAT_OPTION) -> None:
    """The service's live state on its panel (status, resources, addresses, actions)."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    identifier = parse_id("id", service_id)
    require(state(ctx).actor, NON_TRANSITION_ROLES["read"], "reading")
    try:
        panel = delivery.panel_state(state(ctx).db, identifier)
    except ModuleError as error:
        raise SvcError(f"panel: service {identifier}: {error.message}") from None
    record = {"status": panel.status, "resources": panel.resources, "addresses": panel.addresses, "actions": panel.actions, "details": panel.details}
    if output is Format.JSON:
        json_out(record)
        return
    key_values(
        {
            "status": panel.status,
            "addresses": ", ".join(panel.addresses) or None,
            "actions": ", ".join(panel.actions) or None,
            **panel.resources,
            **panel.details,
        }
    )


@services_app.command("power")
def services_power(
    ctx: typer.Context,
    service_id: str = typer.Argument(..., metavar="ID"),
    signal: str = typer.Argument(..., help="A power action the panel offers (start, stop, restart, kill...)."),
) -> None:
    """Send a power action to the service on its panel."""
    cli = state(ctx)
    identifier = parse_id("id", service_id)
    try:
        result = delivery.power(cli.db, cli.actor, identifier, signal.strip().lower())
    except ModuleError as error:
        raise SvcError(f"power: service {identifier}: {error.message}") from None
    message(f"service {identifier}: {signal} sent" + (f": {result.message}" if result.message else ""))


@services_app.command("importable")
def services_importable(ctx: typer.Context, server: str = typer.Argument(..., help="Server id or name."), fmt: str = FORMAT_OPTION) -> None:
    """Resources that already exist on a server and can be imported (`services import --external REF`)."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.IDS))
    require(state(ctx).actor, NON_TRANSITION_ROLES["read"], "reading")
    try:
        importables = delivery.list_importable(state(ctx).db, server)
    except ModuleError as error:
        raise SvcError(f"importable: {error.message}") from None
    rows = [{"external": resource.external_ref, "name": resource.name, "description": resource.description} for resource in importables.resources]
    emit(rows, ["external", "name", "description"], output, id_key="external")
    if importables.linked:
        message(importables.linked_note)
