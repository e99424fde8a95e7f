"""The store: tables, the engine and its sessions, migrations and the list queries."""

from svcconsole.store.engine import (
    DATABASE_URL_ENV,
    Database,
    DatabaseError,
    resolve_database_url,
    safe_url,
    user_data_dir,
    user_log_dir,
)

__all__ = [
    "DATABASE_URL_ENV",
    "Database",
    "DatabaseError",
    "resolve_database_url",
    "safe_url",
    "user_data_dir",
    "user_log_dir",
]
