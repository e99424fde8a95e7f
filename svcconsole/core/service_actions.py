"""The check and apply of each action of the status table (SPEC.md section 3), deliver to delete.

Each action is a `check` (is it allowed from here, by this actor, under these rules?) and an
`apply` (the change and its activity row). `core.actions` runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from svcconsole.core import clock, cycles, notifications, placement, renew_checks
from svcconsole.core.action_base import ActionContext, ActionImpl, forget_external, log_action, merge_external
from svcconsole.core.errors import InvalidInput
from svcconsole.core.lookups import day, held_by_module, iso, module_supports
from svcconsole.core.order_actions import is_awaiting_approval
from svcconsole.core.renewals import bounded_expiry, check_renewable, extend_service, renewal_amount
from svcconsole.core.statuses import ACTIONS, CancelMode, Status, SuspendKind


def no_check(ctx: ActionContext) -> None:
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


def no_call(ctx: ActionContext) -> str | None:
    return None


def set_status(ctx: ActionContext, status: Status) -> str:
    before = ctx.service.status
    ctx.service.status = status.value
    return f"{before} -> {status.value}"


def _first_expiry(ctx: ActionContext) -> None:
    service = ctx.service
    if service.expires_at is None and cycles.is_recurring(service.billing_cycle):
        start = clock.now()
        anchor = cycles.anchor_day_of(start, ctx.tz)
        service.expires_at = cycles.shift(start, service.billing_cycle, 1, anchor, ctx.tz)
        service.anchor_day = anchor


def _check_approved(ctx: ActionContext) -> None:
    if is_awaiting_approval(ctx.service):
        raise ctx.refuse(
            ctx.params.get("_action", "deliver"), f"its order awaits approval (`orders approve {ctx.service.id}` or `orders reject {ctx.service.id}`)"
        )


def _check_placement(ctx: ActionContext) -> None:
    """Deliver only to a server with room: the product group's choice, or the service's own
    server (raises `placement.NotAvailable`, which `perform` keeps on the service)."""
    placement.place(ctx.session, ctx.service)


def _check_deliverable(ctx: ActionContext) -> None:
    """A delivery waits for the order's approval, then for a server with room."""
    _check_approved(ctx)
    _check_placement(ctx)


def _apply_deliver(ctx: ActionContext) -> str:
    service = ctx.service
    before = service.status
    merge_external(ctx)
    _first_expiry(ctx)
    service.delivery_attempts = (service.delivery_attempts or 0) + (1 if ctx.result is not None else 0)
    service.last_error = None
    placement.forget_short(ctx.session, service)
    change = set_status(ctx, Status.ACTIVE)
    log_action(ctx, ctx.params.get("_action", "deliver"), before, details={"message": ctx.result.message} if ctx.result and ctx.result.message else None)
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
    change = set_status(ctx, Status.SUSPENDED)
    log_action(ctx, "suspend", before, reason=service.suspend_reason, details={"kind": service.suspend_kind, "notify": bool(ctx.params.get("notify"))})
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
    change = set_status(ctx, Status.ACTIVE)
    log_action(ctx, "unsuspend", before, reason=ctx.params.get("reason"), details={"kind": kind})
    notifications.notify_customer(ctx.session, "unsuspended", service)
    return change


def _check_renew(ctx: ActionContext) -> None:
    cycles_wanted = int(ctx.params.get("cycles", 1))
    check_renewable(ctx.session, ctx.service, cycles_wanted, ctx.settings)
    if ctx.params.get("invoice_id") is None:
        renew_checks.refuse_renewing_a_billed_period(ctx.session, ctx.service)
    if ctx.params.get("amount") is None and not ctx.params.get("free"):
        renewal_amount(ctx.session, ctx.service, cycles_wanted)


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
    log_action(ctx, "renew", before, reason=ctx.params.get("reason"), details=details)
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
    log_action(ctx, "cancel", before, reason=service.cancel_reason, details={"mode": service.cancel_mode, "cancel_at": iso(service.cancel_at)})
    return f"cancels on {day(service.cancel_at, ctx.tz)}"


def _apply_cancel_now(ctx: ActionContext) -> str:
    service = ctx.service
    before = service.status
    removed = forget_external(ctx) if ctx.result is not None else {}
    service.cancel_mode = CancelMode.IMMEDIATE.value
    service.cancel_at = service.cancel_at or clock.now()
    service.cancel_reason = ctx.params.get("reason") or service.cancel_reason
    service.cancelled_at = clock.now()
    change = set_status(ctx, Status.CANCELLED)
    log_action(
        ctx,
        "cancel",
        before,
        reason=service.cancel_reason,
        details={"mode": CancelMode.IMMEDIATE.value, "removed": removed} if removed else {"mode": CancelMode.IMMEDIATE.value},
    )
    notifications.notify_customer(ctx.session, "cancelled", service)
    if ctx.params.get("then_delete"):
        ctx.follow_up.append(("delete", {"reason": service.cancel_reason}))
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
    log_action(ctx, "uncancel", before, reason=ctx.params.get("reason"), details={"was": iso(was)})
    return "cancellation withdrawn"


def _apply_expire(ctx: ActionContext) -> str:
    before = ctx.service.status
    removed = forget_external(ctx) if ctx.result is not None else {}
    change = set_status(ctx, Status.EXPIRED)
    log_action(ctx, "expire", before, reason=ctx.params.get("reason"), details={"removed": removed} if removed else None)
    notifications.notify_customer(ctx.session, "expired", ctx.service)
    return change


def _apply_terminate(ctx: ActionContext) -> str:
    service = ctx.service
    before = service.status
    removed = forget_external(ctx) if ctx.result is not None else {}
    service.terminated_at = clock.now()
    change = set_status(ctx, Status.TERMINATED)
    log_action(ctx, "terminate", before, reason=ctx.params.get("reason"), details={"removed": removed} if removed else None)
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
    merge_external(ctx)
    log_action(ctx, "reinstall", before, reason=ctx.params.get("reason"))
    return "reinstalled"


def _check_power(ctx: ActionContext) -> None:
    if not module_supports(ctx.service, "power"):
        raise ctx.refuse("power", f"module {ctx.service.type} has no power actions")
    if not str(ctx.params.get("signal") or "").strip():
        raise InvalidInput("signal", "give the power signal to send (such as start, stop, restart)")


def _apply_power(ctx: ActionContext) -> str:
    signal = str(ctx.params.get("signal"))
    log_action(ctx, "power", ctx.service.status, reason=ctx.params.get("reason"), details={"signal": signal, "as": ctx.params.get("verb") or signal})
    return ctx.result.message if ctx.result is not None and ctx.result.message else f"{signal} sent"


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
    log_action(
        ctx, ctx.params["_action"], before, reason=ctx.params.get("reason"), details={"days": signed, "from": iso(old_expiry), "to": iso(service.expires_at)}
    )
    return f"expires {day(service.expires_at, ctx.tz)} (was {day(old_expiry, ctx.tz)})"


def _apply_delete(ctx: ActionContext) -> str:
    service = ctx.service
    before = service.status
    removed = forget_external(ctx) if ctx.result is not None else {}
    service.deleted_at = clock.now()
    change = set_status(ctx, Status.DELETED)
    log_action(ctx, "delete", before, reason=ctx.params.get("reason"), details={"removed": removed} if removed else None)
    return change


IMPLEMENTATIONS: dict[str, ActionImpl] = {
    "deliver": ActionImpl(_check_deliverable, _apply_deliver, _rule_call("deliver")),
    "suspend": ActionImpl(_check_suspend, _apply_suspend, _rule_call("suspend")),
    "unsuspend": ActionImpl(no_check, _apply_unsuspend, _rule_call("unsuspend")),
    "renew": ActionImpl(_check_renew, _apply_renew, _rule_call("renew")),
    "cancel-end-of-cycle": ActionImpl(_check_cancel_end, _apply_cancel_end, no_call),
    "cancel-immediately": ActionImpl(no_check, _apply_cancel_now, _terminate_call),
    "uncancel": ActionImpl(_check_uncancel, _apply_uncancel, no_call),
    "expire": ActionImpl(no_check, _apply_expire, _terminate_call),
    "terminate": ActionImpl(no_check, _apply_terminate, _terminate_call),
    "redeliver": ActionImpl(_check_deliverable, _apply_redeliver, _redeliver_call),
    "reinstall": ActionImpl(_check_reinstall, _apply_reinstall, _rule_call("reinstall")),
    "power": ActionImpl(_check_power, _apply_power, _rule_call("power")),
    "add-days": ActionImpl(_check_days, _apply_days, no_call),
    "subtract-days": ActionImpl(_check_days, _apply_days, no_call),
    "delete": ActionImpl(no_check, _apply_delete, _terminate_call),
}
"""The status table's actions; `core.actions.IMPLEMENTATIONS` adds billing's (renew-invoice, upgrade) to them."""


def parse_suspend_kind(text: str | None) -> str:
    kind = str(text or SuspendKind.ADMIN.value).strip().lower()
    if kind not in {item.value for item in SuspendKind}:
        raise InvalidInput("--kind", f"{kind!r} is not a suspension kind (admin, client, abuse, overdue, temporary)")
    return kind
