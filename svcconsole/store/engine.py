"""Where the database is, how to connect to it, and how transactions run.

SQLite gets WAL, foreign keys and a busy timeout, and write transactions start with
`BEGIN IMMEDIATE` so concurrent writers queue on the lock instead of failing to upgrade it.
PostgreSQL goes through psycopg; writers lock the rows they change.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlmodel import Session

APP_NAME = "svcconsole"
DATABASE_URL_ENV = "SVCCONSOLE_DATABASE_URL"
SQLITE_BUSY_TIMEOUT_MS = 30_000

T = TypeVar("T")


class DatabaseError(Exception):
    """The database cannot be reached or used; the message is safe to show."""


class DuplicateValue(DatabaseError):
    """A write hit a unique constraint: another session saved the same value first.

    `table` and `columns` name the constraint; nothing of the transaction was written.
    """

    def __init__(self, table: str, columns: tuple[str, ...]) -> None:
        super().__init__(f"database: {table} {', '.join(columns)}: that value exists already (saved by another session); nothing was changed")
        self.table = table
        self.columns = columns


SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")
POSTGRESQL_KEY = re.compile(r"Key \((.+?)\)=")


def unique_violation(error: BaseException) -> DuplicateValue | None:
    """The constraint a driver's unique-violation error names, or None for any other error."""
    if not isinstance(error, IntegrityError):
        return None
    original = error.orig
    if getattr(original, "sqlstate", None) == "23505":
        diagnostics = getattr(original, "diag", None)
        table = getattr(diagnostics, "table_name", None) or "?"
        key = POSTGRESQL_KEY.search(getattr(diagnostics, "message_detail", None) or "")
        columns = tuple(column.strip().strip('"') for column in key.group(1).split(",")) if key else (getattr(diagnostics, "constraint_name", None) or "?",)
        return DuplicateValue(table, columns)
    found = SQLITE_UNIQUE.search(str(original))
    if found:
        qualified = [part.strip() for part in found.group(1).split(",")]
        return DuplicateValue(qualified[0].partition(".")[0], tuple(part.partition(".")[2] for part in qualified))
    return None


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def default_database_url() -> str:
    return f"sqlite:///{user_data_dir() / 'svcconsole.db'}"


def resolve_database_url(explicit: str | None = None) -> str:
    """The URL to use: `--db`, else `SVCCONSOLE_DATABASE_URL`, else the user data dir file."""
    url = explicit or os.environ.get(DATABASE_URL_ENV) or default_database_url()
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for PostgreSQL and in-memory databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).expanduser()


def create_private_file(path: Path) -> None:
    """Create `path` (and its folder) readable by its owner only, if it does not exist yet."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _open_sqlite_file(path: Path, *, create: bool) -> None:
    """Check the file behind a SQLite URL (creating it when `create`), as one line naming --db."""
    if path.is_dir():
        raise DatabaseError(f"database (--db): {path} is a directory, not a SQLite file (sqlite:////path/to/svcconsole.db)")
    if not path.exists() and not create:
        raise DatabaseError(f"database (--db): {path} does not exist (`svcconsole db init` creates it)")
    try:
        create_private_file(path)
    except OSError as error:
        raise DatabaseError(f"database (--db): cannot open {path}: {error.strerror or error}") from None


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for `url`; SQLite files are created 0600 on first use (refused when not `create`)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"database: {url!r} is not a database URL (sqlite:///PATH or postgresql+psycopg://...)") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            _open_sqlite_file(path, create=create)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            pool_pre_ping=False,
        )
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            connect_args={"connect_timeout": 5, "application_name": APP_NAME},
        )
    raise DatabaseError(f"database: unsupported backend {backend!r} (use sqlite or postgresql+psycopg)")


def is_retryable_conflict(error: BaseException) -> bool:
    """True for lock timeouts, deadlocks and serialization failures worth one more try."""
    if isinstance(error, OperationalError) and "database is locked" in str(error):
        return True
    if isinstance(error, DBAPIError):
        code = getattr(error.orig, "sqlstate", None)
        return code in {"40001", "40P01", "55P03"}
    return False


class Database:
    """One database: its engine, and the read and write sessions every layer uses."""

    def __init__(self, url: str, engine: Engine | None = None, *, create: bool = True) -> None:
        self.url = url
        self.engine = engine or make_engine(url, create=create)
        self.dialect = self.engine.dialect.name
        self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    @property
    def sqlite_file(self) -> Path | None:
        return sqlite_path(self.url)

    def __repr__(self) -> str:
        return f"Database({safe_url(self.url)!r})"

    def check_reachable(self) -> None:
        """Connect once, turning driver errors into one safe line."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except (OperationalError, DBAPIError) as error:
            reason = str(getattr(error, "orig", error)).strip().splitlines()[0] if str(error) else "no answer"
            raise DatabaseError(f"database: cannot connect to {safe_url(self.url)}: {reason}") from None

    def has_tables(self) -> bool:
        return inspect(self.engine).has_table("service")

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; nothing it does is committed."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction, committed on success and rolled back on error."""
        with Session(self._write_engine, expire_on_commit=False) as session:
            with session.begin():
                yield session

    def transaction(self, work: Callable[[Session], T], *, attempts: int = 8) -> T:
        """Run `work` in a write transaction, retrying lock and serialization conflicts.

        A unique value that another session saved first raises `DuplicateValue`.
        """
        for attempt in range(1, attempts + 1):
            try:
                with self.write() as session:
                    return work(session)
            except (OperationalError, DBAPIError) as error:
                duplicate = unique_violation(error)
                if duplicate is not None:
                    raise duplicate from None
                if attempt == attempts or not is_retryable_conflict(error):
                    raise
                time.sleep(min(0.05 * 2**attempt, 1.0) * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()
