"""Alembic environment: runs on the connection svcconsole hands it (never an ini file URL)."""

from __future__ import annotations

from alembic import context

from svcconsole.store.models import metadata
from svcconsole.store.schema import include_object

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
