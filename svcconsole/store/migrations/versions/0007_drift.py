"""Reconcile: the drift found between billing and the panels, what each panel last held, and
when each server was last reconciled.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("server") as batch_op:
        batch_op.add_column(sa.Column("reconciled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.create_table(
        "drift",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("server_id", sa.Integer(), sa.ForeignKey("server.id", ondelete="CASCADE"), nullable=True),
        sa.Column("service_id", sa.Integer(), sa.ForeignKey("service.id", ondelete="CASCADE"), nullable=True),
        sa.Column("external", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("billing", sa.Text(), nullable=True),
        sa.Column("panel", sa.Text(), nullable=True),
        sa.Column("fix", sa.Text(), nullable=False),
        sa.Column("first_seen", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_seen", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("resolved_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )
    op.create_index("ix_drift_open_kind", "drift", ["resolved_at", "kind", "id"])
    op.create_index("ix_drift_service", "drift", ["service_id", "id"])
    op.create_index("ix_drift_server", "drift", ["server_id", "resolved_at"])
    op.create_table(
        "panel_resource",
        sa.Column("server_id", sa.Integer(), sa.ForeignKey("server.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), primary_key=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("owner_email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("suspended", sa.Boolean(), nullable=True),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("node", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("busy", sa.Boolean(), nullable=False),
        sa.Column("seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_panel_resource_external_id", "panel_resource", ["server_id", "external_id"])


def downgrade() -> None:
    op.drop_index("ix_panel_resource_external_id", table_name="panel_resource")
    op.drop_table("panel_resource")
    op.drop_index("ix_drift_server", table_name="drift")
    op.drop_index("ix_drift_service", table_name="drift")
    op.drop_index("ix_drift_open_kind", table_name="drift")
    op.drop_table("drift")
    with op.batch_alter_table("server") as batch_op:
        batch_op.drop_column("reconciled_at")
