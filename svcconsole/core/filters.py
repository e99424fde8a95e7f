"""The filter language of the list (`/` in the console, the list options in the CLI).

Free text plus `key:value` terms: `status:active,suspended product:"Paper 4GB" server:node-1
customer:alice@example.com cycle:monthly type:pterodactyl id:12 domain:example.org expires<7d
expires>2027-01-01`.
`expires<7d` means "expires within 7 days from now"; `expires<0d` lists the ones already expired.
Both front ends build their `ServiceFilter` here, so a term means the same everywhere.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from svcconsole.core import clock, parse
from svcconsole.core.errors import InvalidInput, NotFound
from svcconsole.core.statuses import Status
from svcconsole.modules import is_module, module_names
from svcconsole.store import search
from svcconsole.store.models import Customer, Product, Server
from svcconsole.store.queries import ServiceFilter

KEYS = ("status", "product", "server", "customer", "cycle", "type", "id", "domain", "special")
EXPIRES_TERM = re.compile(r"^expires([<>])(.+)$", re.IGNORECASE)
TERM = re.compile(r"^([A-Za-z]+):(.*)$")
FILTER_HELP = (
    "free text (name, customer, email, product, id, uuid, domain) and terms: status:active,suspended "
    "product:NAME server:NAME customer:ID|EMAIL|NAME cycle:monthly type:MODULE id:12 domain:PART special:yes (price differs from the product's) expires<7d (within 7 days) expires<0d (already expired) expires>2027-01-01"
)


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def parse_statuses(field: str, text: str) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(item.strip().lower() for item in text.split(",") if item.strip()))
    known = {status.value for status in Status}
    for value in values:
        if value not in known:
            raise InvalidInput(field, f"{value!r} is not a status ({', '.join(sorted(known))})")
    return values


def parse_cycles(field: str, text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(parse.parse_cycle(field, item).value for item in text.split(",") if item.strip()))


def parse_types(field: str, text: str) -> tuple[str, ...]:
    values = tuple(item.strip().lower() for item in text.split(",") if item.strip())
    for value in values:
        if not is_module(value):
            raise InvalidInput(field, f"{value!r} is not a module ({', '.join(module_names())})")
    return values


def _ids_by_name(session: Session, model: type[Product] | type[Server], text: str) -> tuple[int, ...]:
    """Ids of the products or servers a comma-separated list names: ids, exact names, else name prefixes."""
    ids: list[int] = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        if parse.looks_like_id(item):
            ids.append(int(item))
            continue
        lowered = item.lower()
        matches = session.execute(select(col(model.id)).where(func.lower(model.name) == lowered)).scalars().all()
        if not matches:
            matches = session.execute(select(col(model.id)).where(func.lower(model.name).like(f"{lowered}%"))).scalars().all()
        ids.extend(matches)
    return tuple(dict.fromkeys(ids))


def _product_ids(session: Session, text: str) -> tuple[int, ...]:
    return _ids_by_name(session, Product, text)


def _server_ids(session: Session, text: str) -> tuple[int, ...]:
    return _ids_by_name(session, Server, text)


def _customer_filter(session: Session, service_filter: ServiceFilter, text: str) -> ServiceFilter:
    value = text.strip()
    if parse.looks_like_id(value):
        return replace(service_filter, customer_ids=(*service_filter.customer_ids, int(value)))
    if "@" in value:
        ids = session.execute(select(col(Customer.id)).where(or_(col(Customer.email) == value.lower()))).scalars().all()
        if not ids:
            return replace(service_filter, matches_nothing=True)
        return replace(service_filter, customer_ids=service_filter.customer_ids + tuple(ids))
    return replace(service_filter, customer_name=value)


def is_span(text: str) -> bool:
    """Whether `text` is a span from now (`7d`, `12h`, `0d`) rather than a date."""
    return re.fullmatch(r"[0-9]+[hdwm]?", text.strip()) is not None


def parse_when(field: str, text: str, *, tz_name: str = "UTC") -> datetime:
    """`7d` (from now) or a date."""
    value = text.strip()
    if is_span(value):
        return clock.now() + parse.parse_duration(field, value)
    from zoneinfo import ZoneInfo

    return parse.parse_date(field, value, ZoneInfo(tz_name))


def within_span(service_filter: ServiceFilter, field: str, span: str) -> ServiceFilter:
    """Services that expire within `span` from now (not the ones already expired); a span of
    zero (`0d`) means the ones already past their expiry."""
    now = clock.now()
    end = now + parse.parse_duration(field, span)
    if end == now:
        return replace(service_filter, expires_before=now)
    return replace(service_filter, expires_before=end, expires_from=now)


def _with_expiry_term(service_filter: ServiceFilter, operator: str, value: str, tz_name: str) -> ServiceFilter:
    """`expires<7d` (within 7 days from now), `expires<0d` (already expired), `expires<DATE`
    (before that date, past ones included) and `expires>7d` / `expires>DATE`."""
    if operator == "<" and is_span(value):
        return within_span(service_filter, "expires", value)
    moment = parse_when("expires", value, tz_name=tz_name)
    if operator == "<":
        return replace(service_filter, expires_before=moment)
    return replace(service_filter, expires_after=moment)


def parse_filter(session: Session, text: str, *, base: ServiceFilter | None = None, tz_name: str = "UTC") -> ServiceFilter:
    """The `ServiceFilter` a filter line means; unknown keys and bad values raise InvalidInput."""
    service_filter = base or ServiceFilter()
    if "\x00" in (text or ""):
        raise InvalidInput("filter", "NUL characters are not accepted")
    free: list[str] = []
    terms: list[str] = []
    for token in _split(text or ""):
        expires = EXPIRES_TERM.match(token)
        if expires:
            service_filter = _with_expiry_term(service_filter, expires.group(1), expires.group(2), tz_name)
            terms.append(token)
            continue
        term = TERM.match(token)
        if not term:
            free.append(token)
            continue
        key, value = term.group(1).lower(), term.group(2)
        if key not in KEYS:
            raise InvalidInput("filter", f"unknown key {key!r} (known: {', '.join(KEYS)}, expires<7d)")
        if not value.strip():
            raise InvalidInput("filter", f"{key}: needs a value")
        terms.append(token)
        if key == "status":
            statuses = parse_statuses("status", value)
            asks_deleted = Status.DELETED.value in statuses
            service_filter = replace(service_filter, statuses=statuses, include_deleted=service_filter.include_deleted or asks_deleted)
        elif key == "cycle":
            service_filter = replace(service_filter, cycles=parse_cycles("cycle", value))
        elif key == "type":
            service_filter = replace(service_filter, types=parse_types("type", value))
        elif key == "id":
            ids = tuple(parse.parse_id("id", item) for item in value.split(",") if item.strip())
            service_filter = replace(service_filter, ids=ids)
        elif key == "product":
            ids = _product_ids(session, value)
            service_filter = replace(service_filter, product_ids=ids, matches_nothing=service_filter.matches_nothing or not ids)
        elif key == "server":
            ids = _server_ids(session, value)
            service_filter = replace(service_filter, server_ids=ids, matches_nothing=service_filter.matches_nothing or not ids)
        elif key == "customer":
            service_filter = _customer_filter(session, service_filter, value)
        elif key == "domain":
            service_filter = with_domain(session, service_filter, value)
        elif key == "special":
            service_filter = replace(service_filter, special_price=parse.parse_bool("special", value))
    return with_search(session, replace(service_filter, terms=tuple(terms)), " ".join(free))


def with_search(session: Session, service_filter: ServiceFilter, text: str | None, *, field: str = "search") -> ServiceFilter:
    """The filter with its free text, and the index's matches when the term is selective.

    A term of digits alone is an id, so one that cannot be an id is refused, however long.
    """
    term = (text or "").strip()
    if not term:
        return replace(service_filter, search=None, search_ids=None)
    if term.isdigit() and not parse.looks_like_id(term):
        raise InvalidInput(field, f"{term!r} is a number but not an id (1 to {parse.MAX_ID}, digits 0-9); search for it within other text")
    return replace(service_filter, search=term, search_ids=search.matching_ids(session, term.lower()))


def with_domain(session: Session, service_filter: ServiceFilter, text: str, *, field: str = "domain") -> ServiceFilter:
    """The filter narrowed to services whose domain (as given or in punycode) contains `text`."""
    term = (parse.parse_text(field, text, required=True, max_length=253) or "").lower()
    return replace(service_filter, domain=term, domain_ids=search.matching_ids(session, term))


def build_filter(
    session: Session,
    *,
    status: str | None = None,
    product: str | None = None,
    server: str | None = None,
    customer: str | None = None,
    cycle: str | None = None,
    search: str | None = None,
    domain: str | None = None,
    expiring_within: str | None = None,
    include_deleted: bool = False,
) -> ServiceFilter:
    """The filter the CLI list options mean (the same terms as the console's filter line)."""
    text = search
    service_filter = ServiceFilter(include_deleted=include_deleted)
    if status:
        service_filter = replace(service_filter, statuses=parse_statuses("--status", status))
    if cycle:
        service_filter = replace(service_filter, cycles=parse_cycles("--cycle", cycle))
    if product:
        ids = _product_ids(session, product)
        if not ids:
            raise NotFound(f"--product: no product with id or name {product!r}")
        service_filter = replace(service_filter, product_ids=ids)
    if server:
        ids = _server_ids(session, server)
        if not ids:
            raise NotFound(f"--server: no server with id or name {server!r}")
        service_filter = replace(service_filter, server_ids=ids)
    if customer:
        service_filter = _customer_filter(session, service_filter, customer)
        if service_filter.matches_nothing:
            raise NotFound(f"--customer: no customer with email {customer!r}")
    if expiring_within:
        service_filter = within_span(service_filter, "--expiring-within", expiring_within)
    if domain is not None:
        service_filter = with_domain(session, service_filter, domain, field="--domain")
    if text is not None:
        parse.parse_text("--search", text, max_length=200)
        service_filter = with_search(session, service_filter, text, field="--search")
    return service_filter
