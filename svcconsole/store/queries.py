"""The service list's queries: filters, keyset pages, counts and id streams.

Pages never use OFFSET: each page starts after the last row's sort key (a row-value
comparison on an index of (column, id)). Rows whose sort column is NULL come after the
others, fetched as a second segment ordered by id, so every sort stays on its index.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, tuple_
from sqlmodel import Session, col

from svcconsole.store import domains, search
from svcconsole.store.models import ProductPrice, Service


def special_price_condition() -> ColumnElement[bool]:
    """The service's price differs from its product's price for its cycle (BILLmanager's
    "special price"); one lookup on the unique (product_id, billing_cycle) index per row."""
    return exists().where(
        col(ProductPrice.product_id) == col(Service.product_id),
        col(ProductPrice.billing_cycle) == col(Service.billing_cycle),
        col(ProductPrice.price) != col(Service.price),
    )


DELETED = "deleted"
MAX_ID = 2**31 - 1
"""The largest id a table can hold (ids are 32-bit INTEGER columns on PostgreSQL)."""
ID_TERM = re.compile(r"[0-9]{1,10}")

SORT_COLUMNS: dict[str, Any] = {
    "id": Service.id,
    "customer": Service.customer_name,
    "name": Service.name_sort,
    "product": Service.product_name,
    "server": Service.server_name,
    "status": Service.status,
    "cycle": Service.cycle_rank,
    "price": Service.price,
    "expires": Service.expires_at,
    "domain": Service.domain_ascii,
}

LIST_COLUMNS = (
    Service.id,
    Service.uuid,
    Service.customer_id,
    Service.customer_name,
    Service.name,
    Service.product_id,
    Service.product_name,
    Service.server_id,
    Service.server_name,
    Service.type,
    Service.status,
    Service.suspend_kind,
    Service.operation,
    Service.placement_note,
    Service.billing_cycle,
    Service.price,
    Service.currency,
    Service.expires_at,
    Service.cancel_at,
    Service.auto_renew,
    Service.name_sort,
    Service.cycle_rank,
    Service.domain,
    Service.domain_ascii,
    Service.approval,
    special_price_condition().label("special_price"),
)


EXPORT_COLUMNS = (
    *LIST_COLUMNS,
    Service.suspend_reason,
    Service.suspended_at,
    Service.anchor_day,
    Service.initial_price,
    Service.created_at,
    Service.renewals,
    Service.cancel_mode,
)
"""What `services list --format json|csv` prints per service: the list's columns and a few more."""


@dataclass(frozen=True)
class ServiceFilter:
    """What the list shows; empty fields do not filter. Deleted services only when asked."""

    statuses: tuple[str, ...] = ()
    product_ids: tuple[int, ...] = ()
    server_ids: tuple[int, ...] = ()
    customer_ids: tuple[int, ...] = ()
    cycles: tuple[str, ...] = ()
    ids: tuple[int, ...] = ()
    search: str | None = None
    search_ids: tuple[int, ...] | None = None
    domain: str | None = None
    """A `domain:` term: services whose domain (as given or in punycode) contains it."""
    domain_ids: tuple[int, ...] | None = None
    special_price: bool | None = None
    """A `special:yes|no` term: services whose price differs (or not) from their product's."""
    customer_name: str | None = None
    expires_before: datetime | None = None
    expires_after: datetime | None = None
    expires_from: datetime | None = None
    types: tuple[str, ...] = ()
    scope_customer_id: int | None = None
    include_deleted: bool = False
    matches_nothing: bool = False
    terms: tuple[str, ...] = field(default=(), compare=False)

    def with_statuses(self, statuses: Sequence[str]) -> ServiceFilter:
        return replace(self, statuses=tuple(statuses))


@dataclass(frozen=True)
class Sort:
    column: str = "id"
    descending: bool = False


def conditions(service_filter: ServiceFilter) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a filter."""
    where: list[ColumnElement[bool]] = []
    if service_filter.matches_nothing:
        where.append(col(Service.id) < 0)
    if service_filter.scope_customer_id is not None:
        where.append(col(Service.customer_id) == service_filter.scope_customer_id)
    if service_filter.statuses:
        where.append(col(Service.status).in_(service_filter.statuses))
        if not service_filter.include_deleted and DELETED in service_filter.statuses and service_filter.scope_customer_id is not None:
            where.append(col(Service.status) != DELETED)
    elif not service_filter.include_deleted:
        where.append(col(Service.status) != DELETED)
    if service_filter.product_ids:
        where.append(col(Service.product_id).in_(service_filter.product_ids))
    if service_filter.server_ids:
        where.append(col(Service.server_id).in_(service_filter.server_ids))
    if service_filter.customer_ids:
        where.append(col(Service.customer_id).in_(service_filter.customer_ids))
    if service_filter.cycles:
        where.append(col(Service.billing_cycle).in_(service_filter.cycles))
    if service_filter.types:
        where.append(col(Service.type).in_(service_filter.types))
    if service_filter.ids:
        where.append(col(Service.id).in_(service_filter.ids))
    if service_filter.customer_name:
        where.append(func.lower(Service.customer_name).like(_like_prefix(service_filter.customer_name.lower()), escape="\\"))
    if service_filter.expires_before is not None:
        where.append(col(Service.expires_at) < service_filter.expires_before)
    if service_filter.expires_after is not None:
        where.append(col(Service.expires_at) > service_filter.expires_after)
    if service_filter.expires_from is not None:
        where.append(col(Service.expires_at) >= service_filter.expires_from)
    if service_filter.search:
        where.append(search_condition(service_filter.search, service_filter.search_ids))
    if service_filter.domain:
        where.append(domain_condition(service_filter.domain, service_filter.domain_ids))
    if service_filter.special_price is not None:
        where.append(special_price_condition() if service_filter.special_price else ~special_price_condition())
    return where


def _like_prefix(text: str) -> str:
    return search.escape_like(text) + "%"


def search_condition(text: str, ids: tuple[int, ...] | None = None) -> ColumnElement[bool]:
    """Free text over id, uuid, name, product, customer name and email (see `store.search`).

    `ids` are the matches the index found when the term is selective; without them the
    condition scans `search_text`, which the list's ordered scan answers quickly for broad terms.
    """
    term = text.strip().lower()
    match = col(Service.id).in_(ids) if ids is not None else col(Service.search_text).like(f"%{search.escape_like(term)}%", escape="\\")
    if ID_TERM.fullmatch(term) and int(term) <= MAX_ID:
        return or_(match, col(Service.id) == int(term))
    return match


def domain_condition(text: str, ids: tuple[int, ...] | None = None) -> ColumnElement[bool]:
    """Services whose domain contains `text`, as given or in its punycode form.

    Found through the search index like free text (the domain is part of `search_text`; `ids`
    are the index's matches when the term is selective), then checked on the domain itself.
    """
    term = text.strip().lower()
    pattern = f"%{search.escape_like(term)}%"
    indexed = col(Service.id).in_(ids) if ids is not None else col(Service.search_text).like(pattern, escape="\\")
    ascii_pattern = f"%{search.escape_like(domains.ascii_term(term))}%"
    on_domain = or_(func.lower(Service.domain).like(pattern, escape="\\"), col(Service.domain_ascii).like(ascii_pattern, escape="\\"))
    return and_(indexed, on_domain)


AnySelect = TypeVar("AnySelect", bound=Select[*tuple[Any, ...]])


def filtered(query: AnySelect, service_filter: ServiceFilter) -> AnySelect:
    where = conditions(service_filter)
    return query.where(and_(*where)) if where else query


def count(session: Session, service_filter: ServiceFilter) -> int:
    return session.execute(filtered(select(func.count()).select_from(Service), service_filter)).scalar_one()


def count_up_to(session: Session, service_filter: ServiceFilter, cap: int) -> int:
    """How many services match, counting no further than `cap` + 1 (quick at a million rows)."""
    matching = filtered(select(col(Service.id)), service_filter).limit(cap + 1).subquery()
    return session.execute(select(func.count()).select_from(matching)).scalar_one()


def counts_by_status(session: Session, service_filter: ServiceFilter) -> dict[str, int]:
    """How many services match the filter in each status (the filter's own statuses ignored)."""
    base = replace(service_filter, statuses=())
    query = filtered(select(col(Service.status), func.count()).select_from(Service), base).group_by(col(Service.status))
    return {status: total for status, total in session.execute(query).all()}


def sort_key(row: Any, sort: Sort) -> tuple[Any, int]:
    """The keyset position of a row (as returned by `page`) for the given sort."""
    if sort.column == "id":
        return (row.id, row.id)
    attribute = {
        "customer": "customer_name",
        "name": "name_sort",
        "product": "product_name",
        "server": "server_name",
        "cycle": "cycle_rank",
        "domain": "domain_ascii",
        "expires": "expires_at",
    }.get(sort.column, sort.column)
    return (getattr(row, attribute), row.id)


def page(
    session: Session,
    service_filter: ServiceFilter,
    sort: Sort = Sort(),
    *,
    after: tuple[Any, int] | None = None,
    limit: int = 50,
    columns: Sequence[Any] = LIST_COLUMNS,
) -> list[Any]:
    """Up to `limit` rows after the keyset position `after` (None = from the start)."""
    if sort.column not in SORT_COLUMNS:
        raise KeyError(sort.column)
    column = SORT_COLUMNS[sort.column]
    base = filtered(select(*columns), service_filter)
    if sort.column == "id":
        query = base
        if after is not None:
            query = query.where(col(Service.id) < after[1] if sort.descending else col(Service.id) > after[1])
        order = col(Service.id).desc() if sort.descending else col(Service.id).asc()
        return list(session.execute(query.order_by(order).limit(limit)).all())
    rows: list[Any] = []
    after_value, after_id = after if after is not None else (None, None)
    in_null_segment = after is not None and after_value is None
    if not in_null_segment:
        query = base.where(column.is_not(None))
        if after is not None:
            key, position = tuple_(column, Service.id), (after_value, after_id)
            query = query.where(key < position if sort.descending else key > position)
        if sort.descending:
            query = query.order_by(column.desc(), col(Service.id).desc())
        else:
            query = query.order_by(column.asc(), col(Service.id).asc())
        rows = list(session.execute(query.limit(limit)).all())
    if len(rows) < limit:
        query = base.where(column.is_(None))
        if in_null_segment:
            query = query.where(col(Service.id) < after_id if sort.descending else col(Service.id) > after_id)
        order = col(Service.id).desc() if sort.descending else col(Service.id).asc()
        rows += list(session.execute(query.order_by(order).limit(limit - len(rows))).all())
    return rows


def position_of(session: Session, service_filter: ServiceFilter, sort: Sort, service_id: int) -> int | None:
    """Where the service `service_id` is in the list's order (0 = first), None when the filter
    does not match it.

    Counted over the sort's index as two ranges, the values before the service's and its own value
    with a smaller id: a plain range count, which SQLite answers at about twice the speed of one
    row-value comparison per index entry.
    """
    column = SORT_COLUMNS[sort.column]
    found = session.execute(filtered(select(column), service_filter).where(col(Service.id) == service_id)).first()
    if found is None:
        return None
    counted = filtered(select(func.count()).select_from(Service), service_filter)
    id_before = col(Service.id) > service_id if sort.descending else col(Service.id) < service_id
    if sort.column == "id":
        return session.execute(counted.where(id_before)).scalar_one()
    value = found[0]
    if value is None:
        non_null = session.execute(counted.where(column.is_not(None))).scalar_one()
        return non_null + session.execute(counted.where(column.is_(None), id_before)).scalar_one()
    value_before = column > value if sort.descending else column < value
    earlier_values = session.execute(counted.where(value_before)).scalar_one()
    return earlier_values + session.execute(counted.where(column == value, id_before)).scalar_one()


def iter_ids(session: Session, service_filter: ServiceFilter, *, batch: int = 5000, limit: int | None = None) -> Iterator[int]:
    """Every matching id in id order, fetched in keyset batches (never all rows at once)."""
    last = 0
    produced = 0
    while True:
        size = batch if limit is None else min(batch, limit - produced)
        if size <= 0:
            return
        query = filtered(select(col(Service.id)), service_filter).where(col(Service.id) > last).order_by(col(Service.id)).limit(size)
        ids = list(session.execute(query).scalars().all())
        if not ids:
            return
        yield from ids
        produced += len(ids)
        last = ids[-1]
        if len(ids) < size:
            return


def missing_ids(session: Session, ids: Sequence[int]) -> list[int]:
    """The ids in `ids` that name no service."""
    wanted = list(dict.fromkeys(ids))
    found: set[int] = set()
    for offset in range(0, len(wanted), 500):
        chunk = wanted[offset : offset + 500]
        found.update(session.execute(select(col(Service.id)).where(col(Service.id).in_(chunk))).scalars().all())
    return [identifier for identifier in wanted if identifier not in found]
