"""The `svcconsole` command: global options, the sub-command groups, and the console by default."""

from __future__ import annotations

import typer

from svcconsole import __version__
from svcconsole.cli.base import CliState, lazy_app, state
from svcconsole.core import logs

app = lazy_app(
    "svcconsole: run the services a hosting company sells (the console, or the commands below).",
    {
        "services": "svcconsole.cli.services_read:services_group",
        "customers": "svcconsole.cli.catalog:customers_app",
        "products": "svcconsole.cli.catalog:products_app",
        "servers": "svcconsole.cli.catalog:servers_app",
        "operators": "svcconsole.cli.admin:operators_app",
        "settings": "svcconsole.cli.admin:settings_app",
        "jobs": "svcconsole.cli.jobs_read:jobs_group",
        "db": "svcconsole.cli.admin:db_app",
        "seed": "svcconsole.cli.admin:seed_app",
        "invoices": "svcconsole.cli.invoices_read:invoices_group",
        "orders": "svcconsole.cli.orders_admin:orders_app",
        "automation": "svcconsole.cli.operations:automation_app",
        "notify": "svcconsole.cli.billing:notify_app",
        "config": "svcconsole.cli.config:config_app",
        "tickets": "svcconsole.cli.tickets:tickets_app",
        "worker": "svcconsole.cli.admin:worker_command",
        "sandbox": "svcconsole.cli.admin:sandbox_command",
        "demo": "svcconsole.cli.console:demo",
        "client": "svcconsole.cli.client:client_command",
        "health": "svcconsole.cli.operations:health_command",
        "reconcile": "svcconsole.cli.reconcile:reconcile_command",
    },
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=True,
)
"""The `svcconsole` command: each group and command is imported when it runs (`LazyGroup`)."""


@app.callback()
def root(
    ctx: typer.Context,
    db: str | None = typer.Option(
        None, "--db", help="Database URL (default: $SVCCONSOLE_DATABASE_URL, else config.toml's database_url, else a SQLite file in the user data dir)."
    ),
    read_only: bool = typer.Option(False, "--read-only", help="Turn every action off."),
    as_login: str | None = typer.Option(None, "--as", help="Act as another operator (admins only)."),
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    """Open the console when no command is given."""
    if version:
        typer.echo(__version__)
        raise typer.Exit(0)
    logs.configure()
    ctx.obj = CliState(db_url=db, read_only=read_only, as_login=as_login)
    ctx.call_on_close(ctx.obj.close)
    if ctx.invoked_subcommand is None:
        open_console(ctx)


def open_console(ctx: typer.Context) -> None:
    """Run the admin console on the configured database."""
    cli = state(ctx)
    from svcconsole.console.app import run_console

    run_console(cli.db, cli.actor, cli.config)
