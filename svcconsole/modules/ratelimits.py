"""Per-credential rate limits for the panels: token buckets in this process, or a limiter the
core shares through the database (PostgreSQL).

Apart from `modules.http` so that setting the shared limiter at start imports no HTTP client.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Protocol

WINDOW_SECONDS = 60.0


class RateLimiter(Protocol):
    """Something that blocks until one more call is allowed."""

    def acquire(self) -> float:
        """Wait for a slot; return the seconds waited."""

    def set_rate(self, limit: int, window: float) -> None:
        """Follow a changed limit (calls per window)."""


class TokenBucket:
    """Spaces calls so that no window of `window` seconds, wherever it starts, holds more than
    `limit` of them.

    The bucket holds a second's worth of tokens (at most a quarter of the limit) and refills at
    `(limit - burst) / (window + window / 60)`, so any window sees at most `limit` calls even
    when requests reach the panel up to a sixtieth of the window (1 s a minute) later than
    they left. Callers reserve slots in order and sleep outside the lock, so many threads
    share one bucket fairly.
    """

    def __init__(self, limit: int, window: float = WINDOW_SECONDS) -> None:
        self._lock = threading.Lock()
        self.limit = 0
        self.window = window
        self.burst = 1
        self.rate = 1.0
        self._tokens = 0.0
        self._updated = time.monotonic()
        self.set_rate(limit, window)
        self._tokens = float(self.burst)

    def set_rate(self, limit: int, window: float = WINDOW_SECONDS) -> None:
        """Change the limit (calls per window) without losing the bucket's current state."""
        with self._lock:
            if (limit, window) == (self.limit, self.window):
                return
            self.limit, self.window = limit, window
            self.burst = max(1, min(int(limit / window), limit // 4))
            self.rate = max(limit - self.burst, 1) / (window + window / 60)
            self._tokens = min(self._tokens, float(self.burst))

    def acquire(self) -> float:
        """Take one token, sleeping until it is available; returns the seconds waited."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait > 0:
            time.sleep(wait)
        return wait


RateLimiterFactory = Callable[[str, int, float], RateLimiter]

_limiters: dict[str, RateLimiter] = {}
_limiters_lock = threading.Lock()
_limiter_factory: RateLimiterFactory | None = None


def set_rate_limiter_factory(factory: RateLimiterFactory | None) -> None:
    """Replace the in-process token buckets (e.g. by a limiter shared through the database).

    `factory(key, limit, window_seconds)` gets an opaque key (a hash of the panel URL and
    credential) and returns an object with `acquire()` and `set_rate(limit, window)` (called when a
    server's configured rate changes). None restores the in-process buckets.
    """
    global _limiter_factory
    with _limiters_lock:
        _limiter_factory = factory
        _limiters.clear()


def rate_limiter_for(base_url: str, credential: str, limit: int, window: float = WINDOW_SECONDS) -> RateLimiter | None:
    """The process-wide limiter for one (panel URL, credential) pair; None when unlimited."""
    if limit <= 0:
        return None
    key = hashlib.sha256(f"{base_url.rstrip('/')}\0{credential}".encode()).hexdigest()
    with _limiters_lock:
        limiter = _limiters.get(key)
        if limiter is None:
            limiter = _limiter_factory(key, limit, window) if _limiter_factory else TokenBucket(limit, window)
            _limiters[key] = limiter
        else:
            limiter.set_rate(limit, window)
        return limiter


def reset_rate_limiters() -> None:
    """Forget every limiter (tests start from full buckets)."""
    with _limiters_lock:
        _limiters.clear()
