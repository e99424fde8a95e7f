"""Provisioned credentials: the login a module made for a service, shown to an admin (each view
logged) and reset on the panel (the module's `change_password`), the customer told by mail.

The new password is never in the mail, an activity row or a log line: the customer reads it on
the service's page of the customer area, the admin with `services credentials ID`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from svcconsole.core import activity, logins, lookups, notifications
from svcconsole.core.errors import SvcError, TransitionRefused
from svcconsole.core.operators import Actor, require
from svcconsole.core.statuses import Role, Status
from svcconsole.modules import Credentials, get_module
from svcconsole.store.engine import Database
from svcconsole.store.models import Service

VIEW_ROLE = Role.ADMIN
RESET_ROLE = Role.ADMIN
RESETTABLE = (Status.ACTIVE.value, Status.SUSPENDED.value)


@dataclass(frozen=True)
class ShownLogin:
    """A service's login as shown: whose, and what the panel call said when it was reset."""

    service_id: int
    login: Credentials
    message: str = ""
    shared_with: tuple[int, ...] = ()
    """Other services of the customer on the same panel with the same login (updated too)."""


def _no_login(service: Service) -> SvcError:
    return SvcError(f"service {service.id}: its module provisioned no credentials (a panel user or a cloud-init login)")


def show(session: Session, actor: Actor, service_id: int) -> ShownLogin:
    """The service's login, and an activity row saying who saw it (admins only)."""
    require(actor, VIEW_ROLE, "viewing a service's credentials")
    service = lookups.get_service(session, service_id, for_update=True)
    login = logins.read(service)
    if login is None:
        raise _no_login(service)
    activity.record(session, service, actor, "credentials_viewed", from_status=service.status, to_status=service.status, details={"username": login.username})
    return ShownLogin(service.id or 0, login)


def reveal(session: Session, actor: Actor, service_id: int) -> Credentials | None:
    """The login of a service of the customer `actor` is (the customer area's reveal key), logged."""
    if not actor.is_client:
        require(actor, VIEW_ROLE, "viewing a service's credentials")
    service = lookups.get_service(session, service_id, for_update=True, customer_id=actor.customer_id if actor.is_client else None)
    login = logins.read(service)
    if login is not None:
        activity.record(
            session, service, actor, "credentials_viewed", from_status=service.status, to_status=service.status, details={"username": login.username}
        )
    return login


def reset(db: Database, actor: Actor, service_id: int, *, reason: str | None = None) -> ShownLogin:
    """Set a new password on the panel, then store it, on this service and on the customer's
    other services of that panel holding the same login; the customer is mailed."""
    require(actor, RESET_ROLE, "resetting a service's password")
    with db.read() as session:
        service = lookups.get_service(session, service_id)
        _check_resettable(service)
        ref = lookups.service_ref(session, service)
        module = get_module(service.type)
    result = module.change_password(ref)
    if result.credentials is None:
        raise SvcError(f"service {service_id}: the panel call reported no new login")
    login = result.credentials

    def record(session: Session) -> ShownLogin:
        current = lookups.get_service(session, service_id, for_update=True)
        if current.status not in RESETTABLE:
            raise TransitionRefused(
                service_id, current.status, "reset the password", "its status moved on while the panel set it; reset it again once it is active"
            )
        before = logins.read(current)
        logins.store(current, login)
        shared = _store_on_siblings(session, current, before, login)
        details = {"username": login.username, "message": result.message, **({"shared_with": list(shared)} if shared else {})}
        activity.record(session, current, actor, "credentials_reset", from_status=current.status, to_status=current.status, reason=reason, details=details)
        notifications.notify_customer(session, "credentials_reset", current, username=login.username)
        return ShownLogin(service_id, login, result.message, shared)

    return db.transaction(record)


def _check_resettable(service: Service) -> None:
    if service.status not in RESETTABLE:
        raise TransitionRefused(service.id or 0, service.status, "reset the password", "allowed when active or suspended")
    if service.operation:
        raise TransitionRefused(service.id or 0, service.status, "reset the password", f"an operation is in progress: {service.operation}")
    if not lookups.held_by_module(service) or not lookups.module_supports(service, "change_password"):
        raise _no_login(service)


def _store_on_siblings(session: Session, service: Service, before: Credentials | None, login: Credentials) -> tuple[int, ...]:
    """The customer's other live services on the same server whose stored login is this one (a
    Pterodactyl panel user is per customer and panel) take the new password too."""
    if before is None or before.username != login.username or service.server_id is None:
        return ()
    siblings = session.exec(
        select(Service).where(
            col(Service.customer_id) == service.customer_id,
            col(Service.server_id) == service.server_id,
            col(Service.id) != service.id,
            col(Service.credentials).is_not(None),
        )
    ).all()
    shared = []
    for sibling in siblings:
        stored = logins.read(sibling)
        if stored is not None and stored.username == login.username:
            logins.store(sibling, login)
            session.add(sibling)
            shared.append(sibling.id or 0)
    return tuple(shared)
