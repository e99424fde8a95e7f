"""`svcconsole client --customer EMAIL_OR_ID`: the customer area, meant as an SSH `ForceCommand`.

It opens an existing database only (never creates or migrates one). Run by an operator of the
database it is a read-only preview; run by any other login (the customers' SSH account) it is
that customer's area, with the customer fixed by the command line sshd forces.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import typer

from svcconsole.cli.base import state
from svcconsole.core import customer, operators
from svcconsole.core.context import open_database
from svcconsole.core.errors import InvalidInput
from svcconsole.store.engine import DatabaseError, resolve_database_url, safe_url, sqlite_path

log = logging.getLogger("svcconsole.client")


def client_command(
    ctx: typer.Context,
    customer_ref: str = typer.Option(..., "--customer", help="The customer, by email or id (fixed by the SSH ForceCommand)."),
) -> None:
    """The customer area: one customer's services, renewals, cancellations and auto-renewal."""
    cli = state(ctx)
    if cli.as_login:
        raise InvalidInput("--as", "the customer area acts as the --customer it is opened for, never as another operator")
    url = resolve_database_url(cli.database_url)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise DatabaseError(f"database: no database at {safe_url(url)}; the customer area never creates one")
    db = open_database(url, migrate=False)
    try:
        if not db.has_tables():
            raise DatabaseError(f"database: {safe_url(url)} has no svcconsole schema; the customer area never creates one")
        login = operators.os_login()
        with db.read() as session:
            actor = customer.open_area(session, login, customer_ref)
        if cli.read_only:
            actor = replace(actor, read_only=True)
        log.info("customer area opened for customer %s by login %s%s", actor.customer_id, login, " (preview)" if actor.read_only else "")
        from svcconsole.client.app import run_client

        run_client(db, actor)
    finally:
        db.dispose()
