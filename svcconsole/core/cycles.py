"""Billing cycles and their date math, anchored on the service's day of the month.

Months are added with `dateutil.relativedelta` to the local wall-clock expiry, then the day is
put back to the anchor day (or the month's last day), so month ends do not drift:
monthly from Jan 31 gives Feb 28 (29), Mar 31, Apr 30.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta


class BillingCycle(StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUALLY = "semiannually"
    ANNUALLY = "annually"
    BIENNIALLY = "biennially"
    TRIENNIALLY = "triennially"
    ONETIME = "onetime"
    FREE = "free"


MONTHS_PER_CYCLE: dict[BillingCycle, int] = {
    BillingCycle.MONTHLY: 1,
    BillingCycle.QUARTERLY: 3,
    BillingCycle.SEMIANNUALLY: 6,
    BillingCycle.ANNUALLY: 12,
    BillingCycle.BIENNIALLY: 24,
    BillingCycle.TRIENNIALLY: 36,
}

PER_UNIT: dict[BillingCycle, str] = {
    BillingCycle.WEEKLY: "week",
    BillingCycle.MONTHLY: "month",
    BillingCycle.QUARTERLY: "quarter",
    BillingCycle.SEMIANNUALLY: "6 months",
    BillingCycle.ANNUALLY: "year",
    BillingCycle.BIENNIALLY: "2 years",
    BillingCycle.TRIENNIALLY: "3 years",
    BillingCycle.ONETIME: "once",
    BillingCycle.FREE: "free",
}

RECURRING: tuple[BillingCycle, ...] = (BillingCycle.WEEKLY, *MONTHS_PER_CYCLE)


def is_recurring(cycle: str) -> bool:
    return cycle in RECURRING


def _on_anchor(moment: datetime, anchor_day: int | None) -> datetime:
    if anchor_day is None:
        return moment
    last = calendar.monthrange(moment.year, moment.month)[1]
    return moment.replace(day=min(anchor_day, last))


def _local_naive(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def _from_local_naive(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.replace(tzinfo=tz).astimezone(UTC)


def shift(expiry: datetime, cycle: str, cycles: int, anchor_day: int | None, tz: ZoneInfo) -> datetime:
    """`expiry` moved by `cycles` billing cycles (negative moves back), on the anchor day."""
    billing = BillingCycle(cycle)
    if billing not in RECURRING:
        raise ValueError(f"a {billing.value} service has no cycles to move by")
    local = _local_naive(expiry, tz)
    if billing is BillingCycle.WEEKLY:
        moved = local + timedelta(weeks=cycles)
    else:
        moved = _on_anchor(local + relativedelta(months=MONTHS_PER_CYCLE[billing] * cycles), anchor_day)
    return _from_local_naive(moved, tz)


def shift_days(expiry: datetime, days: int, tz: ZoneInfo) -> datetime:
    """`expiry` moved by whole local days (keeps the wall-clock time across DST)."""
    return _from_local_naive(_local_naive(expiry, tz) + timedelta(days=days), tz)


def anchor_day_of(expiry: datetime | None, tz: ZoneInfo) -> int | None:
    return expiry.astimezone(tz).day if expiry is not None else None


def cycle_length(expiry: datetime, cycle: str, anchor_day: int | None, tz: ZoneInfo) -> timedelta:
    """The length of the period that ends at `expiry` (for proration)."""
    return expiry - shift(expiry, cycle, -1, anchor_day, tz)
