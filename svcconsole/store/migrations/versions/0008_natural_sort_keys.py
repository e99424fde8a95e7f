"""Natural sort keys: names in natural order (alpha-28 before alpha-262), cycles by length.

Adds `service.name_sort` and `service.cycle_rank` (written by `store.sort_keys` on every insert
and update), fills them for the rows there, and moves the name and cycle sort indexes onto them.

Revision ID: 0008
Revises: 0006 (on the console branch; the merge with 0007 makes this `Revises: 0007`)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from svcconsole.store import sort_keys

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 5000
MOVED = {"name": "name_sort", "billing_cycle": "cycle_rank"}


def _fill() -> None:
    connection = op.get_bind()
    service = sa.table("service", sa.column("id", sa.Integer), sa.column("name", sa.Text), sa.column("billing_cycle", sa.Text))
    last = 0
    update = sa.text("UPDATE service SET name_sort = :name_sort, cycle_rank = :cycle_rank WHERE id = :row_id")
    while True:
        rows = connection.execute(
            sa.select(service.c.id, service.c.name, service.c.billing_cycle).where(service.c.id > last).order_by(service.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            update,
            [{"row_id": row_id, "name_sort": sort_keys.natural_key(name), "cycle_rank": sort_keys.cycle_rank(cycle)} for row_id, name, cycle in rows],
        )
        last = rows[-1][0]


def upgrade() -> None:
    op.add_column("service", sa.Column("name_sort", sa.Text(), nullable=False, server_default=""))
    op.add_column("service", sa.Column("cycle_rank", sa.Integer(), nullable=False, server_default="0"))
    _fill()
    for old, new in MOVED.items():
        op.drop_index(f"ix_service_sort_{old}", table_name="service")
        op.create_index(f"ix_service_sort_{new}", "service", [new, "id", "status"])


def downgrade() -> None:
    for old, new in MOVED.items():
        op.drop_index(f"ix_service_sort_{new}", table_name="service")
        op.create_index(f"ix_service_sort_{old}", "service", [old, "id", "status"])
    with op.batch_alter_table("service") as batch:
        batch.drop_column("cycle_rank")
        batch.drop_column("name_sort")
