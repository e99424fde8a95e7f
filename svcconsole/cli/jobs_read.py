"""`jobs list`: the read command, which imports only what it reads.

The `jobs` group loads it from here and every other command from `cli.admin`.
"""

from __future__ import annotations

import typer

from svcconsole.cli.base import lazy_app, new_app, state
from svcconsole.cli.output import ALL_OPTION, FORMAT_OPTION, LIMIT_OPTION, emit_pages, parse_format, row_limit
from svcconsole.core import settings as settings_module
from svcconsole.core import views
from svcconsole.core.operators import require
from svcconsole.core.parse import parse_id
from svcconsole.core.statuses import Role
from svcconsole.store import jobs

jobs_group = lazy_app("The module queue: list, retry, resolve, run.", {"list": "svcconsole.cli.jobs_read:read_app"}, fallback="svcconsole.cli.admin:jobs_app")
read_app = new_app("The module queue: the read command.")


@read_app.command("list")
def jobs_list(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="queued, running, succeeded, failed or resolved."),
    service: str | None = typer.Option(None, "--service", help="Only this service's jobs."),
    limit: str | None = LIMIT_OPTION,
    every: bool = ALL_OPTION,
    fmt: str = FORMAT_OPTION,
) -> None:
    """The module queue, newest first."""
    output = parse_format(fmt)
    maximum = row_limit(limit, every, output)
    service_id = parse_id("--service", service) if service else None
    cli = state(ctx)
    require(cli.actor, Role.VIEWER, "reading")
    with cli.db.read() as session:
        emit_pages(
            lambda before, size: jobs.list_jobs(session, status=status, service_id=service_id, limit=size, before=before),
            lambda job: job.id,
            views.job_dict,
            ["id", "service_id", "operation", "status", "attempts", "next_attempt_at", "last_error"],
            output,
            maximum,
            tz=settings_module.load(session).tz,
        )
