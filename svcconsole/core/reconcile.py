"""Reconcile: compare what each panel holds with billing, keep the drift, and fix it.

The run reads each panel (`core.panel_listing`), compares billing with what it read
(`core.drift_compare`, where the six kinds are described) and keeps the drift here; a listing
that fails half-way compares nothing for that panel. This module also reads the drift back
(filters, pages, counts), applies its fixes (module work as bulk runs, imports and accepted
builds through their core functions) and mails the admin a summary of new drift.

Drift rows persist: one found again keeps its `first_seen` and gets a new `last_seen`; one no
longer found gets `resolved_at`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, update
from sqlmodel import Session, col, select

from svcconsole.core import activity, bulk, clock, notifications
from svcconsole.core import settings as settings_module
from svcconsole.core.drift_compare import ACCEPTED_BUILD_META, Found, accepted_build, compare
from svcconsole.core.errors import InvalidInput, SvcError
from svcconsole.core.lookups import get_service, meta_value, server_ref
from svcconsole.core.operators import Actor, require
from svcconsole.core.panel_listing import INSERT_BATCH, Panel, Progress, panels_of, read_panel
from svcconsole.core.records import ServiceDraft, import_service, meta_set
from svcconsole.core.settings import AUTO_APPLIED_KINDS, DRIFT_KINDS
from svcconsole.core.statuses import NON_TRANSITION_ROLES, Status
from svcconsole.modules import ImportableResource, ModuleError, get_module
from svcconsole.store.models import Drift, Server, Service

MISSING_FIXES = ("redeliver", "terminate")


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
        current = accepted_build(meta_value(session, service_id, ACCEPTED_BUILD_META) or "{}")
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
