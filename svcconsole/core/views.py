"""Records as plain dicts with the snake_case keys of SPEC.md section 2, for JSON and CSV.

Times are ISO 8601 UTC strings, money is a string, secrets never appear.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from svcconsole.store.models import CUSTOMER_FLAGS, Activity, Customer, Job, Product, ProductPrice, Renewal, Server, ServiceOption

SERVICE_FIELDS = (
    "id",
    "uuid",
    "name",
    "customer_id",
    "customer",
    "product_id",
    "product",
    "server_id",
    "server",
    "type",
    "status",
    "operation",
    "suspend_kind",
    "suspend_reason",
    "suspended_at",
    "billing_cycle",
    "anchor_day",
    "price",
    "initial_price",
    "currency",
    "created_at",
    "expires_at",
    "auto_renew",
    "renewals",
    "max_renewals",
    "cancel_mode",
    "cancel_at",
    "cancel_reason",
    "cancelled_at",
    "terminated_at",
    "deleted_at",
    "description",
    "notes",
    "external",
    "delivery_attempts",
    "last_error",
    "version",
    "updated_at",
    "updated_by",
    "domain",
    "approval",
    "placement_note",
)


LIST_FIELDS = (*SERVICE_FIELDS[:24], "cancel_mode", "cancel_at", "domain", "approval", "placement_note")
"""The keys of a service in `services list --format json|csv` (the rows of `queries.EXPORT_COLUMNS`)."""


def plain(value: Any) -> Any:
    """A JSON-ready value: datetimes as ISO UTC with Z, Decimals as strings."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


def csv_value(value: Any) -> str:
    """A value as its CSV cell, written as JSON writes it (true / false, objects as JSON); None is empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def json_record(record: dict[str, Any]) -> str:
    """A record as one line of JSON, as `--format json` lists print each."""
    return json.dumps(record, ensure_ascii=False, default=str)


SERVICE_ATTRIBUTES = tuple((key, {"customer": "customer_name", "product": "product_name", "server": "server_name"}.get(key, key)) for key in SERVICE_FIELDS)
"""Each record key and the attribute (or list row column) it is read from."""


def service_dict(service: Any) -> dict[str, Any]:
    """A service (ORM row or list row) as a dict; list rows carry fewer fields."""
    mapping = getattr(service, "_mapping", None)
    if mapping is not None:  # a list row: its columns by name, without a failed lookup per missing field
        return {key: plain(mapping[column]) for key, column in SERVICE_ATTRIBUTES if column in mapping}
    result: dict[str, Any] = {}
    for key, attribute in SERVICE_ATTRIBUTES:
        if hasattr(service, attribute):
            result[key] = plain(getattr(service, attribute))
    return result


def customer_dict(customer: Customer) -> dict[str, Any]:
    return {key: plain(getattr(customer, key)) for key in ("id", "name", "email", "company", "notes", "created_at", "locale")}


def product_dict(product: Product, prices: list[ProductPrice]) -> dict[str, Any]:
    result = {
        key: plain(getattr(product, key))
        for key in (
            "id",
            "name",
            "type",
            "config",
            "max_renewals",
            "allow_customer_cancel",
            "upgrade_targets",
            "server_ids",
            "placement",
            "overage",
            "created_at",
        )
    }
    result |= {flag: bool(getattr(product, flag)) for flag in CUSTOMER_FLAGS}
    result["prices"] = [
        {"billing_cycle": price.billing_cycle, "price": plain(price.price), "setup_fee": plain(price.setup_fee), "currency": price.currency} for price in prices
    ]
    return result


def server_dict(server: Server, services: int | None = None, used: int | None = None) -> dict[str, Any]:
    """A server without its credentials (only whether it has some); `used` as 'used / capacity'."""
    keys = ("id", "name", "module", "url", "node", "capacity", "memory_capacity", "disk_capacity", "enabled", "config", "created_at")
    result = {key: plain(getattr(server, key)) for key in keys}
    result["has_credentials"] = bool(server.credentials)
    if services is not None:
        result["services"] = services
    if used is not None:
        result["used"] = f"{used} / {server.capacity if server.capacity is not None else '-'}"
    return result


def activity_dict(row: Activity) -> dict[str, Any]:
    return {
        key: plain(getattr(row, key)) for key in ("id", "service_id", "at", "actor_kind", "actor", "action", "from_status", "to_status", "reason", "details")
    }


def option_dict(option: ServiceOption) -> dict[str, Any]:
    return {key: plain(getattr(option, key)) for key in ("id", "service_id", "name", "value", "quantity", "price", "expires_at", "created_at")}


def renewal_dict(renewal: Renewal) -> dict[str, Any]:
    return {
        key: plain(getattr(renewal, key))
        for key in ("id", "service_id", "period_start", "period_end", "billing_cycle", "cycles", "amount", "invoice_id", "renewed_at", "actor")
    }


def job_dict(job: Job) -> dict[str, Any]:
    return {
        key: plain(getattr(job, key))
        for key in (
            "id",
            "service_id",
            "server_id",
            "operation",
            "action",
            "status",
            "attempts",
            "max_attempts",
            "last_error",
            "next_attempt_at",
            "actor",
            "created_at",
            "updated_at",
            "bulk_run_id",
        )
    }
