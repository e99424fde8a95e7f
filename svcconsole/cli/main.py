"""The `svcconsole` command: global options, the sub-command groups, and the console by default."""

from __future__ import annotations

import typer

from svcconsole import __version__
from svcconsole.cli.abuse import services_app
from svcconsole.cli.admin import db_app, jobs_app, operators_app, sandbox_command, seed_app, settings_app, worker_command
from svcconsole.cli.base import CliState, new_app, state
from svcconsole.cli.billing import automation_app, invoices_app, notify_app
from svcconsole.cli.catalog import customers_app, products_app, servers_app
from svcconsole.cli.client import client_command
from svcconsole.cli.config import config_app
from svcconsole.cli.console import demo
from svcconsole.cli.credentials import add_credentials_command
from svcconsole.cli.operations import health_command
from svcconsole.cli.orders_admin import orders_app
from svcconsole.cli.panel import statistics_command
from svcconsole.cli.reconcile import reconcile_command
from svcconsole.cli.tickets import tickets_app
from svcconsole.cli.transfers import add_transfer_command
from svcconsole.core import logs

app = new_app(
    "svcconsole: run the services a hosting company sells (the console, or the commands below).",
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=True,
)

services_app.command("statistics")(statistics_command)
app.add_typer(services_app, name="services")
add_transfer_command(services_app)
add_credentials_command(services_app)
app.add_typer(customers_app, name="customers")
app.add_typer(products_app, name="products")
app.add_typer(servers_app, name="servers")
app.add_typer(operators_app, name="operators")
app.add_typer(settings_app, name="settings")
app.add_typer(jobs_app, name="jobs")
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")
app.add_typer(invoices_app, name="invoices")
app.add_typer(orders_app, name="orders")
app.add_typer(automation_app, name="automation")
app.add_typer(notify_app, name="notify")
app.add_typer(config_app, name="config")
app.add_typer(tickets_app, name="tickets")
app.command("worker")(worker_command)
app.command("sandbox")(sandbox_command)
app.command("demo")(demo)
app.command("client")(client_command)
app.command("health")(health_command)
app.command("reconcile")(reconcile_command)


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
