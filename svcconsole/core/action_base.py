"""What every action is made of: its context, its implementation (check, apply, module call), its outcome and activity row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
