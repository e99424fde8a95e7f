"""A token bucket kept in the database, so a panel's rate limit holds across hosts.

Each call reserves one token in a short transaction that locks the bucket's row, then sleeps
outside it until its slot comes; workers on several hosts thus share one bucket per
credential. Wall-clock time is used (not the core clock, which tests may stop).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from svcconsole.modules import ratelimits
from svcconsole.store.engine import Database
from svcconsole.store.models import RateBucket


class DatabaseTokenBucket:
    """The same spacing as the in-process bucket, with its state in the `rate_bucket` table."""

    def __init__(self, db: Database, key: str, limit: int, window: float) -> None:
        self.db = db
        self.key = key
        self.limit, self.window = 0, window
        self.burst, self.rate = 1, 1.0
        self.set_rate(limit, window)

    def set_rate(self, limit: int, window: float) -> None:
        """Follow a changed panel limit (calls per window); the stored tokens are kept, capped at the new burst."""
        self.limit, self.window = limit, window
        self.burst = max(1, min(int(limit / window), limit // 4))
        self.rate = max(limit - self.burst, 1) / (window + window / 60)

    def _reserve(self, session: Session) -> float:
        now = datetime.now(UTC)
        bucket = self._locked(session)
        if bucket is None:
            self._create(session, now)
            bucket = self._locked(session)
            assert bucket is not None
        elapsed = max((now - bucket.updated_at).total_seconds(), 0.0)
        tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate) - 1.0
        bucket.tokens, bucket.updated_at = tokens, now
        session.add(bucket)
        return 0.0 if tokens >= 0 else -tokens / self.rate

    def _locked(self, session: Session) -> RateBucket | None:
        return session.exec(select(RateBucket).where(RateBucket.key == self.key).with_for_update()).first()

    def _create(self, session: Session, now: datetime) -> None:
        """Insert the bucket full unless another worker just did (workers start together)."""
        dialect = postgresql if self.db.is_postgresql else sqlite
        row = {"key": self.key, "tokens": float(self.burst), "updated_at": now}
        session.execute(dialect.insert(RateBucket.__table__).values(**row).on_conflict_do_nothing(index_elements=["key"]))  # type: ignore[attr-defined]  # SQLModel does not declare __table__ on table models

    def acquire(self) -> float:
        """Take one token, sleeping until it is available; returns the seconds waited."""
        wait = self.db.transaction(self._reserve)
        if wait > 0:
            time.sleep(wait)
        return wait


def install(db: Database) -> None:
    """Share panel rate limits through `db` (PostgreSQL); SQLite keeps in-process buckets.

    The limiter is set in `modules.ratelimits`, so that a command that calls no panel never loads the HTTP client.
    """
    if db.is_postgresql:
        ratelimits.set_rate_limiter_factory(lambda key, limit, window: DatabaseTokenBucket(db, key, limit, window))
    else:
        ratelimits.set_rate_limiter_factory(None)
