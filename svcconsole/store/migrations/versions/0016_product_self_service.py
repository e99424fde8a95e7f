"""Self-service flags on products: what a product's customers may do themselves in the customer area
(`customer_options`, `customer_cycle`, `customer_delete`, `customer_power`, `customer_suspend`; all off).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

FLAGS = ("customer_options", "customer_cycle", "customer_delete", "customer_power", "customer_suspend")


def upgrade() -> None:
    for flag in FLAGS:
        op.add_column("product", sa.Column(flag, sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("product") as batch:
        for flag in reversed(FLAGS):
            batch.drop_column(flag)
