"""The customer's notes (the Customer screen and `customers edit --notes`) and the login a
module provisioned for a service (`service.credentials`, encrypted at rest like a server's).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer") as batch_op:
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=True))
    with op.batch_alter_table("service") as batch_op:
        batch_op.add_column(sa.Column("credentials", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("service") as batch_op:
        batch_op.drop_column("credentials")
    with op.batch_alter_table("customer") as batch_op:
        batch_op.drop_column("notes")
