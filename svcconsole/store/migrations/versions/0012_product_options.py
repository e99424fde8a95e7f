"""The catalogue of configurable options: what a product offers to choose at order time.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    money = sa.Integer() if op.get_bind().dialect.name == "sqlite" else sa.Numeric(precision=12, scale=2)
    op.create_table(
        "product_option",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("product_id", sa.Integer(), sa.ForeignKey("product.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("minimum", sa.Integer(), nullable=True),
        sa.Column("maximum", sa.Integer(), nullable=True),
        sa.Column("unit_price", money, nullable=False),
        sa.Column("resource", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.UniqueConstraint("product_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("product_option")
