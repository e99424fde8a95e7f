"""Usage and overages: `product.overage` (the metered resources: included amount, price per unit
beyond it) and the `usage` table (one row per service, metric and billing period).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    money = sa.Integer() if sqlite else sa.Numeric(precision=12, scale=2)
    quantity = sa.Integer() if sqlite else sa.Numeric(precision=18, scale=3)
    with op.batch_alter_table("product") as batch:
        batch.add_column(sa.Column("overage", sa.JSON(), nullable=False, server_default="{}"))
    op.create_table(
        "usage",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service_id", sa.Integer(), sa.ForeignKey("service.id", ondelete="CASCADE"), nullable=False),
        sa.Column("metric", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("period_start", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("period_end", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("amount", quantity, nullable=False),
        sa.Column("counter", quantity, nullable=True),
        sa.Column("cost", money, nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("invoice_line_id", sa.Integer(), sa.ForeignKey("invoice_line.id", ondelete="SET NULL"), nullable=True),
        sa.UniqueConstraint("service_id", "metric", "period_start"),
    )
    op.create_index("ix_usage_period_end", "usage", ["period_end", "service_id"])


def downgrade() -> None:
    op.drop_index("ix_usage_period_end", table_name="usage")
    op.drop_table("usage")
    with op.batch_alter_table("product") as batch:
        batch.drop_column("overage")
