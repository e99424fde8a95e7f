"""Upgrades: targets from the product's list, prorated invoices, at once without billing, in progress."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from svcconsole.core import upgrades
from svcconsole.modules.base import ModuleError
from svcconsole.store.models import Activity, Invoice, InvoiceLine, Job, Upgrade
from tests.billing.conftest import RecordingPanel, active_service, count, rows, service


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


@pytest.mark.parametrize(
    ("old", "new", "remaining", "cycle_days", "expected"),
    [
        ("12.00", "22.00", 20, 30, "6.67"),
        ("120.00", "220.00", 181, 365, "49.59"),
        ("10.00", "10.09", 1, 2, "0.05"),
        ("10.00", "10.07", 1, 2, "0.04"),
        ("22.00", "12.00", 15, 30, "-5.00"),
        ("12.00", "22.00", 0, 30, "0.00"),
    ],
)
def test_prorate_is_the_price_difference_for_the_remaining_days_rounded_half_up(old, new, remaining, cycle_days, expected):
    assert upgrades.prorate(Decimal(old), Decimal(new), remaining, cycle_days) == Decimal(expected)


def test_prorate_counts_whole_cycles_left_at_the_full_difference():
    assert upgrades.prorate(Decimal("12.00"), Decimal("22.00"), 20, 30, whole_cycles=2) == Decimal("26.67")
    assert upgrades.prorate(Decimal("12.00"), Decimal("22.00"), 0, 30, whole_cycles=1) == Decimal("10.00")


QUOTES = {
    "monthly": (at(2026, 12, 11), 20, 30, "6.67"),
    "annually": (at(2027, 5, 21), 181, 365, "49.59"),
    "weekly": (at(2026, 11, 24), 3, 7, "0.86"),
    "quarterly": (at(2027, 1, 31), 71, 92, "20.84"),
}


def test_upgrade_list_quotes_each_target_on_the_frozen_day(db, admin, catalog, cli, frozen):
    for cycle, (expires, remaining, cycle_days, amount) in QUOTES.items():
        service_id = active_service(db, admin, catalog, expires=expires, cycle=cycle, name=cycle)
        result = cli("services", "upgrade", str(service_id), "--list", "--format", "json")
        assert result.exit_code == 0, result.stderr
        [target] = json.loads(result.stdout)["targets"]
        assert target["product"] == "Web Max"
        assert (target["remaining_days"], target["cycle_days"], target["amount"], target["available"]) == (remaining, cycle_days, amount, True), cycle


AHEAD = {
    "monthly, three cycles ahead": ("monthly", at(2027, 2, 11), 2, 20, 30, "2 cycles + 20 of 30 days", "26.67"),
    "monthly on the 31st": ("monthly", at(2027, 3, 31), 4, 9, 30, "4 cycles + 9 of 30 days", "43.00"),
    "quarterly from the 30th": ("quarterly", at(2027, 5, 30), 2, 9, 92, "2 cycles + 9 of 92 days", "56.64"),
    "weekly": ("weekly", at(2026, 12, 8), 2, 3, 7, "2 cycles + 3 of 7 days", "4.86"),
    "one cycle of 31 days": ("monthly", at(2026, 11, 28), 0, 7, 31, "7 of 31 days", "2.26"),
}


@pytest.mark.parametrize("case", list(AHEAD), ids=list(AHEAD))
def test_a_service_renewed_ahead_is_prorated_cycle_by_cycle(db, admin, catalog, cli, frozen, case):
    cycle, expires, whole, days, cycle_days, text, amount = AHEAD[case]
    service_id = active_service(db, admin, catalog, expires=expires, cycle=cycle)
    listed = cli("services", "upgrade", str(service_id), "--list", "--format", "json")
    [target] = json.loads(listed.stdout)["targets"]
    assert (target["whole_cycles"], target["current_days"], target["cycle_days"], target["remaining"], target["amount"]) == (
        whole,
        days,
        cycle_days,
        text,
        amount,
    )
    assert target["remaining_days"] == (expires.date() - at(2026, 11, 21).date()).days
    table = cli("services", "upgrade", str(service_id), "--list")
    assert any(text in line and amount in line for line in table.lines), table.stdout
    started = cli("services", "upgrade", str(service_id), "--to", "Web Max", "--billing", "invoice")
    assert started.exit_code == 0, started.stderr
    [line] = rows(db, InvoiceLine)
    assert line.amount == Decimal(amount)
    assert line.description.endswith(f"Web Pro -> Web Max ({text})")
    assert (line.details["whole_cycles"], line.details["current_days"], line.details["cycle_days"]) == (whole, days, cycle_days)


def test_a_service_renewed_by_invoice_twice_ahead_pays_the_difference_on_every_cycle_left(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=at(2026, 12, 11))
    for _ in range(2):
        assert cli("services", "renew", str(service_id), "--invoice", "new").exit_code == 0
        assert cli("invoices", "pay", str(rows(db, Invoice)[-1].id)).exit_code == 0
    assert service(db, service_id).expires_at == at(2027, 2, 11)
    [target] = json.loads(cli("services", "upgrade", str(service_id), "--list", "--format", "json").stdout)["targets"]
    assert (target["remaining_days"], target["cycles"], target["amount"]) == (82, "2.6667", "26.67")


def test_upgrade_without_billing_applies_at_once(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=at(2026, 12, 11))
    result = cli("services", "upgrade", str(service_id), "--to", "Web Max", "--billing", "none")
    assert result.exit_code == 0, result.stderr
    after = service(db, service_id)
    assert (after.product_name, after.price) == ("Web Max", Decimal("22.00"))
    [upgrade] = rows(db, Upgrade)
    assert (upgrade.mode, upgrade.status, upgrade.amount, upgrade.invoice_id) == ("no_billing", "done", Decimal("0.00"), None)
    assert count(db, Invoice) == 0
    [logged] = rows(db, Activity, Activity.action == "upgrade")
    assert logged.details["from"] == "Web Pro" and logged.details["to"] == "Web Max"


def test_upgrade_by_invoice_applies_when_paid_and_only_once(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=at(2026, 12, 11))
    started = cli("services", "upgrade", str(service_id), "--to", "Web Max", "--billing", "invoice")
    assert started.exit_code == 0, started.stderr
    invoice_id = int(started.stdout)
    [line] = rows(db, InvoiceLine)
    assert (line.kind, line.amount, line.invoice_id) == ("upgrade", Decimal("6.67"), invoice_id)
    assert service(db, service_id).product_name == "Web Pro"
    listed = json.loads(cli("services", "upgrade", str(service_id), "--list", "--format", "json").stdout)
    assert [(item["status"], item["to_product"], item["amount"]) for item in listed["upgrades"]] == [("awaiting_payment", "Web Max", "6.67")]
    second = cli("services", "upgrade", str(service_id), "--to", "Web Max", "--billing", "none")
    assert second.exit_code == 1 and "awaiting_payment already" in second.stderr

    assert cli("invoices", "pay", str(invoice_id)).exit_code == 0
    assert cli("invoices", "pay", str(invoice_id)).exit_code == 0

    after = service(db, service_id)
    assert (after.product_name, after.price) == ("Web Max", Decimal("22.00"))
    [upgrade] = rows(db, Upgrade)
    assert upgrade.status == "done" and upgrade.completed_at is not None
    assert count(db, Activity, Activity.action == "upgrade") == 1


def test_cancelling_the_invoice_cancels_the_upgrade(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=at(2026, 12, 11))
    invoice_id = int(cli("services", "upgrade", str(service_id), "--to", "Web Max", "--billing", "invoice").stdout)
    assert cli("invoices", "cancel", str(invoice_id)).exit_code == 0
    assert rows(db, Upgrade)[0].status == "cancelled"
    assert cli("services", "upgrade", str(service_id), "--to", "Web Max", "--billing", "none").exit_code == 0
    assert service(db, service_id).product_name == "Web Max"


def test_refusals_name_the_reason_and_change_nothing(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=at(2026, 12, 11))
    assert cli("products", "add", "--name", "Other", "--type", "manual", "--price", "monthly=50.00").exit_code == 0
    not_target = cli("services", "upgrade", str(service_id), "--to", "Other", "--billing", "none")
    assert not_target.exit_code == 1 and "'Other' is not an upgrade target of 'Web Pro'" in not_target.stderr
    no_mode = cli("services", "upgrade", str(service_id), "--to", "Web Max")
    assert no_mode.exit_code == 2 and "--billing" in no_mode.stderr
    bad_mode = cli("services", "upgrade", str(service_id), "--to", "Web Max", "--billing", "later")
    assert bad_mode.exit_code == 2 and "--billing" in bad_mode.stderr
    assert cli("services", "suspend", str(service_id), "--reason", "x").exit_code == 0
    suspended = cli("services", "upgrade", str(service_id), "--to", "Web Max", "--billing", "invoice")
    assert suspended.exit_code == 1 and "is suspended: cannot upgrade" in suspended.stderr
    assert count(db, Upgrade) == 0 and count(db, Invoice) == 0
    assert service(db, service_id).product_name == "Web Pro"


def test_nothing_to_invoice_is_refused(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=at(2026, 11, 21))
    refused = cli("services", "upgrade", str(service_id), "--to", "Web Max", "--billing", "invoice")
    assert refused.exit_code == 1
    assert "nothing to invoice (prorated difference 0.00 EUR); use --billing none" in refused.stderr
    assert count(db, Invoice) == 0


def panel_service(cli) -> int:
    created = cli("services", "create", "--customer", "alice@example.com", "--name", "mc", "--product", "Panel S", "--expires", "2026-12-11", "--deliver")
    assert created.exit_code == 0, created.stderr
    return int(created.stdout)


def test_a_panel_upgrade_calls_change_package_with_the_target_product(db, admin, catalog, panel, cli, frozen):
    service_id = panel_service(cli)
    result = cli("services", "upgrade", str(service_id), "--to", "Panel L", "--billing", "none")
    assert result.exit_code == 0, result.stderr
    [(_operation, called_for, product)] = [call for call in RecordingPanel.calls if call[0] == "change_package"]
    assert (called_for, product.name, product.config) == (service_id, "Panel L", {"memory": 8192})
    [job] = rows(db, Job, Job.operation == "change_package")
    assert job.status == "succeeded" and job.params["_product_ref"]["id"] == panel.large
    after = service(db, service_id)
    assert (after.product_name, after.price, after.operation) == ("Panel L", Decimal("30.00"), None)
    assert rows(db, Upgrade)[0].status == "done"


def test_a_failed_change_package_marks_the_upgrade_failed(db, admin, catalog, panel, cli, frozen):
    service_id = panel_service(cli)
    RecordingPanel.failures["change_package"] = ModuleError("panel: node full", retryable=False)
    result = cli("services", "upgrade", str(service_id), "--to", "Panel L", "--billing", "none")
    assert result.exit_code == 3
    after = service(db, service_id)
    assert (after.product_name, after.operation, after.last_error) == ("Panel S", None, "panel: node full")
    [upgrade] = rows(db, Upgrade)
    assert upgrade.status == "failed"
    listed = json.loads(cli("services", "upgrade", str(service_id), "--list", "--format", "json").stdout)
    assert listed["upgrades"][0]["status"] == "failed"
