"""Comparing billing with what `panel_resource` holds for a panel: the six kinds of drift.

Billing is compared with the panel's resources by queries, so no list of every service is held
in memory. Kinds (SPEC.md section 5; scripts rely on the names):
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
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, text
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from svcconsole.core import option_catalog
from svcconsole.core import settings as settings_module
from svcconsole.core.panel_listing import Panel
from svcconsole.core.statuses import Status
from svcconsole.modules import get_module
from svcconsole.store.models import RESOURCE_HOLDING_STATUSES, Customer, PanelResourceRow, Product, Service, ServiceMeta, ServiceOption

COMPARE_CHUNK = 500
ACCEPTED_BUILD_META = "panel_build"
HOLDS_RESOURCE_SQL = text(f"service.external_key IS NOT NULL AND service.status IN ({', '.join(repr(status) for status in RESOURCE_HOLDING_STATUSES)})")
"""The partial index's own condition, written out (not bound), so SQLite uses the index."""


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
        catalogue = option_catalog.applied_catalogue(session, {service.product_id for service, _, _ in chunk})
        for service, resource, config in chunk:
            chosen = options.get(service.id or 0, [])
            built = option_catalog.with_extras(dict(config or {}), option_catalog.extras_from(service.product_id, chosen, catalogue))
            by_name = [row for row in chosen if row.resource is None and (service.product_id or 0, row.name) not in catalogue]
            expected = _option_build(by_name, module.expected_build(built))
            if service.id in accepted:
                expected.update(accepted_build(accepted[service.id or 0]))
            for key, wanted in sorted(expected.items()):
                actual = (resource.limits or {}).get(key)
                if actual is None or str(actual) == str(wanted):
                    continue
                fix = "re-apply the build" if source == "billing" else "keep the panel's value"
                yield Found("build", service.server_id or panel.first, service.id, resource.key, key, str(wanted), str(actual), fix)


def accepted_build(text: str) -> dict[str, Any]:
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
