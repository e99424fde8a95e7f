"""Free-text search: service.search_text and its index (FTS5 trigram on SQLite, pg_trgm on PostgreSQL).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from svcconsole.store import search

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service") as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    op.execute(
        "UPDATE service SET search_text = lower(service.name || ' ' || service.customer_name || ' ' || "
        "(SELECT customer.email FROM customer WHERE customer.id = service.customer_id) || ' ' || "
        "coalesce(service.product_name, '') || ' ' || service.uuid)"
    )
    bind = op.get_bind()
    search.create_index(bind, bind.dialect.name)
    if bind.dialect.name == "sqlite":
        bind.execute(sa.text(f"INSERT INTO {search.FTS_TABLE}({search.FTS_TABLE}) VALUES ('rebuild')"))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        search.drop_sqlite_triggers(bind)
        bind.execute(sa.text(f"DROP TABLE IF EXISTS {search.FTS_TABLE}"))
    else:
        bind.execute(sa.text("DROP INDEX IF EXISTS ix_service_search_trgm"))
    with op.batch_alter_table("service") as batch_op:
        batch_op.drop_column("search_text")
