"""Opening a database for use: the URL, its schema, its secrets key and the acting operator."""

from __future__ import annotations

from pathlib import Path

from svcconsole.core import operators, ratelimit, secrets
from svcconsole.core.operators import Actor
from svcconsole.store import schema
from svcconsole.store.engine import Database, resolve_database_url, user_data_dir
from svcconsole.store.models import Operator


def key_file_for(db: Database) -> Path:
    """The secrets key file: beside the SQLite file, else in the user data dir."""
    path = db.sqlite_file
    if path is not None:
        return path.with_name(path.name + ".key")
    return user_data_dir() / "secret.key"


def open_database(url: str | None = None, *, migrate: bool = True, create: bool = True) -> Database:
    """Connect, create the schema on an empty database, and configure the secrets key.

    Without `create`, a SQLite file that does not exist is refused instead of created.
    """
    db = Database(resolve_database_url(url), create=create)
    db.check_reachable()
    secrets.configure(key_file_for(db))
    ratelimit.install(db)
    if migrate:
        schema.ensure_schema(db)
    return db


def acting_operator(db: Database, *, login: str | None = None, as_login: str | None = None, read_only: bool = False) -> Actor:
    """The actor for this process; the first login to use a new database becomes its admin."""
    login = login or operators.os_login()
    with db.read() as session:
        actor_known = session.get(Operator, login) is not None
    if not actor_known:
        db.transaction(lambda session: operators.ensure_first_admin(session, login))
    with db.read() as session:
        return operators.resolve_actor(session, login, as_login=as_login, read_only=read_only)
