"""The login a module provisioned for a service, kept encrypted in `service.credentials`.

Stored as Fernet-encrypted JSON (`core.secrets`, the key of the servers' credentials); the
password is registered with the log redaction as soon as it is stored or read, so no log line
shows it. A login reported without its password (a panel user the module found rather than
made) keeps the password stored for the same username (on this service, or on another of the
customer's on that server), and drops one stored for another username.
"""

from __future__ import annotations

import json

from sqlmodel import Session, col, select

from svcconsole.core import secrets
from svcconsole.core.logs import register_secret
from svcconsole.modules import Credentials
from svcconsole.store.models import Service

SHARED_LOOKUP = 50
"""How many of the customer's other services on the server are read for a shared login's password."""


def read(service: Service) -> Credentials | None:
    """The stored login (None when the module provisioned none)."""
    plaintext = secrets.decrypt(service.credentials)
    if not plaintext:
        return None
    stored = json.loads(plaintext)
    password = stored.get("password")
    if password:
        register_secret(password)
    return Credentials(str(stored.get("username") or ""), password)


def store(service: Service, login: Credentials, session: Session | None = None) -> None:
    """Keep `login` on the service (encrypted). A login without its password takes the one
    stored for the same username on this service, else (given `session`) on another service of
    the customer on the same server (one panel user serves them all)."""
    password = login.password
    if password is None:
        before = read(service)
        if before is not None and before.username == login.username:
            password = before.password
        elif session is not None:
            password = _shared_password(session, service, login.username)
    if password:
        register_secret(password)
    service.credentials = secrets.encrypt(json.dumps({"username": login.username, "password": password}))


def _shared_password(session: Session, service: Service, username: str) -> str | None:
    if service.server_id is None:
        return None
    others = select(Service).where(
        col(Service.customer_id) == service.customer_id,
        col(Service.server_id) == service.server_id,
        col(Service.id) != service.id,
        col(Service.credentials).is_not(None),
    )
    for other in session.exec(others.order_by(col(Service.id).desc()).limit(SHARED_LOOKUP)).all():
        stored = read(other)
        if stored is not None and stored.username == username and stored.password:
            return stored.password
    return None
