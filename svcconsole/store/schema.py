"""Schema management: Alembic migrations, checks and online backups.

The migrations in `store/migrations/versions` are the only way the schema changes; `check`
compares them with the models so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from svcconsole.store.engine import Database, DatabaseError, create_private_file, safe_url
from svcconsole.store.models import metadata

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
HEAD_REVISION = "0014"
"""The newest migration, so that opening a database checks its schema without loading Alembic
(about 100 ms of every launch); a test holds it to the migrations' real head."""


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The head of the migration scripts, as Alembic reads them."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    """The revision the database was migrated to, or None for a database Alembic never touched."""
    with db.engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str]:
    """Migrate to `revision`; returns the revision before and after."""
    from alembic import command

    before = current_revision(db)
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return before, current_revision(db) or ""


@dataclass
class SchemaReport:
    """What `db check` found."""

    url: str
    current: str | None
    head: str
    differences: list[str] = field(default_factory=list)
    integrity: str = "ok"

    @property
    def ok(self) -> bool:
        return self.current == self.head and not self.differences and self.integrity == "ok"


def check(db: Database) -> SchemaReport:
    """Compare the database with the migrations' head and the models; run SQLite's integrity check."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    report = SchemaReport(url=safe_url(db.url), current=current_revision(db), head=head_revision())
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": include_object})
        for difference in compare_metadata(context, metadata):
            report.differences.append(_describe_difference(difference))
        if db.is_sqlite:
            report.integrity = connection.exec_driver_sql("PRAGMA quick_check").scalar() or "unknown"
    return report


def include_object(item: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
    """Leave the search index (FTS5 tables, the trigram index) out of model comparisons."""
    return not (name or "").startswith(("service_search", "ix_service_search"))


def _describe_difference(difference: object) -> str:
    if isinstance(difference, tuple) and difference:
        kind = difference[0]
        target = difference[1] if len(difference) > 1 else ""
        name = getattr(target, "name", None) or str(target)
        return f"{kind} {name}"
    if isinstance(difference, list):
        return "; ".join(_describe_difference(item) for item in difference)
    return str(difference)


def ensure_schema(db: Database) -> None:
    """Create the schema on an empty database; refuse one that needs `db upgrade`."""
    current = current_revision(db)
    if current is None:
        if db.has_tables():
            raise DatabaseError("database: it has tables but no migration record; it is not a svcconsole database")
        upgrade(db)
        return
    head = HEAD_REVISION
    if current != head:
        raise DatabaseError(f"database: schema is at revision {current}, this svcconsole needs {head}: run `svcconsole db upgrade`")


def backup(db: Database, destination: Path) -> str:
    """Write a consistent copy of the database to `destination` (0600), while others use it."""
    if db.is_sqlite:
        source = db.sqlite_file
        if source is None:
            raise DatabaseError("backup: an in-memory database cannot be backed up")
        destination = destination.expanduser()
        if destination.exists():
            raise DatabaseError(f"backup: {destination} exists; choose a new path")
        create_private_file(destination)
        with sqlite3.connect(source) as src, sqlite3.connect(destination) as dst:
            src.backup(dst)
        os.chmod(destination, 0o600)
        return f"backed up {source} to {destination}"
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise DatabaseError(
            "backup: PostgreSQL backups use pg_dump, which is not installed here; run `pg_dump --format=custom --file PATH DBNAME` on the database host"
        )
    url = make_url(db.url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    args = [pg_dump, "--format=custom", "--file", str(destination), "--dbname", url.database or ""]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    old_umask = os.umask(0o077)
    try:
        result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    finally:
        os.umask(old_umask)
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["pg_dump failed"])[0]
        raise DatabaseError(f"backup: {first}")
    return f"backed up {safe_url(db.url)} to {destination} (pg_dump custom format)"
