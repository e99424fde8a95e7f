"""Actions that bring a panel back in line with billing without changing the billing status.

Reconcile's fixes go through these, so each has its status-table rule (where it may start), its
module call through the queue, and its activity row, like any action:

- `panel-suspend`: billing says suspended, the panel does not: suspend on the panel again;
- `panel-unsuspend`: billing says active, the panel says suspended: lift it on the panel;
- `rebuild`: the panel's limits differ from the product's: apply the product again
  (`change_package` with the service's own product);
- `panel-owner`: the panel owner is not the service's customer: give the resource to the customer
  (only for a service named by the admin);
- `redeliver-missing`: the panel lost the resource of a live service: create it again
  (the stored reference is dropped first, as `redeliver` does for a pending one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from svcconsole.core import activity
from svcconsole.core.action_base import ActionContext, ActionImpl, store_external
from svcconsole.core.lookups import module_supports, service_product_ref
from svcconsole.core.statuses import ACTIONS
from svcconsole.store.models import Product


def _check_rebuild(ctx: ActionContext) -> None:
    if not module_supports(ctx.service, "change_package"):
        raise ctx.refuse("re-apply the build", f"module {ctx.service.type} does not support change_package")
    product = ctx.session.get(Product, ctx.service.product_id) if ctx.service.product_id else None
    if product is None:
        raise ctx.refuse("re-apply the build", "the service has no product to apply")
    ctx.params["_product_ref"] = asdict(service_product_ref(ctx.session, ctx.service, product))


def apply_panel_change(ctx: ActionContext) -> str:
    """The module call succeeded: keep what it reported and log it; the status stays."""
    action = str(ctx.params["_action"])
    if ctx.result is not None and ctx.result.external:
        store_external(ctx.service, ctx.result.external)
    message = ctx.result.message if ctx.result is not None else ""
    activity.record(
        ctx.session,
        ctx.service,
        ctx.actor,
        action,
        from_status=ctx.service.status,
        to_status=ctx.service.status,
        reason=ctx.params.get("reason"),
        details={"message": message} if message else None,
    )
    return f"{ACTIONS[action].title.lower()}: {message}" if message else ACTIONS[action].title.lower()


def _apply_redelivered(ctx: ActionContext) -> str:
    if ctx.result is not None:
        store_external(ctx.service, ctx.result.external, replace=True)
    ctx.service.delivery_attempts = (ctx.service.delivery_attempts or 0) + 1
    ctx.service.last_error = None
    return apply_panel_change(ctx)


def _check_supports(operation: str) -> Callable[[ActionContext], None]:
    def check(ctx: ActionContext) -> None:
        if not module_supports(ctx.service, operation):
            raise ctx.refuse(ACTIONS[ctx.params["_action"]].title.lower(), f"module {ctx.service.type} does not support {operation}")

    return check


def _calls(operation: str) -> Callable[[ActionContext], str | None]:
    def call(ctx: ActionContext) -> str | None:
        return operation

    return call


IMPLEMENTATIONS: dict[str, ActionImpl] = {
    "panel-suspend": ActionImpl(_check_supports("suspend"), apply_panel_change, _calls("suspend")),
    "panel-unsuspend": ActionImpl(_check_supports("unsuspend"), apply_panel_change, _calls("unsuspend")),
    "rebuild": ActionImpl(_check_rebuild, apply_panel_change, _calls("change_package")),
    "panel-owner": ActionImpl(_check_supports("transfer"), apply_panel_change, _calls("transfer")),
    "redeliver-missing": ActionImpl(_check_supports("create"), _apply_redelivered, _calls("redeliver")),
}
"""Reconcile's fix actions by their status-table names (their rules stand in `statuses.ACTIONS`)."""
