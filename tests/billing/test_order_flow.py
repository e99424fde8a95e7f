"""An order's services (issue 16 items 3 and 4): created at once `ordered`; paying the invoice
moves them to `pending` and queues delivery (or leaves them awaiting approval when the setting
`order_approval` is on, until `orders approve` / `orders reject`); cancelling it cancels them.

Expectations come from SPEC.md section 3 as transcribed in tests/support/status_table.py."""

from __future__ import annotations

import json

import pytest

from svcconsole.core import actions, automation, records
from svcconsole.core.errors import TransitionRefused
from svcconsole.store.models import Activity, InvoiceLine, Job, Notification, Service
from tests.billing.conftest import RecordingPanel, count, rows, service, set_setting
from tests.conftest import new_service
from tests.support.status_table import STATUSES, TABLE


def order(cli, *products, name="shop"):
    result = cli("orders", "create", "--customer", "alice@example.com", *[arg for product in products for arg in ("--product", product)], "--name", name)
    assert result.exit_code == 0, result.stderr
    return int(result.stdout)


def test_an_order_creates_its_services_ordered_at_once_without_a_module_call(db, admin, catalog, panel, cli, frozen):
    invoice_id = order(cli, "Panel S", "Panel S", name="mc")
    created = rows(db, Service)
    assert [item.status for item in created] == ["ordered", "ordered"]
    assert [item.expires_at for item in created] == [None, None]
    assert sorted(line.service_id for line in rows(db, InvoiceLine, InvoiceLine.invoice_id == invoice_id)) == [item.id for item in created]
    assert RecordingPanel.calls == [] and count(db, Job) == 0
    listed = json.loads(cli("services", "list", "--status", "ordered", "--format", "json").stdout)
    assert [row["status"] for row in listed] == ["ordered", "ordered"]


def test_the_automation_leaves_ordered_services_alone(db, admin, catalog, panel, cli, frozen):
    order(cli, "Panel S")
    automation.run(db, admin)
    [waiting] = rows(db, Service)
    assert waiting.status == "ordered" and RecordingPanel.calls == [] and count(db, Job) == 0


def test_paying_moves_them_to_pending_and_queues_delivery(db, admin, catalog, panel, cli, frozen):
    invoice_id = order(cli, "Panel S")
    paid = cli("invoices", "pay", str(invoice_id))
    assert paid.exit_code == 0, paid.stderr
    [delivered] = rows(db, Service)
    assert delivered.status == "active" and [call[0] for call in RecordingPanel.calls] == ["create"]
    transitions = [(row.action, row.from_status, row.to_status) for row in rows(db, Activity, Activity.service_id == delivered.id)]
    assert ("pay-order", "ordered", "pending") in transitions and ("deliver", "pending", "active") in transitions


def test_cancelling_the_invoice_cancels_its_ordered_services(db, admin, catalog, panel, cli, frozen):
    invoice_id = order(cli, "Panel S")
    assert cli("invoices", "cancel", str(invoice_id), "--reason", "changed my mind").exit_code == 0
    [cancelled] = rows(db, Service)
    assert cancelled.status == "cancelled" and "changed my mind" in cancelled.cancel_reason
    assert RecordingPanel.calls == []
    [row] = rows(db, Activity, Activity.action == "cancel-order")
    assert (row.from_status, row.to_status) == ("ordered", "cancelled")


@pytest.mark.parametrize("action", ["pay-order", "cancel-order"])
@pytest.mark.parametrize("status", STATUSES)
def test_the_order_rows_start_only_from_ordered_and_only_with_the_invoice_settled(db, admin, catalog, frozen, action, status):
    """A service in `ordered` whose invoice is still unpaid is refused too: the invoice decides."""
    row = TABLE[action]
    service_id = new_service(db, admin, catalog, status=status)
    with pytest.raises(TransitionRefused) as refused:
        db.transaction(lambda session: actions.perform(session, admin, action, service_id, {}))
    why = str(refused.value)
    assert f"service {service_id}" in why and status in why
    if row.allows(status):
        assert "no order invoice" in why
    assert service(db, service_id).status == status


def test_an_unpaid_orders_service_cannot_be_paid_by_the_action_alone(db, admin, catalog, cli, frozen):
    order(cli, "Web Pro")
    [ordered] = rows(db, Service)
    with pytest.raises(TransitionRefused, match="is unpaid, not paid"):
        db.transaction(lambda session: actions.perform(session, admin, "pay-order", ordered.id, {}))
    with pytest.raises(TransitionRefused):
        db.transaction(lambda session: actions.perform(session, admin, "deliver", ordered.id, {}))
    assert service(db, ordered.id).status == "ordered"


# ----------------------------------------------------------------------------- approval


def test_with_order_approval_on_a_paid_order_waits_until_approved(db, admin, catalog, panel, cli, frozen):
    set_setting(db, "order_approval", "true")
    invoice_id = order(cli, "Panel S")
    paid = cli("invoices", "pay", str(invoice_id))
    assert paid.exit_code == 0, paid.stderr
    [waiting] = rows(db, Service)
    assert (waiting.status, waiting.approval) == ("pending", "awaiting")
    assert RecordingPanel.calls == [] and count(db, Job) == 0
    refused = cli("services", "deliver", str(waiting.id))
    assert refused.exit_code == 1 and "awaits approval" in refused.stderr
    automation.run(db, admin)
    assert RecordingPanel.calls == []

    approved = cli("orders", "approve", str(waiting.id), "--format", "json")
    assert approved.exit_code == 0, approved.stderr
    assert json.loads(approved.stdout)["status"] == "active"
    after = service(db, waiting.id)
    assert (after.status, after.approval) == ("active", None)
    assert [call[0] for call in RecordingPanel.calls] == ["create"]
    assert count(db, Activity, Activity.action == "order_approved") == 1
    again = cli("orders", "approve", str(waiting.id))
    assert again.exit_code == 1 and "not a paid order awaiting approval" in again.stderr


def test_a_rejected_order_is_cancelled_and_never_delivered(db, admin, catalog, panel, cli, frozen):
    set_setting(db, "order_approval", "true")
    cli("invoices", "pay", str(order(cli, "Panel S")))
    [waiting] = rows(db, Service)
    rejected = cli("orders", "reject", str(waiting.id), "--reason", "fraud check failed")
    assert rejected.exit_code == 0, rejected.stderr
    after = service(db, waiting.id)
    assert (after.status, after.approval) == ("cancelled", None) and "fraud check failed" in after.cancel_reason
    assert RecordingPanel.calls == []


def test_approval_is_off_by_default_and_a_viewer_cannot_approve(db, admin, catalog, panel, cli, frozen):
    from svcconsole.core import order_approval
    from svcconsole.core.errors import PermissionDenied
    from tests.conftest import make_actor

    set_setting(db, "order_approval", "true")
    cli("invoices", "pay", str(order(cli, "Panel S")))
    [waiting] = rows(db, Service)
    viewer = make_actor(db, "vera", "viewer")
    with pytest.raises(PermissionDenied):
        db.transaction(lambda session: order_approval.approve(session, viewer, waiting.id))
    assert service(db, waiting.id).approval == "awaiting"
    set_setting(db, "order_approval", "false")
    cli("invoices", "pay", str(order(cli, "Panel S", name="second")))
    second = rows(db, Service, Service.name == "second")[0]
    assert (second.status, second.approval) == ("active", None)


def test_approving_a_manual_order_mails_the_admin_to_deliver_it(db, admin, catalog, cli, frozen):
    set_setting(db, "order_approval", "true")
    set_setting(db, "admin_email", "ops@hosting.example")
    cli("invoices", "pay", str(order(cli, "Web Pro")))
    assert count(db, Notification, Notification.template == "manual_delivery") == 0
    [waiting] = rows(db, Service)
    assert cli("orders", "approve", str(waiting.id)).exit_code == 0
    assert count(db, Notification, Notification.template == "manual_delivery") == 1
    assert service(db, waiting.id).status == "pending"
    db.transaction(lambda session: records.edit_service(session, admin, waiting.id, {"name": "still editable"}))


def test_the_customer_sees_the_order_invoice_to_pay_until_it_is_paid(db, admin, catalog, panel, cli, frozen):
    from svcconsole.core import customer
    from svcconsole.core.operators import client_actor
    from svcconsole.store.models import Customer, Invoice

    invoice_id = order(cli, "Panel S")
    [waiting] = rows(db, Service)
    with db.read() as session:
        owner = session.get(Customer, waiting.customer_id)
        invoice = session.get(Invoice, invoice_id)
        total = sum(line.amount for line in rows(db, InvoiceLine, InvoiceLine.invoice_id == invoice_id))
        seen = customer.service_detail(session, client_actor(owner.id, owner.email), waiting.id).order_to_pay
    assert seen == f"invoice #{invoice_id}, {total:.2f} {invoice.currency}, due {invoice.due_at:%Y-%m-%d}"
    assert cli("invoices", "pay", str(invoice_id)).exit_code == 0
    with db.read() as session:
        assert customer.service_detail(session, client_actor(owner.id, owner.email), waiting.id).order_to_pay is None
