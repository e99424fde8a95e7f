"""The demo's panels: a sandbox Pterodactyl or Proxmox VE panel in this process for each of the
demo's remote servers, with every seeded service that lives on a panel created there.

`start_demo_panels` points the demo servers at the sandboxes (URL and encrypted credentials
through `core.catalog.edit_server`) and creates, in one call per panel, the servers and VMs
the seeded services' `external` data names, so every action in the demo crosses HTTP;
`DemoPanels.stop` makes them demo servers (no panel) again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select

from svcconsole.core import catalog, seed_catalog
from svcconsole.core.operators import SYSTEM, Actor
from svcconsole.core.statuses import Status
from svcconsole.modules import demo_server_url
from svcconsole.modules.http import close_clients
from svcconsole.modules.sandbox import ProxmoxSandbox, PterodactylSandbox, SandboxServer
from svcconsole.modules.sandbox.proxmox import ExistingVm
from svcconsole.modules.sandbox.pterodactyl import ExistingServer
from svcconsole.store.engine import Database
from svcconsole.store.models import Product, Server, Service

DEMO_RATE_LIMIT = 60_000
"""Calls a minute allowed by the sandboxes and by the adapters: generous, so the demo feels instant."""

DEMO_SERVER_CONFIG = (
    f"rate_limit_per_minute={DEMO_RATE_LIMIT}",
    f"client_rate_limit_per_minute={DEMO_RATE_LIMIT}",
    "timeout=5",
    "poll_interval=0.1",
    "install_wait_seconds=2",
    "task_timeout=30",
)
ON_A_PANEL = (Status.ACTIVE.value, Status.SUSPENDED.value)
LIMIT_KEYS = ("memory", "swap", "disk", "io", "cpu", "threads")
FEATURE_KEYS = ("databases", "allocations", "backups")


@dataclass
class PanelRow:
    """What a demo service needs on its panel: ids, name, status, stored external, product config."""

    service_id: int
    uuid: str
    name: str
    status: str
    external: dict[str, Any]
    config: dict[str, Any]


@dataclass
class DemoPanels:
    """The running sandboxes (by demo server name) and what was put on them."""

    db: Database
    actor: Actor
    sandboxes: dict[str, SandboxServer] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)
    pointed: list[Server] = field(default_factory=list)

    def stop(self) -> None:
        """Stop every sandbox, close the pooled connections to them and make the servers that
        pointed at them demo servers again (a database given with --db outlives the demo)."""
        for sandbox in self.sandboxes.values():
            sandbox.stop()
        self.sandboxes.clear()
        close_clients()
        for server in self.pointed:
            _point_at(self.db, self.actor, server, demo_server_url(server.name), "", "")
        self.pointed.clear()


def _demo_servers(db: Database) -> list[Server]:
    with db.read() as session:
        return list(session.exec(select(Server).where(col(Server.name).in_(seed_catalog.PANEL_SERVERS)).order_by(col(Server.id))).all())


def _rows_on(db: Database, server: Server) -> list[PanelRow]:
    """The services of `server` that its panel should hold (active or suspended), by id."""
    with db.read() as session:
        configs = {product.id: dict(product.config or {}) for product in session.exec(select(Product).where(Product.type == server.module)).all()}
        found = session.exec(
            select(col(Service.id), col(Service.uuid), col(Service.name), col(Service.status), col(Service.external), col(Service.product_id))  # type: ignore[call-overload]  # sqlmodel's select() is typed for at most four columns
            .where(Service.server_id == server.id, Service.type == server.module, col(Service.status).in_(ON_A_PANEL))
            .order_by(col(Service.id))
        ).all()
    return [
        PanelRow(service_id or 0, uuid, name, status, dict(external or {}), configs.get(product_id, {}))
        for service_id, uuid, name, status, external, product_id in found
    ]


def _pterodactyl_specs(rows: list[PanelRow], skipped: list[int]) -> list[ExistingServer]:
    specs: list[ExistingServer] = []
    ids: set[int] = set()
    identifiers: set[str] = set()
    for row in rows:
        server_id = row.external.get("server_id")
        identifier = str(row.external.get("identifier") or "").lower() or None
        if (server_id is not None and int(server_id) in ids) or (identifier is not None and identifier in identifiers):
            skipped.append(row.service_id)
            continue
        if server_id is not None:
            ids.add(int(server_id))
        if identifier is not None:
            identifiers.add(identifier)
        specs.append(
            ExistingServer(
                name=row.name,
                external_id=row.uuid,
                server_id=int(server_id) if server_id is not None else None,
                identifier=identifier,
                description=f"svcconsole service {row.service_id}",
                suspended=row.status == Status.SUSPENDED.value,
                limits={key: row.config[key] for key in LIMIT_KEYS if key in row.config},
                feature_limits={key: row.config[key] for key in FEATURE_KEYS if key in row.config},
            )
        )
    return specs


def _proxmox_specs(rows: list[PanelRow]) -> list[ExistingVm]:
    specs = []
    for row in rows:
        suspended_state = "stopped" if str(row.config.get("suspend_mode", "suspend")) == "stop" else "paused"
        vmid = row.external.get("vmid")
        specs.append(
            ExistingVm(
                name=f"svc-{row.service_id}",
                description=f"svcconsole service {row.uuid}",
                vmid=int(vmid) if vmid is not None else None,
                state=suspended_state if row.status == Status.SUSPENDED.value else "running",
                cores=int(row.config["cores"]) if "cores" in row.config else None,
                memory=int(row.config["memory"]) if "memory" in row.config else None,
            )
        )
    return specs


def _start_sandbox(module: str) -> tuple[SandboxServer, str]:
    """A started sandbox for `module` and the credentials string its server needs."""
    if module == "pterodactyl":
        ptero = PterodactylSandbox(rate_limit_per_minute=DEMO_RATE_LIMIT, client_rate_limit_per_minute=DEMO_RATE_LIMIT, allocations=200, tls=True)
        ptero.start()
        return ptero, ptero.credentials
    pve = ProxmoxSandbox(rate_limit_per_minute=DEMO_RATE_LIMIT, task_delay=0.2, tls=True)
    pve.start()
    return pve, pve.token


def _point_at(db: Database, actor: Actor, server: Server, url: str, credentials: str, fingerprint: str) -> None:
    """Give the demo server a URL, credentials (encrypted by core), a pinned certificate ('' for
    none) and fast settings."""
    reference = str(server.id)
    db.transaction(
        lambda session: catalog.edit_server(
            session, actor, reference, url=url, credentials=credentials, config=list(DEMO_SERVER_CONFIG), tls_fingerprint=fingerprint
        )
    )


def start_demo_panels(db: Database, *, actor: Actor = SYSTEM, progress: Callable[[str], None] | None = None) -> DemoPanels:
    """Start a sandbox for each demo Pterodactyl / Proxmox server, point the server at it and
    create there every active or suspended service of that server (suspended ones suspended).

    Call it after `seed.seed_demo`; stop the panels with `DemoPanels.stop()`.
    """
    panels = DemoPanels(db, actor)
    try:
        for server in _demo_servers(db):
            sandbox, credentials = _start_sandbox(server.module)
            panels.sandboxes[server.name] = sandbox
            _point_at(db, actor, server, sandbox.url, credentials, sandbox.fingerprint or "")
            panels.pointed.append(server)
            rows = _rows_on(db, server)
            if isinstance(sandbox, PterodactylSandbox):
                created = sandbox.add_servers(_pterodactyl_specs(rows, panels.skipped))
            else:
                assert isinstance(sandbox, ProxmoxSandbox)
                created = sandbox.add_vms(_proxmox_specs(rows), node=server.node or None)
            panels.created[server.name] = len(created)
            if progress is not None:
                progress(f"{server.name}: {sandbox.kind} sandbox at {sandbox.url} with {len(created):,} seeded resources")
    except BaseException:
        panels.stop()
        raise
    if panels.skipped and progress is not None:
        progress(f"{len(panels.skipped):,} services share a panel id with another one and were left off their panel")
    return panels
