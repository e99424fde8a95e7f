"""Reading the panels for reconcile: which panels there are, and what each holds now.

A panel is every enabled server record of one module and URL (two records may name one panel).
Its resources are read through the module's `list_resources` (a page at a time, within the
panel's rate limit) into `panel_resource`, replacing what the last reconcile read. A listing that
fails half-way leaves nothing in `panel_resource` for that panel (a partial list would report
every service on the missing pages as `missing`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from svcconsole.core import clock
from svcconsole.core.catalog import resolve_server
from svcconsole.core.errors import InvalidInput
from svcconsole.core.lookups import server_ref
from svcconsole.modules import get_module, is_demo_server, is_module
from svcconsole.store.models import PanelResourceRow, Server

INSERT_BATCH = 500


@dataclass(frozen=True)
class Panel:
    """One panel: the server records that name it (the first one is used to read it)."""

    module: str
    url: str
    server_ids: tuple[int, ...]
    names: tuple[str, ...]

    @property
    def first(self) -> int:
        return self.server_ids[0]


Progress = Callable[[str, int, int | None], None]
"""Called as `progress(server, resources read, resources the panel holds or None)` while a panel is read."""
"""Called with a server's name and how many of its resources were read so far."""


# ----------------------------------------------------------------------------- which panels


def panels_of(session: Session, server_names: Sequence[str] = (), *, due_before: Any = None) -> list[Panel]:
    """The panels to reconcile: of the named servers (all enabled ones with a listing module
    when none is named), or those whose first record was last reconciled before `due_before`."""
    wanted: set[int] | None = None
    if server_names:
        wanted = {resolve_server(session, name, "--server").id or 0 for name in server_names}
    rows = session.exec(select(Server).where(col(Server.enabled)).order_by(col(Server.id))).all()
    groups: dict[tuple[str, str], list[Server]] = {}
    for server in rows:
        if not is_module(server.module) or not get_module(server.module).supports_operation("list_resources"):
            continue
        if not server_names and is_demo_server(server_ref(server)):
            continue
        groups.setdefault((server.module, server.url.rstrip("/").lower()), []).append(server)
    result = []
    for (module, url), members in groups.items():
        if wanted is not None and not wanted & {member.id or 0 for member in members}:
            continue
        if due_before is not None and members[0].reconciled_at is not None and members[0].reconciled_at > due_before:
            continue
        result.append(Panel(module, url, tuple(member.id or 0 for member in members), tuple(member.name for member in members)))
    if wanted is not None:
        listed = {server_id for panel in result for server_id in panel.server_ids}
        for server_id in sorted(wanted - listed):
            refused = session.get(Server, server_id)
            if refused is not None:
                raise InvalidInput("--server", f"server {refused.name!r} cannot be reconciled (module {refused.module} lists no resources, or it is disabled)")
    return result


# ----------------------------------------------------------------------------- reading a panel


def read_panel(db: Any, panel: Panel, progress: Progress | None = None) -> int:
    """Replace what `panel_resource` holds for the panel with what it holds now; how many."""
    with db.read() as session:
        server = session.get(Server, panel.first)
        assert server is not None
        ref = server_ref(server)
    module = get_module(panel.module)
    db.transaction(lambda session: session.execute(delete(PanelResourceRow).where(col(PanelResourceRow.server_id) == panel.first)))
    count = 0
    total: list[int] = []
    now = clock.now()
    batch: list[dict[str, Any]] = []
    seen: set[str] = set()
    try:
        for resource in module.list_resources(ref, on_total=total.append):
            if resource.key in seen:
                continue
            seen.add(resource.key)
            batch.append(
                {
                    "server_id": panel.first,
                    "key": resource.key[:200],
                    "name": resource.name[:200],
                    "external_id": (resource.external_id or None) and str(resource.external_id)[:200],
                    "owner_email": resource.owner_email[:320] if resource.owner_email else None,
                    "status": (resource.status or None) and str(resource.status)[:50],
                    "suspended": resource.suspended,
                    "limits": dict(resource.limits),
                    "node": (resource.node or None) and str(resource.node)[:200],
                    "busy": resource.busy,
                    "seen_at": now,
                }
            )
            count += 1
            if len(batch) >= INSERT_BATCH:
                _insert(db, batch)
                batch = []
            if progress is not None and count % 100 == 0:
                progress(panel.names[0], count, total[0] if total else None)
        _insert(db, batch)
    except BaseException:
        db.transaction(lambda session: session.execute(delete(PanelResourceRow).where(col(PanelResourceRow.server_id) == panel.first)))
        raise
    if progress is not None:
        progress(panel.names[0], count, total[0] if total else count)
    return count


def _insert(db: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        db.transaction(lambda session: session.execute(insert(PanelResourceRow), rows))
