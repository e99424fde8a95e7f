"""Reconcile: compare what each panel holds with billing, keep the drift, and fix it.

A panel is every enabled server record of one module and URL (two records may name one panel).
Its resources are read through the module's `list_resources` (a page at a time, within the
panel's rate limit) into `panel_resource`, replacing what the last reconcile read; billing is then
compared with them by queries, so no list of every service is held in memory. A listing that
fails half-way compares nothing for that panel (a partial list would report every service on
the missing pages as `missing`).

Kinds (SPEC.md section 5; scripts rely on the names):
- `orphan`: a resource no live service holds (fix: import it, for the customer whose email is
  the panel owner's);
- `missing`: a live service (active, suspended, or pending with a panel id) whose resource is
  not on the panel (fix: deliver it again, or terminate it in billing: the admin picks);
- `status`: suspended on one side only (`reconcile_status_source`: billing re-applies the
  suspension or its lifting on the panel; panel suspends or unsuspends in billing);
- `build`: a limit on the panel differs from the product's, plus options named after a limit
  (`reconcile_build_source`: billing applies the product again; panel keeps the panel's values
  as the service's accepted build, in its meta `panel_build`);
- `owner`: the panel owner's email is not the service's customer's;
- `duplicate`: two live services hold one resource; never fixed automatically.

Drift rows persist: one found again keeps its `first_seen` and gets a new `last_seen`; one no
longer found gets `resolved_at`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, or_, text, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from svcconsole.core import activity, bulk, clock, notifications
from svcconsole.core import settings as settings_module
from svcconsole.core.catalog import resolve_server
from svcconsole.core.errors import InvalidInput, SvcError
from svcconsole.core.lookups import get_service, meta_value, server_ref
from svcconsole.core.operators import Actor, require
from svcconsole.core.records import ServiceDraft, import_service, meta_set
from svcconsole.core.settings import AUTO_APPLIED_KINDS, DRIFT_KINDS
from svcconsole.core.statuses import NON_TRANSITION_ROLES, Status
from svcconsole.modules import ImportableResource, ModuleError, get_module, is_demo_server, is_module
from svcconsole.store.models import RESOURCE_HOLDING_STATUSES, Customer, Drift, PanelResourceRow, Product, Server, Service, ServiceMeta, ServiceOption

INSERT_BATCH = 500
COMPARE_CHUNK = 500
ACCEPTED_BUILD_META = "panel_build"
MISSING_FIXES = ("redeliver", "terminate")
HOLDS_RESOURCE_SQL = text(f"service.external_key IS NOT NULL AND service.status IN ({', '.join(repr(status) for status in RESOURCE_HOLDING_STATUSES)})")
"""The partial index's own condition, written out (not bound), so SQLite uses the index."""


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


@dataclass
class Found:
    """A drift found by this reconcile, before it is stored."""

    kind: str
    server_id: int
    service_id: int | None
    external: str | None
    field: str | None
    billing: str | None
    panel: str | None
    fix: str

    @property
    def identity(self) -> tuple[str, int, int | None, str | None, str | None]:
        return (self.kind, self.server_id, self.service_id, self.external, self.field)


@dataclass
class PanelOutcome:
    """How reconciling one panel went: how many resources, requests and drifts, or its error."""

    panel: Panel
    resources: int = 0
    found: int = 0
    new: int = 0
    resolved: int = 0
    error: str | None = None
    seconds: float = 0.0


@dataclass
class ReconcileReport:
    panels: list[PanelOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[PanelOutcome]:
        return [outcome for outcome in self.panels if outcome.error]

    @property
    def new(self) -> int:
        return sum(outcome.new for outcome in self.panels)


Progress = Callable[[str, int], None]
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
    now = clock.now()
    batch: list[dict[str, Any]] = []
    seen: set[str] = set()
    try:
        for resource in module.list_resources(ref):
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
                progress(panel.names[0], count)
        _insert(db, batch)
    except BaseException:
        db.transaction(lambda session: session.execute(delete(PanelResourceRow).where(col(PanelResourceRow.server_id) == panel.first)))
        raise
    if progress is not None:
        progress(panel.names[0], count)
    return count


def _insert(db: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        db.transaction(lambda session: session.execute(insert(PanelResourceRow), rows))


# ----------------------------------------------------------------------------- comparing


def _live_holders(panel: Panel) -> Any:
    """Services of the panel's servers that hold a panel resource (a live one with a key)."""
    return and_(col(Service.server_id).in_(panel.server_ids), HOLDS_RESOURCE_SQL)


def _orphans(session: Session, panel: Panel) -> Iterator[Found]:
    held = exists().where(_live_holders(panel), col(Service.external_key) == PanelResourceRow.key)
    claimed = exists().where(
        col(Service.server_id).in_(panel.server_ids), col(Service.status).in_(RESOURCE_HOLDING_STATUSES), col(Service.uuid) == PanelResourceRow.external_id
    )
    query = (
        select(PanelResourceRow, Customer.email)
        .outerjoin(Customer, func.lower(Customer.email) == PanelResourceRow.owner_email)
        .where(col(PanelResourceRow.server_id) == panel.first, ~col(PanelResourceRow.busy), ~held, ~claimed)
        .order_by(col(PanelResourceRow.key))
    )
    for resource, customer_email in session.exec(query).yield_per(COMPARE_CHUNK):
        if customer_email:
            fix = f"import for {customer_email}"
        elif resource.owner_email:
            fix = f"import: no customer has the owner's email {resource.owner_email}; add the customer first"
        else:
            fix = "import: the panel names no owner; import it by hand (services import --external)"
        yield Found("orphan", panel.first, None, resource.key, None, None, resource.name, fix)


def _missing(session: Session, panel: Panel) -> Iterator[Found]:
    on_panel = exists().where(col(PanelResourceRow.server_id) == panel.first, col(PanelResourceRow.key) == Service.external_key)
    by_uuid = exists().where(col(PanelResourceRow.server_id) == panel.first, col(PanelResourceRow.external_id) == Service.uuid)
    live = or_(
        col(Service.status).in_((Status.ACTIVE.value, Status.SUSPENDED.value)),
        and_(col(Service.status) == Status.PENDING.value, col(Service.external_key).is_not(None)),
    )
    query = (
        select(Service.id, Service.server_id, Service.external_key, Service.status)
        .where(col(Service.server_id).in_(panel.server_ids), live, ~on_panel, ~by_uuid)
        .order_by(col(Service.id))
    )
    for service_id, server_id, key, status in session.exec(query).yield_per(COMPARE_CHUNK):
        fix = "redeliver" if status == Status.PENDING.value else "deliver again, or terminate in billing (--missing redeliver|terminate)"
        yield Found("missing", server_id or panel.first, service_id, key, None, status, "not on the panel", fix)


def _pairs(panel: Panel) -> Any:
    """Each live service of the panel with the resource it holds."""
    return (
        select(Service, PanelResourceRow)
        .join(PanelResourceRow, and_(col(PanelResourceRow.server_id) == panel.first, col(PanelResourceRow.key) == Service.external_key))
        .where(_live_holders(panel), col(Service.status).in_((Status.ACTIVE.value, Status.SUSPENDED.value)), ~col(PanelResourceRow.busy))
        .order_by(col(Service.id))
    )


def _status(session: Session, panel: Panel, source: str) -> Iterator[Found]:
    query = _pairs(panel).where(
        col(PanelResourceRow.suspended).is_not(None),
        or_(
            and_(col(Service.status) == Status.SUSPENDED.value, col(PanelResourceRow.suspended) == False),  # noqa: E712
            and_(col(Service.status) == Status.ACTIVE.value, col(PanelResourceRow.suspended) == True),  # noqa: E712
        ),
    )
    for service, resource in session.exec(query).yield_per(COMPARE_CHUNK):
        billing_suspended = service.status == Status.SUSPENDED.value
        if source == "billing":
            fix = "suspend on the panel" if billing_suspended else "unsuspend on the panel"
        else:
            fix = "unsuspend in billing" if billing_suspended else "suspend in billing"
        panel_state = "suspended" if resource.suspended else (resource.status or "active")
        yield Found("status", service.server_id or panel.first, service.id, resource.key, "suspended", service.status, panel_state, fix)


def _owners(session: Session, panel: Panel) -> Iterator[Found]:
    query = (
        sa_select(col(Service.id), col(Service.server_id), col(PanelResourceRow.key), col(Customer.email), col(PanelResourceRow.owner_email))
        .join(PanelResourceRow, and_(col(PanelResourceRow.server_id) == panel.first, col(PanelResourceRow.key) == Service.external_key))
        .join(Customer, col(Customer.id) == Service.customer_id)
        .where(_live_holders(panel), col(PanelResourceRow.owner_email).is_not(None), func.lower(Customer.email) != PanelResourceRow.owner_email)
        .order_by(col(Service.id))
    )
    for service_id, server_id, key, email, owner in session.execute(query).yield_per(COMPARE_CHUNK):
        fix = f"with --service: give it to {email} on the panel (never applied without a named service)"
        yield Found("owner", server_id or panel.first, service_id, key, "owner", email, owner, fix)


def _duplicates(session: Session, panel: Panel) -> Iterator[Found]:
    shared = select(Service.external_key).where(_live_holders(panel)).group_by(col(Service.external_key)).having(func.count() > 1)
    query = select(Service.id, Service.server_id, Service.external_key).where(_live_holders(panel), col(Service.external_key).in_(shared))
    rows = list(session.exec(query.order_by(col(Service.external_key), col(Service.id))).all())
    by_key: dict[str, list[int]] = {}
    for service_id, _, key in rows:
        by_key.setdefault(key or "", []).append(service_id or 0)
    for service_id, server_id, key in rows:
        others = ", ".join(str(other) for other in by_key[key or ""])
        yield Found(
            "duplicate",
            server_id or panel.first,
            service_id,
            key,
            "external",
            f"services {others}",
            key,
            "never fixed automatically: keep one service, re-import or terminate the others by hand",
        )


def _option_build(options: Iterable[ServiceOption], expected: dict[str, Any]) -> dict[str, Any]:
    """Options named after a build key add their value times their quantity to it."""
    result = dict(expected)
    for option in options:
        name = option.name.strip().lower()
        if name in result and isinstance(result[name], int) and str(option.value or "").strip().lstrip("-").isdigit():
            result[name] += int(str(option.value).strip()) * option.quantity
    return result


def _builds(session: Session, panel: Panel, source: str) -> Iterator[Found]:
    module = get_module(panel.module)
    query = _pairs(panel).add_columns(Product.config).join(Product, col(Product.id) == Service.product_id)
    results = session.exec(query).yield_per(COMPARE_CHUNK)
    for chunk in results.partitions(COMPARE_CHUNK):
        ids = [service.id for service, _, _ in chunk]
        options: dict[int, list[ServiceOption]] = {}
        for option in session.exec(select(ServiceOption).where(col(ServiceOption.service_id).in_(ids))).all():
            options.setdefault(option.service_id, []).append(option)
        accepted = {
            meta.service_id: meta.value
            for meta in session.exec(select(ServiceMeta).where(col(ServiceMeta.service_id).in_(ids), col(ServiceMeta.key) == ACCEPTED_BUILD_META)).all()
        }
        for service, resource, config in chunk:
            expected = _option_build(options.get(service.id or 0, []), module.expected_build(dict(config or {})))
            if service.id in accepted:
                expected.update(_accepted(accepted[service.id or 0]))
            for key, wanted in sorted(expected.items()):
                actual = (resource.limits or {}).get(key)
                if actual is None or str(actual) == str(wanted):
                    continue
                fix = "re-apply the build" if source == "billing" else "keep the panel's value"
                yield Found("build", service.server_id or panel.first, service.id, resource.key, key, str(wanted), str(actual), fix)


def _accepted(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def compare(session: Session, panel: Panel, settings: settings_module.Settings) -> Iterator[Found]:
    """Every drift between billing and what `panel_resource` holds for the panel."""
    yield from _orphans(session, panel)
    yield from _missing(session, panel)
    yield from _status(session, panel, settings["reconcile_status_source"])
    yield from _builds(session, panel, settings["reconcile_build_source"])
    yield from _owners(session, panel)
    yield from _duplicates(session, panel)


# ----------------------------------------------------------------------------- keeping the report


def _store(db: Any, panel: Panel, settings: settings_module.Settings, outcome: PanelOutcome) -> None:
    """Write this reconcile's drift of the panel: found again, new, or resolved."""
    now = clock.now()
    with db.read() as session:
        open_rows = {
            (row.kind, row.server_id, row.service_id, row.external, row.field): row.id
            for row in session.exec(select(Drift).where(col(Drift.server_id).in_(panel.server_ids), col(Drift.resolved_at).is_(None))).all()
        }
    touched: set[int] = set()
    with db.read() as session:
        batch: list[Found] = []
        for found in compare(session, panel, settings):
            batch.append(found)
            if len(batch) >= INSERT_BATCH:
                _write(db, batch, open_rows, touched, now, outcome)
                batch = []
        _write(db, batch, open_rows, touched, now, outcome)
    gone = [row_id for row_id in open_rows.values() if row_id not in touched]
    for offset in range(0, len(gone), INSERT_BATCH):
        part = gone[offset : offset + INSERT_BATCH]
        db.transaction(lambda session, part=part: session.execute(update(Drift).where(col(Drift.id).in_(part)).values(resolved_at=now)))
    outcome.resolved = len(gone)

    def stamp(session: Session) -> None:
        session.execute(update(Server).where(col(Server.id).in_(panel.server_ids)).values(reconciled_at=now))

    db.transaction(stamp)


def _write(db: Any, batch: list[Found], open_rows: dict[Any, int | None], touched: set[int], now: Any, outcome: PanelOutcome) -> None:
    if not batch:
        return
    fresh: list[dict[str, Any]] = []
    again: list[tuple[int, Found]] = []
    for found in batch:
        row_id = open_rows.get(found.identity)
        if row_id is not None and row_id not in touched:
            touched.add(row_id)
            again.append((row_id, found))
        else:
            fresh.append(
                {
                    "kind": found.kind,
                    "server_id": found.server_id,
                    "service_id": found.service_id,
                    "external": found.external,
                    "field": found.field,
                    "billing": found.billing,
                    "panel": found.panel,
                    "fix": found.fix,
                    "first_seen": now,
                    "last_seen": now,
                }
            )

    def work(session: Session) -> None:
        for row_id, found in again:
            session.execute(update(Drift).where(col(Drift.id) == row_id).values(last_seen=now, billing=found.billing, panel=found.panel, fix=found.fix))
        if fresh:
            session.execute(insert(Drift), fresh)

    db.transaction(work)
    outcome.found += len(batch)
    outcome.new += len(fresh)


def reconcile(db: Any, actor: Actor, server_names: Sequence[str] = (), *, progress: Progress | None = None, due_only: bool = False) -> ReconcileReport:
    """Read each panel and keep the drift between it and billing (`due_only`: only the panels
    whose `reconcile_every_hours` has passed; none when it is 0)."""
    require(actor, NON_TRANSITION_ROLES["read"], "reconciling")
    with db.read() as session:
        settings = settings_module.load(session)
        due_before = None
        if due_only:
            hours = settings["reconcile_every_hours"]
            if not hours:
                return ReconcileReport()
            due_before = clock.now() - timedelta(hours=hours)
        panels = panels_of(session, server_names, due_before=due_before)
    report = ReconcileReport()
    for panel in panels:
        outcome = PanelOutcome(panel)
        report.panels.append(outcome)
        started = time.perf_counter()
        try:
            outcome.resources = read_panel(db, panel, progress)
        except ModuleError as error:
            outcome.error = f"server {panel.names[0]}: {error.message}"
            continue
        _store(db, panel, settings, outcome)
        outcome.seconds = time.perf_counter() - started
    return report


# ----------------------------------------------------------------------------- reading the report


@dataclass(frozen=True)
class DriftFilter:
    kinds: tuple[str, ...] = ()
    server_ids: tuple[int, ...] = ()
    service_id: int | None = None
    include_resolved: bool = False


def parse_kinds(values: Sequence[str]) -> tuple[str, ...]:
    kinds: list[str] = []
    for value in values:
        for part in str(value).split(","):
            kind = part.strip().lower()
            if not kind:
                continue
            if kind not in DRIFT_KINDS:
                raise InvalidInput("--kind", f"{part.strip()!r} is not a drift kind ({', '.join(DRIFT_KINDS)})")
            kinds.append(kind)
    return tuple(dict.fromkeys(kinds))


def _filtered(query: Any, drift_filter: DriftFilter) -> Any:
    if not drift_filter.include_resolved:
        query = query.where(col(Drift.resolved_at).is_(None))
    if drift_filter.kinds:
        query = query.where(col(Drift.kind).in_(drift_filter.kinds))
    if drift_filter.server_ids:
        query = query.where(col(Drift.server_id).in_(drift_filter.server_ids))
    if drift_filter.service_id is not None:
        query = query.where(Drift.service_id == drift_filter.service_id)
    return query


def drift_rows(session: Session, drift_filter: DriftFilter, *, after: int = 0, limit: int = 1000) -> list[tuple[Drift, str | None]]:
    """A page of drift (with its server's name), in id order."""
    query = select(Drift, Server.name).outerjoin(Server, col(Server.id) == Drift.server_id).where(col(Drift.id) > after)
    return list(session.exec(_filtered(query, drift_filter).order_by(col(Drift.id)).limit(limit)).all())


def each_drift(db: Any, drift_filter: DriftFilter) -> Iterator[tuple[Drift, str | None]]:
    """Every drift the filter matches, a page at a time."""
    after = 0
    while True:
        with db.read() as session:
            page = drift_rows(session, drift_filter, after=after)
        yield from page
        if len(page) < 1000:
            return
        after = page[-1][0].id or 0


def counts(session: Session, drift_filter: DriftFilter) -> dict[str, int]:
    """How many drifts of each kind the filter matches."""
    query = _filtered(select(Drift.kind, func.count()).select_from(Drift), drift_filter).group_by(col(Drift.kind))
    found = dict(session.exec(query).all())
    return {kind: int(found.get(kind, 0)) for kind in DRIFT_KINDS}


def drift_dict(drift: Drift, server: str | None) -> dict[str, Any]:
    """A drift row as the CLI prints it (scripts rely on these keys)."""
    return {
        "id": drift.id,
        "kind": drift.kind,
        "server": server,
        "service_id": drift.service_id,
        "external": drift.external,
        "field": drift.field,
        "billing": drift.billing,
        "panel": drift.panel,
        "fix": drift.fix,
        "first_seen": drift.first_seen,
        "last_seen": drift.last_seen,
        "resolved_at": drift.resolved_at,
    }


# ----------------------------------------------------------------------------- applying fixes


@dataclass
class FixResult:
    drift_id: int
    kind: str
    service_id: int | None
    outcome: str
    message: str
    run_id: int | None = None


@dataclass
class ApplyReport:
    results: list[FixResult] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for result in self.results if result.outcome == outcome)

    @property
    def exit_code(self) -> int:
        bad = self.count("failed") + self.count("skipped") + self.count("pending")
        if not bad:
            return 0
        return 3 if self.count("ok") or self.count("would") else 1


@dataclass(frozen=True)
class Planned:
    """One fix: the action to run (a status-table action, `import` or `accept-build`) and its params."""

    drift: Drift
    action: str | None
    params: dict[str, Any]
    why_not: str | None = None


def _plan(session: Session, drift: Drift, settings: settings_module.Settings, missing_fix: str, named: bool) -> Planned:
    reason = f"reconcile: {drift.kind}" + (f" {drift.field}" if drift.field else "") + f" (drift {drift.id})"
    service = session.get(Service, drift.service_id) if drift.service_id else None
    if drift.kind == "duplicate":
        return Planned(drift, None, {}, "never fixed automatically: keep one service, re-import or terminate the others by hand")
    if drift.kind == "owner" and not named:
        return Planned(drift, None, {}, "never applied without --service")
    if drift.kind == "orphan":
        if not drift.fix.startswith("import for "):
            return Planned(drift, None, {}, drift.fix)
        return Planned(drift, "import", {"customer": drift.fix.removeprefix("import for "), "reason": reason})
    if service is None:
        return Planned(drift, None, {}, "its service no longer exists")
    if drift.kind == "missing":
        if service.status == Status.PENDING.value:
            return Planned(drift, "redeliver", {"reason": reason})
        return Planned(drift, "terminate" if missing_fix == "terminate" else "redeliver-missing", {"reason": reason})
    if drift.kind == "status":
        panel_side = settings["reconcile_status_source"] == "panel"
        if service.status == Status.SUSPENDED.value:
            return Planned(drift, "unsuspend" if panel_side else "panel-suspend", {"reason": reason})
        return Planned(drift, "suspend" if panel_side else "panel-unsuspend", {"reason": reason, "kind": "admin"})
    if drift.kind == "owner":
        return Planned(drift, "panel-owner", {"reason": reason})
    if drift.kind == "build":
        if settings["reconcile_build_source"] == "panel":
            return Planned(drift, "accept-build", {"field": drift.field, "value": drift.panel, "reason": reason})
        return Planned(drift, "rebuild", {"reason": reason})
    return Planned(drift, None, {}, f"unknown kind {drift.kind}")


def plan(db: Any, drift_filter: DriftFilter, *, missing_fix: str = "redeliver") -> list[Planned]:
    """The fixes of the open drift the filter matches (one per service and action)."""
    if missing_fix not in MISSING_FIXES:
        raise InvalidInput("--missing", f"{missing_fix!r} is not a fix for missing ({' or '.join(MISSING_FIXES)})")
    planned: list[Planned] = []
    seen: set[tuple[int | None, str | None]] = set()
    with db.read() as session:
        settings = settings_module.load(session)
    for drift, _ in each_drift(db, drift_filter):
        with db.read() as session:
            fix = _plan(session, drift, settings, missing_fix, drift_filter.service_id is not None)
        key = (drift.service_id, fix.action) if drift.service_id is not None and fix.action in ("rebuild",) else (drift.id, "row")
        if key in seen:
            continue
        seen.add(key)
        planned.append(fix)
    return planned


def apply(
    db: Any,
    actor: Actor,
    drift_filter: DriftFilter,
    *,
    missing_fix: str = "redeliver",
    dry_run: bool = False,
    progress: Callable[[FixResult], None] | None = None,
) -> ApplyReport:
    """Apply (or, `dry_run`, show) the fixes of the open drift the filter matches: module work
    through a bulk run per action (its items, its jobs, an activity row whose reason names
    reconcile), imports and accepted builds through their core functions."""
    require(actor, NON_TRANSITION_ROLES["edit"], "applying reconcile fixes")
    report = ApplyReport()
    planned = plan(db, drift_filter, missing_fix=missing_fix)
    by_action: dict[str, list[Planned]] = {}

    def note(result: FixResult) -> None:
        report.results.append(result)
        if progress is not None:
            progress(result)

    for fix in planned:
        drift_id = fix.drift.id or 0
        if fix.action is None:
            note(FixResult(drift_id, fix.drift.kind, fix.drift.service_id, "skipped", fix.why_not or "no fix"))
        elif dry_run:
            note(FixResult(drift_id, fix.drift.kind, fix.drift.service_id, "would", _describe(fix)))
        else:
            by_action.setdefault(fix.action, []).append(fix)
    if dry_run:
        return report
    imports = by_action.pop("import", [])
    importable: dict[int, dict[str, ImportableResource]] = {}
    for fix in imports:
        server_id = fix.drift.server_id or 0
        if server_id not in importable:
            importable[server_id] = _importable(db, server_id)
        note(_import(db, actor, fix, importable[server_id]))
    for fix in by_action.pop("accept-build", []):
        note(_accept_build(db, actor, fix))
    for action, fixes in by_action.items():
        by_service = {fix.drift.service_id or 0: fix for fix in fixes}
        params = {key: value for key, value in fixes[0].params.items() if key != "reason"}
        params["reason"] = f"reconcile: {fixes[0].drift.kind}"
        selection = {"reconcile": sorted(fix.drift.id or 0 for fix in fixes)}
        try:
            run = bulk.run(db, actor, action, params, list(by_service), selection=selection)
        except SvcError as error:
            for fix in fixes:
                note(FixResult(fix.drift.id or 0, fix.drift.kind, fix.drift.service_id, "skipped", error.message))
            continue
        report.runs.append(run.run_id or 0)
        for item in run.items:
            fix = by_service[item.service_id]
            note(FixResult(fix.drift.id or 0, fix.drift.kind, item.service_id, item.outcome, item.message, run.run_id))
    return report


def _describe(fix: Planned) -> str:
    if fix.action == "import":
        return f"import resource {fix.drift.external} for {fix.params['customer']}"
    if fix.action == "accept-build":
        return f"keep the panel's {fix.params['field']} = {fix.params['value']} for service {fix.drift.service_id}"
    return f"{fix.action} service {fix.drift.service_id}"


def _importable(db: Any, server_id: int) -> dict[str, ImportableResource]:
    """The server's importable resources by reference (read once for all of its imports)."""
    with db.read() as session:
        server = session.get(Server, server_id)
        if server is None:
            return {}
        ref = server_ref(server)
    module = get_module(ref.module)
    if not module.supports_operation("list_importable"):
        return {}
    try:
        return {resource.external_ref: resource for resource in module.list_importable(ref)}
    except ModuleError:
        return {}


def _import(db: Any, actor: Actor, fix: Planned, importable: dict[str, ImportableResource]) -> FixResult:
    drift = fix.drift
    resource = importable.get(drift.external or "")
    if resource is None:
        return FixResult(drift.id or 0, drift.kind, None, "failed", f"resource {drift.external} is no longer on the panel (or could not be read)")

    def work(session: Session) -> Service:
        server = session.get(Server, drift.server_id) if drift.server_id else None
        if server is None:
            raise InvalidInput("--server", f"the server of drift {drift.id} no longer exists")
        draft = ServiceDraft(
            customer=str(fix.params["customer"]),
            name=(drift.panel or drift.external or "imported")[:200],
            type=server.module,
            price="0.00",
            server=str(server.id),
            external=drift.external,
        )
        external = dict(resource.details.get("external") or {"ref": drift.external})
        service = import_service(session, actor, draft, external=external)
        activity.record(session, service, actor, "reconcile", to_status=service.status, reason=str(fix.params["reason"]), details={"kind": "orphan"})
        return service

    try:
        service = db.transaction(work)
    except SvcError as error:
        return FixResult(drift.id or 0, drift.kind, None, "skipped", error.message)
    except ModuleError as error:
        return FixResult(drift.id or 0, drift.kind, None, "failed", error.message)
    return FixResult(drift.id or 0, drift.kind, service.id, "ok", f"imported as service {service.id} (price 0.00: set its product and price)")


def _accept_build(db: Any, actor: Actor, fix: Planned) -> FixResult:
    drift = fix.drift
    service_id = drift.service_id or 0

    def work(session: Session) -> str:
        current = _accepted(meta_value(session, service_id, ACCEPTED_BUILD_META) or "{}")
        value: Any = fix.params["value"]
        current[str(fix.params["field"])] = int(value) if str(value).lstrip("-").isdigit() else value
        meta_set(session, actor, service_id, ACCEPTED_BUILD_META, json.dumps(current, sort_keys=True))
        activity.record(
            session,
            get_service(session, service_id),
            actor,
            "reconcile",
            reason=str(fix.params["reason"]),
            details={"kind": "build", "kept": {fix.params["field"]: value}},
        )
        return f"kept the panel's {fix.params['field']} = {value}"

    try:
        return FixResult(drift.id or 0, drift.kind, service_id, "ok", db.transaction(work))
    except SvcError as error:
        return FixResult(drift.id or 0, drift.kind, service_id, "skipped", error.message)


# ----------------------------------------------------------------------------- the admin's summary

ADMIN_TEMPLATE = "reconcile_drift"


def mail_new_drift(db: Any, since: Any) -> bool:
    """Queue one mail to the admin listing the drift first seen since `since`; False when none."""

    def work(session: Session) -> bool:
        drift_filter = DriftFilter()
        fresh = _filtered(select(Drift.kind, func.count()).select_from(Drift), drift_filter).where(col(Drift.first_seen) >= since).group_by(col(Drift.kind))
        found = dict(session.exec(fresh).all())
        if not found:
            return False
        settings = settings_module.load(session)
        address = settings["admin_email"] or settings["smtp_from"]
        lines = "\n".join(f"- {kind}: {found[kind]}" for kind in DRIFT_KINDS if kind in found)
        notifications.queue(session, ADMIN_TEMPLATE, to_address=address, context={"count": sum(found.values()), "lines": lines})
        return True

    return bool(db.transaction(work))


__all__ = ["AUTO_APPLIED_KINDS", "DRIFT_KINDS", "DriftFilter", "apply", "counts", "drift_dict", "each_drift", "mail_new_drift", "reconcile"]
