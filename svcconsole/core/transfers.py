"""Transfer: give a service to another customer, in billing and on its panel.

The `transfer` action of the status table (SPEC.md section 3). Its check names the new owner
(`--to`, an id or email) and keeps a snapshot of it for the module's `transfer` call (the panel
owner; Pterodactyl makes the panel user when the customer has none). Its apply, at once or once
the panel call succeeded, reads the new owner again, moves the service, cancels the old owner's
unpaid lines for it (WHMCS moves no invoices; neither do we) and writes the change on both sides:
the service's row and one row for each customer.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from svcconsole.core import activity, clock
from svcconsole.core.action_base import ActionContext, ActionImpl, merge_external
from svcconsole.core.catalog import resolve_customer
from svcconsole.core.errors import InvalidInput, NotFound
from svcconsole.core.invoice_lookups import OPEN_STATUSES, OPEN_UPGRADE_STATUSES, UpgradeStatus
from svcconsole.core.invoices import void_invoice
from svcconsole.core.lookups import held_by_module, module_supports
from svcconsole.modules import CustomerRef
from svcconsole.store import search
from svcconsole.store.models import Customer, Invoice, InvoiceLine, Service, Upgrade

TARGET_FIELD = "--to"


def parse_target(session: Session, ref: Any) -> Customer:
    """The customer `--to` names (an id or an email); one line naming `--to` when there is none."""
    text = str(ref or "").strip()
    if not text:
        raise InvalidInput(TARGET_FIELD, "give the customer to transfer to (an id or an email)")
    try:
        return resolve_customer(session, text, TARGET_FIELD)
    except NotFound:
        raise InvalidInput(TARGET_FIELD, f"no customer with id or email {text[:80]!r}") from None


def customer_ref(customer: Customer) -> CustomerRef:
    return CustomerRef(id=customer.id or 0, name=customer.name, email=customer.email, company=customer.company)


def _check(ctx: ActionContext) -> None:
    target = parse_target(ctx.session, ctx.params.get("to"))
    if target.id == ctx.service.customer_id:
        raise ctx.refuse("transfer", f"it belongs to {target.email} already")
    ctx.params["to"] = target.id
    ctx.params["_customer_ref"] = asdict(customer_ref(target))


def _call(ctx: ActionContext) -> str | None:
    """The panel's owner changes when the panel holds the service and its module can move it."""
    if held_by_module(ctx.service) and module_supports(ctx.service, "transfer"):
        return "transfer"
    return None


def _apply(ctx: ActionContext) -> str:
    service = ctx.service
    target = ctx.session.get(Customer, int(ctx.params["to"]))
    if target is None:
        raise ctx.refuse("transfer", f"customer {ctx.params['to']} no longer exists")
    if target.id == service.customer_id:
        raise ctx.refuse("transfer", f"it belongs to {target.email} already")
    previous = ctx.session.get(Customer, service.customer_id)
    assert previous is not None
    merge_external(ctx)
    cancelled = cancel_unpaid_lines(ctx.session, service, previous.id or 0, why=f"not sent: service {service.id} was transferred to another customer")
    service.customer_id = target.id or 0
    service.customer_name = target.name
    service.search_text = search.search_text(service.name, target.name, target.email, service.product_name, service.uuid)
    ctx.session.add(service)
    details: dict[str, Any] = {"from": {"id": previous.id, "email": previous.email}, "to": {"id": target.id, "email": target.email}}
    if cancelled:
        details["cancelled"] = cancelled
    if ctx.result is not None and ctx.result.message:
        details["panel"] = ctx.result.message
    activity.record(
        ctx.session, service, ctx.actor, "transfer", from_status=service.status, to_status=service.status, reason=ctx.params.get("reason"), details=details
    )
    reason = ctx.params.get("reason")
    out_details = {"service": service.id, "to": target.email, **({"cancelled": cancelled} if cancelled else {})}
    activity.record_change(ctx.session, ctx.actor, "customer", previous.id or 0, "transfer_out", details=out_details, reason=reason)
    activity.record_change(
        ctx.session, ctx.actor, "customer", target.id or 0, "transfer_in", details={"service": service.id, "from": previous.email}, reason=reason
    )
    message = f"now belongs to {target.email} (was {previous.email})"
    if cancelled:
        message += f"; {len(cancelled)} unpaid line(s) of the old owner cancelled"
    return message


def cancel_unpaid_lines(session: Session, service: Service, customer_id: int, *, why: str) -> list[dict[str, Any]]:
    """Cancel `customer_id`'s unpaid, unapplied lines for `service`: an invoice of only such lines
    is cancelled whole, else the lines leave it. What was cancelled, for the activity rows."""
    found = session.exec(
        select(InvoiceLine, Invoice)
        .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
        .where(
            col(InvoiceLine.service_id) == service.id,
            col(InvoiceLine.applied_at).is_(None),
            col(Invoice.customer_id) == customer_id,
            col(Invoice.status).in_(OPEN_STATUSES),
        )
        .order_by(col(InvoiceLine.id))
    ).all()
    cancelled: list[dict[str, Any]] = []
    by_invoice: dict[int, tuple[Invoice, list[InvoiceLine]]] = {}
    for line, invoice in found:
        by_invoice.setdefault(invoice.id or 0, (invoice, []))[1].append(line)
        cancelled.append({"invoice": invoice.id, "line": line.id, "kind": line.kind, "description": line.description, "amount": str(line.amount)})
    for invoice_id, (invoice, lines) in by_invoice.items():
        others = session.exec(
            select(col(InvoiceLine.id)).where(col(InvoiceLine.invoice_id) == invoice_id, col(InvoiceLine.id).not_in([line.id for line in lines])).limit(1)
        ).first()
        if others is None:
            void_invoice(session, invoice, why)
        else:
            session.execute(delete(InvoiceLine).where(col(InvoiceLine.id).in_([line.id for line in lines])))
            open_upgrades = select(Upgrade).where(
                col(Upgrade.service_id) == service.id, col(Upgrade.invoice_id) == invoice_id, col(Upgrade.status).in_(OPEN_UPGRADE_STATUSES)
            )
            for upgrade in session.exec(open_upgrades).all():
                upgrade.status = UpgradeStatus.CANCELLED.value
                upgrade.completed_at = clock.now()
                session.add(upgrade)
    return cancelled


TRANSFER = ActionImpl(_check, _apply, _call)
