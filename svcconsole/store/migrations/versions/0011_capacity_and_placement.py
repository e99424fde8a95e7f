"""Capacity and placement: server groups on products, memory and disk caps on servers, and the
note of a service that could not be placed ("not available: ...").

Adds `product.server_ids` (the group delivery places the product's services in) and
`product.placement` (least-used or fill-first), `server.memory_capacity` and
`server.disk_capacity` (MiB, the most a server may hand out where its module reports usage),
`service.placement_note`, and the index that counts a server's used services without reading
rows: (server_id, status, operation).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("product", sa.Column("server_ids", sa.JSON(), nullable=False, server_default="[]"))
    op.add_column("product", sa.Column("placement", sa.String(length=20), nullable=False, server_default="least-used"))
    op.add_column("server", sa.Column("memory_capacity", sa.Integer(), nullable=True))
    op.add_column("server", sa.Column("disk_capacity", sa.Integer(), nullable=True))
    op.add_column("service", sa.Column("placement_note", sa.Text(), nullable=True))
    op.create_index("ix_service_server_used", "service", ["server_id", "status", "operation"])


def downgrade() -> None:
    op.drop_index("ix_service_server_used", table_name="service")
    with op.batch_alter_table("service") as batch:
        batch.drop_column("placement_note")
    with op.batch_alter_table("server") as batch:
        batch.drop_column("disk_capacity")
        batch.drop_column("memory_capacity")
    with op.batch_alter_table("product") as batch:
        batch.drop_column("placement")
        batch.drop_column("server_ids")
