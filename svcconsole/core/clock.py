"""The one clock core reads, so tests, snapshots and `automation run --at` can set the time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

NOW_ENV = "SVCCONSOLE_NOW"

_frozen: datetime | None = None


def now() -> datetime:
    """The current time, aware and in UTC."""
    if _frozen is not None:
        return _frozen
    forced = os.environ.get(NOW_ENV)
    if forced:
        return as_utc(datetime.fromisoformat(forced))
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime (naive values are taken to be UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def freeze(moment: datetime | None) -> None:
    """Stop the clock at `moment` (None starts it again)."""
    global _frozen
    _frozen = as_utc(moment) if moment is not None else None


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    previous = _frozen
    freeze(moment)
    try:
        yield
    finally:
        freeze(previous)
