"""What every action is made of: its context, its implementation (check, apply, module call), its outcome and activity row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from svcconsole.core import activity, logins
from svcconsole.core import settings as settings_module
from svcconsole.core.errors import TransitionRefused
from svcconsole.core.lookups import refuse
from svcconsole.core.operators import Actor
from svcconsole.modules import ModuleResult, external_key
from svcconsole.store.models import (
    Activity,
    Service,
)


@dataclass
class Outcome:
    """How one action on one service ended: ok, queued (a job runs it), skipped or failed."""

    service_id: int
    result: str
    message: str
    job_id: int | None = None
    from_status: str | None = None
    to_status: str | None = None

    @property
    def ok(self) -> bool:
        return self.result in {"ok", "queued"}


@dataclass
class ActionContext:
    """What `check` and `apply` get: the session, actor, service, parameters and settings."""

    session: Session
    actor: Actor
    service: Service
    params: dict[str, Any]
    settings: settings_module.Settings
    result: ModuleResult | None = None
    follow_up: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    logged: Activity | None = None
    """The activity row this action wrote (a follow-up action adds itself to it)."""
    log_into: Activity | None = None
    """The row of the action this one follows (renew, then the lifted suspension): one action, one row."""

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.tz

    def refuse(self, action: str, why: str) -> TransitionRefused:
        return refuse(self.service, action, why)


class ServiceRow:
    """The columns of a service that the batched actions read and write, as a plain object.

    A batched chunk reads these columns with one query and hands each row to the actions' own
    check and apply in place of an ORM `Service` (whose construction and change tracking cost more
    than the rules). Its slots are these columns only: an action that reads or writes any other
    attribute fails on it, and the chunk is done again service by service.
    """

    COLUMNS = ("id", "customer_id", "status", "suspend_kind", "operation", "expires_at", "anchor_day", "cancel_mode", "cancel_at", "cancel_reason", "version")
    """What is read of each service; `updated_at` and `updated_by` are only written (by `lookups.touch`)."""
    __slots__ = (*COLUMNS, "updated_at", "updated_by")
    id: int
    customer_id: int
    status: str
    suspend_kind: str | None
    operation: str | None
    expires_at: datetime | None
    anchor_day: int | None
    cancel_mode: str | None
    cancel_at: datetime | None
    cancel_reason: str | None
    version: int
    updated_at: datetime | None
    updated_by: str | None

    def __init__(self, values: tuple[Any, ...]) -> None:
        for name, value in zip(self.COLUMNS, values, strict=True):
            setattr(self, name, value)
        self.updated_at = None
        self.updated_by = None

    def changes(self, read: tuple[Any, ...]) -> dict[str, Any]:
        """The columns whose value differs from `read` (the row as `COLUMNS` read it), with the touch's."""
        changed = {name: getattr(self, name) for name, before in zip(self.COLUMNS, read, strict=True) if getattr(self, name) != before}
        if self.updated_by is not None:
            changed.update(updated_at=self.updated_at, updated_by=self.updated_by)
        return changed


@dataclass(frozen=True)
class ActionImpl:
    """The code of one action: its extra checks, its change, and which module call it needs."""

    check: Callable[[ActionContext], None]
    apply: Callable[[ActionContext], str]
    call: Callable[[ActionContext], str | None]


def store_external(service: Service, external: dict[str, Any], *, replace: bool = False) -> None:
    """Keep what the module reported (merged into what it had, or replacing it) and, from it, the
    key of the panel resource the service holds (`external_key`, unique per server while live)."""
    service.external = dict(external) if replace else {**(service.external or {}), **external}
    service.external_key = external_key(service.type, service.external)


def merge_external(ctx: ActionContext) -> None:
    """Keep what the module call reported: its external data, and the login it provisioned."""
    if ctx.result is not None and ctx.result.external:
        store_external(ctx.service, ctx.result.external)
    if ctx.result is not None and ctx.result.credentials is not None:
        logins.store(ctx.service, ctx.result.credentials, ctx.session)


def forget_external(ctx: ActionContext) -> dict[str, Any]:
    """The panel removed the service's resource: forget what it held (and the login made for it)."""
    removed = dict(ctx.service.external or {})
    store_external(ctx.service, {}, replace=True)
    ctx.service.credentials = None
    return removed


def log_action(ctx: ActionContext, action: str, before: str, *, reason: str | None = None, details: dict[str, Any] | None = None) -> None:
    if ctx.log_into is not None:
        followed = {"action": action, "from": before, "to": ctx.service.status, **({"reason": reason} if reason else {}), **(details or {})}
        ctx.log_into.to_status = ctx.service.status
        ctx.log_into.details = {**(ctx.log_into.details or {}), "followed": followed}
        ctx.session.add(ctx.log_into)
        return
    ctx.logged = activity.record(
        ctx.session,
        ctx.service,
        ctx.actor,
        action,
        from_status=before,
        to_status=ctx.service.status,
        reason=reason,
        details=details,
    )
