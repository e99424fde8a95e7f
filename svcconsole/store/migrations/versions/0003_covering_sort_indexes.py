"""Covering sort indexes: (column, id, status) for every sortable column of the service list.

The list hides deleted services, so an index of (column, id) alone sent every page, count and
deep jump to the table rows to read the status; with the status in the index they read the
index only (a jump to row 500,000 of 1,000,000 went from about 1 s to about 25 ms).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

REPLACED = {
    "ix_service_customer_name_id": "customer_name",
    "ix_service_name_id": "name",
    "ix_service_product_name_id": "product_name",
    "ix_service_server_name_id": "server_name",
    "ix_service_cycle_id": "billing_cycle",
    "ix_service_price_id": "price",
    "ix_service_expires_id": "expires_at",
}


def upgrade() -> None:
    for old in REPLACED:
        op.drop_index(old, table_name="service")
    op.create_index("ix_service_sort_id", "service", ["id", "status"])
    for column in REPLACED.values():
        op.create_index(f"ix_service_sort_{column}", "service", [column, "id", "status"])


def downgrade() -> None:
    for column in REPLACED.values():
        op.drop_index(f"ix_service_sort_{column}", table_name="service")
    op.drop_index("ix_service_sort_id", table_name="service")
    for old, column in REPLACED.items():
        op.create_index(old, "service", [column, "id"])
