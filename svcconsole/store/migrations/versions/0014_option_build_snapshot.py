"""What a chosen option adds to the build, kept on the option itself: `service_option.resource`
and `service_option.amount`, so an option outlives its product's catalogue (an upgrade to a
product that does not offer it keeps it on the panel while it is billed).

Rows already chosen from a catalogue get the amount their catalogue entry gives today.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service_option") as batch:
        batch.add_column(sa.Column("resource", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True))
        batch.add_column(sa.Column("amount", sa.Integer(), nullable=True))
    bind = op.get_bind()
    catalogue = sa.text(
        "SELECT service_option.id, service_option.value, service_option.quantity, product_option.resource, product_option.unit, product_option.choices "
        "FROM service_option JOIN service ON service.id = service_option.service_id "
        "JOIN product_option ON product_option.product_id = service.product_id AND product_option.name = service_option.name "
        "WHERE product_option.resource IS NOT NULL"
    )
    for option_id, value, quantity, resource, unit, choices in bind.execute(catalogue).all():
        has_choices = bool(choices) and choices not in ("[]", [])
        text = str(value or "")
        if has_choices:
            amount = int(text) * quantity if text.isascii() and text.isdigit() and len(text) <= 12 else None
        else:
            amount = quantity * unit
        if amount is not None:
            bind.execute(
                sa.text("UPDATE service_option SET resource = :resource, amount = :amount WHERE id = :id"),
                {"resource": resource, "amount": amount, "id": option_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("service_option") as batch:
        batch.drop_column("amount")
        batch.drop_column("resource")
