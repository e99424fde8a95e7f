"""Metered resources and their overage: what a product includes, what each unit beyond costs.

A product declares a metric as `METRIC=INCLUDED:PRICE` (`--overage traffic_gb=100:0.05`: 100 GB
included, 0.05 per GB beyond). The overage cost of a period is, per metric,
`max(0, used - included) x price`, rounded half-up to the cent, and the service's overage is
the sum over its metrics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from svcconsole.core.errors import InvalidInput

METRICS: dict[str, str] = {
    "traffic_gb": "network traffic in and out, in GB (10^9 bytes)",
    "disk_gb": "disk used, in GB (10^9 bytes): the highest reading of the period",
}
"""The metrics a product may meter, and what each counts."""

FIELD = "--overage"
CENT = Decimal("0.01")
QUANTUM = Decimal("0.001")
MAX_AMOUNT = Decimal("1000000000")
NUMBER = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,6})?$")
SHAPE = f"METRIC=INCLUDED:PRICE such as traffic_gb=100:0.05 (metrics: {', '.join(METRICS)})"


@dataclass(frozen=True)
class Rate:
    """One metered resource of a product: the amount included in the price and the price of each unit beyond."""

    metric: str
    included: Decimal
    price: Decimal

    def as_json(self) -> dict[str, str]:
        return {"included": str(self.included), "price": str(self.price)}


def parse_metric(field: str, text: str) -> str:
    metric = (text or "").strip().lower()
    if metric not in METRICS:
        raise InvalidInput(field, f"{text!r} is not a metric (use {', '.join(METRICS)})")
    return metric


def parse_amount(field: str, text: str, what: str = "an amount") -> Decimal:
    """A non-negative number with at most 3 decimals (a quantity of a metric)."""
    value = str(text).strip()
    if not NUMBER.match(value):
        raise InvalidInput(field, f"{text!r} is not {what} (a number such as 12.5, not negative)")
    amount = Decimal(value)
    if amount != amount.quantize(QUANTUM) or amount > MAX_AMOUNT:
        raise InvalidInput(field, f"{text!r} is not {what} (at most 3 decimals and {MAX_AMOUNT})")
    return amount


def _price(text: str) -> Decimal:
    value = text.strip()
    if not NUMBER.match(value) or len(value.partition(".")[2]) > 4:
        raise InvalidInput(FIELD, f"{text!r} is not a price per unit (a number with at most 4 decimals, such as 0.05)")
    return Decimal(value)


def parse_overages(pairs: list[str] | None) -> dict[str, dict[str, str] | None]:
    """`--overage METRIC=INCLUDED:PRICE` options, each metric at most once; `METRIC=` (nothing
    after the equals sign) removes it (None)."""
    parsed: dict[str, dict[str, str] | None] = {}
    for pair in pairs or []:
        name, sep, rest = str(pair).partition("=")
        if not sep:
            raise InvalidInput(FIELD, f"{pair!r} is not {SHAPE}")
        metric = parse_metric(FIELD, name)
        if metric in parsed:
            raise InvalidInput(FIELD, f"{metric} is given twice; give each metric once")
        if rest.strip() == "":
            parsed[metric] = None
            continue
        included_text, colon, price_text = rest.partition(":")
        if not colon:
            raise InvalidInput(FIELD, f"{pair!r} is not {SHAPE}")
        included = parse_amount(FIELD, included_text, "an included amount")
        parsed[metric] = Rate(metric, included, _price(price_text)).as_json()
    return parsed


def merged(current: dict[str, Any] | None, changes: dict[str, dict[str, str] | None]) -> dict[str, Any]:
    """A product's overage declaration with `changes` applied (None removes a metric)."""
    result = dict(current or {})
    for metric, value in changes.items():
        if value is None:
            result.pop(metric, None)
        else:
            result[metric] = value
    return result


def rates_of(declared: dict[str, Any] | None) -> dict[str, Rate]:
    """The rates a product's stored `overage` declares (a value stored wrong is left out)."""
    rates: dict[str, Rate] = {}
    for metric, value in (declared or {}).items():
        if metric not in METRICS or not isinstance(value, dict):
            continue
        try:
            rates[metric] = Rate(metric, Decimal(str(value.get("included", "0"))), Decimal(str(value.get("price", "0"))))
        except (InvalidOperation, ValueError):
            continue
    return rates


def over(used: Decimal, included: Decimal) -> Decimal:
    """The units used beyond the included amount (never negative)."""
    return max(Decimal("0"), Decimal(used) - Decimal(included))


def cost(used: Decimal, rate: Rate | None) -> Decimal:
    """What the units beyond `rate.included` cost, rounded half-up to the cent (0.00 without a rate)."""
    if rate is None:
        return Decimal("0.00")
    return (over(used, rate.included) * rate.price).quantize(CENT, rounding=ROUND_HALF_UP)


def describe(rates: dict[str, Rate]) -> str:
    """`traffic_gb 100 included, 0.05 per unit beyond` for each metric, or `-`."""
    return "; ".join(f"{rate.metric} {rate.included} included, {rate.price} per unit beyond" for rate in rates.values()) or "-"
