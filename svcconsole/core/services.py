"""Every change to a service: create, import, edit, and the actions of the status table.

Each action is a `check` (is it allowed from here, by this actor, under these rules?) and an
`apply` (the change and its activity row). When the service's module implements the action's
module call, `perform` queues a job instead of applying; the job runner applies on success.
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func as sa_func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from svcconsole.core import activity, clock, cycles, notifications, parse, renew_checks, renewal_limits, status_override
from svcconsole.core import settings as settings_module
from svcconsole.core.catalog import product_price, resolve_customer, resolve_product, resolve_server
from svcconsole.core.errors import AlreadyLinked, Conflict, InvalidInput, NotFound, SvcError, TransitionRefused
from svcconsole.core.operators import Actor, require, require_action
from svcconsole.core.secrets import decrypt
from svcconsole.core.statuses import ACTIONS, NON_TRANSITION_ROLES, CancelMode, Role, Status, SuspendKind
from svcconsole.modules import CustomerRef, ModuleResult, ProductRef, ServerRef, ServiceRef, external_key, get_module, is_module
from svcconsole.store import search
from svcconsole.store.engine import unique_violation
from svcconsole.store.models import (
    RESOURCE_HOLDING_STATUSES,
    Activity,
    Customer,
    Job,
    Product,
    Renewal,
    Server,
    Service,
    ServiceMeta,
    ServiceOption,
)

MAX_DAYS = 36500
MAX_CYCLES = 120
RENEWAL_LIMIT_KEYS = ("max_renewals", "max_renewals_in_current_month", "max_renewals_in_current_week")
KNOWN_META_KEYS: dict[str, str] = {
    "max_renewals": "maximum number of renewals (a whole number)",
    "max_renewals_in_current_month": "maximum renewals in the current month (a whole number)",
    "max_renewals_in_current_week": "maximum renewals in the current week (a whole number)",
    "disable_notify_expiration": "true to stop expiry notices",
}
EDITABLE_FIELDS = (
    "name",
    "description",
    "notes",
    "price",
    "initial_price",
    "billing_cycle",
    "expires_at",
    "server",
    "max_renewals",
    "type",
    "auto_renew",
    "currency",
    "status",
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


# ----------------------------------------------------------------------------- look-ups


def get_service(session: Session, service_id: int, *, for_update: bool = False, customer_id: int | None = None) -> Service:
    """The service with `service_id` (scoped to `customer_id` when given); NotFound otherwise."""
    query = _scoped(select(Service).where(Service.id == service_id), customer_id)
    if for_update:
        query = query.with_for_update()
    service = session.exec(query).first()
    if service is None:
        raise service_not_found(service_id)
    return service


def _scoped(query: Any, customer_id: int | None) -> Any:
    """`query` over services limited to one customer's, deleted ones left out (the customer area)."""
    if customer_id is None:
        return query
    return query.where(Service.customer_id == customer_id, Service.status != Status.DELETED.value)


def service_not_found(service_id: int) -> NotFound:
    return NotFound(f"service: no service with id {service_id}")


def settings_of(session: Session) -> settings_module.Settings:
    cached = session.info.get("settings")
    if cached is None:
        cached = settings_module.load(session)
        session.info["settings"] = cached
    return cached


def timezone_of(session: Session) -> ZoneInfo:
    return settings_of(session).tz


def service_ref(session: Session, service: Service) -> ServiceRef:
    """The snapshot a module call works from (credentials decrypted here, and only here)."""
    customer = session.get(Customer, service.customer_id)
    assert customer is not None
    product = session.get(Product, service.product_id) if service.product_id else None
    server = session.get(Server, service.server_id) if service.server_id else None
    return ServiceRef(
        id=service.id or 0,
        uuid=service.uuid,
        name=service.name,
        customer=CustomerRef(id=customer.id or 0, name=customer.name, email=customer.email, company=customer.company),
        product=product_ref(product) if product else None,
        server=server_ref(server) if server else None,
        external=dict(service.external or {}),
        billing_cycle=service.billing_cycle,
    )


def product_ref(product: Product) -> ProductRef:
    return ProductRef(id=product.id or 0, name=product.name, type=product.type, config=dict(product.config or {}))


def server_ref(server: Server) -> ServerRef:
    return ServerRef(
        id=server.id or 0,
        name=server.name,
        module=server.module,
        url=server.url,
        credentials=decrypt(server.credentials),
        node=server.node,
        config=dict(server.config or {}),
    )


def meta_value(session: Session, service_id: int, key: str) -> str | None:
    row = session.get(ServiceMeta, (service_id, key))
    return row.value if row else None


def _touch(service: Service, actor: Actor) -> None:
    service.version = (service.version or 0) + 1
    service.updated_at = clock.now()
    service.updated_by = actor.name


def refuse(service: Service, action: str, why: str) -> TransitionRefused:
    """The refusal of `action` on `service`, naming its status and why."""
    return TransitionRefused(service.id or 0, service.status, action, why)


def module_supports(service: Service, operation: str) -> bool:
    return is_module(service.type) and get_module(service.type).supports_operation(operation)


def held_by_module(service: Service) -> bool:
    """True while the service's panel still holds something for it."""
    return bool(service.external)


# ----------------------------------------------------------------------------- actions


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


def _no_check(ctx: ActionContext) -> None:
    return None


def _rule_call(action: str) -> Callable[[ActionContext], str | None]:
    operation = ACTIONS[action].module_call

    def call(ctx: ActionContext) -> str | None:
        if operation and module_supports(ctx.service, operation):
            return operation
        return None

    return call


def _terminate_call(ctx: ActionContext) -> str | None:
    if held_by_module(ctx.service) and module_supports(ctx.service, "terminate"):
        return "terminate"
    return None


def _no_call(ctx: ActionContext) -> str | None:
    return None


def _set_status(ctx: ActionContext, status: Status) -> str:
    before = ctx.service.status
    ctx.service.status = status.value
    return f"{before} -> {status.value}"


def store_external(service: Service, external: dict[str, Any], *, replace: bool = False) -> None:
    """Keep what the module reported (merged into what it had, or replacing it) and, from it, the
    key of the panel resource the service holds (`external_key`, unique per server while live)."""
    service.external = dict(external) if replace else {**(service.external or {}), **external}
    service.external_key = external_key(service.type, service.external)


def _merge_external(ctx: ActionContext) -> None:
    if ctx.result is not None and ctx.result.external:
        store_external(ctx.service, ctx.result.external)


def _forget_external(ctx: ActionContext) -> dict[str, Any]:
    removed = dict(ctx.service.external or {})
    store_external(ctx.service, {}, replace=True)
    return removed


def _log(ctx: ActionContext, action: str, before: str, *, reason: str | None = None, details: dict[str, Any] | None = None) -> None:
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


def _run_follow_ups(
    session: Session, actor: Actor, ctx: ActionContext, outcome_message: str, *, bulk_run_id: int | None, claim_for: str | None = None
) -> tuple[str, Outcome | None]:
    """Carry out the actions `ctx`'s action asked to follow it, recorded in its activity row; the message and the last follow-up's outcome."""
    last = None
    for follow_action, follow_params in ctx.follow_up:
        last = perform(session, actor, follow_action, ctx.service.id or 0, follow_params, bulk_run_id=bulk_run_id, claim_for=claim_for, log_into=ctx.logged)
        outcome_message += f"; {follow_action}: {last.message}"
        if last.job_id is not None and ctx.logged is not None:
            ctx.logged.details = {**(ctx.logged.details or {}), "followed": {"action": follow_action, "queued": f"job {last.job_id}"}}
            session.add(ctx.logged)
    return outcome_message, last


def _first_expiry(ctx: ActionContext) -> None:
    service = ctx.service
    if service.expires_at is None and cycles.is_recurring(service.billing_cycle):
        start = clock.now()
        anchor = cycles.anchor_day_of(start, ctx.tz)
        service.expires_at = cycles.shift(start, service.billing_cycle, 1, anchor, ctx.tz)
        service.anchor_day = anchor


def _apply_deliver(ctx: ActionContext) -> str:
    service = ctx.service
    before = service.status
    _merge_external(ctx)
    _first_expiry(ctx)
    service.delivery_attempts = (service.delivery_attempts or 0) + (1 if ctx.result is not None else 0)
    service.last_error = None
    change = _set_status(ctx, Status.ACTIVE)
    _log(ctx, ctx.params.get("_action", "deliver"), before, details={"message": ctx.result.message} if ctx.result and ctx.result.message else None)
    notifications.notify_customer(ctx.session, "delivered", service)
    return change


def _check_suspend(ctx: ActionContext) -> None:
    ctx.params["kind"] = parse_suspend_kind(ctx.params.get("kind"))


def _apply_suspend(ctx: ActionContext) -> str:
    service = ctx.service
    before = service.status
    service.suspend_kind = ctx.params.get("kind", SuspendKind.ADMIN.value)
    service.suspend_reason = ctx.params.get("reason")
    service.suspended_at = clock.now()
    change = _set_status(ctx, Status.SUSPENDED)
    _log(ctx, "suspend", before, reason=service.suspend_reason, details={"kind": service.suspend_kind, "notify": bool(ctx.params.get("notify"))})
    if ctx.params.get("notify"):
        notifications.notify_customer(ctx.session, "suspended", service, reason=service.suspend_reason or "-")
    return change


def _apply_unsuspend(ctx: ActionContext) -> str:
    service = ctx.service
    before = service.status
    kind = service.suspend_kind
    service.suspend_kind = None
    service.suspend_reason = None
    service.suspended_at = None
    change = _set_status(ctx, Status.ACTIVE)
    _log(ctx, "unsuspend", before, reason=ctx.params.get("reason"), details={"kind": kind})
    notifications.notify_customer(ctx.session, "unsuspended", service)
    return change


def renewal_limit_reached(session: Session, service: Service, cycles_wanted: int, tz: ZoneInfo) -> str | None:
    """The renewal limit that renewing by `cycles_wanted` would pass, named; None when allowed."""
    for limit in renewal_limits.limits_in_force(session, service, tz):
        if limit.would_pass(cycles_wanted):
            return renewal_limits.refusal(limit)
    return None


def renewable_until(service: Service, grace_days: int) -> datetime | None:
    return service.expires_at + timedelta(days=grace_days) if service.expires_at else None


def check_renewable(session: Session, service: Service, cycles_wanted: int, settings: settings_module.Settings) -> None:
    """Refuse a renewal the rules of SPEC.md section 4 forbid (shared with invoices)."""
    if not cycles.is_recurring(service.billing_cycle):
        raise refuse(service, "renew", f"a {service.billing_cycle} service is never renewed")
    if service.expires_at is None:
        raise refuse(service, "renew", "it has no expiry date to renew from")
    if service.status == Status.SUSPENDED.value:
        until = renewable_until(service, settings["renewal_grace_days"])
        if until is not None and clock.now() > until:
            raise refuse(service, "renew", f"renewal window closed on {day(until, settings.tz)} (renewal_grace_days={settings['renewal_grace_days']})")
    why = renewal_limit_reached(session, service, cycles_wanted, settings.tz)
    if why:
        raise refuse(service, "renew", why)
    renewed_expiry(service, cycles_wanted, settings.tz)


def bounded_expiry(service: Service, action: str, move: Callable[[], datetime], tz: ZoneInfo) -> datetime:
    """The expiry `move` computes, refused when it falls outside the dates svcconsole accepts."""
    try:
        moved: datetime | None = move()
        year = moved.astimezone(tz).year if moved is not None else 0
    except (OverflowError, ValueError):
        moved, year = None, 0
    if moved is None or not parse.FIRST_YEAR <= year <= parse.LAST_YEAR:
        raise refuse(
            service,
            action,
            f"the new expiry would be outside {parse.FIRST_YEAR}-01-01 to {parse.LAST_YEAR}-12-31 (set a date with services edit --expires)",
        )
    return moved


def renewed_expiry(service: Service, cycles_wanted: int, tz: ZoneInfo) -> datetime:
    """The expiry after renewing `cycles_wanted` cycles from the current one (within the date limits)."""
    expiry = service.expires_at
    assert expiry is not None
    return bounded_expiry(service, "renew", lambda: cycles.shift(expiry, service.billing_cycle, cycles_wanted, service.anchor_day, tz), tz)


def _check_renew(ctx: ActionContext) -> None:
    cycles_wanted = int(ctx.params.get("cycles", 1))
    check_renewable(ctx.session, ctx.service, cycles_wanted, ctx.settings)
    if ctx.params.get("invoice_id") is None:
        renew_checks.check_renew_now(ctx.session, ctx.service)
    if ctx.params.get("amount") is None and not ctx.params.get("free"):
        renewal_amount(ctx.session, ctx.service, cycles_wanted)


def renewal_amount(session: Session, service: Service, cycles_wanted: int) -> Decimal:
    """What `cycles_wanted` cycles cost: the recurring price plus the options' (refused past the largest amount)."""
    options = session.exec(
        select(sa_func.coalesce(func.sum(ServiceOption.price * ServiceOption.quantity), 0)).where(ServiceOption.service_id == service.id)
    ).one()
    amount = ((service.price or Decimal("0")) + Decimal(options)).quantize(Decimal("0.01")) * cycles_wanted
    if amount > parse.MAX_MONEY:
        raise refuse(
            service,
            "renew",
            f"{cycles_wanted} cycle{'s' if cycles_wanted != 1 else ''} with the options cost {amount}, more than the largest amount ({parse.MAX_MONEY}); renew fewer cycles",
        )
    return amount


def extend_service(
    session: Session,
    actor: Actor,
    service: Service,
    cycles_wanted: int,
    amount: Decimal,
    tz: ZoneInfo,
    *,
    invoice_id: int | None = None,
) -> tuple[datetime, bool]:
    """Move the expiry by whole cycles from the old expiry and record the renewal.

    Returns the new expiry and whether an overdue suspension should now be lifted.
    """
    assert service.expires_at is not None
    old_expiry = service.expires_at
    new_expiry = renewed_expiry(service, cycles_wanted, tz)
    service.expires_at = new_expiry
    service.renewals = (service.renewals or 0) + cycles_wanted
    if service.cancel_mode == CancelMode.END_OF_CYCLE.value and service.cancel_at is not None:
        service.cancel_at = new_expiry
    for option in session.exec(select(ServiceOption).where(ServiceOption.service_id == service.id)).all():
        if option.expires_at is None or option.expires_at <= new_expiry:
            option.expires_at = new_expiry
            session.add(option)
    session.add(
        Renewal(
            service_id=service.id or 0,
            period_start=old_expiry,
            period_end=new_expiry,
            billing_cycle=service.billing_cycle,
            cycles=cycles_wanted,
            amount=amount,
            invoice_id=invoice_id,
            renewed_at=clock.now(),
            actor=actor.name,
        )
    )
    lift = service.status == Status.SUSPENDED.value and service.suspend_kind == SuspendKind.OVERDUE.value and new_expiry > clock.now()
    return new_expiry, lift


def _apply_renew(ctx: ActionContext) -> str:
    service = ctx.service
    before = service.status
    cycles_wanted = int(ctx.params.get("cycles", 1))
    if ctx.params.get("amount") is not None:
        amount = Decimal(str(ctx.params["amount"]))
    else:
        amount = Decimal("0.00") if ctx.params.get("free") else renewal_amount(ctx.session, service, cycles_wanted)
    invoice_id = ctx.params.get("invoice_id")
    old_expiry = service.expires_at
    new_expiry, lift = extend_service(ctx.session, ctx.actor, service, cycles_wanted, amount, ctx.tz, invoice_id=invoice_id)
    details: dict[str, Any] = {"cycles": cycles_wanted, "amount": str(amount), "from": iso(old_expiry), "to": iso(new_expiry)}
    if invoice_id is not None:
        details["invoice"] = invoice_id
    _log(ctx, "renew", before, reason=ctx.params.get("reason"), details=details)
    message = f"expires {day(new_expiry, ctx.tz)} (was {day(old_expiry, ctx.tz)})"
    if lift:
        ctx.follow_up.append(("unsuspend", {"reason": "renewed past the overdue date"}))
    return message


def _check_cancel_end(ctx: ActionContext) -> None:
    service = ctx.service
    if service.cancel_at is not None:
        raise ctx.refuse("cancel", f"already cancelling on {day(service.cancel_at, ctx.tz)}")
    if service.expires_at is None:
        raise ctx.refuse("cancel", "it has no expiry to cancel at; use --mode immediate")


def _apply_cancel_end(ctx: ActionContext) -> str:
    service = ctx.service
    before = service.status
    service.cancel_mode = CancelMode.END_OF_CYCLE.value
    service.cancel_at = service.expires_at
    service.cancel_reason = ctx.params.get("reason")
    _log(ctx, "cancel", before, reason=service.cancel_reason, details={"mode": service.cancel_mode, "cancel_at": iso(service.cancel_at)})
    return f"cancels on {day(service.cancel_at, ctx.tz)}"


def _apply_cancel_now(ctx: ActionContext) -> str:
    service = ctx.service
    before = service.status
    removed = _forget_external(ctx) if ctx.result is not None else {}
    service.cancel_mode = CancelMode.IMMEDIATE.value
    service.cancel_at = service.cancel_at or clock.now()
    service.cancel_reason = ctx.params.get("reason") or service.cancel_reason
    service.cancelled_at = clock.now()
    change = _set_status(ctx, Status.CANCELLED)
    _log(
        ctx,
        "cancel",
        before,
        reason=service.cancel_reason,
        details={"mode": CancelMode.IMMEDIATE.value, "removed": removed} if removed else {"mode": CancelMode.IMMEDIATE.value},
    )
    notifications.notify_customer(ctx.session, "cancelled", service)
    return change


def _check_uncancel(ctx: ActionContext) -> None:
    service = ctx.service
    if service.cancel_at is None or service.cancel_mode != CancelMode.END_OF_CYCLE.value:
        raise ctx.refuse("uncancel", "it has no end-of-cycle cancellation")
    if service.cancel_at <= clock.now():
        raise ctx.refuse("uncancel", "its cancellation date has passed")


def _apply_uncancel(ctx: ActionContext) -> str:
    service = ctx.service
    before = service.status
    was = service.cancel_at
    service.cancel_mode = None
    service.cancel_at = None
    service.cancel_reason = None
    _log(ctx, "uncancel", before, reason=ctx.params.get("reason"), details={"was": iso(was)})
    return "cancellation withdrawn"


def _apply_expire(ctx: ActionContext) -> str:
    before = ctx.service.status
    removed = _forget_external(ctx) if ctx.result is not None else {}
    change = _set_status(ctx, Status.EXPIRED)
    _log(ctx, "expire", before, reason=ctx.params.get("reason"), details={"removed": removed} if removed else None)
    notifications.notify_customer(ctx.session, "expired", ctx.service)
    return change


def _apply_terminate(ctx: ActionContext) -> str:
    service = ctx.service
    before = service.status
    removed = _forget_external(ctx) if ctx.result is not None else {}
    service.terminated_at = clock.now()
    change = _set_status(ctx, Status.TERMINATED)
    _log(ctx, "terminate", before, reason=ctx.params.get("reason"), details={"removed": removed} if removed else None)
    notifications.notify_customer(ctx.session, "terminated", service)
    return change


def _redeliver_call(ctx: ActionContext) -> str | None:
    return "redeliver" if module_supports(ctx.service, "create") else None


def _apply_redeliver(ctx: ActionContext) -> str:
    ctx.params["_action"] = "redeliver"
    return _apply_deliver(ctx)


def _check_reinstall(ctx: ActionContext) -> None:
    if not module_supports(ctx.service, "reinstall"):
        raise ctx.refuse("reinstall", f"module {ctx.service.type} does not support reinstall")


def _apply_reinstall(ctx: ActionContext) -> str:
    before = ctx.service.status
    _merge_external(ctx)
    _log(ctx, "reinstall", before, reason=ctx.params.get("reason"))
    return "reinstalled"


def _days_moved(ctx: ActionContext) -> tuple[int, datetime]:
    """The signed day count and the expiry it gives (within the date limits)."""
    action = ctx.params["_action"]
    expiry = ctx.service.expires_at
    if expiry is None:
        raise ctx.refuse(action, "it has no expiry date")
    days = int(ctx.params["days"])
    signed = days if action == "add-days" else -days
    return signed, bounded_expiry(ctx.service, action, lambda: cycles.shift_days(expiry, signed, ctx.tz), ctx.tz)


def _check_days(ctx: ActionContext) -> None:
    _days_moved(ctx)


def _apply_days(ctx: ActionContext) -> str:
    service = ctx.service
    before = service.status
    signed, new_expiry = _days_moved(ctx)
    old_expiry = service.expires_at
    assert old_expiry is not None
    service.expires_at = new_expiry
    service.anchor_day = cycles.anchor_day_of(service.expires_at, ctx.tz)
    if service.cancel_mode == CancelMode.END_OF_CYCLE.value and service.cancel_at is not None:
        service.cancel_at = service.expires_at
    _log(ctx, ctx.params["_action"], before, reason=ctx.params.get("reason"), details={"days": signed, "from": iso(old_expiry), "to": iso(service.expires_at)})
    return f"expires {day(service.expires_at, ctx.tz)} (was {day(old_expiry, ctx.tz)})"


def _apply_delete(ctx: ActionContext) -> str:
    service = ctx.service
    before = service.status
    removed = _forget_external(ctx) if ctx.result is not None else {}
    service.deleted_at = clock.now()
    change = _set_status(ctx, Status.DELETED)
    _log(ctx, "delete", before, reason=ctx.params.get("reason"), details={"removed": removed} if removed else None)
    return change


IMPLEMENTATIONS: dict[str, ActionImpl] = {
    "deliver": ActionImpl(_no_check, _apply_deliver, _rule_call("deliver")),
    "suspend": ActionImpl(_check_suspend, _apply_suspend, _rule_call("suspend")),
    "unsuspend": ActionImpl(_no_check, _apply_unsuspend, _rule_call("unsuspend")),
    "renew": ActionImpl(_check_renew, _apply_renew, _rule_call("renew")),
    "cancel-end-of-cycle": ActionImpl(_check_cancel_end, _apply_cancel_end, _no_call),
    "cancel-immediately": ActionImpl(_no_check, _apply_cancel_now, _terminate_call),
    "uncancel": ActionImpl(_check_uncancel, _apply_uncancel, _no_call),
    "expire": ActionImpl(_no_check, _apply_expire, _terminate_call),
    "terminate": ActionImpl(_no_check, _apply_terminate, _terminate_call),
    "redeliver": ActionImpl(_no_check, _apply_redeliver, _redeliver_call),
    "reinstall": ActionImpl(_check_reinstall, _apply_reinstall, _rule_call("reinstall")),
    "add-days": ActionImpl(_check_days, _apply_days, _no_call),
    "subtract-days": ActionImpl(_check_days, _apply_days, _no_call),
    "delete": ActionImpl(_no_check, _apply_delete, _terminate_call),
}


FINAL_FAILURE_HOOKS: dict[str, Callable[[Session, Job, str], None]] = {}
SUCCESS_HOOKS: dict[str, Callable[[Session, Job], None]] = {}


def register_action(name: str, implementation: ActionImpl) -> None:
    """Add an action implemented elsewhere in core (upgrade lives with billing)."""
    IMPLEMENTATIONS[name] = implementation


def register_final_failure_hook(action: str, hook: Callable[[Session, Job, str], None]) -> None:
    """Call `hook(session, job, error)` when a job of `action` fails for good."""
    FINAL_FAILURE_HOOKS[action] = hook


def register_success_hook(action: str, hook: Callable[[Session, Job], None]) -> None:
    """Call `hook(session, job)` once a job of `action` succeeded and its change is applied."""
    SUCCESS_HOOKS[action] = hook


def normalize_action(action: str, params: dict[str, Any]) -> str:
    """The status-table action for a CLI action name (`cancel` splits by its mode)."""
    if action == "cancel":
        mode = params.get("mode") or CancelMode.END_OF_CYCLE.value
        if mode not in {item.value for item in CancelMode}:
            raise InvalidInput("--mode", f"{mode!r} is not a cancel mode (end-of-cycle or immediate)")
        return "cancel-end-of-cycle" if mode == CancelMode.END_OF_CYCLE.value else "cancel-immediately"
    if action not in IMPLEMENTATIONS:
        raise InvalidInput("action", f"{action!r} is not an action")
    return action


def validate_params(action: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check an action's parameters once, before any service is touched."""
    clean = dict(params)
    if action in {"add-days", "subtract-days"}:
        clean["days"] = parse.parse_int("--days", clean.get("days", ""), minimum=1, maximum=MAX_DAYS)
    if action in {"renew", "renew-invoice"}:
        clean["cycles"] = parse.parse_int("--cycles", clean.get("cycles", 1), minimum=1, maximum=MAX_CYCLES)
    if action == "renew-invoice":
        from svcconsole.core.billing import parse_invoice_ref

        if clean.pop("free", False):
            raise InvalidInput("--free", "a renewal by invoice is billed at the price; --free goes without --invoice")
        clean["invoice"] = parse_invoice_ref("--invoice", clean.get("invoice", "new"))
    if action == "suspend":
        clean["kind"] = parse_suspend_kind(clean.get("kind"))
    if "reason" in clean and clean["reason"] is not None:
        clean["reason"] = parse.parse_text("--reason", clean["reason"], max_length=2000)
    return clean


def parse_suspend_kind(text: str | None) -> str:
    kind = str(text or SuspendKind.ADMIN.value).strip().lower()
    if kind not in {item.value for item in SuspendKind}:
        raise InvalidInput("--kind", f"{kind!r} is not a suspension kind (admin, client, abuse, overdue, temporary)")
    return kind


def perform(
    session: Session,
    actor: Actor,
    action: str,
    service_id: int,
    params: dict[str, Any],
    *,
    bulk_run_id: int | None = None,
    claim_for: str | None = None,
    log_into: Activity | None = None,
) -> Outcome:
    """Check and carry out one action on one service, in the caller's transaction.

    Applies the change at once, or queues a job when the module has work to do (already
    claimed by `claim_for` when the caller will run it at once). Raises `TransitionRefused`,
    `PermissionDenied` or `InvalidInput` and changes nothing when refused.
    """
    rule = ACTIONS[action]
    require_action(actor, action)
    service = get_service(session, service_id, for_update=True, customer_id=actor.customer_id if actor.is_client else None)
    implementation, ctx = _checked(session, actor, action, service, params)
    ctx.log_into = log_into
    before = service.status
    operation = implementation.call(ctx)
    if operation is not None:
        job = queue_job(session, actor, service, operation, action, ctx.params, bulk_run_id=bulk_run_id, claim_for=claim_for)
        service.operation = rule.operation
        _touch(service, actor)
        session.add(service)
        session.flush()
        return Outcome(service.id or 0, "queued", f"{rule.operation} queued (job {job.id})", job.id, before, None)
    message = implementation.apply(ctx)
    _touch(service, actor)
    session.add(service)
    outcome = Outcome(service.id or 0, "ok", message, None, before, service.status)
    outcome.message, follow = _run_follow_ups(session, actor, ctx, outcome.message, bulk_run_id=bulk_run_id, claim_for=claim_for)
    if follow is not None:
        outcome.to_status = follow.to_status or outcome.to_status
        if follow.job_id:
            outcome.job_id = follow.job_id
            outcome.result = "queued"
    session.flush()
    return outcome


def _checked(session: Session, actor: Actor, action: str, service: Service, params: dict[str, Any]) -> tuple[ActionImpl, ActionContext]:
    """The rules every action passes before it changes anything: the status it starts from, no
    operation in progress, and the action's own checks."""
    rule = ACTIONS[action]
    if not rule.allows(service.status, service.suspend_kind):
        kind = f" (suspended as {service.suspend_kind})" if rule.suspend_kinds and service.suspend_kind else ""
        raise refuse(service, rule.title.lower(), f"allowed from {rule.allowed_from_text}{kind}")
    if service.operation:
        raise refuse(service, rule.title.lower(), f"an operation is in progress: {service.operation}")
    implementation = IMPLEMENTATIONS[action]
    ctx = ActionContext(session, actor, service, {**params, "_action": action}, settings_of(session))
    implementation.check(ctx)
    return implementation, ctx


BATCHED_ACTIONS = frozenset({"add-days", "subtract-days", "cancel-end-of-cycle", "uncancel"})
"""Actions that change only the service row and log one activity row (no module call, no
follow-up), so a bulk run can apply a chunk of them with a few statements."""


def perform_many(session: Session, actor: Actor, action: str, service_ids: Sequence[int], params: dict[str, Any]) -> dict[int, Outcome | SvcError]:
    """`perform` over many services of a batched action: the same rules and changes, the rows read
    in one query and written in one flush. A refused service maps to its error, changed nothing."""
    if action not in BATCHED_ACTIONS:
        raise ValueError(f"{action} is not a batched action")
    require_action(actor, action)
    query = _scoped(select(Service).where(col(Service.id).in_(service_ids)), actor.customer_id if actor.is_client else None)
    found = {service.id: service for service in session.exec(query.with_for_update()).all()}
    results: dict[int, Outcome | SvcError] = {}
    with activity.batched(session):
        for service_id in service_ids:
            service = found.get(service_id)
            if service is None:
                results[service_id] = service_not_found(service_id)
                continue
            try:
                implementation, ctx = _checked(session, actor, action, service, params)
            except SvcError as error:
                results[service_id] = error
                continue
            before = service.status
            message = implementation.apply(ctx)
            if ctx.follow_up:
                raise RuntimeError(f"{action} asked for a follow-up action: it cannot be batched")
            _touch(service, actor)
            results[service_id] = Outcome(service_id, "ok", message, None, before, service.status)
        session.flush()
    return results


def status_now(service: Service) -> str:
    """The service's status as a refusal names it: a suspension with its kind."""
    if service.status == Status.SUSPENDED.value and service.suspend_kind:
        return f"{service.status} ({service.suspend_kind})"
    return service.status


def job_refusal(service: Service, job: Job) -> str | None:
    """Why the service's current status no longer allows the job's action; None when it does."""
    rule = ACTIONS.get(job.action)
    if rule is None or rule.allows(service.status, service.suspend_kind):
        return None
    return f"service {service.id} is {status_now(service)} now: {job.action} is allowed from {rule.allowed_from_text}"


def operation_held_by(session: Session, service: Service, job: Job) -> bool:
    """True when the service's operation in progress is this job's: its action's operation, and
    no other job of the service queued or running."""
    rule = ACTIONS.get(job.action)
    if service.operation is None or rule is None or service.operation != rule.operation:
        return False
    others = select(func.count()).select_from(Job).where(Job.service_id == service.id, Job.id != job.id, col(Job.status).in_(("queued", "running")))
    return session.exec(others).one() == 0


def record_job_not_applied(session: Session, job: Job, service: Service, reason: str, details: dict[str, Any] | None = None) -> None:
    """Log on the service that a job's action was not applied because its status moved on; its
    operation in progress is cleared when it was this job's, and what waited on the job (an
    upgrade, a paid renewal line) learns that it ended without effect."""
    if operation_held_by(session, service, job):
        service.operation = None
        session.add(service)
    activity.record(
        session,
        service,
        Actor(kind=job.actor_kind, name=job.actor, role=Role.ADMIN),
        "job_resolved",
        from_status=service.status,
        to_status=service.status,
        reason=reason,
        details={"job": job.id, "action": job.action, "operation": job.operation, **(details or {})},
    )
    if job.action in FINAL_FAILURE_HOOKS:
        FINAL_FAILURE_HOOKS[job.action](session, job, reason)


def apply_after_module(session: Session, job: Job, result: ModuleResult) -> str:
    """Apply an action whose module call succeeded (called by the job runner, which checked
    `job_refusal` first); refused, changing nothing, when the service's status no longer allows it."""
    service = get_service(session, job.service_id, for_update=True)
    refusal = job_refusal(service, job)
    if refusal is not None:
        raise refuse(service, job.action, refusal)
    actor = Actor(kind=job.actor_kind, name=job.actor, role=Role.ADMIN)
    ctx = ActionContext(session, actor, service, dict(job.params), settings_of(session), result=result)
    service.operation = None
    service.last_error = None
    message = IMPLEMENTATIONS[job.action].apply(ctx)
    _touch(service, actor)
    session.add(service)
    if job.action in SUCCESS_HOOKS:
        SUCCESS_HOOKS[job.action](session, job)
    message, _ = _run_follow_ups(session, actor, ctx, message, bulk_run_id=job.bulk_run_id)
    return message


def record_module_failure(session: Session, job: Job, error: str, *, final: bool, external: dict[str, Any] | None = None) -> None:
    """Keep a failed module call's error on the service (and the delivery attempt count).

    `external` is what the module made before failing (a server id...), kept so a retry or a
    terminate can find it.
    """
    service = get_service(session, job.service_id, for_update=True)
    actor = Actor(kind=job.actor_kind, name=job.actor, role=Role.ADMIN)
    service.last_error = error
    if external:
        store_external(service, external)
    if job.action in {"deliver", "redeliver"}:
        service.delivery_attempts = (service.delivery_attempts or 0) + 1
    if final:
        service.operation = None
    _touch(service, actor)
    session.add(service)
    activity.record(
        session,
        service,
        actor,
        f"{job.action}_failed",
        from_status=service.status,
        to_status=service.status,
        reason=error,
        details={"job": job.id, "attempt": job.attempts, "final": final},
    )
    if final and job.action in {"deliver", "redeliver"}:
        _notify_admins_of_failed_delivery(session, service, error)
    if final and job.action in FINAL_FAILURE_HOOKS:
        FINAL_FAILURE_HOOKS[job.action](session, job, error)


def _notify_admins_of_failed_delivery(session: Session, service: Service, error: str) -> None:
    settings = settings_of(session)
    address = settings["admin_email"] or settings["smtp_from"]
    customer = session.get(Customer, service.customer_id)
    if customer is None:
        return
    context = notifications.service_context(service, customer) | {"error": error, "attempts": service.delivery_attempts}
    notifications.queue(session, "delivery_failed", to_address=address, context=context, service_id=service.id)


def queue_job(
    session: Session,
    actor: Actor,
    service: Service,
    operation: str,
    action: str,
    params: dict[str, Any],
    *,
    bulk_run_id: int | None = None,
    claim_for: str | None = None,
) -> Job:
    """A job for the module queue; claimed by `claim_for` right away when given."""
    now = clock.now()
    job = Job(
        service_id=service.id or 0,
        server_id=service.server_id,
        operation=operation,
        action=action,
        params={key: value for key, value in params.items()},
        status="queued",
        attempts=0,
        next_attempt_at=now,
        actor_kind=actor.kind,
        actor=actor.name,
        created_at=now,
        updated_at=now,
        bulk_run_id=bulk_run_id,
    )
    if claim_for is not None:
        from svcconsole.core.jobs import mark_claimed

        mark_claimed(job, claim_for, now)
    session.add(job)
    session.flush()
    return job


# ----------------------------------------------------------------------------- create and import


@dataclass
class ServiceDraft:
    """The wizard's fields as typed input (strings as the user gave them)."""

    customer: str
    name: str
    product: str | None = None
    type: str | None = None
    cycle: str | None = None
    price: str | None = None
    initial_price: str | None = None
    server: str | None = None
    expires: str | None = None
    description: str | None = None
    notes: str | None = None
    max_renewals: str | None = None
    currency: str | None = None
    external: str | None = None


def needs_server(module: str) -> bool:
    """Whether a service of this module is delivered to a server (its module says so)."""
    return is_module(module) and get_module(module).needs_server


def require_server(module: str, server: Server | None) -> None:
    """Refuse a service of a module that needs a server when none is given."""
    if server is None and needs_server(module):
        raise InvalidInput("--server", f"a {module} service needs --server (the server its panel runs on)")


def _build_service(session: Session, actor: Actor, draft: ServiceDraft) -> Service:
    settings = settings_of(session)
    tz = settings.tz
    customer = resolve_customer(session, draft.customer, "--customer")
    name = parse.parse_text("--name", draft.name, required=True) or ""
    product = resolve_product(session, draft.product, "--product") if draft.product else None
    if product is not None:
        if draft.type and draft.type.strip().lower() != product.type:
            raise InvalidInput("--type", f"{draft.type!r} differs from product {product.name!r}'s type {product.type!r}")
        module = product.type
    else:
        if not draft.type:
            raise InvalidInput("--type", "a custom service (no --product) needs --type (a module name)")
        from svcconsole.core.catalog import parse_module

        module = parse_module("--type", draft.type)
    cycle = parse.parse_cycle("--cycle", draft.cycle) if draft.cycle else None
    listed = None
    if product is not None:
        if cycle is None:
            from svcconsole.core.catalog import prices_of

            offered = prices_of(session, product.id or 0)
            listed = next((price for price in offered if price.billing_cycle == "monthly"), offered[0] if offered else None)
            cycle = cycles.BillingCycle(listed.billing_cycle) if listed else cycles.BillingCycle.MONTHLY
        else:
            listed = product_price(session, product.id or 0, cycle.value)
    cycle = cycle or cycles.BillingCycle.MONTHLY
    if draft.price is not None:
        price = parse.parse_money("--price", draft.price)
    elif listed is not None:
        price = listed.price
    elif product is not None:
        raise InvalidInput("--price", f"product {product.name!r} has no {cycle.value} price; give --price")
    else:
        raise InvalidInput("--price", "a custom service (no --product) needs --price")
    initial_price = parse.parse_money("--initial-price", draft.initial_price) if draft.initial_price is not None else price
    currency = (draft.currency or (listed.currency if listed else settings["currency"])).upper()
    server = resolve_server(session, draft.server, "--server") if draft.server else None
    if server is not None and server.module != module:
        raise InvalidInput("--server", f"server {server.name!r} runs module {server.module!r}, not {module!r}")
    require_server(module, server)
    expires = parse.parse_date("--expires", draft.expires, tz) if draft.expires else None
    if expires is None and cycles.is_recurring(cycle.value):
        start = clock.now()
        expires = cycles.shift(start, cycle.value, 1, cycles.anchor_day_of(start, tz), tz)
    max_renewals = (
        parse.parse_optional_int("--max-renewals", draft.max_renewals) if draft.max_renewals is not None else (product.max_renewals if product else None)
    )
    service_uuid = str(uuid_module.uuid4())
    return Service(
        uuid=service_uuid,
        search_text=search.search_text(name, customer.name, customer.email, product.name if product else None, service_uuid),
        customer_id=customer.id or 0,
        customer_name=customer.name,
        product_id=product.id if product else None,
        product_name=product.name if product else None,
        server_id=server.id if server else None,
        server_name=server.name if server else None,
        type=module,
        name=name,
        description=parse.parse_text("--description", draft.description, max_length=5000),
        notes=parse.parse_text("--notes", draft.notes, max_length=20000),
        status=Status.PENDING.value,
        billing_cycle=cycle.value,
        anchor_day=cycles.anchor_day_of(expires, tz),
        price=price,
        initial_price=initial_price,
        currency=currency,
        created_at=clock.now(),
        expires_at=expires,
        max_renewals=max_renewals,
        external={},
        version=1,
        updated_at=clock.now(),
        updated_by=actor.name,
    )


def create_service(session: Session, actor: Actor, draft: ServiceDraft) -> Service:
    """A new `pending` service (no invoice: creation never bills)."""
    require(actor, NON_TRANSITION_ROLES["create"], "creating a service")
    service = _build_service(session, actor, draft)
    session.add(service)
    session.flush()
    activity.record(
        session,
        service,
        actor,
        "create",
        to_status=service.status,
        details={"product": service.product_name, "price": str(service.price), "cycle": service.billing_cycle},
    )
    return service


def import_service(session: Session, actor: Actor, draft: ServiceDraft, *, external: dict[str, Any] | None = None) -> Service:
    """A service for a resource that already exists on its panel: `active`, no module create.

    `external` is what the module reported for the resource (see `delivery.importable_external`);
    without it the reference alone is stored. A resource a live service of the server holds is
    refused naming that service, also when another import commits it first (the unique index
    on (server_id, external_key) decides; its violation is turned into the same refusal).
    """
    require(actor, NON_TRANSITION_ROLES["import"], "importing a service")
    reference = parse.parse_text("--external", draft.external, required=True, max_length=200) or ""
    service = _build_service(session, actor, draft)
    if service.server_id is None and get_module(service.type).supports_operation("list_importable"):
        raise InvalidInput("--server", f"importing a {service.type} service needs --server")
    service.status = Status.ACTIVE.value
    store_external(service, dict(external) if external else {"ref": reference}, replace=True)
    server_id, key = service.server_id, service.external_key
    if server_id is not None and key is not None:
        holder = resource_holder(session, server_id, key)
        if holder is not None:
            raise already_linked(reference, holder)
    try:
        with session.begin_nested():
            session.add(service)
            session.flush()
    except IntegrityError as error:
        duplicate = unique_violation(error)
        if duplicate is None or "external_key" not in duplicate.columns or server_id is None or key is None:
            raise
        holder = resource_holder(session, server_id, key)
        if holder is None:
            raise
        raise already_linked(reference, holder) from None
    activity.record(session, service, actor, "import", to_status=service.status, details={"external": reference})
    return service


def resource_holder(session: Session, server_id: int, key: str) -> Service | None:
    """The live service of `server_id` that holds the panel resource `key`, if any."""
    return session.exec(
        select(Service).where(Service.server_id == server_id, Service.external_key == key, Service.status.in_(RESOURCE_HOLDING_STATUSES))  # type: ignore[attr-defined]
    ).first()


def already_linked(reference: str, holder: Service) -> AlreadyLinked:
    """The refusal of an import of a resource `holder` holds; one line naming that service."""
    return AlreadyLinked(f"--external: resource {reference} on server {holder.server_name} is already service {holder.id} ({holder.name}, {holder.status})")


# ----------------------------------------------------------------------------- edit


def edit_service(
    session: Session,
    actor: Actor,
    service_id: int,
    changes: dict[str, str | None],
    *,
    expected_version: int | None = None,
    reason: str | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Change fields of a service; returns {field: (old, new)} for the fields that changed.

    With `expected_version`, a service changed by someone else since it was read is refused
    with who changed it, and nothing is written.
    """
    require(actor, NON_TRANSITION_ROLES["edit"], "editing a service")
    unknown = [key for key in changes if key not in EDITABLE_FIELDS]
    if unknown:
        raise InvalidInput(unknown[0], f"not an editable field (editable: {', '.join(EDITABLE_FIELDS)})")
    service = get_service(session, service_id, for_update=True)
    if expected_version is not None and service.version != expected_version:
        when = service.updated_at.isoformat(timespec="seconds") if service.updated_at else "an unknown time"
        raise Conflict(
            f"service {service.id} was changed by {service.updated_by or 'someone'} at {when} since you opened it "
            f"(version {expected_version} -> {service.version}); nothing was saved: reload and edit again"
        )
    tz = timezone_of(session)
    parsed: dict[str, Any] = {}
    for key, text in changes.items():
        parsed[key] = _parse_field(session, service, key, text, tz)
    _check_expiry_kept(service, parsed)
    if "status" in parsed and parsed["status"] != service.status:
        require(actor, ACTIONS["set-status"].role, "a status override")
        if not (reason or "").strip():
            raise InvalidInput("--reason", "changing the status needs a reason")
    changed: dict[str, tuple[Any, Any]] = {}
    for key, value in parsed.items():
        if key == "server":
            old = (service.server_id, service.server_name)
            new = (value.id, value.name) if value is not None else (None, None)
            if old != new:
                service.server_id, service.server_name = new
                changed["server"] = (old[1], new[1])
            continue
        old = getattr(service, key)
        if old != value:
            setattr(service, key, value)
            changed[key] = (old, value)
    if "name" in changed:
        customer = session.get(Customer, service.customer_id)
        service.search_text = search.search_text(service.name, service.customer_name, customer.email if customer else "", service.product_name, service.uuid)
    if "expires_at" in changed and service.expires_at is not None:
        service.anchor_day = cycles.anchor_day_of(service.expires_at, tz)
        if service.cancel_mode == CancelMode.END_OF_CYCLE.value:
            service.cancel_at = service.expires_at
    if not changed:
        return changed
    details = {key: [_jsonable(old), _jsonable(new)] for key, (old, new) in changed.items()}
    status_change = changed.get("status")
    if status_change:
        details.update(status_override.keep_record_coherent(service, status_change[0], reason))
    activity.record(
        session,
        service,
        actor,
        "status_override" if status_change else "edit",
        from_status=status_change[0] if status_change else service.status,
        to_status=service.status,
        reason=reason,
        details=details,
    )
    _touch(service, actor)
    session.add(service)
    session.flush()
    return changed


def _check_expiry_kept(service: Service, parsed: dict[str, Any]) -> None:
    """Refuse an edit that leaves a recurring service without an expiry (renewals move it)."""
    cycle = parsed.get("billing_cycle", service.billing_cycle)
    expires = parsed.get("expires_at", service.expires_at)
    if expires is None and cycles.is_recurring(cycle) and ("expires_at" in parsed or "billing_cycle" in parsed):
        option = edit_option("expires_at" if "expires_at" in parsed else "billing_cycle")
        raise InvalidInput(option, f"a {cycle} service needs an expiry date (only onetime and free services have none); give --expires YYYY-MM-DD")


EDIT_OPTIONS = {"expires_at": "--expires", "billing_cycle": "--cycle"}
"""The `services edit` option of each field whose option is not the field's own name."""


def edit_option(key: str) -> str:
    """The `services edit` option that sets field `key`, for messages."""
    return EDIT_OPTIONS.get(key, f"--{key.replace('_', '-')}")


def _parse_field(session: Session, service: Service, key: str, text: str | None, tz: ZoneInfo) -> Any:
    option = edit_option(key)
    if key == "name":
        return parse.parse_text(option, text, required=True)
    if key in {"description", "notes"}:
        return parse.parse_text(option, text, max_length=20000) or None
    if key in {"price", "initial_price"}:
        return parse.parse_money(option, text or "")
    if key == "billing_cycle":
        return parse.parse_cycle(option, text or "").value
    if key == "expires_at":
        return parse.parse_date(option, text or "", tz) if text not in (None, "", "none") else None
    if key == "server":
        if text in (None, "", "none"):
            return None
        server = resolve_server(session, text, option)
        if server.module != service.type:
            raise InvalidInput(option, f"server {server.name!r} runs module {server.module!r}, not {service.type!r}")
        return server
    if key == "max_renewals":
        return parse.parse_optional_int(option, text)
    if key == "type":
        from svcconsole.core.catalog import parse_module

        return parse_module(option, text or "")
    if key == "auto_renew":
        return parse.parse_bool(option, text or "")
    if key == "currency":
        value = (text or "").strip().upper()
        if len(value) != 3 or not value.isalpha():
            raise InvalidInput(option, f"{text!r} is not a currency code (three letters such as EUR)")
        return value
    if key == "status":
        value = (text or "").strip().lower()
        if value not in {status.value for status in Status}:
            raise InvalidInput(option, f"{text!r} is not a status ({', '.join(status.value for status in Status)})")
        return value
    raise InvalidInput(option, "not an editable field")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def iso(moment: datetime | None) -> str | None:
    """A moment as ISO 8601 UTC with a Z, or None."""
    return clock.as_utc(moment).isoformat().replace("+00:00", "Z") if moment else None


def day(moment: datetime | None, tz: ZoneInfo) -> str:
    """A moment as its local date in `tz`, or "-"."""
    return moment.astimezone(tz).date().isoformat() if moment else "-"


# ----------------------------------------------------------------------------- metadata


def _check_meta_value(key: str, value: str) -> str:
    if key in RENEWAL_LIMIT_KEYS:
        return str(parse.parse_int(f"metadata {key}", value, minimum=0))
    if key == "disable_notify_expiration":
        return "true" if parse.parse_bool(f"metadata {key}", value) else "false"
    return parse.parse_text(f"metadata {key}", value, max_length=10000) or ""


def _check_meta_key(key: str) -> str:
    value = (key or "").strip()
    if not value or len(value) > 100 or any(char.isspace() for char in value) or any(ord(char) < 32 for char in value):
        raise InvalidInput("key", f"{key!r} is not a metadata key (1-100 characters, no spaces)")
    return value


def meta_items(session: Session, service_id: int) -> list[ServiceMeta]:
    get_service(session, service_id)
    return list(session.exec(select(ServiceMeta).where(ServiceMeta.service_id == service_id).order_by(ServiceMeta.key)).all())


def meta_set(session: Session, actor: Actor, service_id: int, key: str, value: str) -> ServiceMeta:
    require(actor, NON_TRANSITION_ROLES["metadata"], "changing metadata")
    key = _check_meta_key(key)
    clean = _check_meta_value(key, value)
    service = get_service(session, service_id, for_update=True)
    row = session.get(ServiceMeta, (service_id, key))
    old = row.value if row else None
    if row is None:
        row = ServiceMeta(service_id=service_id, key=key, value=clean)
    else:
        row.value = clean
    session.add(row)
    activity.record(session, service, actor, "meta_set", from_status=service.status, to_status=service.status, details={"key": key, "old": old, "new": clean})
    _touch(service, actor)
    session.add(service)
    return row


def meta_unset(session: Session, actor: Actor, service_id: int, key: str) -> None:
    require(actor, NON_TRANSITION_ROLES["metadata"], "changing metadata")
    service = get_service(session, service_id, for_update=True)
    row = session.get(ServiceMeta, (service_id, key))
    if row is None:
        raise NotFound(f"metadata: service {service_id} has no key {key!r}")
    activity.record(session, service, actor, "meta_unset", from_status=service.status, to_status=service.status, details={"key": key, "old": row.value})
    session.delete(row)
    _touch(service, actor)
    session.add(service)


# ----------------------------------------------------------------------------- options


def options_of(session: Session, service_id: int) -> list[ServiceOption]:
    return list(session.exec(select(ServiceOption).where(col(ServiceOption.service_id) == service_id).order_by(col(ServiceOption.id))).all())


def option_add(
    session: Session,
    actor: Actor,
    service_id: int,
    *,
    name: str,
    value: str | None = None,
    quantity: str | int = 1,
    price: str = "0",
    expires: str | None = None,
) -> ServiceOption:
    """Add an option with the service's expiry (a billing record unless the module applies options)."""
    require(actor, NON_TRANSITION_ROLES["options"], "changing options")
    service = get_service(session, service_id, for_update=True)
    tz = timezone_of(session)
    option = ServiceOption(
        service_id=service_id,
        name=parse.parse_text("--name", name, required=True) or "",
        value=parse.parse_text("--value", value, max_length=500),
        quantity=parse.parse_int("--quantity", quantity, minimum=1, maximum=100000),
        price=parse.parse_money("--price", price),
        expires_at=parse.parse_date("--expires", expires, tz) if expires else service.expires_at,
        created_at=clock.now(),
    )
    session.add(option)
    session.flush()
    activity.record(
        session,
        service,
        actor,
        "option_add",
        from_status=service.status,
        to_status=service.status,
        details={"option": option.id, "name": option.name, "price": str(option.price), "quantity": option.quantity},
    )
    _touch(service, actor)
    session.add(service)
    return option


def _get_option(session: Session, service_id: int, option_id: int) -> ServiceOption:
    option = session.get(ServiceOption, option_id)
    if option is None or option.service_id != service_id:
        raise NotFound(f"option: service {service_id} has no option {option_id}")
    return option


def option_edit(
    session: Session,
    actor: Actor,
    service_id: int,
    option_id: int,
    *,
    name: str | None = None,
    value: str | None = None,
    quantity: str | None = None,
    price: str | None = None,
    expires: str | None = None,
) -> ServiceOption:
    require(actor, NON_TRANSITION_ROLES["options"], "changing options")
    service = get_service(session, service_id, for_update=True)
    option = _get_option(session, service_id, option_id)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = parse.parse_text("--name", name, required=True)
    if value is not None:
        changes["value"] = parse.parse_text("--value", value, max_length=500)
    if quantity is not None:
        changes["quantity"] = parse.parse_int("--quantity", quantity, minimum=1, maximum=100000)
    if price is not None:
        changes["price"] = parse.parse_money("--price", price)
    if expires is not None:
        changes["expires_at"] = parse.parse_date("--expires", expires, timezone_of(session))
    details = {}
    for key, new in changes.items():
        old = getattr(option, key)
        if old != new:
            setattr(option, key, new)
            details[key] = [_jsonable(old), _jsonable(new)]
    session.add(option)
    if details:
        activity.record(session, service, actor, "option_edit", from_status=service.status, to_status=service.status, details={"option": option_id, **details})
        _touch(service, actor)
        session.add(service)
    return option


def option_remove(session: Session, actor: Actor, service_id: int, option_id: int) -> None:
    require(actor, NON_TRANSITION_ROLES["options"], "changing options")
    service = get_service(session, service_id, for_update=True)
    option = _get_option(session, service_id, option_id)
    activity.record(
        session, service, actor, "option_remove", from_status=service.status, to_status=service.status, details={"option": option_id, "name": option.name}
    )
    session.delete(option)
    _touch(service, actor)
    session.add(service)


def renewals_of(session: Session, service_id: int) -> list[Renewal]:
    return list(session.exec(select(Renewal).where(col(Renewal.service_id) == service_id).order_by(col(Renewal.id).desc())).all())


def ensure_not_client_hidden(service: Service) -> None:
    if service.status == Status.DELETED.value:
        raise service_not_found(service.id or 0)


__all__ = [
    "ACTIONS",
    "ActionImpl",
    "Outcome",
    "ServiceDraft",
    "SvcError",
    "apply_after_module",
    "create_service",
    "edit_service",
    "get_service",
    "import_service",
    "meta_set",
    "meta_unset",
    "option_add",
    "option_edit",
    "option_remove",
    "perform",
    "record_module_failure",
    "register_action",
    "service_ref",
]

from svcconsole.core import billing as _billing  # noqa: E402,F401  (registers renew-invoice and upgrade)
