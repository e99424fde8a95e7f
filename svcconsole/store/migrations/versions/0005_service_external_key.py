"""service.external_key: a panel resource belongs to at most one live service of its server.

The key is the panel's id of the resource the service's `external` names: the Pterodactyl
server id (`server_id`), the Proxmox vmid (`vmid`), else an imported reference (`ref`), as each
module's `external_key` reads it. A unique index on (server_id, external_key), partial to the
services that hold their resource (pending, active, suspended), makes two imports of one
resource at once fail for one of them.

Existing rows get their key from their `external` JSON in SQL. If the data already holds
duplicates (one resource imported twice), the upgrade does not fail: the oldest live service
(lowest id) keeps the key and the others' key is left NULL, so they no longer block imports;
`services list` still shows them for an admin to sort out.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

HOLDING = "('pending', 'active', 'suspended')"
KEY_FIELDS = {"pterodactyl": "server_id", "proxmox": "vmid"}
DEFAULT_FIELD = "ref"


def _field(dialect: str, name: str) -> str:
    """The text of one top-level field of `external`, NULL when absent or empty."""
    if dialect == "sqlite":
        value = f"CAST(json_extract(external, '$.{name}') AS TEXT)"
        kind = f"json_type(external, '$.{name}')"
        return f"CASE WHEN {kind} IN ('integer', 'text', 'real') AND trim({value}) <> '' THEN substr(trim({value}), 1, 200) END"
    kind = f"json_typeof(external -> '{name}')"
    value = f"(external ->> '{name}')"
    return f"CASE WHEN {kind} IN ('number', 'string') AND btrim({value}) <> '' THEN substr(btrim({value}), 1, 200) END"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("service") as batch_op:
        batch_op.add_column(sa.Column("external_key", sa.String(length=200), nullable=True))
    cases = " ".join(f"WHEN '{module}' THEN {_field(dialect, field)}" for module, field in KEY_FIELDS.items())
    op.execute(f"UPDATE service SET external_key = CASE type {cases} ELSE {_field(dialect, DEFAULT_FIELD)} END")
    op.create_index("ix_service_external_key_backfill", "service", ["server_id", "external_key", "id"])
    op.execute(
        f"UPDATE service SET external_key = NULL WHERE external_key IS NOT NULL AND status IN {HOLDING} AND EXISTS ("
        f"SELECT 1 FROM service AS older WHERE older.server_id = service.server_id AND older.external_key = service.external_key "
        f"AND older.status IN {HOLDING} AND older.id < service.id)"
    )
    op.drop_index("ix_service_external_key_backfill", table_name="service")
    holding = sa.text(f"external_key IS NOT NULL AND status IN {HOLDING}")
    op.create_index("ux_service_server_resource", "service", ["server_id", "external_key"], unique=True, sqlite_where=holding, postgresql_where=holding)


def downgrade() -> None:
    op.drop_index("ux_service_server_resource", table_name="service")
    with op.batch_alter_table("service") as batch_op:
        batch_op.drop_column("external_key")
