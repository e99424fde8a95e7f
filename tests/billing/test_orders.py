"""Orders: an invoice with order lines and their services `ordered`; paying it moves them to pending and queues delivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from svcconsole.core import automation, clock, jobs, orders, records
from svcconsole.modules.base import ModuleError
from svcconsole.store.models import Invoice, InvoiceLine, Job, Notification, Service, ServiceMeta
from tests.billing.conftest import NOW, RecordingPanel, count, rows, set_setting


def test_create_and_import_never_create_an_invoice(db, admin, catalog, cli, frozen):
    created = cli("services", "create", "--customer", "alice@example.com", "--name", "made", "--product", "Web Pro", "--deliver")
    imported = cli(
        "services", "import", "--customer", "alice@example.com", "--name", "found", "--product", "Web Pro", "--server", "shared-1", "--external", "acct-7"
    )
    assert created.exit_code == 0 and imported.exit_code == 0
    assert count(db, Invoice) == 0
    assert count(db, InvoiceLine) == 0


def test_an_order_bills_price_and_creates_its_service_ordered_before_payment(db, admin, catalog, cli, frozen):
    result = cli("orders", "create", "--customer", "alice@example.com", "--product", "Web Pro", "--cycle", "annually", "--name", "shop")
    assert result.exit_code == 0, result.stderr
    invoice_id = int(result.stdout)
    [line] = rows(db, InvoiceLine)
    [ordered] = rows(db, Service)
    assert (line.invoice_id, line.kind, line.amount, line.service_id) == (invoice_id, "order", Decimal("120.00"), ordered.id)
    assert line.details["cycle"] == "annually" and line.details["name"] == "shop"
    assert (ordered.status, ordered.billing_cycle, ordered.expires_at) == ("ordered", "annually", None)


def test_paying_a_manual_order_creates_the_service_pending_and_tells_the_admin(db, admin, catalog, cli, frozen):
    set_setting(db, "admin_email", "ops@hosting.example")
    invoice_id = int(cli("orders", "create", "--customer", "alice@example.com", "--product", "Web Pro", "--name", "shop").stdout)

    paid = cli("invoices", "pay", str(invoice_id))
    again = cli("invoices", "pay", str(invoice_id))

    assert paid.exit_code == 0, paid.stderr
    assert again.exit_code == 0
    [created] = rows(db, Service)
    assert (created.status, created.name, created.product_name, created.billing_cycle, created.price) == (
        "pending",
        "shop",
        "Web Pro",
        "monthly",
        Decimal("12.00"),
    )
    assert (created.expires_at, created.anchor_day) == (None, None)
    [line] = rows(db, InvoiceLine)
    assert line.service_id == created.id and line.applied_at is not None
    [notice] = rows(db, Notification, Notification.template == "manual_delivery")
    assert notice.to_address == "ops@hosting.example"
    assert f"services deliver {created.id}" in notice.body
    with db.read() as session:
        assert session.get(ServiceMeta, (created.id, "order_invoice_id")).value == str(invoice_id)


def test_paying_a_panel_order_queues_delivery_and_the_job_delivers_it(db, admin, catalog, panel, cli, frozen):
    invoice_id = int(cli("orders", "create", "--customer", "alice@example.com", "--product", "Panel S", "--product", "Panel S", "--name", "mc").stdout)
    assert count(db, InvoiceLine, InvoiceLine.invoice_id == invoice_id) == 2

    paid = cli("invoices", "pay", str(invoice_id))

    assert paid.exit_code == 0, paid.stderr
    created = rows(db, Service)
    assert [item.status for item in created] == ["active", "active"]
    assert sorted(call[0] for call in RecordingPanel.calls) == ["create", "create"]
    assert [job.status for job in rows(db, Job)] == ["succeeded", "succeeded"]
    assert count(db, Notification, Notification.template == "delivered") == 2


def test_a_failed_delivery_leaves_the_service_pending_and_notifies_the_admin(db, admin, catalog, panel, cli, frozen):
    set_setting(db, "admin_email", "ops@hosting.example")
    RecordingPanel.failures["create"] = ModuleError("panel refused: no allocation left", retryable=False)
    invoice_id = int(cli("orders", "create", "--customer", "alice@example.com", "--product", "Panel S").stdout)

    cli("invoices", "pay", str(invoice_id))

    [created] = rows(db, Service)
    assert created.status == "pending"
    assert created.last_error == "panel refused: no allocation left"
    [notice] = rows(db, Notification, Notification.template == "delivery_failed")
    assert notice.to_address == "ops@hosting.example"
    assert rows(db, InvoiceLine)[0].applied_at is not None


def test_an_order_in_another_currency_than_the_invoice_is_refused(db, admin, catalog, cli, frozen):
    assert cli("products", "add", "--name", "Dollar Box", "--type", "manual", "--price", "monthly=5.00", "--currency", "USD").exit_code == 0
    invoice_id = int(cli("orders", "create", "--customer", "alice@example.com", "--product", "Web Pro").stdout)
    refused = cli("invoices", "add-line", str(invoice_id), "--order", "Dollar Box")
    assert refused.exit_code == 1
    assert "priced in USD" in refused.stderr
    assert count(db, InvoiceLine) == 1


def test_an_order_for_a_cycle_the_product_does_not_offer_is_refused(db, admin, catalog, cli, frozen):
    refused = cli("orders", "create", "--customer", "alice@example.com", "--product", "Web Pro", "--cycle", "biennially")
    assert refused.exit_code == 2
    assert "--cycle" in refused.stderr and "no biennially price" in refused.stderr
    assert count(db, Invoice) == 0


def test_create_order_in_core_names_the_product(db, admin, catalog, frozen):
    invoice = db.transaction(lambda session: orders.create_order(session, admin, "alice@example.com", [orders.OrderItem(product="Web Pro", cycle="quarterly")]))
    [line] = rows(db, InvoiceLine)
    assert line.invoice_id == invoice.id and line.amount == Decimal("33.00")
    assert line.description == 'Order: Web Pro (quarterly) "Web Pro"'


def test_the_first_period_starts_when_the_ordered_service_is_delivered(db, admin, catalog, cli, frozen):
    invoice_id = int(cli("orders", "create", "--customer", "alice@example.com", "--product", "Web Pro", "--name", "shop").stdout)
    assert cli("invoices", "pay", str(invoice_id)).exit_code == 0
    [waiting] = rows(db, Service)
    assert (waiting.status, waiting.expires_at) == ("pending", None)
    with clock.frozen_at(NOW + timedelta(days=3)):
        run = automation.run(db, admin)
    assert all(not step.items for step in run.steps if 1 <= step.number <= 6)

    with clock.frozen_at(NOW + timedelta(days=3)):
        assert cli("services", "deliver", str(waiting.id)).exit_code == 0

    [delivered] = rows(db, Service)
    assert (delivered.status, delivered.expires_at, delivered.anchor_day) == ("active", datetime(2026, 12, 24, 12, tzinfo=UTC), 24)
    [mail] = rows(db, Notification, Notification.template == "delivered")
    assert "was delivered on 2026-11-24 and is active.\nIt renews on 2026-12-24 for 12.00 EUR (monthly)." in mail.body


def test_an_order_delivered_on_the_31st_keeps_the_month_end_anchor(db, admin, catalog, cli):
    with clock.frozen_at(datetime(2027, 1, 20, 9, tzinfo=UTC)):
        invoice_id = int(cli("orders", "create", "--customer", "alice@example.com", "--product", "Web Pro").stdout)
        assert cli("invoices", "pay", str(invoice_id)).exit_code == 0
    [service] = rows(db, Service)
    with clock.frozen_at(datetime(2027, 1, 31, 10, tzinfo=UTC)):
        assert cli("services", "deliver", str(service.id)).exit_code == 0
        assert cli("services", "renew", str(service.id)).exit_code == 0
    [renewed] = rows(db, Service)
    assert renewed.anchor_day == 31
    with db.read() as session:
        periods = [(row.period_start, row.period_end) for row in records.renewals_of(session, service.id)]
    assert periods == [(datetime(2027, 2, 28, 10, tzinfo=UTC), datetime(2027, 3, 31, 10, tzinfo=UTC))]


def test_a_panel_order_whose_delivery_is_retried_starts_when_the_retry_delivers(db, admin, catalog, panel, cli, frozen):
    RecordingPanel.failures["create"] = ModuleError("panel busy", retryable=True)
    invoice_id = int(cli("orders", "create", "--customer", "alice@example.com", "--product", "Panel S").stdout)
    assert cli("invoices", "pay", str(invoice_id)).exit_code == 0
    [waiting] = rows(db, Service)
    assert (waiting.status, waiting.expires_at) == ("pending", None)
    RecordingPanel.failures.clear()
    later = NOW + timedelta(days=2, hours=5)
    with clock.frozen_at(later):
        ran = jobs.run_jobs(db, [job.id for job in rows(db, Job)])
    assert [outcome.status for outcome in ran] == ["succeeded"]
    [delivered] = rows(db, Service)
    assert (delivered.status, delivered.expires_at, delivered.anchor_day) == ("active", datetime(2026, 12, 23, 17, tzinfo=UTC), 23)
