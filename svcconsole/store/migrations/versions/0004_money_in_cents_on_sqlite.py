"""Money stored exactly on SQLite: every money column becomes INTEGER cents.

SQLite gives NUMERIC(12, 2) REAL affinity, so 0.10 was stored as a float and an invoice total
summed in SQL came back as 0.30000000000000004. Each money column of every table is rewritten as
integer cents: `CAST(ROUND(ROUND(x, 2) * 100) AS INTEGER)`. The inner ROUND(x, 2) rounds the
amount as written in decimal, half away from zero, so 19.99 -> 1999, 0.1 -> 10, 1.005 -> 101 and
12.345 -> 1235 (the application never wrote more than two decimals; only hand-written rows can
have more). PostgreSQL keeps NUMERIC(12, 2), which is exact already, and is not touched.

SQLite cannot change a column's type in place, and rebuilding a table would, with foreign keys
on, delete the rows that cascade from it; so each column is replaced: a new INTEGER column is
added (NOT NULL DEFAULT 0, as SQLite requires when adding a NOT NULL column), filled, the old one
dropped (with the sort index that covers it, rebuilt after) and the new one renamed. Needs
SQLite 3.35 or later (DROP COLUMN).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MONEY_COLUMNS = {
    "product_price": ("price", "setup_fee"),
    "service": ("price", "initial_price"),
    "service_option": ("price",),
    "renewal": ("amount",),
    "upgrade": ("amount",),
    "invoice_line": ("amount",),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, columns in MONEY_COLUMNS.items():
        _replace_columns(table, columns, "INTEGER NOT NULL DEFAULT 0", "CAST(ROUND(ROUND({column}, 2) * 100) AS INTEGER)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, columns in MONEY_COLUMNS.items():
        _replace_columns(table, columns, "NUMERIC(12, 2) NOT NULL DEFAULT 0", "{column} / 100.0")


def _replace_columns(table: str, columns: tuple[str, ...], declaration: str, conversion: str) -> None:
    """Replace `columns` of `table` by new ones of `declaration` holding `conversion` of the old values."""
    if sqlite3.sqlite_version_info < (3, 35):
        raise RuntimeError(f"db upgrade: this step needs SQLite 3.35 or later (this Python has {sqlite3.sqlite_version})")
    bind = op.get_bind()
    covering = [index for index in sa.inspect(bind).get_indexes(table) if set(index["column_names"]) & set(columns)]
    for index in covering:
        op.execute(f"DROP INDEX {index['name']}")
    for column in columns:
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column}_converted {declaration}")
    assignments = ", ".join(f"{column}_converted = {conversion.format(column=column)}" for column in columns)
    op.execute(f"UPDATE {table} SET {assignments}")
    for column in columns:
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        op.execute(f"ALTER TABLE {table} RENAME COLUMN {column}_converted TO {column}")
    for index in covering:
        unique = "UNIQUE " if index["unique"] else ""
        op.execute(f"CREATE {unique}INDEX {index['name']} ON {table} ({', '.join(str(name) for name in index['column_names'])})")
