"""Tickets about a service: `ticket` and its `ticket_message` rows (internal ones are staff notes).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service_id", sa.Integer(), sa.ForeignKey("service.id", ondelete="CASCADE"), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("admin_read_id", sa.Integer(), nullable=False),
        sa.Column("customer_read_id", sa.Integer(), nullable=False),
    )
    op.create_index("ix_ticket_status_updated", "ticket", ["status", "updated_at", "id"])
    op.create_index("ix_ticket_updated", "ticket", ["updated_at", "id"])
    op.create_index("ix_ticket_service", "ticket", ["service_id", "id"])
    op.create_index("ix_ticket_customer", "ticket", ["customer_id", "id"])
    op.create_table(
        "ticket_message",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("ticket.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author_kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_ticket_message_ticket", "ticket_message", ["ticket_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_ticket_message_ticket", table_name="ticket_message")
    op.drop_table("ticket_message")
    op.drop_index("ix_ticket_customer", table_name="ticket")
    op.drop_index("ix_ticket_service", table_name="ticket")
    op.drop_index("ix_ticket_updated", table_name="ticket")
    op.drop_index("ix_ticket_status_updated", table_name="ticket")
    op.drop_table("ticket")
