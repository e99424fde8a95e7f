"""`services transfer`: give services to another customer (in billing and on their panels)."""

from __future__ import annotations

from typing import Any

import typer

from svcconsole.cli.base import state
from svcconsole.cli.service_actions import (
    ACTION_FORMAT,
    DRY_RUN_OPTION,
    IDS_ARGUMENT,
    REASON_OPTION,
    YES_OPTION,
    action_help,
    run_action,
)
from svcconsole.cli.services_read import with_list_filters
from svcconsole.core import transfers
from svcconsole.core.operators import require
from svcconsole.core.statuses import NON_TRANSITION_ROLES


def services_transfer(
    ctx: typer.Context,
    ids: list[str] | None = IDS_ARGUMENT,
    to: str = typer.Option("", "--to", help="The new owner: a customer id or email."),
    reason: str | None = REASON_OPTION,
    dry_run: bool = DRY_RUN_OPTION,
    yes: bool = YES_OPTION,
    fmt: str = ACTION_FORMAT,
    *,
    filters: dict[str, Any],
) -> None:
    cli = state(ctx)
    require(cli.actor, NON_TRANSITION_ROLES["read"], "reading")
    with cli.db.read() as session:
        target = transfers.parse_target(session, to)
    run_action(ctx, "transfer", {"to": str(target.id), "reason": reason}, ids or [], filters, yes=yes, dry_run=dry_run, fmt=fmt)


def add_transfer_command(services_app: typer.Typer) -> None:
    """Register `services transfer` on the `services` group."""
    services_app.command("transfer", help=action_help("transfer"))(with_list_filters(services_transfer))
