"""Invoices: create, add a line, list, show, pay (once), cancel; renewing through an invoice."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from svcconsole.core import actions, clock, invoices, lookups, orders
from svcconsole.core.errors import SvcError, TransitionRefused
from svcconsole.store.models import Activity, Invoice, InvoiceLine, Notification, Renewal
from tests.billing.conftest import NOW, act, active_service, count, rows, service, set_setting
from tests.conftest import make_actor


def test_renew_with_invoice_new_bills_the_price_and_moves_nothing_until_paid(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=10))
    result = cli("services", "renew", str(service_id), "--invoice", "new", "--cycles", "2")
    assert result.exit_code == 0, result.stderr
    [invoice] = rows(db, Invoice)
    [line] = rows(db, InvoiceLine)
    assert (invoice.status, invoice.customer_id, invoice.currency) == ("unpaid", catalog.customer_id, "EUR")
    assert (line.kind, line.service_id, line.amount, line.details["cycles"]) == ("renewal", service_id, Decimal("24.00"), 2)
    assert line.period_start == NOW + timedelta(days=10)
    assert line.period_end == datetime(2027, 2, 1, 12, 0, tzinfo=UTC)
    assert service(db, service_id).expires_at == NOW + timedelta(days=10)
    assert count(db, Notification, Notification.template == "renewal_invoice") == 1


def test_paying_extends_from_the_old_expiry_and_paying_twice_renews_once(db, admin, catalog, cli, frozen):
    expiry = NOW + timedelta(days=3)
    service_id = active_service(db, admin, catalog, expires=expiry)
    assert cli("services", "renew", str(service_id), "--invoice", "new").exit_code == 0
    [invoice] = rows(db, Invoice)

    first = cli("invoices", "pay", str(invoice.id))
    second = cli("invoices", "pay", str(invoice.id))

    assert first.exit_code == 0, first.stderr
    assert "applied" in first.stdout
    assert second.exit_code == 0
    assert "paid already" in second.stderr
    after = service(db, service_id)
    assert after.expires_at == expiry + timedelta(days=30)
    assert after.renewals == 1
    [renewal] = rows(db, Renewal)
    assert (renewal.invoice_id, renewal.amount, renewal.period_start) == (invoice.id, Decimal("12.00"), expiry)
    assert rows(db, Invoice)[0].status == "paid"


def test_two_payments_at_once_apply_the_renewal_once(db, admin, catalog, frozen):
    expiry = NOW + timedelta(days=3)
    service_id = active_service(db, admin, catalog, expires=expiry)
    invoice_id = db.transaction(lambda session: invoices.invoice_renewal(session, admin, lookups.get_service(session, service_id), 1, "new").invoice_id)
    barrier = threading.Barrier(2)
    results: list[orders.PayResult] = []

    def pay() -> None:
        clock.freeze(NOW)
        barrier.wait()
        results.append(db.transaction(lambda session: orders.pay_invoice(session, admin, invoice_id)))

    threads = [threading.Thread(target=pay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(result.outcomes) for result in results) == [0, 1]
    assert count(db, Renewal) == 1
    assert service(db, service_id).expires_at == expiry + timedelta(days=30)


def test_paying_lifts_an_overdue_suspension_when_the_new_expiry_is_in_the_future(db, admin, catalog, cli, frozen):
    expiry = NOW - timedelta(days=2)
    service_id = active_service(db, admin, catalog, expires=expiry, at=NOW - timedelta(days=40))
    act(db, admin, "suspend", service_id, {"kind": "overdue", "reason": "unpaid"})
    assert cli("services", "renew", str(service_id), "--invoice", "new").exit_code == 0
    [invoice] = rows(db, Invoice)

    result = cli("invoices", "pay", str(invoice.id))

    assert result.exit_code == 0, result.stderr
    after = service(db, service_id)
    assert (after.status, after.suspend_kind) == ("active", None)
    assert after.expires_at == expiry + timedelta(days=30)
    last = rows(db, Activity, Activity.service_id == service_id)[-1]
    assert (last.action, last.from_status, last.to_status) == ("renew", "suspended", "active"), "one action, one activity row"
    assert last.details["followed"]["action"] == "unsuspend"


def test_paying_keeps_an_admin_suspension(db, admin, catalog, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=2))
    act(db, admin, "suspend", service_id, {"kind": "abuse", "reason": "spam"})
    line = db.transaction(lambda session: invoices.invoice_renewal(session, admin, lookups.get_service(session, service_id), 1, "new"))
    db.transaction(lambda session: orders.pay_invoice(session, admin, line.invoice_id))
    after = service(db, service_id)
    assert (after.status, after.suspend_kind) == ("suspended", "abuse")
    assert after.expires_at == NOW + timedelta(days=32)


def test_renewal_into_an_existing_invoice_of_the_same_customer(db, admin, catalog, cli, frozen):
    first = active_service(db, admin, catalog, expires=NOW + timedelta(days=5), name="one")
    second = active_service(db, admin, catalog, expires=NOW + timedelta(days=8), name="two")
    assert cli("services", "renew", str(first), "--invoice", "new").exit_code == 0
    [invoice] = rows(db, Invoice)

    result = cli("services", "renew", str(second), "--invoice", str(invoice.id))

    assert result.exit_code == 0, result.stderr
    assert count(db, Invoice) == 1
    assert [(line.service_id, line.amount) for line in rows(db, InvoiceLine)] == [(first, Decimal("12.00")), (second, Decimal("12.00"))]
    shown = json.loads(cli("invoices", "show", str(invoice.id), "--format", "json").stdout)
    assert shown["total"] == "24.00"
    assert cli("invoices", "pay", str(invoice.id)).exit_code == 0
    assert service(db, first).expires_at == NOW + timedelta(days=35)
    assert service(db, second).expires_at == NOW + timedelta(days=38)


def test_renewal_refused_into_another_customers_or_a_paid_invoice(db, admin, catalog, cli, frozen, second_customer):
    mine = active_service(db, admin, catalog, expires=NOW + timedelta(days=5))
    theirs = active_service(db, admin, catalog, expires=NOW + timedelta(days=5), customer=str(second_customer))
    assert cli("services", "renew", str(theirs), "--invoice", "new").exit_code == 0
    [their_invoice] = rows(db, Invoice)

    refused = cli("services", "renew", str(mine), "--invoice", str(their_invoice.id))

    assert refused.exit_code == 1
    assert f"invoice {their_invoice.id} belongs to customer {second_customer}" in refused.stdout + refused.stderr
    assert count(db, InvoiceLine) == 1
    assert cli("invoices", "pay", str(their_invoice.id)).exit_code == 0
    other = active_service(db, admin, catalog, expires=NOW + timedelta(days=5), customer=str(second_customer))
    refused_paid = cli("services", "renew", str(other), "--invoice", str(their_invoice.id))
    assert refused_paid.exit_code == 1
    assert "is paid: lines can only be added to an unpaid invoice" in refused_paid.stdout + refused_paid.stderr


def test_a_second_invoice_for_the_same_period_is_refused(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=5))
    assert cli("services", "renew", str(service_id), "--invoice", "new").exit_code == 0
    again = cli("services", "renew", str(service_id), "--invoice", "new")
    assert again.exit_code == 1
    assert "already bills the period" in again.stderr
    assert count(db, Invoice) == 1


def test_renewal_invoice_respects_the_renewal_limits(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=5))
    assert cli("services", "meta", str(service_id), "set", "max_renewals", "0").exit_code == 0
    result = cli("services", "renew", str(service_id), "--invoice", "new")
    assert result.exit_code == 1
    assert "limit metadata max_renewals=0 reached" in result.stderr
    assert count(db, Invoice) == 0


def test_a_line_that_cannot_apply_keeps_its_error_and_applies_on_a_later_pay(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=5))
    assert cli("services", "renew", str(service_id), "--invoice", "new").exit_code == 0
    [invoice] = rows(db, Invoice)
    assert cli("services", "meta", str(service_id), "set", "max_renewals", "0").exit_code == 0

    refused = cli("invoices", "pay", str(invoice.id))

    assert refused.exit_code == 3
    assert "NOT applied" in refused.stdout
    [line] = rows(db, InvoiceLine)
    assert line.applied_at is None and "max_renewals=0" in line.details["error"]
    assert rows(db, Invoice)[0].status == "paid"
    assert service(db, service_id).expires_at == NOW + timedelta(days=5)

    assert cli("services", "meta", str(service_id), "unset", "max_renewals").exit_code == 0
    retried = cli("invoices", "pay", str(invoice.id))

    assert retried.exit_code == 0, retried.stderr
    [line] = rows(db, InvoiceLine)
    assert line.applied_at is not None and "error" not in line.details
    assert service(db, service_id).expires_at == NOW + timedelta(days=35)
    assert count(db, Renewal) == 1


def test_options_count_in_the_renewal_amount(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=5))
    assert cli("services", "options", str(service_id), "add", "--name", "Extra IPv4", "--price", "2.50", "--quantity", "2").exit_code == 0
    assert cli("services", "renew", str(service_id), "--invoice", "new", "--cycles", "3").exit_code == 0
    [line] = rows(db, InvoiceLine)
    assert line.amount == Decimal("51.00")


def test_invoices_create_with_renewals_list_show_and_cancel(db, admin, catalog, cli, frozen):
    first = active_service(db, admin, catalog, expires=NOW + timedelta(days=9), name="one")
    second = active_service(db, admin, catalog, expires=NOW + timedelta(days=4), name="two")
    created = cli("invoices", "create", "--customer", "alice@example.com", "--renew", str(first), "--renew", str(second))
    assert created.exit_code == 0, created.stderr
    invoice_id = int(created.stdout.strip())
    [invoice] = rows(db, Invoice)
    assert invoice.due_at == NOW + timedelta(days=4)

    listed = json.loads(cli("invoices", "list", "--format", "json").stdout)
    assert [(item["id"], item["status"], item["total"], item["lines"]) for item in listed] == [(invoice_id, "unpaid", "24.00", 2)]
    assert cli("invoices", "list", "--status", "paid", "--format", "ids").stdout == ""
    assert cli("invoices", "list", "--service", str(second), "--format", "ids").lines == [str(invoice_id)]
    shown = cli("invoices", "show", str(invoice_id))
    assert "Renewal of #" in shown.stdout and "24.00" in shown.stdout

    cancelled = cli("invoices", "cancel", str(invoice_id), "--reason", "customer left")
    assert cancelled.exit_code == 0
    assert rows(db, Invoice)[0].status == "cancelled"
    refused = cli("invoices", "pay", str(invoice_id))
    assert refused.exit_code == 1 and "cancelled: it cannot be paid" in refused.stderr
    assert service(db, first).expires_at == NOW + timedelta(days=9)
    assert count(db, Activity, Activity.action == "invoice_cancelled") == 2
    assert cli("services", "renew", str(first), "--invoice", "new").exit_code == 0


def test_add_line_to_an_existing_invoice_and_option_lines(db, admin, catalog, cli, frozen):
    first = active_service(db, admin, catalog, expires=NOW + timedelta(days=9), name="one")
    second = active_service(db, admin, catalog, expires=NOW + timedelta(days=4), name="two")
    invoice_id = int(cli("invoices", "create", "--customer", "alice@example.com", "--renew", str(first)).stdout)

    added = cli(
        "invoices", "add-line", str(invoice_id), "--renew", str(second), "--option", str(first), "--description", "Backup slot, November", "--amount", "3.50"
    )

    assert added.exit_code == 0, added.stderr
    assert len(added.lines) == 2
    assert [(line.kind, line.amount) for line in rows(db, InvoiceLine)] == [
        ("renewal", Decimal("12.00")),
        ("renewal", Decimal("12.00")),
        ("option", Decimal("3.50")),
    ]
    paid = cli("invoices", "pay", str(invoice_id), "--reference", "bank-2026-11-21")
    assert paid.exit_code == 0, paid.stderr
    assert all(line.applied_at is not None for line in rows(db, InvoiceLine))
    assert count(db, Renewal) == 2


def test_bad_input_names_the_field(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=9))
    soon = cli("services", "renew", str(service_id), "--invoice", "soon")
    assert soon.exit_code == 2 and soon.stderr.startswith("error: --invoice: ")
    empty = cli("invoices", "create", "--customer", "alice@example.com")
    assert empty.exit_code == 2 and "at least one line" in empty.stderr
    money = cli("invoices", "create", "--customer", "alice@example.com", "--option", str(service_id), "--description", "x", "--amount", "-1")
    assert money.exit_code == 2 and "--amount" in money.stderr
    missing = cli("invoices", "show", "99")
    assert missing.exit_code == 1 and "no invoice with id 99" in missing.stderr
    assert count(db, Invoice) == 0


def test_roles_viewer_reads_operator_pays(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=9))
    line = db.transaction(lambda session: invoices.invoice_renewal(session, admin, lookups.get_service(session, service_id), 1, "new"))
    make_actor(db, "vera", "viewer")
    make_actor(db, "otto", "operator")
    assert cli("--as", "vera", "invoices", "list").exit_code == 0
    denied = cli("--as", "vera", "invoices", "pay", str(line.invoice_id))
    assert denied.exit_code == 4
    assert rows(db, Invoice)[0].status == "unpaid"
    assert cli("--as", "otto", "invoices", "pay", str(line.invoice_id)).exit_code == 0


def test_renewal_outside_the_grace_window_is_refused(db, admin, catalog, frozen):
    set_setting(db, "renewal_grace_days", "3")
    service_id = active_service(db, admin, catalog, expires=NOW - timedelta(days=4), at=NOW - timedelta(days=40))
    act(db, admin, "suspend", service_id, {"kind": "overdue"})
    try:
        db.transaction(lambda session: actions.perform(session, admin, "renew-invoice", service_id, {"invoice": "new", "cycles": 1}))
    except TransitionRefused as error:
        assert "renewal window closed" in error.message
    else:
        raise AssertionError("a renewal past the grace window was accepted")
    assert count(db, Invoice) == 0


def test_paying_an_empty_invoice_is_refused(db, admin, catalog, frozen):
    invoice = db.transaction(lambda session: invoices.new_invoice(session, catalog.customer_id, "EUR"))
    try:
        db.transaction(lambda session: orders.pay_invoice(session, admin, invoice.id))
    except SvcError as error:
        assert "has no lines" in error.message
    else:
        raise AssertionError("an empty invoice was paid")
    assert rows(db, Invoice)[0].status == "unpaid"
