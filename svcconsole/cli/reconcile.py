"""`svcconsole reconcile`: compare every panel with billing, print the drift, apply the fixes."""

from __future__ import annotations

import sys
from typing import Any

import typer

from svcconsole.cli.base import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, confirm, state
from svcconsole.cli.output import ALL_OPTION, LIMIT_OPTION, Format, emit, emit_pages, json_out, message, parse_format, row_limit
from svcconsole.core import reconcile as core
from svcconsole.core.catalog import resolve_server
from svcconsole.core.errors import InvalidInput
from svcconsole.core.lookups import timezone_of
from svcconsole.core.panel_listing import panels_of
from svcconsole.core.parse import parse_id

COLUMNS = ["kind", "server", "service_id", "external", "field", "billing", "panel", "fix"]
KIND_HELP = f"Only these kinds ({', '.join(core.DRIFT_KINDS)}; repeatable or comma-separated)."
RESULT_COLUMNS = ["drift", "kind", "service_id", "outcome", "message"]


BAR_WIDTH = 30


def progress_line(server: str, count: int, total: int | None) -> str:
    """`ptero-1 [#########.....] 600/1000 resources read`; a bare count while the panel has not said how many it holds."""
    if not total:
        return f"{server}: {count} resources read"
    filled = min(BAR_WIDTH, BAR_WIDTH * count // total)
    return f"{server} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {count}/{total} resources read"


class _Progress:
    """A progress bar per server on stderr, redrawn in place on a terminal (nothing off one)."""

    def __init__(self) -> None:
        self.live = sys.stderr.isatty()
        self.shown = False

    def __call__(self, server: str, count: int, total: int | None) -> None:
        if self.live:
            sys.stderr.write("\r" + progress_line(server, count, total))
            sys.stderr.flush()
            self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def reconcile_command(
    ctx: typer.Context,
    server: list[str] = typer.Option([], "--server", "-s", help="Reconcile this server's panel (repeatable; default: every panel)."),
    kind: list[str] = typer.Option([], "--kind", "-k", help=KIND_HELP),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    apply: bool = typer.Option(False, "--apply", help="Apply the fixes of the last report (run `reconcile` first)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="With --apply: show the fixes, change nothing."),
    service: str | None = typer.Option(None, "--service", help="Only this service's drift (needed to act on owner or duplicate)."),
    missing: str = typer.Option("redeliver", "--missing", help="The fix for missing: redeliver (create it again) or terminate (in billing)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Confirm --apply without asking (required off a terminal)."),
    limit: str | None = LIMIT_OPTION,
    every: bool = ALL_OPTION,
) -> None:
    """Compare each panel's resources with billing: one row per drift (orphan, missing, status,
    build, owner, duplicate) with the fix it proposes. Exit 0 when nothing drifts, 3 when
    something does. `--apply` runs the fixes through the usual actions and the queue."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    maximum = row_limit(limit, every, output)
    cli = state(ctx)
    kinds = core.parse_kinds(kind)
    service_id = parse_id("--service", service) if service is not None else None
    if missing not in core.MISSING_FIXES:
        raise InvalidInput("--missing", f"{missing!r} is not a fix for missing ({' or '.join(core.MISSING_FIXES)})")
    if dry_run and not apply:
        raise InvalidInput("--dry-run", "goes with --apply (a plain reconcile changes nothing in billing or on the panels)")
    with cli.db.read() as session:
        server_ids = tuple(resolve_server(session, name, "--server").id or 0 for name in server)
        tz = timezone_of(session)
    drift_filter = core.DriftFilter(kinds=kinds, server_ids=_panel_servers(cli, server_ids), service_id=service_id)
    if apply:
        raise typer.Exit(_apply(cli, drift_filter, output, missing, dry_run=dry_run, yes=yes))
    progress = _Progress()
    try:
        report = core.reconcile(cli.db, cli.actor, server, progress=progress)
    finally:
        progress.done()
    for outcome in report.failed:
        message(f"error: {outcome.error}")
    with cli.db.read() as session:
        shown = emit_pages(
            lambda after, size: core.drift_rows(session, drift_filter, after=after or 0, limit=size),
            lambda row: row[0].id,
            lambda row: core.drift_dict(*row),
            COLUMNS,
            output,
            maximum,
            tz=tz,
        )
    for outcome in report.panels:
        if not outcome.error:
            message(f"{outcome.panel.names[0]}: {outcome.resources} resources, {outcome.found} drift ({outcome.new} new, {outcome.resolved} resolved)")
    if shown:
        raise typer.Exit(EXIT_PARTIAL)
    raise typer.Exit(EXIT_ERROR if report.failed else EXIT_OK)


def _panel_servers(cli: Any, server_ids: tuple[int, ...]) -> tuple[int, ...]:
    """The named servers and every record that names the same panel."""
    if not server_ids:
        return ()
    with cli.db.read() as session:
        panels = panels_of(session, [str(server_id) for server_id in server_ids])
    return tuple(sorted({member for panel in panels for member in panel.server_ids}))


def _apply(cli: Any, drift_filter: core.DriftFilter, output: Format, missing: str, *, dry_run: bool, yes: bool) -> int:
    if not dry_run:
        confirm("apply the reconcile fixes", yes=yes)
    report = core.apply(cli.db, cli.actor, drift_filter, missing_fix=missing, dry_run=dry_run)
    rows: list[dict[str, Any]] = [
        {
            "drift": result.drift_id,
            "kind": result.kind,
            "service_id": result.service_id,
            "outcome": result.outcome,
            "message": result.message,
            "run": result.run_id,
        }
        for result in report.results
    ]
    if output is Format.JSON:
        json_out(rows)
    else:
        emit(rows, RESULT_COLUMNS, output)
    counted = ", ".join(f"{report.count(outcome)} {outcome}" for outcome in ("ok", "would", "pending", "failed", "skipped") if report.count(outcome))
    runs = f" (bulk runs {', '.join(str(run) for run in report.runs)})" if report.runs else ""
    message(f"reconcile {'dry run' if dry_run else 'apply'}: {len(rows)} fixes: {counted or 'nothing to do'}{runs}")
    return report.exit_code
