"""Placement: which server a service is delivered to, and whether that server has room.

A server's capacity is a number of services (`server.capacity`, none = no limit) and, where its
module reports the node's usage, memory and disk (the panel's own total, or the admin's lower
`memory_capacity` / `disk_capacity`). A product may name a group of servers
(`product.server_ids`) filled `least-used` (the server with the fewest used services) or
`fill-first` (the first server of the group, in its order, that has room); a service whose
product has no group goes to its own server.

A server's used services are those that hold or are taking a place on it: active, suspended,
and pending with a module operation in progress (a delivery queued or running). They are
counted through the index (server_id, status, operation), never by reading rows. Placing locks
the candidate servers' rows, so two deliveries never take the last place twice.

A service that cannot be placed stays pending with `placement_note` saying why; it reads
"not available: <why>" everywhere it is shown, and the automation run tries it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_
from sqlmodel import Session, col, func, select

from svcconsole.core import activity
from svcconsole.core.action_base import Outcome
from svcconsole.core.errors import SvcError
from svcconsole.core.lookups import touch
from svcconsole.core.operators import Actor
from svcconsole.core.statuses import Status
from svcconsole.modules import Module, ModuleError, NodeResources, ServiceRef, external_key
from svcconsole.store.models import Product, Server, Service, ServiceMeta

NOT_AVAILABLE = "not available"
NOT_AVAILABLE_CODE = "not_available"
"""The code of the module error a delivery job ends with when the node has no room left."""


class NotAvailable(SvcError):
    """No server the service may go to has room; `why` names each one and what it lacks."""

    def __init__(self, why: str) -> None:
        super().__init__(f"{NOT_AVAILABLE}: {why}")
        self.why = why


def used_condition() -> object:
    """The services that hold or are taking a place on their server."""
    return or_(
        col(Service.status).in_((Status.ACTIVE.value, Status.SUSPENDED.value)),
        and_(col(Service.status) == Status.PENDING.value, col(Service.operation).is_not(None)),
    )


def used_counts(session: Session, server_ids: Sequence[int]) -> dict[int, int]:
    """How many used services each server has (an index-only count per server)."""
    if not server_ids:
        return {}
    query = (
        select(col(Service.server_id), func.count())
        .where(col(Service.server_id).in_(list(server_ids)), used_condition())  # type: ignore[arg-type]
        .group_by(col(Service.server_id))
    )
    counts = {int(server_id): int(count) for server_id, count in session.exec(query).all() if server_id is not None}
    return {server_id: counts.get(server_id, 0) for server_id in server_ids}


@dataclass(frozen=True)
class Candidate:
    """A server delivery may use: its name, whether it is enabled, its used services and capacity,
    and whether its node lacked the memory or disk when this service was last tried there."""

    name: str
    enabled: bool
    used: int
    capacity: int | None
    short: bool = False

    @property
    def why_not(self) -> str | None:
        """Why this server cannot take one more service; None when it can."""
        if not self.enabled:
            return f"{self.name} is disabled"
        if self.capacity is not None and self.used >= self.capacity:
            return f"{self.name} is full ({self.used} of {self.capacity} services)"
        return None


def choose(candidates: Sequence[Candidate], placement: str) -> int:
    """The index of the server to use under `placement`; NotAvailable naming each server otherwise.

    A server whose node lacked memory or disk for this service is taken only when no other has
    room (its node may have freed some since: the delivery checks again)."""
    open_ones = [index for index, candidate in enumerate(candidates) if candidate.why_not is None]
    open_ones = [index for index in open_ones if not candidates[index].short] or open_ones
    if not open_ones:
        reasons = "; ".join(candidate.why_not or "" for candidate in candidates)
        raise NotAvailable(reasons if len(candidates) == 1 else f"no server of the group has room ({reasons})")
    if placement == "fill-first":
        return open_ones[0]
    return min(open_ones, key=lambda index: candidates[index].used)


def group_of(product: Product | None) -> list[int]:
    """The server ids of a product's group, in its order (empty: no group)."""
    if product is None:
        return []
    return [int(server_id) for server_id in product.server_ids or []]


def place(session: Session, service: Service) -> Server | None:
    """Pick (and set) the server the service is delivered to; None for a service that needs none.

    With a product group the service goes to the group's choice; else to its own server, if it
    has room. Raises NotAvailable, changing nothing, when none has room.
    """
    product = session.get(Product, service.product_id) if service.product_id is not None else None
    group = group_of(product)
    server_ids = group or ([service.server_id] if service.server_id is not None else [])
    if not server_ids:
        return None
    locked = {server.id: server for server in session.exec(select(Server).where(col(Server.id).in_(server_ids)).order_by(col(Server.id)).with_for_update())}
    servers = [locked[server_id] for server_id in server_ids if server_id in locked and locked[server_id].module == service.type]
    if not servers:
        raise NotAvailable(f"product {service.product_name}'s group has no {service.type} server")
    used = used_counts(session, [server.id or 0 for server in servers])
    short = short_servers(session, service)
    candidates = [Candidate(server.name, server.enabled or not group, used[server.id or 0], server.capacity, server.id in short) for server in servers]
    chosen = servers[choose(candidates, product.placement if product is not None and group else "least-used")]
    service.server_id, service.server_name = chosen.id, chosen.name
    service.placement_note = None
    return chosen


SHORT_OF_ROOM_KEY = "placement_short_of_room"
"""The service's metadata: the ids of the servers whose node lacked memory or disk for it."""


def short_servers(session: Session, service: Service) -> set[int]:
    """The servers whose node lacked memory or disk for this service when last tried."""
    row = session.get(ServiceMeta, (service.id, SHORT_OF_ROOM_KEY))
    return {int(part) for part in (row.value if row else "").split(",") if part.strip().isdigit()}


def remember_short(session: Session, service: Service) -> None:
    """Note that the service's server lacked memory or disk for it, so a group places it elsewhere if it can."""
    if service.server_id is None:
        return
    ids = sorted(short_servers(session, service) | {service.server_id})
    session.merge(ServiceMeta(service_id=service.id or 0, key=SHORT_OF_ROOM_KEY, value=",".join(str(server_id) for server_id in ids)))


def forget_short(session: Session, service: Service) -> None:
    """Delivered: the servers that lacked room for the service no longer matter."""
    row = session.get(ServiceMeta, (service.id, SHORT_OF_ROOM_KEY))
    if row is not None:
        session.delete(row)


def hold(session: Session, actor: Actor, service: Service, why: str) -> Outcome:
    """Keep the service pending with why it could not be placed (one activity row when the reason changes)."""
    if service.placement_note != why:
        service.placement_note = why
        touch(service, actor)
        session.add(service)
        activity.record(session, service, actor, "not_available", from_status=service.status, to_status=service.status, reason=why)
        session.flush()
    return Outcome(service.id or 0, "skipped", f"{NOT_AVAILABLE}: {why}; it stays {service.status} and the automation run tries again")


def not_available_text(service: Service) -> str | None:
    """'not available: <why>' for a pending service that could not be placed, else None."""
    if service.status == Status.PENDING.value and service.placement_note:
        return f"{NOT_AVAILABLE}: {service.placement_note}"
    return None


def shortfall(server_name: str, resources: NodeResources, needs: dict[str, int], memory_cap: int | None, disk_cap: int | None) -> str | None:
    """Why the node lacks the memory or disk a service needs; None when it has room (or cannot say).

    The limit is the panel's total, or the admin's cap on the server where that is lower."""
    for kind, reported_total, used, cap in (
        ("memory", resources.memory_total, resources.memory_used, memory_cap),
        ("disk", resources.disk_total, resources.disk_used, disk_cap),
    ):
        need = needs.get(kind, 0)
        limits = [limit for limit in (reported_total, cap) if limit is not None]
        if not need or not limits or used is None:
            continue
        free = max(min(limits) - used, 0)
        if need > free:
            return f"{server_name} (node {resources.node}) has {free} MiB {kind} free of {min(limits)} MiB; the product needs {need} MiB"
    return None


def check_node_room(module: Module, ref: ServiceRef) -> None:
    """Before a first create: refuse, as a module error coded `not_available`, when the node the
    module reports on lacks the memory or disk the product needs (read outside any transaction)."""
    server = ref.server
    if server is None or not module.supports_operation("node_resources") or external_key(module.name, ref.external) is not None:
        return
    needs = module.resource_needs(ref.product.config if ref.product is not None else {})
    if not needs:
        return
    try:
        resources = module.node_resources(server, ref.product)
    except ModuleError as error:
        if error.retryable:
            raise
        return  # a panel that will not say (a token without the audit right) is not a full one: create decides
    why = shortfall(server.name, resources, needs, server.memory_capacity, server.disk_capacity) if resources is not None else None
    if why is not None:
        raise ModuleError(f"{NOT_AVAILABLE}: {why}", retryable=False, code=NOT_AVAILABLE_CODE)
