"""Reading services: look-ups, the references modules get, settings, and the refusals every rule words alike."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from svcconsole.core import clock, option_catalog
from svcconsole.core import settings as settings_module
from svcconsole.core.errors import NotFound, TransitionRefused
from svcconsole.core.operators import Actor
from svcconsole.core.secrets import decrypt
from svcconsole.core.statuses import Status
from svcconsole.modules import CustomerRef, ProductRef, ServerRef, ServiceRef, get_module, is_module
from svcconsole.store.models import (
    Customer,
    Product,
    Server,
    Service,
    ServiceMeta,
)

MAX_DAYS = 36500
MAX_CYCLES = 120
KNOWN_META_KEYS: dict[str, str] = {
    "max_renewals": "maximum number of renewals (a whole number)",
    "max_renewals_in_current_month": "maximum renewals in the current month (a whole number)",
    "max_renewals_in_current_week": "maximum renewals in the current week (a whole number)",
    "disable_notify_expiration": "true to stop expiry notices",
}
EDITABLE_FIELDS = (
    "name",
    "domain",
    "description",
    "notes",
    "price",
    "initial_price",
    "billing_cycle",
    "expires_at",
    "server",
    "max_renewals",
    "type",
    "auto_renew",
    "currency",
    "status",
)

# ----------------------------------------------------------------------------- look-ups


def get_service(session: Session, service_id: int, *, for_update: bool = False, customer_id: int | None = None) -> Service:
    """The service with `service_id` (scoped to `customer_id` when given); NotFound otherwise."""
    if for_update and customer_id is None and service_id in session.info.get(_LOCKED_SERVICES, ()):
        locked = session.get(Service, service_id)
        if locked is not None:
            return locked
    query = scoped(select(Service).where(Service.id == service_id), customer_id)
    if for_update:
        query = query.with_for_update()
    service = session.exec(query).first()
    if service is None:
        raise service_not_found(service_id)
    return service


_LOCKED_SERVICES = "locked_services"


@contextmanager
def services_locked(session: Session, service_ids: Iterable[int]) -> Iterator[None]:
    """Lock these services in one query, in id order, for a batch that writes to many of them;
    meanwhile `get_service(..., for_update=True)` finds them in the session, locked, without
    asking the database again. The locks last until the transaction ends (or until the savepoint
    they were taken in is rolled back, after this block)."""
    wanted = sorted(set(service_ids))
    query = select(Service).where(col(Service.id).in_(wanted)).order_by(col(Service.id)).with_for_update()
    rows = session.exec(query.execution_options(populate_existing=True)).all()
    session.info[_LOCKED_SERVICES] = {row.id for row in rows}
    try:
        yield
    finally:
        del session.info[_LOCKED_SERVICES]


def scoped(query: Any, customer_id: int | None) -> Any:
    """`query` over services limited to one customer's, deleted ones left out (the customer area)."""
    if customer_id is None:
        return query
    return query.where(Service.customer_id == customer_id, Service.status != Status.DELETED.value)


def service_not_found(service_id: int) -> NotFound:
    return NotFound(f"service: no service with id {service_id}")


def settings_of(session: Session) -> settings_module.Settings:
    cached = session.info.get("settings")
    if cached is None:
        cached = settings_module.load(session)
        session.info["settings"] = cached
    return cached


def timezone_of(session: Session) -> ZoneInfo:
    return settings_of(session).tz


def service_ref(session: Session, service: Service) -> ServiceRef:
    """The snapshot a module call works from (credentials decrypted here, and only here)."""
    customer = session.get(Customer, service.customer_id)
    assert customer is not None
    product = session.get(Product, service.product_id) if service.product_id else None
    server = session.get(Server, service.server_id) if service.server_id else None
    return ServiceRef(
        id=service.id or 0,
        uuid=service.uuid,
        name=service.name,
        customer=CustomerRef(id=customer.id or 0, name=customer.name, email=customer.email, company=customer.company),
        product=service_product_ref(session, service, product) if product else None,
        server=server_ref(server) if server else None,
        external=dict(service.external or {}),
        billing_cycle=service.billing_cycle,
    )


def service_product_ref(session: Session, service: Service, product: Product) -> ProductRef:
    """The service's product as its module builds it: the config with the service's options added."""
    ref = product_ref(product)
    extras = option_catalog.extras_of(session, service)
    return dataclasses.replace(ref, config=option_catalog.with_extras(ref.config, extras)) if extras else ref


def product_ref(product: Product) -> ProductRef:
    return ProductRef(id=product.id or 0, name=product.name, type=product.type, config=dict(product.config or {}))


def server_ref(server: Server) -> ServerRef:
    return ServerRef(
        id=server.id or 0,
        name=server.name,
        module=server.module,
        url=server.url,
        credentials=decrypt(server.credentials),
        node=server.node,
        config=dict(server.config or {}),
        memory_capacity=server.memory_capacity,
        disk_capacity=server.disk_capacity,
    )


def meta_value(session: Session, service_id: int, key: str) -> str | None:
    row = session.get(ServiceMeta, (service_id, key))
    return row.value if row else None


def touch(service: Service, actor: Actor) -> None:
    service.version = (service.version or 0) + 1
    service.updated_at = clock.now()
    service.updated_by = actor.name


def refuse(service: Service, action: str, why: str) -> TransitionRefused:
    """The refusal of `action` on `service`, naming its status and why."""
    return TransitionRefused(service.id or 0, service.status, action, why)


def module_supports(service: Service, operation: str) -> bool:
    return is_module(service.type) and get_module(service.type).supports_operation(operation)


def held_by_module(service: Service) -> bool:
    """True while the service's panel still holds something for it."""
    return bool(service.external)


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def iso(moment: datetime | None) -> str | None:
    """A moment as ISO 8601 UTC with a Z, or None."""
    return clock.as_utc(moment).isoformat().replace("+00:00", "Z") if moment else None


def day(moment: datetime | None, tz: ZoneInfo) -> str:
    """A moment as its local date in `tz`, or "-"."""
    return moment.astimezone(tz).date().isoformat() if moment else "-"
