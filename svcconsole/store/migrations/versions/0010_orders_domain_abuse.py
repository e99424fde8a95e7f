"""Issue 16 (admin side): the service's domain, order approval, abuse reports.

Adds `service.domain` (as given) and `service.domain_ascii` (its punycode form, lowercased: the list sorts by it on its own index). Both are found
through `search_text` and its index (the domain words are added to it when a domain is set);
no service had a domain before, so no search text changes here. `service.approval` marks a paid
order waiting for an admin's approval. The new status `ordered` needs no schema change.
`abuse_report` holds abuse reports; the open ones of a service count towards `abuse_limit`.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service") as batch:
        batch.add_column(sa.Column("domain", sa.String(length=253), nullable=True))
        batch.add_column(sa.Column("domain_ascii", sa.String(length=253), nullable=True))
        batch.add_column(sa.Column("approval", sa.String(length=20), nullable=True))
    op.create_table(
        "abuse_report",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service_id", sa.Integer(), sa.ForeignKey("service.id", ondelete="CASCADE"), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reported_by", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("closed_by", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
    )
    op.create_index("ix_abuse_report_service_open", "abuse_report", ["service_id", "closed_at"])
    op.create_index("ix_service_sort_domain_ascii", "service", ["domain_ascii", "id", "status"])


def downgrade() -> None:
    op.drop_index("ix_abuse_report_service_open", table_name="abuse_report")
    op.drop_table("abuse_report")
    op.drop_index("ix_service_sort_domain_ascii", table_name="service")
    with op.batch_alter_table("service") as batch:
        batch.drop_column("approval")
        batch.drop_column("domain_ascii")
        batch.drop_column("domain")
