"""`services abuse`: record, list and close abuse reports (the setting `abuse_limit` suspends)."""

from __future__ import annotations

from typing import Any

import typer

from svcconsole.cli.base import state
from svcconsole.cli.output import Format, emit, json_out, message, parse_format
from svcconsole.cli.service_actions import services_app
from svcconsole.core import abuse, jobs, lookups, views
from svcconsole.core.errors import InvalidInput
from svcconsole.core.operators import require
from svcconsole.core.parse import parse_id
from svcconsole.core.statuses import NON_TRANSITION_ROLES

__all__ = ["services_app"]

REPORT_COLUMNS = ["id", "created_at", "reported_by", "note", "closed_at", "closed_by"]


def report_dict(row: Any) -> dict[str, Any]:
    return {key: views.plain(getattr(row, key)) for key in REPORT_COLUMNS}


@services_app.command("abuse")
def services_abuse(
    ctx: typer.Context,
    service_id: str = typer.Argument(..., metavar="ID"),
    note: str | None = typer.Option(None, "--note", help="Record an abuse report with this text."),
    close: str | None = typer.Option(None, "--close", help="Close this open report (it stops counting towards abuse_limit)."),
    list_only: bool = typer.Option(False, "--list", help="List the service's reports, newest first."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """Abuse reports: at `abuse_limit` open reports (a setting; 0 = never) an active service is suspended, kind abuse."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    cli = state(ctx)
    identifier = parse_id("ID", service_id)
    if sum((note is not None, close is not None, list_only)) != 1:
        raise InvalidInput("--note", "give one of --note TEXT (report), --close REPORT or --list")
    if list_only:
        require(cli.actor, NON_TRANSITION_ROLES["read"], "reading")
        with cli.db.read() as session:
            lookups.get_service(session, identifier)
            emit([report_dict(row) for row in abuse.reports_of(session, identifier)], REPORT_COLUMNS, output)
        return
    if close is not None:
        report_id = parse_id("--close", close)
        row = cli.db.transaction(lambda session: abuse.close(session, cli.actor, identifier, report_id))
        if output is Format.JSON:
            json_out(report_dict(row))
        else:
            message(f"service {identifier}: abuse report {report_id} closed")
        return
    result = cli.db.transaction(lambda session: abuse.report(session, cli.actor, identifier, note or ""))
    record: dict[str, Any] = {"report_id": result.report_id, "service_id": identifier, "open_reports": result.open_reports, "abuse_limit": result.limit}
    record["suspended"] = result.suspension is not None
    if result.job_id is not None:
        [ran] = jobs.run_jobs(cli.db, [result.job_id])
        record |= {"job_id": ran.job_id, "job_status": ran.status}
    with cli.db.read() as session:
        record["status"] = lookups.get_service(session, identifier).status
    if output is Format.JSON:
        json_out(record)
    else:
        message(result.message)
    if record.get("job_status") == "failed":
        raise typer.Exit(3)
