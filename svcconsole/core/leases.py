"""Named leases: locks with an owner and an expiry, kept in the `lease` table.

A holder is host:pid:thread. A lease is free when nobody holds it, when it ran out, or when
its holder was a process on this host that no longer exists, so a killed process never
blocks the next one for long.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta

from sqlmodel import Session, select

from svcconsole.core import clock
from svcconsole.store.models import Lease

LEASE = timedelta(minutes=5)


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
    if lease is None or lease.holder == holder():
        return True
    return lease.expires_at <= clock.now() or not holder_alive(lease.holder)


def take(session: Session, name: str, *, owner: str | None = None) -> bool:
    """Take or renew the named lease for `owner` (this thread by default); False while
    another live holder has it."""
    owner = owner or holder()
    now = clock.now()
    lease = session.exec(select(Lease).where(Lease.name == name).with_for_update()).first()
    if lease is not None and lease.holder != owner and not is_free(lease):
        return False
    if lease is None:
        lease = Lease(name=name, holder=owner, acquired_at=now, expires_at=now + LEASE)
    else:
        lease.holder, lease.acquired_at, lease.expires_at = owner, now, now + LEASE
    session.add(lease)
    return True


def drop(session: Session, name: str) -> None:
    lease = session.get(Lease, name)
    if lease is not None and lease.holder == holder():
        session.delete(lease)
