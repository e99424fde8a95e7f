"""Orders waiting for an admin: `orders approve` and `orders reject` (the setting `order_approval`)."""

from __future__ import annotations

from typing import Any

import typer

from svcconsole.cli.base import state
from svcconsole.cli.billing import orders_app
from svcconsole.cli.output import Format, json_out, message, parse_format
from svcconsole.core import jobs, lookups, order_approval
from svcconsole.core.parse import parse_id

__all__ = ["orders_app"]

FORMAT_OPTION = typer.Option("table", "--format", "-f", help="table or json.")


def _print(cli: Any, output: Format, result: order_approval.ApprovalResult) -> None:
    """The result, after running the delivery job it queued (as `invoices pay` does)."""
    record: dict[str, Any] = {"service_id": result.service_id, "status": result.status, "message": result.message, "job_id": result.job_id}
    if result.job_id is not None:
        [ran] = jobs.run_jobs(cli.db, [result.job_id])
        with cli.db.read() as session:
            record |= {"status": lookups.get_service(session, result.service_id).status, "job_status": ran.status, "job_message": ran.message}
    if output is Format.JSON:
        json_out(record)
    else:
        message(f"service {result.service_id}: {result.message}")
        if "job_status" in record:
            message(f"job {result.job_id}: {record['job_status']}: {record['job_message']}")


@orders_app.command("approve")
def orders_approve(ctx: typer.Context, service_id: str = typer.Argument(..., metavar="SERVICE"), fmt: str = FORMAT_OPTION) -> None:
    """Approve a paid order's service awaiting approval: its delivery starts."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    cli = state(ctx)
    identifier = parse_id("SERVICE", service_id)
    _print(cli, output, cli.db.transaction(lambda session: order_approval.approve(session, cli.actor, identifier)))


@orders_app.command("reject")
def orders_reject(
    ctx: typer.Context,
    service_id: str = typer.Argument(..., metavar="SERVICE"),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept in the activity log)."),
    fmt: str = FORMAT_OPTION,
) -> None:
    """Reject a paid order's service awaiting approval: it is cancelled, never delivered (refund by hand)."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    cli = state(ctx)
    identifier = parse_id("SERVICE", service_id)
    _print(cli, output, cli.db.transaction(lambda session: order_approval.reject(session, cli.actor, identifier, reason=reason)))
