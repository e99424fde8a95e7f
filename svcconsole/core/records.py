"""Service records: create, import, edit, metadata and options."""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from svcconsole.core import activity, clock, cycles, option_catalog, parse, status_override
from svcconsole.core.action_base import store_external
from svcconsole.core.catalog import parse_module, prices_of, product_price, resolve_customer, resolve_product, resolve_server
from svcconsole.core.errors import AlreadyLinked, Conflict, InvalidInput, NotFound
from svcconsole.core.lookups import EDITABLE_FIELDS, get_service, jsonable, service_not_found, settings_of, timezone_of, touch
from svcconsole.core.operators import Actor, require
from svcconsole.core.renewal_limits import RENEWAL_LIMIT_KEYS
from svcconsole.core.statuses import ACTIONS, NON_TRANSITION_ROLES, CancelMode, Status
from svcconsole.modules import get_module, is_module
from svcconsole.store import search
from svcconsole.store.engine import unique_violation
from svcconsole.store.models import (
    RESOURCE_HOLDING_STATUSES,
    Customer,
    Product,
    Renewal,
    Server,
    Service,
    ServiceMeta,
    ServiceOption,
)

# ----------------------------------------------------------------------------- create and import


@dataclass
class ServiceDraft:
    """The wizard's fields as typed input (strings as the user gave them)."""

    customer: str
    name: str
    product: str | None = None
    type: str | None = None
    cycle: str | None = None
    price: str | None = None
    initial_price: str | None = None
    server: str | None = None
    expires: str | None = None
    description: str | None = None
    notes: str | None = None
    max_renewals: str | None = None
    currency: str | None = None
    external: str | None = None
    domain: str | None = None


def needs_server(module: str) -> bool:
    """Whether a service of this module is delivered to a server (its module says so)."""
    return is_module(module) and get_module(module).needs_server


def require_server(module: str, server: Server | None, product: Product | None = None) -> None:
    """Refuse a service of a module that needs a server when none is given (and its product
    names no group of servers for delivery to choose from)."""
    if server is None and needs_server(module) and not (product is not None and product.server_ids):
        raise InvalidInput("--server", f"a {module} service needs --server (the server its panel runs on)")


def _build_service(session: Session, actor: Actor, draft: ServiceDraft) -> Service:
    settings = settings_of(session)
    tz = settings.tz
    customer = resolve_customer(session, draft.customer, "--customer")
    name = parse.parse_text("--name", draft.name, required=True) or ""
    product = resolve_product(session, draft.product, "--product") if draft.product else None
    if product is not None:
        if draft.type and draft.type.strip().lower() != product.type:
            raise InvalidInput("--type", f"{draft.type!r} differs from product {product.name!r}'s type {product.type!r}")
        module = product.type
    else:
        if not draft.type:
            raise InvalidInput("--type", "a custom service (no --product) needs --type (a module name)")
        module = parse_module("--type", draft.type)
    cycle = parse.parse_cycle("--cycle", draft.cycle) if draft.cycle else None
    listed = None
    if product is not None:
        if cycle is None:
            offered = prices_of(session, product.id or 0)
            listed = next((price for price in offered if price.billing_cycle == "monthly"), offered[0] if offered else None)
            cycle = cycles.BillingCycle(listed.billing_cycle) if listed else cycles.BillingCycle.MONTHLY
        else:
            listed = product_price(session, product.id or 0, cycle.value)
    cycle = cycle or cycles.BillingCycle.MONTHLY
    if draft.price is not None:
        price = parse.parse_money("--price", draft.price)
    elif listed is not None:
        price = listed.price
    elif product is not None:
        raise InvalidInput("--price", f"product {product.name!r} has no {cycle.value} price; give --price")
    else:
        raise InvalidInput("--price", "a custom service (no --product) needs --price")
    initial_price = parse.parse_money("--initial-price", draft.initial_price) if draft.initial_price is not None else price
    currency = (draft.currency or (listed.currency if listed else settings["currency"])).upper()
    server = resolve_server(session, draft.server, "--server") if draft.server else None
    if server is not None and server.module != module:
        raise InvalidInput("--server", f"server {server.name!r} runs module {server.module!r}, not {module!r}")
    require_server(module, server, product)
    expires = parse.parse_date("--expires", draft.expires, tz) if draft.expires else None
    if expires is None and cycles.is_recurring(cycle.value):
        start = clock.now()
        expires = cycles.shift(start, cycle.value, 1, cycles.anchor_day_of(start, tz), tz)
    max_renewals = (
        parse.parse_optional_int("--max-renewals", draft.max_renewals) if draft.max_renewals is not None else (product.max_renewals if product else None)
    )
    domain = parse.parse_domain("--domain", draft.domain)
    service_uuid = str(uuid_module.uuid4())
    return Service(
        uuid=service_uuid,
        search_text=search.search_text(name, customer.name, customer.email, product.name if product else None, service_uuid, domain),
        customer_id=customer.id or 0,
        customer_name=customer.name,
        product_id=product.id if product else None,
        product_name=product.name if product else None,
        server_id=server.id if server else None,
        server_name=server.name if server else None,
        type=module,
        name=name,
        domain=domain,
        description=parse.parse_text("--description", draft.description, max_length=5000),
        notes=parse.parse_text("--notes", draft.notes, max_length=20000),
        status=Status.PENDING.value,
        billing_cycle=cycle.value,
        anchor_day=cycles.anchor_day_of(expires, tz),
        price=price,
        initial_price=initial_price,
        currency=currency,
        created_at=clock.now(),
        expires_at=expires,
        max_renewals=max_renewals,
        external={},
        version=1,
        updated_at=clock.now(),
        updated_by=actor.name,
    )


def create_service(session: Session, actor: Actor, draft: ServiceDraft, *, status: Status = Status.PENDING) -> Service:
    """A new `pending` service (no invoice: creation never bills); an order's is `ordered`."""
    require(actor, NON_TRANSITION_ROLES["create"], "creating a service")
    service = _build_service(session, actor, draft)
    service.status = status.value
    session.add(service)
    session.flush()
    activity.record(
        session,
        service,
        actor,
        "create",
        to_status=service.status,
        details={
            "product": service.product_name,
            "price": str(service.price),
            "cycle": service.billing_cycle,
            **({"domain": service.domain} if service.domain else {}),
        },
    )
    return service


def import_service(session: Session, actor: Actor, draft: ServiceDraft, *, external: dict[str, Any] | None = None) -> Service:
    """A service for a resource that already exists on its panel: `active`, no module create.

    `external` is what the module reported for the resource (see `delivery.importable_external`);
    without it the reference alone is stored. A resource a live service of the server holds is
    refused naming that service, also when another import commits it first (the unique index
    on (server_id, external_key) decides; its violation is turned into the same refusal).
    """
    require(actor, NON_TRANSITION_ROLES["import"], "importing a service")
    reference = parse.parse_text("--external", draft.external, required=True, max_length=200) or ""
    service = _build_service(session, actor, draft)
    if service.server_id is None and get_module(service.type).supports_operation("list_importable"):
        raise InvalidInput("--server", f"importing a {service.type} service needs --server")
    service.status = Status.ACTIVE.value
    store_external(service, dict(external) if external else {"ref": reference}, replace=True)
    server_id, key = service.server_id, service.external_key
    if server_id is not None and key is not None:
        holder = resource_holder(session, server_id, key)
        if holder is not None:
            raise already_linked(reference, holder)
    try:
        with session.begin_nested():
            session.add(service)
            session.flush()
    except IntegrityError as error:
        duplicate = unique_violation(error)
        if duplicate is None or "external_key" not in duplicate.columns or server_id is None or key is None:
            raise
        holder = resource_holder(session, server_id, key)
        if holder is None:
            raise
        raise already_linked(reference, holder) from None
    activity.record(session, service, actor, "import", to_status=service.status, details={"external": reference})
    return service


def resource_holder(session: Session, server_id: int, key: str) -> Service | None:
    """The live service of `server_id` that holds the panel resource `key`, if any."""
    return session.exec(
        select(Service).where(Service.server_id == server_id, Service.external_key == key, Service.status.in_(RESOURCE_HOLDING_STATUSES))  # type: ignore[attr-defined]
    ).first()


def already_linked(reference: str, holder: Service) -> AlreadyLinked:
    """The refusal of an import of a resource `holder` holds; one line naming that service."""
    return AlreadyLinked(f"--external: resource {reference} on server {holder.server_name} is already service {holder.id} ({holder.name}, {holder.status})")


# ----------------------------------------------------------------------------- edit


def edit_service(
    session: Session,
    actor: Actor,
    service_id: int,
    changes: dict[str, str | None],
    *,
    expected_version: int | None = None,
    reason: str | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Change fields of a service; returns {field: (old, new)} for the fields that changed.

    With `expected_version`, a service changed by someone else since it was read is refused
    with who changed it, and nothing is written.
    """
    require(actor, NON_TRANSITION_ROLES["edit"], "editing a service")
    unknown = [key for key in changes if key not in EDITABLE_FIELDS]
    if unknown:
        raise InvalidInput(unknown[0], f"not an editable field (editable: {', '.join(EDITABLE_FIELDS)})")
    service = get_service(session, service_id, for_update=True)
    if expected_version is not None and service.version != expected_version:
        when = service.updated_at.isoformat(timespec="seconds") if service.updated_at else "an unknown time"
        raise Conflict(
            f"service {service.id} was changed by {service.updated_by or 'someone'} at {when} since you opened it "
            f"(version {expected_version} -> {service.version}); nothing was saved: reload and edit again"
        )
    tz = timezone_of(session)
    parsed: dict[str, Any] = {}
    for key, text in changes.items():
        parsed[key] = _parse_field(session, service, key, text, tz)
    _check_expiry_kept(service, parsed)
    if "status" in parsed and parsed["status"] != service.status:
        require(actor, ACTIONS["set-status"].role, "a status override")
        if not (reason or "").strip():
            raise InvalidInput("--reason", "changing the status needs a reason")
    changed: dict[str, tuple[Any, Any]] = {}
    for key, value in parsed.items():
        if key == "server":
            old = (service.server_id, service.server_name)
            new = (value.id, value.name) if value is not None else (None, None)
            if old != new:
                service.server_id, service.server_name = new
                changed["server"] = (old[1], new[1])
            continue
        old = getattr(service, key)
        if old != value:
            setattr(service, key, value)
            changed[key] = (old, value)
    if "name" in changed or "domain" in changed:
        customer = session.get(Customer, service.customer_id)
        service.search_text = search.search_text(
            service.name, service.customer_name, customer.email if customer else "", service.product_name, service.uuid, service.domain
        )
    if "expires_at" in changed and service.expires_at is not None:
        service.anchor_day = cycles.anchor_day_of(service.expires_at, tz)
        if service.cancel_mode == CancelMode.END_OF_CYCLE.value:
            service.cancel_at = service.expires_at
    if not changed:
        return changed
    details = {key: [jsonable(old), jsonable(new)] for key, (old, new) in changed.items()}
    status_change = changed.get("status")
    if status_change:
        details.update(status_override.keep_record_coherent(service, status_change[0], reason))
    activity.record(
        session,
        service,
        actor,
        "status_override" if status_change else "edit",
        from_status=status_change[0] if status_change else service.status,
        to_status=service.status,
        reason=reason,
        details=details,
    )
    touch(service, actor)
    session.add(service)
    session.flush()
    return changed


def _check_expiry_kept(service: Service, parsed: dict[str, Any]) -> None:
    """Refuse an edit that leaves a recurring service without an expiry (renewals move it)."""
    cycle = parsed.get("billing_cycle", service.billing_cycle)
    expires = parsed.get("expires_at", service.expires_at)
    if expires is None and cycles.is_recurring(cycle) and ("expires_at" in parsed or "billing_cycle" in parsed):
        option = edit_option("expires_at" if "expires_at" in parsed else "billing_cycle")
        raise InvalidInput(option, f"a {cycle} service needs an expiry date (only onetime and free services have none); give --expires YYYY-MM-DD")


EDIT_OPTIONS = {"expires_at": "--expires", "billing_cycle": "--cycle"}
"""The `services edit` option of each field whose option is not the field's own name."""


def edit_option(key: str) -> str:
    """The `services edit` option that sets field `key`, for messages."""
    return EDIT_OPTIONS.get(key, f"--{key.replace('_', '-')}")


def _parse_field(session: Session, service: Service, key: str, text: str | None, tz: ZoneInfo) -> Any:
    option = edit_option(key)
    if key == "name":
        return parse.parse_text(option, text, required=True)
    if key == "domain":
        return parse.parse_domain(option, text)
    if key in {"description", "notes"}:
        return parse.parse_text(option, text, max_length=20000) or None
    if key in {"price", "initial_price"}:
        return parse.parse_money(option, text or "")
    if key == "billing_cycle":
        return parse.parse_cycle(option, text or "").value
    if key == "expires_at":
        return parse.parse_date(option, text or "", tz) if text not in (None, "", "none") else None
    if key == "server":
        if text in (None, "", "none"):
            return None
        server = resolve_server(session, text, option)
        if server.module != service.type:
            raise InvalidInput(option, f"server {server.name!r} runs module {server.module!r}, not {service.type!r}")
        return server
    if key == "max_renewals":
        return parse.parse_optional_int(option, text)
    if key == "type":
        return parse_module(option, text or "")
    if key == "auto_renew":
        return parse.parse_bool(option, text or "")
    if key == "currency":
        value = (text or "").strip().upper()
        if len(value) != 3 or not value.isalpha():
            raise InvalidInput(option, f"{text!r} is not a currency code (three letters such as EUR)")
        return value
    if key == "status":
        value = (text or "").strip().lower()
        if value not in {status.value for status in Status}:
            raise InvalidInput(option, f"{text!r} is not a status ({', '.join(status.value for status in Status)})")
        return value
    raise InvalidInput(option, "not an editable field")


# ----------------------------------------------------------------------------- metadata


def _check_meta_value(key: str, value: str) -> str:
    if key in RENEWAL_LIMIT_KEYS:
        return str(parse.parse_int(f"metadata {key}", value, minimum=0))
    if key == "disable_notify_expiration":
        return "true" if parse.parse_bool(f"metadata {key}", value) else "false"
    return parse.parse_text(f"metadata {key}", value, max_length=10000) or ""


def _check_meta_key(key: str) -> str:
    value = (key or "").strip()
    if not value or len(value) > 100 or any(char.isspace() for char in value) or any(ord(char) < 32 for char in value):
        raise InvalidInput("key", f"{key!r} is not a metadata key (1-100 characters, no spaces)")
    return value


def meta_items(session: Session, service_id: int) -> list[ServiceMeta]:
    get_service(session, service_id)
    return list(session.exec(select(ServiceMeta).where(ServiceMeta.service_id == service_id).order_by(ServiceMeta.key)).all())


def meta_set(session: Session, actor: Actor, service_id: int, key: str, value: str) -> ServiceMeta:
    require(actor, NON_TRANSITION_ROLES["metadata"], "changing metadata")
    key = _check_meta_key(key)
    clean = _check_meta_value(key, value)
    service = get_service(session, service_id, for_update=True)
    row = session.get(ServiceMeta, (service_id, key))
    old = row.value if row else None
    if row is None:
        row = ServiceMeta(service_id=service_id, key=key, value=clean)
    else:
        row.value = clean
    session.add(row)
    activity.record(session, service, actor, "meta_set", from_status=service.status, to_status=service.status, details={"key": key, "old": old, "new": clean})
    touch(service, actor)
    session.add(service)
    return row


def meta_unset(session: Session, actor: Actor, service_id: int, key: str) -> None:
    require(actor, NON_TRANSITION_ROLES["metadata"], "changing metadata")
    service = get_service(session, service_id, for_update=True)
    row = session.get(ServiceMeta, (service_id, key))
    if row is None:
        raise NotFound(f"metadata: service {service_id} has no key {key!r}")
    activity.record(session, service, actor, "meta_unset", from_status=service.status, to_status=service.status, details={"key": key, "old": row.value})
    session.delete(row)
    touch(service, actor)
    session.add(service)


# ----------------------------------------------------------------------------- options


def options_of(session: Session, service_id: int) -> list[ServiceOption]:
    return list(session.exec(select(ServiceOption).where(col(ServiceOption.service_id) == service_id).order_by(col(ServiceOption.id))).all())


def option_add(
    session: Session,
    actor: Actor,
    service_id: int,
    *,
    name: str,
    value: str | None = None,
    quantity: str | int = 1,
    price: str = "0",
    expires: str | None = None,
) -> ServiceOption:
    """Add an option with the service's expiry (a billing record unless the module applies options)."""
    require(actor, NON_TRANSITION_ROLES["options"], "changing options")
    service = get_service(session, service_id, for_update=True)
    tz = timezone_of(session)
    option = ServiceOption(
        service_id=service_id,
        name=parse.parse_text("--name", name, required=True) or "",
        value=parse.parse_text("--value", value, max_length=500),
        quantity=parse.parse_int("--quantity", quantity, minimum=1, maximum=100000),
        price=parse.parse_money("--price", price),
        expires_at=parse.parse_date("--expires", expires, tz) if expires else service.expires_at,
        created_at=clock.now(),
    )
    session.add(option)
    session.flush()
    activity.record(
        session,
        service,
        actor,
        "option_add",
        from_status=service.status,
        to_status=service.status,
        details={"option": option.id, "name": option.name, "price": str(option.price), "quantity": option.quantity},
    )
    touch(service, actor)
    session.add(service)
    return option


def _get_option(session: Session, service_id: int, option_id: int) -> ServiceOption:
    option = session.get(ServiceOption, option_id)
    if option is None or option.service_id != service_id:
        raise NotFound(f"option: service {service_id} has no option {option_id}")
    return option


def option_edit(
    session: Session,
    actor: Actor,
    service_id: int,
    option_id: int,
    *,
    name: str | None = None,
    value: str | None = None,
    quantity: str | None = None,
    price: str | None = None,
    expires: str | None = None,
) -> ServiceOption:
    require(actor, NON_TRANSITION_ROLES["options"], "changing options")
    service = get_service(session, service_id, for_update=True)
    option = _get_option(session, service_id, option_id)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = parse.parse_text("--name", name, required=True)
    if value is not None:
        changes["value"] = parse.parse_text("--value", value, max_length=500)
    if quantity is not None:
        changes["quantity"] = parse.parse_int("--quantity", quantity, minimum=1, maximum=100000)
    if price is not None:
        changes["price"] = parse.parse_money("--price", price)
    if expires is not None:
        changes["expires_at"] = parse.parse_date("--expires", expires, timezone_of(session))
    details = {}
    for key, new in changes.items():
        old = getattr(option, key)
        if old != new:
            setattr(option, key, new)
            details[key] = [jsonable(old), jsonable(new)]
    session.add(option)
    if details:
        activity.record(session, service, actor, "option_edit", from_status=service.status, to_status=service.status, details={"option": option_id, **details})
        touch(service, actor)
        session.add(service)
    return option


def option_remove(session: Session, actor: Actor, service_id: int, option_id: int) -> str | None:
    """Remove an option from billing; returns the build key it raised on the panel, if any."""
    require(actor, NON_TRANSITION_ROLES["options"], "changing options")
    service = get_service(session, service_id, for_update=True)
    option = _get_option(session, service_id, option_id)
    catalogue = option_catalog.applied_catalogue(session, {service.product_id})
    resource, amount = option_catalog.applied_amount(option, catalogue.get((service.product_id or 0, option.name)))
    activity.record(
        session, service, actor, "option_remove", from_status=service.status, to_status=service.status, details={"option": option_id, "name": option.name}
    )
    session.delete(option)
    touch(service, actor)
    session.add(service)
    return resource if amount else None


def renewals_of(session: Session, service_id: int) -> list[Renewal]:
    return list(session.exec(select(Renewal).where(col(Renewal.service_id) == service_id).order_by(col(Renewal.id).desc())).all())


def ensure_not_client_hidden(service: Service) -> None:
    if service.status == Status.DELETED.value:
        raise service_not_found(service.id or 0)
