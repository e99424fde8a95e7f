"""`automation history|show` and `health`: when the nightly run last finished, what it did, and whether anything is stuck."""

from __future__ import annotations

from typing import Any

import typer

from svcconsole.cli.base import state
from svcconsole.cli.billing import automation_app
from svcconsole.cli.output import ALL_OPTION, Format, data, emit, emit_pages, json_out, key_values, message, parse_format, row_limit
from svcconsole.core import health, leases, lookups, mailer, views
from svcconsole.core.operators import require
from svcconsole.core.parse import inert, parse_id
from svcconsole.core.statuses import NON_TRANSITION_ROLES

__all__ = ["automation_app", "health_command"]  # `automation history` and `show` register on the group billing defines

FORMAT_OPTION = typer.Option("table", "--format", "-f", help="table or json.")
RUN_COLUMNS = ["id", "status", "started_at", "finished_at", "actor", "at", "dry_run", "touched", "failed", "error"]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return views.plain(value)


def _run_row(run: dict[str, Any]) -> dict[str, Any]:
    steps = run["steps"]
    return {
        **{key: run[key] for key in ("id", "status", "started_at", "finished_at", "actor", "at", "dry_run")},
        "touched": sum(step["touched"] for step in steps),
        "failed": sum(step["failed"] for step in steps),
        "error": run["error"],
    }


RECENT_RUNS = 20


@automation_app.command("history")
def automation_history(
    ctx: typer.Context,
    limit: str | None = typer.Option(None, "--limit", help=f"At most N runs, newest first (default {RECENT_RUNS}; 0 = every run)."),
    every: bool = ALL_OPTION,
    fmt: str = FORMAT_OPTION,
) -> None:
    """The recorded automation runs, newest first: status (running, finished, failed, died, locked), when, who, what they touched."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    cli = state(ctx)
    require(cli.actor, NON_TRANSITION_ROLES["read"], "reading")
    maximum = row_limit(limit, every, output, default=RECENT_RUNS)
    with cli.db.read() as session:
        tz = lookups.timezone_of(session)
        now = leases.wall_clock()
        shape = _plain if output is Format.JSON else _run_row
        shown = emit_pages(
            lambda before, size: health.runs(session, limit=size, before=before),
            lambda run: run.id,
            lambda run: shape(health.run_dict(run, now)),
            RUN_COLUMNS,
            output,
            maximum,
            tz=tz,
        )
    if not shown and output is Format.TABLE:
        message("no automation run recorded yet")


@automation_app.command("show")
def automation_show(ctx: typer.Context, run_id: str = typer.Argument(..., metavar="RUN"), fmt: str = FORMAT_OPTION) -> None:
    """One run: when, who, as of when, the settings in force, and each step's counts."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    cli = state(ctx)
    require(cli.actor, NON_TRANSITION_ROLES["read"], "reading")
    with cli.db.read() as session:
        tz = lookups.timezone_of(session)
        run = health.run_dict(health.get_run(session, parse_id("RUN", run_id)), leases.wall_clock())
    if output is Format.JSON:
        json_out(_plain(run))
        return
    key_values({key: run[key] for key in ("id", "status", "started_at", "finished_at", "actor", "at", "dry_run", "error")}, tz=tz)
    data("settings: " + " ".join(f"{key}={value}" for key, value in run["settings"].items()))
    data("")
    emit(run["steps"], ["step", "title", "touched", "ok", "failed", "skipped", "other", "seconds"], Format.TABLE)


def health_command(
    ctx: typer.Context,
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or prometheus (the text exposition format, for node_exporter's textfile collector)."),
    notify: bool = typer.Option(False, "--notify", help="Mail the admin about each new problem (once per incident) and send it now."),
) -> None:
    """Is anything stuck? The last automation run and its age, workers, the module queue and the outbox.

    Exit 0 when all is well, 1 when something needs an admin (each named on stderr), so cron,
    Nagios-style checks or systemd timers can alert on it.
    """
    if fmt.strip().lower() == "prometheus":
        output = None
    else:
        output = parse_format(fmt, (Format.TABLE, Format.JSON))
    cli = state(ctx)
    require(cli.actor, NON_TRANSITION_ROLES["read"], "reading")
    report = health.check(cli.db)
    if notify:
        require(cli.actor, NON_TRANSITION_ROLES["notify"], "mailing the admin")
        if health.alert(cli.db, report.problems):
            message(mailer.send_queued(cli.db).summary())
    if output is None:
        typer.echo(health.prometheus_text(report), nl=False)
    elif output is Format.JSON:
        json_out(_plain(_health_dict(report)))
    else:
        with cli.db.read() as session:
            tz = lookups.timezone_of(session)
        _print_health(report, tz)
    for problem in report.problems:
        message(f"problem: {inert(problem.message)}")
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def _health_dict(report: health.HealthReport) -> dict[str, Any]:
    return {
        "ok": report.exit_code == 0,
        "now": report.now,
        "last_run": report.last_run,
        "last_run_finished_at": report.last_run_finished_at,
        "max_run_age_minutes": report.max_run_age_minutes,
        "workers": report.workers,
        "jobs": report.jobs,
        "mail": report.mail,
        "problems": [{"kind": problem.kind, "message": problem.message} for problem in report.problems],
        "recent_runs": [_run_row(run) for run in report.recent_runs],
    }


def _print_health(report: health.HealthReport, tz: Any) -> None:
    for line in health.summary_lines(report, tz):
        data(line)
