"""Options chosen from a product's catalogue: the `add-option` action (billed with each renewal;
applied on the panel by the module's `add_option` through the queue when the module applies
it) and the options an order's new service starts with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, select

from svcconsole.core import activity, option_catalog, records
from svcconsole.core.action_base import ActionContext, ActionImpl
from svcconsole.core.errors import InvalidInput
from svcconsole.core.lookups import module_supports
from svcconsole.core.operators import Actor, job_actor
from svcconsole.core.resync import apply_panel_change
from svcconsole.core.statuses import Status
from svcconsole.store.models import Job, Product, Service, ServiceOption

APPLIED_FROM = (Status.ACTIVE.value, Status.SUSPENDED.value)
"""Where the module applies an option at once; a pending service gets it with its delivery."""


def _check_add_option(ctx: ActionContext) -> None:
    """Check the choice against the service's product catalogue and record the option (once)."""
    service, session = ctx.service, ctx.session
    product = session.get(Product, service.product_id) if service.product_id else None
    if product is None:
        raise InvalidInput(option_catalog.OPTION_FIELD, f"service {service.id} has no product, so no option catalogue to choose from")
    chosen = option_catalog.choose(session, product, str(ctx.params.get("option") or ""))
    if chosen.quantity == 0:
        raise InvalidInput(option_catalog.OPTION_FIELD, f"a quantity of 0 chooses nothing (accepted for {chosen.name!r}: 1 or more)")
    if ctx.params.get("service_option") is None:
        existing = session.exec(select(ServiceOption).where(ServiceOption.service_id == service.id, ServiceOption.name == chosen.name)).first()
        if existing is not None:
            raise InvalidInput(
                option_catalog.OPTION_FIELD, f"service {service.id} has {chosen.name!r} already (option {existing.id}): remove it to choose again"
            )
        row = _record(session, ctx.actor, service, chosen.as_dict())
        ctx.params["service_option"] = row.id
    ctx.params["_option"] = {**chosen.as_dict(), "service_option": ctx.params["service_option"]}


def _record(session: Session, actor: Actor, service: Service, chosen: dict[str, Any]) -> ServiceOption:
    row = records.option_add(
        session, actor, service.id or 0, name=chosen["name"], value=chosen.get("value"), quantity=chosen["quantity"], price=chosen["price"]
    )
    if chosen.get("resource") is not None and chosen.get("amount") is not None:
        row.resource, row.amount = chosen["resource"], int(chosen["amount"])
        session.add(row)
    return row


def _apply_add_option(ctx: ActionContext) -> str:
    """Billing only: the option row is the change. After the module call: log what the panel did."""
    if ctx.result is None:
        option = ctx.params["_option"]
        return f"option {option['name']!r} added (option {ctx.params['service_option']}), billed with each renewal"
    return apply_panel_change(ctx)


def _add_option_call(ctx: ActionContext) -> str | None:
    applied = ctx.params["_option"].get("resource") is not None
    return "add_option" if applied and ctx.service.status in APPLIED_FROM and module_supports(ctx.service, "add_option") else None


ADD_OPTION = ActionImpl(_check_add_option, _apply_add_option, _add_option_call)
"""Add an option from the catalogue to a service (`services options ID choose NAME=VALUE`, the Options tab)."""


def option_not_applied(session: Session, job: Job, error: str) -> None:
    """The panel never applied the option (its job failed for good or the service moved on): it is
    not billed either; the row goes, with an activity row that says why."""
    row = session.get(ServiceOption, int((job.params or {}).get("service_option") or 0))
    service = session.get(Service, job.service_id)
    if row is None or service is None:
        return
    activity.record(
        session,
        service,
        job_actor(job),
        "option_remove",
        from_status=service.status,
        to_status=service.status,
        reason=f"not applied on the panel: {error}",
        details={"option": row.id, "name": row.name, "job": job.id},
    )
    session.delete(row)


def add_ordered_options(session: Session, actor: Actor, service: Service, chosen: Sequence[dict[str, Any]]) -> list[ServiceOption]:
    """The options an order chose, on its new service (its delivery builds with them)."""
    return [_record(session, actor, service, item) for item in chosen]
