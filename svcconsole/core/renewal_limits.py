"""The renewal limits in force on a service, and where each comes from (SPEC.md section 4).

A limit is the service's own `max_renewals` field (set from the product when the service was
created, or by edit) or one of the metadata keys `max_renewals`, `max_renewals_in_current_month`
and `max_renewals_in_current_week`. Every one of them applies; `services.renewal_limit_reached`
refuses a renewal that would pass any of them, and the console shows them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from svcconsole.core import clock
from svcconsole.store.models import Renewal, Service, ServiceMeta

RENEWAL_LIMIT_KEYS = ("max_renewals", "max_renewals_in_current_month", "max_renewals_in_current_week")
PERIOD_LABELS = {"max_renewals_in_current_month": "this month", "max_renewals_in_current_week": "this week"}


@dataclass(frozen=True)
class RenewalLimit:
    """One limit: its key, the number allowed, the renewals it counts so far, and its source."""

    key: str
    limit: int
    used: int
    from_metadata: bool

    @property
    def source(self) -> str:
        """Where the limit is set, as people read it: "metadata max_renewals" or "the service's max renewals"."""
        return f"metadata {self.key}" if self.from_metadata else "the service's max renewals"

    @property
    def period(self) -> str | None:
        """ "this month" or "this week" for a limit per period, None for a limit over the service's life."""
        return PERIOD_LABELS.get(self.key)

    def would_pass(self, cycles_wanted: int) -> bool:
        return self.used + cycles_wanted > self.limit


def whole_number(text: str) -> int | None:
    try:
        return int(str(text).strip())
    except ValueError:
        return None


def period_start(key: str, tz: ZoneInfo) -> datetime:
    local_now = clock.now().astimezone(tz)
    if key == "max_renewals_in_current_month":
        return local_now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (local_now - timedelta(days=local_now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


def limits_in_force(session: Session, service: Service, tz: ZoneInfo) -> list[RenewalLimit]:
    """Every renewal limit on `service`, the field first, then the metadata in key order
    (a metadata value that is not a whole number sets no limit)."""
    done = service.renewals or 0
    limits: list[RenewalLimit] = []
    if service.max_renewals is not None:
        limits.append(RenewalLimit("max_renewals", service.max_renewals, done, from_metadata=False))
    meta = {
        row.key: row.value
        for row in session.exec(select(ServiceMeta).where(col(ServiceMeta.service_id) == service.id, col(ServiceMeta.key).in_(RENEWAL_LIMIT_KEYS))).all()
    }
    for key in RENEWAL_LIMIT_KEYS:
        limit = whole_number(meta[key]) if key in meta else None
        if limit is None:
            continue
        if key == "max_renewals":
            used = done
        else:
            used = session.exec(
                select(func.coalesce(func.sum(Renewal.cycles), 0)).where(Renewal.service_id == service.id, Renewal.renewed_at >= period_start(key, tz))
            ).one()
        limits.append(RenewalLimit(key, limit, int(used), from_metadata=True))
    return limits


def refusal(limit: RenewalLimit) -> str:
    """Why a renewal past `limit` is refused."""
    if limit.period is not None:
        return f"limit metadata {limit.key}={limit.limit} reached ({limit.used} renewals {limit.period})"
    prefix = "metadata " if limit.from_metadata else ""
    return f"limit {prefix}max_renewals={limit.limit} reached ({limit.used} renewals so far)"


def summary(renewals: int, limits: list[RenewalLimit]) -> str:
    """The renewals done and the limits in force: "14 of 3 (metadata max_renewals) · 1 of 1 this month (...)"."""
    lifetime = [limit for limit in limits if limit.period is None]
    if lifetime:
        tightest = min(lifetime, key=lambda limit: limit.limit)
        parts = [f"{renewals} of {tightest.limit} ({tightest.source})"]
    else:
        parts = [f"{renewals} of unlimited"]
    parts += [f"{limit.used} of {limit.limit} {limit.period} ({limit.source})" for limit in limits if limit.period is not None]
    return " · ".join(parts)
