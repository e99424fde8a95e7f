"""Customers, products (with their prices) and servers: look-up by id or name, add and edit."""

from __future__ import annotations

import json
import os
import ssl
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from svcconsole.core import activity, clock, i18n, overage, parse
from svcconsole.core.cycles import BillingCycle
from svcconsole.core.errors import InvalidInput, NotFound
from svcconsole.core.operators import Actor, require
from svcconsole.core.secrets import encrypt
from svcconsole.core.statuses import Role
from svcconsole.modules import is_module, module_names
from svcconsole.modules.tls import FINGERPRINT_FORMAT, parse_fingerprint
from svcconsole.store import search
from svcconsole.store.models import CUSTOMER_FLAGS, Customer, Product, ProductPrice, Server, Service


def _is_id(ref: str | int) -> bool:
    return parse.looks_like_id(ref)


def resolve_customer(session: Session, ref: str | int, field: str = "customer") -> Customer:
    """A customer by id or email."""
    text = str(ref).strip()
    if _is_id(text):
        customer = session.get(Customer, int(text))
    else:
        customer = session.exec(select(Customer).where(Customer.email == text.lower())).first()
    if customer is None:
        raise NotFound(f"{field}: no customer with id or email {text!r}")
    return customer


def resolve_product(session: Session, ref: str | int, field: str = "product") -> Product:
    """A product by id or name."""
    text = str(ref).strip()
    product = session.get(Product, int(text)) if _is_id(text) else None
    if product is None:
        product = session.exec(select(Product).where(Product.name == text)).first()
    if product is None:
        raise NotFound(f"{field}: no product with id or name {text!r}")
    return product


def resolve_server(session: Session, ref: str | int, field: str = "server") -> Server:
    """A server by id or name."""
    text = str(ref).strip()
    server = session.get(Server, int(text)) if _is_id(text) else None
    if server is None:
        server = session.exec(select(Server).where(Server.name == text)).first()
    if server is None:
        raise NotFound(f"{field}: no server with id or name {text!r}")
    return server


def parse_module(field: str, text: str) -> str:
    value = (text or "").strip().lower()
    if not is_module(value):
        raise InvalidInput(field, f"{text!r} is not a module (known: {', '.join(module_names())})")
    return value


def _check_email_free(session: Session, email: str, customer_id: int | None = None) -> None:
    other = session.exec(select(Customer).where(Customer.email == email)).first()
    if other is not None and other.id != customer_id:
        raise InvalidInput("--email", f"{email} is already the email of customer {other.id}")


def add_customer(session: Session, actor: Actor, *, name: str, email: str, company: str | None = None, locale: str | None = None) -> Customer:
    require(actor, Role.OPERATOR, "adding a customer")
    name = parse.parse_text("--name", name, required=True) or ""
    email = parse.parse_email("--email", email)
    company = parse.parse_text("--company", company)
    chosen_locale = i18n.parse_locale("--locale", locale) if locale else None
    _check_email_free(session, email)
    customer = Customer(name=name, email=email, company=company or None, created_at=clock.now(), locale=chosen_locale)
    session.add(customer)
    session.flush()
    activity.record_change(session, actor, "customer", customer.id or 0, "add", details=_customer_fields(customer))
    return customer


def _customer_fields(customer: Customer) -> dict[str, Any]:
    return {"name": customer.name, "email": customer.email, "company": customer.company, "notes": customer.notes, "locale": customer.locale}


NOTES_MAX_LENGTH = 10_000


def edit_customer(
    session: Session,
    actor: Actor,
    ref: str,
    *,
    name: str | None = None,
    email: str | None = None,
    company: str | None = None,
    notes: str | None = None,
    locale: str | None = None,
) -> Customer:
    """Change the fields given (None: unchanged; an empty company, notes or locale clears it)."""
    require(actor, Role.OPERATOR, "editing a customer")
    customer = resolve_customer(session, ref)
    before = _customer_fields(customer)
    if name is not None:
        customer.name = parse.parse_text("--name", name, required=True) or ""
    if email is not None:
        new_email = parse.parse_email("--email", email)
        _check_email_free(session, new_email, customer.id)
        customer.email = new_email
    if company is not None:
        customer.company = parse.parse_text("--company", company) or None
    if notes is not None:
        customer.notes = parse.parse_text("--notes", notes, max_length=NOTES_MAX_LENGTH) or None
    if locale is not None:
        customer.locale = i18n.parse_locale("--locale", locale) if locale.strip() else None
    session.add(customer)
    if name is not None or email is not None:
        session.execute(update(Service).where(col(Service.customer_id) == customer.id).values(customer_name=customer.name))
        session.execute(update(Service).where(col(Service.customer_id) == customer.id).values(search_text=search.search_text_sql(customer.email)))
    changed = activity.changed_fields(before, _customer_fields(customer))
    if changed:
        activity.record_change(session, actor, "customer", customer.id or 0, "edit", details=changed)
    return customer


def parse_config_value(text: str) -> Any:
    """A `--config` value: JSON when it parses (numbers, true, lists), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_prices(pairs: list[str] | None) -> dict[BillingCycle, Decimal]:
    """`CYCLE=AMOUNT` pairs, each cycle at most once."""
    prices: dict[BillingCycle, Decimal] = {}
    for pair in pairs or []:
        cycle_text, sep, amount_text = pair.partition("=")
        if not sep:
            raise InvalidInput("--price", f"{pair!r} is not CYCLE=AMOUNT (such as monthly=12.00)")
        cycle = parse.parse_cycle("--price", cycle_text)
        amount = parse.parse_money("--price", amount_text)
        if cycle in prices:
            raise InvalidInput("--price", f"{cycle.value} is given twice ({prices[cycle]} and {amount}); give each cycle once")
        prices[cycle] = amount
    return prices


def _upgrade_target_ids(session: Session, refs: list[str] | None) -> list[int]:
    return [resolve_product(session, ref, "--upgrade-to").id or 0 for ref in refs or []]


def add_product(
    session: Session,
    actor: Actor,
    *,
    name: str,
    type: str,
    prices: list[str] | None,
    currency: str | None = None,
    max_renewals: str | int | None = None,
    config: list[str] | None = None,
    upgrade_to: list[str] | None = None,
    allow_customer_cancel: bool = True,
    default_currency: str = "EUR",
    servers: str | None = None,
    placement: str | None = None,
    overages: list[str] | None = None,
    customer_flags: dict[str, bool | None] | None = None,
) -> Product:
    require(actor, Role.OPERATOR, "adding a product")
    name = parse.parse_text("--name", name, required=True) or ""
    module = parse_module("--type", type)
    parsed_prices = parse_prices(prices)
    if not parsed_prices:
        raise InvalidInput("--price", "at least one CYCLE=AMOUNT is required (such as monthly=12.00)")
    currency_code = _currency(currency or default_currency)
    limit = parse.parse_optional_int("--max-renewals", max_renewals)
    declared = overage.merged({}, overage.parse_overages(overages))
    if session.exec(select(Product).where(Product.name == name)).first() is not None:
        raise InvalidInput("--name", f"a product named {name!r} exists already")
    product = Product(
        name=name,
        type=module,
        config={key: parse_config_value(value) for key, value in parse.parse_key_values("--config", config).items()},
        max_renewals=limit,
        allow_customer_cancel=allow_customer_cancel,
        upgrade_targets=_upgrade_target_ids(session, upgrade_to),
        server_ids=_server_group(session, module, servers),
        placement=_placement(placement) if placement is not None else "least-used",
        overage=declared,
        created_at=clock.now(),
    )
    _set_customer_flags(product, customer_flags)
    session.add(product)
    session.flush()
    for cycle, amount in parsed_prices.items():
        session.add(ProductPrice(product_id=product.id or 0, billing_cycle=cycle.value, price=amount, currency=currency_code))
    session.flush()
    activity.record_change(session, actor, "product", product.id or 0, "add", details={**_product_fields(session, product), "currency": currency_code})
    return product


def _product_fields(session: Session, product: Product) -> dict[str, Any]:
    """A product's editable fields as JSON values (prices by cycle), for its activity rows."""
    return {
        "name": product.name,
        "type": product.type,
        "prices": {price.billing_cycle: f"{price.price:.2f}" for price in prices_of(session, product.id or 0)},
        "max_renewals": product.max_renewals,
        "config": dict(product.config or {}),
        "upgrade_targets": list(product.upgrade_targets or []),
        "allow_customer_cancel": product.allow_customer_cancel,
        **{flag: getattr(product, flag) for flag in CUSTOMER_FLAGS},
        "server_ids": list(product.server_ids or []),
        "placement": product.placement,
        "overage": dict(product.overage or {}),
    }


def _set_customer_flags(product: Product, flags: dict[str, bool | None] | None) -> None:
    """Turn each given self-service flag on or off (None leaves it as it is)."""
    for flag, value in (flags or {}).items():
        if flag not in CUSTOMER_FLAGS:
            raise InvalidInput("flag", f"{flag!r} is not a self-service flag ({', '.join(CUSTOMER_FLAGS)})")
        if value is not None:
            setattr(product, flag, bool(value))


PLACEMENTS = ("least-used", "fill-first")
"""How a product's group of servers fills (`core.placement` says what each means)."""


def _placement(text: str) -> str:
    value = (text or "").strip().lower()
    if value not in PLACEMENTS:
        raise InvalidInput("--placement", f"{text!r} is not a placement (least-used or fill-first)")
    return value


def _server_group(session: Session, module: str, text: str | None) -> list[int]:
    """`--servers a,b` as server ids in the order given; '' empties the group."""
    ids: list[int] = []
    for ref in [part.strip() for part in (text or "").split(",") if part.strip()]:
        server = resolve_server(session, ref, "--servers")
        if server.module != module:
            raise InvalidInput("--servers", f"server {server.name!r} runs module {server.module!r}, not {module!r}")
        if server.id in ids:
            raise InvalidInput("--servers", f"server {server.name!r} is given twice; name each server once")
        ids.append(server.id or 0)
    return ids


def edit_product(
    session: Session,
    actor: Actor,
    ref: str,
    *,
    name: str | None = None,
    prices: list[str] | None = None,
    max_renewals: str | None = None,
    config: list[str] | None = None,
    upgrade_to: list[str] | None = None,
    allow_customer_cancel: bool | None = None,
    servers: str | None = None,
    placement: str | None = None,
    overages: list[str] | None = None,
    customer_flags: dict[str, bool | None] | None = None,
) -> Product:
    require(actor, Role.OPERATOR, "editing a product")
    product = resolve_product(session, ref)
    overage_changes = overage.parse_overages(overages)
    before = _product_fields(session, product)
    if name is not None:
        new_name = parse.parse_text("--name", name, required=True) or ""
        clash = session.exec(select(Product).where(Product.name == new_name, Product.id != product.id)).first()
        if clash is not None:
            raise InvalidInput("--name", f"a product named {new_name!r} exists already")
        product.name = new_name
        session.execute(update(Service).where(col(Service.product_id) == product.id).values(product_name=product.name))
        session.execute(update(Service).where(col(Service.product_id) == product.id).values(search_text=search.search_text_sql(search.customer_email_sql())))
    for cycle, amount in parse_prices(prices).items():
        existing = product_price(session, product.id or 0, cycle.value)
        if existing is None:
            currency = next(iter(price.currency for price in prices_of(session, product.id or 0)), "EUR")
            session.add(ProductPrice(product_id=product.id or 0, billing_cycle=cycle.value, price=amount, currency=currency))
        else:
            existing.price = amount
            session.add(existing)
    if max_renewals is not None:
        product.max_renewals = parse.parse_optional_int("--max-renewals", max_renewals)
    if config:
        merged = dict(product.config)
        for key, value in parse.parse_key_values("--config", config).items():
            if value == "":
                merged.pop(key, None)
            else:
                merged[key] = parse_config_value(value)
        product.config = merged
    if upgrade_to is not None:
        product.upgrade_targets = _upgrade_target_ids(session, upgrade_to)
    if allow_customer_cancel is not None:
        product.allow_customer_cancel = allow_customer_cancel
    _set_customer_flags(product, customer_flags)
    if servers is not None:
        product.server_ids = _server_group(session, product.type, servers)
    if placement is not None:
        product.placement = _placement(placement)
    if overage_changes:
        product.overage = overage.merged(product.overage, overage_changes)
    session.add(product)
    session.flush()
    changed = activity.changed_fields(before, _product_fields(session, product))
    if changed:
        activity.record_change(session, actor, "product", product.id or 0, "edit", details=changed)
    return product


def _currency(text: str) -> str:
    value = (text or "").strip().upper()
    if len(value) != 3 or not value.isalpha():
        raise InvalidInput("--currency", f"{text!r} is not a currency code (three letters such as EUR)")
    return value


def prices_of(session: Session, product_id: int) -> list[ProductPrice]:
    return list(session.exec(select(ProductPrice).where(col(ProductPrice.product_id) == product_id).order_by(col(ProductPrice.id))).all())


def product_price(session: Session, product_id: int, cycle: str) -> ProductPrice | None:
    return session.exec(select(ProductPrice).where(ProductPrice.product_id == product_id, ProductPrice.billing_cycle == cycle)).first()


def _parse_url(field: str, text: str) -> str:
    value = (text or "").strip()
    parsed = urlparse(value)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise InvalidInput(field, f"{value!r} is not an http(s) URL (such as https://panel.example.com)")
    return value.rstrip("/")


def _apply_tls(config: dict[str, Any], tls_fingerprint: str | None, ca_file: str | None) -> dict[str, Any]:
    """`config` with the certificate trust set: a pinned SHA-256 fingerprint or a CA file ('' removes)."""
    merged = dict(config)
    if tls_fingerprint is not None:
        merged.pop("tls_fingerprint", None)
        if tls_fingerprint.strip():
            pinned = parse_fingerprint(tls_fingerprint)
            if pinned is None:
                raise InvalidInput("--tls-fingerprint", f"must be the certificate's SHA-256 fingerprint: {FINGERPRINT_FORMAT}")
            merged["tls_fingerprint"] = pinned
    if ca_file is not None:
        merged.pop("ca_file", None)
        if ca_file.strip():
            path = os.path.abspath(os.path.expanduser(ca_file.strip()))
            try:
                ssl.create_default_context(cafile=path)
            except (OSError, ssl.SSLError, ValueError):
                raise InvalidInput("--ca-file", f"{path!r} is not a readable PEM file of CA certificates") from None
            merged["ca_file"] = path
    if merged.get("tls_fingerprint") and merged.get("ca_file"):
        raise InvalidInput("--tls-fingerprint", "give either a pinned fingerprint or --ca-file, not both ('' removes one)")
    return merged


def add_server(
    session: Session,
    actor: Actor,
    *,
    name: str,
    module: str,
    url: str,
    credentials: str | None = None,
    node: str | None = None,
    capacity: str | int | None = None,
    config: list[str] | None = None,
    tls_fingerprint: str | None = None,
    ca_file: str | None = None,
    memory: str | int | None = None,
    disk: str | int | None = None,
) -> Server:
    require(actor, Role.OPERATOR, "adding a server")
    name = parse.parse_text("--name", name, required=True) or ""
    if session.exec(select(Server).where(Server.name == name)).first() is not None:
        raise InvalidInput("--name", f"a server named {name!r} exists already")
    server = Server(
        name=name,
        module=parse_module("--module", module),
        url=_parse_url("--url", url),
        credentials=encrypt(credentials) if credentials else None,
        node=parse.parse_text("--node", node) or None,
        capacity=parse.parse_optional_int("--capacity", capacity),
        memory_capacity=_megabytes("--memory", memory),
        disk_capacity=_megabytes("--disk", disk),
        config=_apply_tls(
            {key: parse_config_value(value) for key, value in parse.parse_key_values("--config", config).items()},
            tls_fingerprint,
            ca_file,
        ),
        created_at=clock.now(),
    )
    session.add(server)
    session.flush()
    activity.record_change(session, actor, "server", server.id or 0, "add", details=_server_fields(server))
    return server


def _server_fields(server: Server) -> dict[str, Any]:
    """A server's fields for its activity rows: whether it has credentials, never them."""
    return {
        "name": server.name,
        "module": server.module,
        "url": server.url,
        "node": server.node,
        "capacity": server.capacity,
        "memory_capacity": server.memory_capacity,
        "disk_capacity": server.disk_capacity,
        "enabled": server.enabled,
        "config": dict(server.config or {}),
        "has_credentials": bool(server.credentials),
    }


def edit_server(
    session: Session,
    actor: Actor,
    ref: str,
    *,
    name: str | None = None,
    url: str | None = None,
    credentials: str | None = None,
    node: str | None = None,
    capacity: str | None = None,
    enabled: bool | None = None,
    config: list[str] | None = None,
    tls_fingerprint: str | None = None,
    ca_file: str | None = None,
    memory: str | None = None,
    disk: str | None = None,
) -> Server:
    require(actor, Role.OPERATOR, "editing a server")
    server = resolve_server(session, ref)
    before = _server_fields(server)
    if name is not None:
        new_name = parse.parse_text("--name", name, required=True) or ""
        clash = session.exec(select(Server).where(Server.name == new_name, Server.id != server.id)).first()
        if clash is not None:
            raise InvalidInput("--name", f"a server named {new_name!r} exists already")
        server.name = new_name
        session.execute(update(Service).where(col(Service.server_id) == server.id).values(server_name=server.name))
    if url is not None:
        server.url = _parse_url("--url", url)
    if credentials is not None:
        server.credentials = encrypt(credentials) if credentials else None
    if node is not None:
        server.node = parse.parse_text("--node", node) or None
    if capacity is not None:
        server.capacity = parse.parse_optional_int("--capacity", capacity)
    if memory is not None:
        server.memory_capacity = _megabytes("--memory", memory)
    if disk is not None:
        server.disk_capacity = _megabytes("--disk", disk)
    if enabled is not None:
        server.enabled = enabled
    if config:
        merged = dict(server.config)
        for key, value in parse.parse_key_values("--config", config).items():
            if value == "":
                merged.pop(key, None)
            else:
                merged[key] = parse_config_value(value)
        server.config = merged
    if tls_fingerprint is not None or ca_file is not None:
        server.config = _apply_tls(server.config, tls_fingerprint, ca_file)
    session.add(server)
    changed: dict[str, Any] = activity.changed_fields(before, _server_fields(server))
    if credentials:
        changed["credentials"] = "replaced"
    if changed:
        activity.record_change(session, actor, "server", server.id or 0, "edit", details=changed)
    return server


def _megabytes(field: str, value: str | int | None) -> int | None:
    """A memory or disk cap in MiB ('' or none: the panel's own total is the limit)."""
    return parse.parse_optional_int(field, value, minimum=1)


def count_services_on(session: Session, server_id: int) -> int:
    return session.exec(select(func.count()).select_from(Service).where(Service.server_id == server_id)).one()
