"""Operators, roles and the acting identity (SPEC.md section 11).

The actor is the login name (`SUDO_USER`, else the OS user). The login that creates a database
becomes its first admin; every other login must be added by an admin.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
from dataclasses import dataclass

from sqlmodel import Session, func, select

from svcconsole.core import clock
from svcconsole.core.activity import record_change
from svcconsole.core.errors import InvalidInput, NotFound, PermissionDenied, SvcError
from svcconsole.core.statuses import ACTIONS, Role
from svcconsole.store.models import Job, Operator

LOGIN_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,99}$")

log = logging.getLogger("svcconsole.operators")


@dataclass(frozen=True)
class Actor:
    """Who is acting: an admin login ("adam as olga" under `--as`), the automation, or a customer."""

    kind: str
    name: str
    role: Role
    customer_id: int | None = None
    read_only: bool = False

    @property
    def is_client(self) -> bool:
        return self.kind == "client"


SYSTEM = Actor(kind="system", name="automation", role=Role.ADMIN)

CLIENT_ACTIONS: frozenset[str] = frozenset({"renew-invoice", "cancel-end-of-cycle", "cancel-immediately", "uncancel", "auto-renew"})
"""Everything a customer may change in the customer area; anything else is refused."""


def client_actor(customer_id: int, email: str, *, preview_by: str | None = None) -> Actor:
    """The customer acting in the customer area; an operator's preview of it changes nothing."""
    name = f"{email} (preview by {preview_by})" if preview_by else email
    return Actor(kind="client", name=name, role=Role.VIEWER, customer_id=customer_id, read_only=preview_by is not None)


def job_actor(job: Job) -> Actor:
    """Who a job acts for when it runs: the actor that queued it, as an admin (the action was
    allowed when it was queued; the job re-checks the service, not the role)."""
    return Actor(kind=job.actor_kind, name=job.actor, role=Role.ADMIN)


def os_login() -> str:
    """The real login behind this process, even under sudo."""
    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user:
        return sudo_user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"


def parse_login(text: str) -> str:
    value = (text or "").strip()
    if not LOGIN_PATTERN.match(value):
        raise InvalidInput("login", f"{text!r} is not a login name (letters, digits, _ . @ -)")
    return value


def parse_role(text: str) -> Role:
    try:
        return Role.from_label((text or "").strip())
    except KeyError:
        raise InvalidInput("--role", f"{text!r} is not a role (viewer, operator or admin)") from None


def ensure_first_admin(session: Session, login: str) -> bool:
    """Make `login` an admin if the database has no operators yet; True if it did."""
    count = session.exec(select(func.count()).select_from(Operator)).one()
    if count:
        return False
    session.add(Operator(login=login, role=Role.ADMIN.label, created_at=clock.now()))
    return True


def resolve_actor(session: Session, login: str, *, as_login: str | None = None, read_only: bool = False) -> Actor:
    """The actor for `login`, or for `as_login` (only an admin may use it).

    An actor acting as another operator has that operator's role, and is named "LOGIN as
    AS_LOGIN" in every activity row, job and bulk run it writes; the operations log says so too.
    """
    operator = session.get(Operator, login)
    if operator is None:
        raise PermissionDenied(
            f"login {login!r} is not an operator of this database; an admin can add it with `svcconsole operators add {login} --role viewer`"
        )
    if not as_login or as_login == login:
        return Actor(kind="admin", name=operator.login, role=Role.from_label(operator.role), read_only=read_only)
    if Role.from_label(operator.role) is not Role.ADMIN:
        raise PermissionDenied(f"--as: {login} is {operator.role}; only an admin may act as another operator")
    target = session.get(Operator, parse_login(as_login))
    if target is None:
        raise NotFound(f"--as: no operator {as_login!r}")
    log.info("login %s acts as operator %s (%s) with --as", login, target.login, target.role)
    return Actor(kind="admin", name=f"{login} as {target.login}", role=Role.from_label(target.role), read_only=read_only)


def require(actor: Actor, needed: Role, what: str) -> None:
    """Refuse (exit 4) unless `actor` may do `what`."""
    if actor.read_only and needed is not Role.VIEWER:
        raise PermissionDenied(f"read-only mode: {what} is not allowed")
    if actor.is_client:
        raise PermissionDenied(f"{what} is not available in the customer area")
    if not actor.role.allows(needed):
        raise PermissionDenied(f"{actor.name} is {actor.role.label}: {what} needs the {needed.label} role")


def require_client(actor: Actor, action: str | None, what: str) -> int:
    """The customer id a customer-area actor is scoped to, if it may do `action` (None = read).

    The one place that decides what a customer may do: reading their own services, and the
    actions of `CLIENT_ACTIONS`. Operators never act through the customer area.
    """
    if not actor.is_client or actor.customer_id is None:
        raise PermissionDenied(f"{what} belongs to the customer area")
    if action is None:
        return actor.customer_id
    if action not in CLIENT_ACTIONS:
        raise PermissionDenied(f"{what} is not available in the customer area")
    if actor.read_only:
        raise PermissionDenied(f"read-only: {what} is not allowed (an operator's preview of the customer area, or --read-only)")
    return actor.customer_id


def require_action(actor: Actor, action: str) -> None:
    """Refuse (exit 4) a status-table action: customers by the allow-list, operators by role."""
    rule = ACTIONS[action]
    if actor.is_client:
        require_client(actor, action, rule.title.lower())
        return
    require(actor, rule.role, rule.title.lower())


def list_operators(session: Session) -> list[Operator]:
    return list(session.exec(select(Operator).order_by(Operator.login)).all())


def add_operator(session: Session, actor: Actor, login: str, role: str) -> Operator:
    require(actor, Role.ADMIN, "managing operators")
    login = parse_login(login)
    parsed_role = parse_role(role)
    existing = session.get(Operator, login)
    if existing is not None:
        if existing.role != parsed_role.label:
            record_change(session, actor, "operator", login, "role", details={"role": [existing.role, parsed_role.label]})
            existing.role = parsed_role.label
        return existing
    operator = Operator(login=login, role=parsed_role.label, created_at=clock.now())
    session.add(operator)
    record_change(session, actor, "operator", login, "add", details={"role": parsed_role.label})
    return operator


def remove_operator(session: Session, actor: Actor, login: str) -> None:
    require(actor, Role.ADMIN, "managing operators")
    operator = session.get(Operator, parse_login(login))
    if operator is None:
        raise NotFound(f"operator: no operator {login!r}")
    if operator.role == Role.ADMIN.label:
        admins = session.exec(select(func.count()).select_from(Operator).where(Operator.role == Role.ADMIN.label)).one()
        if admins <= 1:
            raise SvcError(f"operator: {login} is the last admin and cannot be removed")
    session.delete(operator)
    record_change(session, actor, "operator", operator.login, "remove", details={"role": operator.role})
