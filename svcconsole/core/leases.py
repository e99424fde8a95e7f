"""Named leases: locks with an owner and an expiry, kept in the `lease` table.

A holder is host:pid:thread (plus a token for a `NamedLock`). A lease is free when nobody
holds it, when it ran out, or when its holder was a process on this host that no longer
exists, so a killed process never blocks the next one for long.

Leases are about real time: their expiry is read from the wall clock, never from
`core.clock`, so a frozen clock (`automation run --at`, tests) cannot make a live holder's
lease look expired or a new lease look expired already. The module queue's job leases
(`core/jobs.py`) are separate and follow `core.clock`.

`take` and `drop` work in the caller's transaction (bulk runs, the SQLite worker queue).
`NamedLock` holds a lease for a whole run (the automation, the mailer): on PostgreSQL a
session advisory lock on a connection kept open for the run, which dies with the process;
on SQLite a lease row, renewed as the run goes (`keep_alive`).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, select

from svcconsole.core import clock
from svcconsole.store.engine import Database
from svcconsole.store.models import Lease

LEASE = timedelta(minutes=5)
RUN_LEASE = timedelta(minutes=10)
KEEP_ALIVE_EVERY = RUN_LEASE / 4


def wall_clock() -> datetime:
    """The real time, aware and in UTC, whatever `core.clock` says."""
    return datetime.now(UTC)


def holder() -> str:
    """This worker: host, process and thread, so two runs in one process never share a lease."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def holder_alive(holder: str) -> bool:
    """False when the holder was a process on this host that no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_free(lease: Lease | None) -> bool:
    """True when nobody live holds `lease` (or this thread does)."""
    if lease is None or lease.holder == holder():
        return True
    return clock.as_utc(lease.expires_at) <= wall_clock() or not holder_alive(lease.holder)


def take(session: Session, name: str, *, owner: str | None = None, length: timedelta = LEASE) -> bool:
    """Take or renew the named lease for `owner` (this thread by default); False while another live holder has it."""
    owner = owner or holder()
    now = wall_clock()
    lease = session.exec(select(Lease).where(Lease.name == name).with_for_update()).first()
    if lease is not None and lease.holder != owner and not is_free(lease):
        return False
    if lease is None:
        lease = Lease(name=name, holder=owner, acquired_at=now, expires_at=now + length)
    elif lease.holder == owner:
        lease.expires_at = now + length
    else:
        lease.holder, lease.acquired_at, lease.expires_at = owner, now, now + length
    session.add(lease)
    return True


def extend(session: Session, name: str, owner: str, *, length: timedelta = LEASE) -> bool:
    """Push the lease's expiry on if `owner` still holds it; False when it was taken over or dropped."""
    lease = session.exec(select(Lease).where(Lease.name == name).with_for_update()).first()
    if lease is None or lease.holder != owner:
        return False
    lease.expires_at = wall_clock() + length
    session.add(lease)
    return True


def drop(session: Session, name: str, *, owner: str | None = None) -> None:
    """Give the lease back if `owner` (this thread by default) holds it."""
    lease = session.get(Lease, name)
    if lease is not None and lease.holder == (owner or holder()):
        session.delete(lease)


def describe(session: Session, name: str) -> str | None:
    """Who holds the named lease and since when, or None."""
    lease = session.get(Lease, name)
    if lease is None:
        return None
    return f"{lease.holder} since {clock.as_utc(lease.acquired_at).isoformat(timespec='seconds')}"


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"svcconsole:{name}".encode()).digest()[:8], "big", signed=True)


class NamedLock:
    """A named lock held for one run: an advisory lock on PostgreSQL, a lease row of `RUN_LEASE` renewed as the run goes on SQLite."""

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name
        self.owner = f"{holder()}:{uuid.uuid4().hex[:8]}"
        self.held_by: str | None = None
        self.lost_to: str | None = None
        self._connection: Any = None
        self._renewed_at = wall_clock()

    def acquire(self) -> bool:
        """Take the lock if free; False (and `held_by` set) when another run holds it."""
        if self.db.is_postgresql:
            connection = self.db.engine.connect()
            taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _advisory_key(self.name)}).scalar()
            connection.commit()
            if not taken:
                connection.close()
                self.held_by = "another session (PostgreSQL advisory lock)"
                return False
            self._connection = connection
            return True
        taken = self.db.transaction(lambda session: take(session, self.name, owner=self.owner, length=RUN_LEASE))
        if not taken:
            with self.db.read() as session:
                self.held_by = describe(session, self.name) or "another run"
            return False
        self._renewed_at = wall_clock()
        return True

    def renew(self) -> bool:
        """Extend the lease now; False (and `lost_to` set) when another run took it over."""
        if self.db.is_postgresql:
            return self._connection is not None
        held = self.db.transaction(lambda session: extend(session, self.name, self.owner, length=RUN_LEASE))
        self._renewed_at = wall_clock()
        if not held:
            with self.db.read() as session:
                self.lost_to = describe(session, self.name) or "nobody (the lease was dropped)"
        return held

    def keep_alive(self) -> bool:
        """Renew when a quarter of the lease length has passed since the last renewal; False once lost."""
        if self.lost_to is not None:
            return False
        if wall_clock() - self._renewed_at < KEEP_ALIVE_EVERY:
            return True
        return self.renew()

    def release(self) -> None:
        """Give the lock back."""
        if self.db.is_postgresql:
            if self._connection is not None:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _advisory_key(self.name)})
                self._connection.commit()
                self._connection.close()
                self._connection = None
            return
        self.db.transaction(lambda session: drop(session, self.name, owner=self.owner))
