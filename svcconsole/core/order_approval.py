"""Delivery of a paid order, and its approval when the setting `order_approval` is on.

A paid order's service is `pending`; its delivery starts at once, or, with `order_approval`
on, it waits marked awaiting approval until an admin approves it (delivery starts) or rejects
it (cancelled, never delivered). Both check the service as it stands when applied.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from svcconsole.core import activity, notifications, parse
from svcconsole.core.actions import perform
from svcconsole.core.lookups import get_service, module_supports, refuse, settings_of, touch
from svcconsole.core.operators import Actor, require
from svcconsole.core.order_actions import is_awaiting_approval, order_invoice_of
from svcconsole.core.statuses import NON_TRANSITION_ROLES
from svcconsole.store.models import Customer, Service


@dataclass
class ApprovalResult:
    """What approving or rejecting did to one service."""

    service_id: int
    status: str
    message: str
    job_id: int | None = None


def start_delivery(session: Session, actor: Actor, service: Service, invoice_id: int) -> tuple[str, int | None]:
    """Queue the module's create for a paid order's service, or mail the admin for a manual one."""
    if module_supports(service, "create"):
        outcome = perform(session, actor, "deliver", service.id or 0, {})
        return f"service {service.id} pending; {outcome.message}", outcome.job_id
    _notify_manual_delivery(session, service, invoice_id)
    return f"service {service.id} created pending; {service.type} delivery is done by hand (deliver it when ready)", None


def _notify_manual_delivery(session: Session, service: Service, invoice_id: int) -> None:
    settings = settings_of(session)
    customer = session.get(Customer, service.customer_id)
    if customer is None:
        return
    context = notifications.service_context(service, customer) | {"invoice_id": invoice_id, "product": service.product_name or "-"}
    notifications.queue(
        session,
        "manual_delivery",
        to_address=settings["admin_email"] or settings["smtp_from"],
        context=context,
        service_id=service.id,
        dedupe_key=f"manual_delivery:{service.id}",
    )


def _awaiting(session: Session, actor: Actor, service_id: int, action: str) -> Service:
    require(actor, NON_TRANSITION_ROLES["approve-order"], f"{action} an order")
    service = get_service(session, service_id, for_update=True)
    if not is_awaiting_approval(service):
        raise refuse(service, f"{action} order", "it is not a paid order awaiting approval")
    return service


def approve(session: Session, actor: Actor, service_id: int) -> ApprovalResult:
    """Approve a paid order's service: the mark is cleared and its delivery starts."""
    service = _awaiting(session, actor, service_id, "approve")
    service.approval = None
    touch(service, actor)
    session.add(service)
    invoice = order_invoice_of(session, service_id)
    activity.record(
        session, service, actor, "order_approved", from_status=service.status, to_status=service.status, details={"invoice": invoice.id if invoice else None}
    )
    session.flush()
    message, job_id = start_delivery(session, actor, service, invoice.id or 0 if invoice else 0)
    session.refresh(service)
    return ApprovalResult(service_id, service.status, f"approved; {message}", job_id)


def reject(session: Session, actor: Actor, service_id: int, *, reason: str | None = None) -> ApprovalResult:
    """Reject a paid order's service: it is cancelled and never delivered (the refund is the admin's)."""
    text = parse.parse_text("--reason", reason, max_length=2000)
    service = _awaiting(session, actor, service_id, "reject")
    service.approval = None
    session.add(service)
    outcome = perform(session, actor, "cancel-immediately", service_id, {"reason": f"order rejected: {text}" if text else "order rejected"})
    return ApprovalResult(service_id, outcome.to_status or service.status, f"rejected; {outcome.message}", outcome.job_id)
