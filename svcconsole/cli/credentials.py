"""`services credentials ID [--reset]`: the login a module provisioned for a service (admins)."""

from __future__ import annotations

import typer

from svcconsole.cli.base import state
from svcconsole.cli.output import Format, json_out, key_values, message, parse_format
from svcconsole.core import credentials
from svcconsole.core.parse import inert, parse_id, parse_text


def services_credentials(
    ctx: typer.Context,
    service_id: str = typer.Argument(..., metavar="ID"),
    reset: bool = typer.Option(False, "--reset", help="Set a new password on the panel (the module's change_password) and mail the customer."),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept in the activity log)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """Show the login the module provisioned (a panel user, a cloud-init user); each view is logged."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    cli = state(ctx)
    identifier = parse_id("ID", service_id)
    why = parse_text("--reason", reason, max_length=2000)
    if reset:
        shown = credentials.reset(cli.db, cli.actor, identifier, reason=why)
    else:
        shown = cli.db.transaction(lambda session: credentials.show(session, cli.actor, identifier))
    record = {"service_id": shown.service_id, "username": shown.login.username, "password": shown.login.password}
    if output is Format.JSON:
        json_out({**record, **({"shared_with": list(shown.shared_with)} if shown.shared_with else {})})
    else:
        key_values({"username": record["username"], "password": record["password"] or "(not known: reset it with --reset)"})
    if shown.message:
        message(inert(shown.message))
    if shown.shared_with:
        message(f"the same login of services {', '.join(str(other) for other in shown.shared_with)} was updated too")


def add_credentials_command(services_app: typer.Typer) -> None:
    """Register `services credentials` on the `services` group."""
    services_app.command("credentials")(services_credentials)
