"""Usage and overages (issue 17 item 3): the cost rule against a table written by hand, the
billing period a moment falls in, `services usage` and `record`, and the `overage` line a
renewal invoice carries once for the period that closed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from svcconsole.core import automation, clock, orders, overage, usage
from svcconsole.core import catalog as catalog_module
from svcconsole.store.models import InvoiceLine, Service, Usage
from tests.conftest import new_service
from tests.reliability.support import every_row_digest

# used, included, price per unit -> overage cost (max(0, used - included) x price, half-up to the cent)
COST_TABLE = [
    ("130", "100", "0.05", "1.50"),
    ("100", "100", "0.05", "0.00"),
    ("50", "100", "0.05", "0.00"),
    ("100.5", "100", "0.05", "0.03"),
    ("100.1", "100", "0.05", "0.01"),
    ("100.09", "100", "0.05", "0.00"),
    ("1000", "0", "0.0125", "12.50"),
    ("0", "0", "1", "0.00"),
    ("250", "200", "2", "100.00"),
    ("12", "10", "0.5", "1.00"),
]


@pytest.mark.parametrize(("used", "included", "price", "cost"), COST_TABLE)
def test_overage_cost_follows_the_hand_written_table(used, included, price, cost):
    rate = overage.Rate("traffic_gb", Decimal(included), Decimal(price))
    assert overage.cost(Decimal(used), rate) == Decimal(cost)


def test_no_rate_costs_nothing():
    assert overage.cost(Decimal("5000"), None) == Decimal("0.00")


# expiry, cycle, moment -> the period (start, end) holding the moment
PERIOD_TABLE = [
    ("2026-11-25", "monthly", "2026-11-21", ("2026-10-25", "2026-11-25")),
    ("2026-12-25", "monthly", "2026-11-21", ("2026-10-25", "2026-11-25")),
    ("2026-11-25", "monthly", "2026-11-25", ("2026-11-25", "2026-12-25")),
    ("2026-11-25", "monthly", "2027-01-03", ("2026-12-25", "2027-01-25")),
    ("2026-11-28", "weekly", "2026-11-21", ("2026-11-21", "2026-11-28")),
    ("2027-06-01", "annually", "2026-11-21", ("2026-06-01", "2027-06-01")),
]


@pytest.mark.parametrize(("expires", "cycle", "moment", "period"), PERIOD_TABLE)
def test_the_billing_period_holding_a_moment(expires, cycle, moment, period):
    def utc(text):
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    service = Service(billing_cycle=cycle, expires_at=utc(expires), anchor_day=utc(expires).day)
    assert usage.period_at(service, utc(moment), ZoneInfo("UTC")) == (utc(period[0]), utc(period[1]))


def test_a_onetime_service_has_no_period():
    service = Service(billing_cycle="onetime", expires_at=datetime(2027, 1, 1, tzinfo=UTC))
    assert usage.period_at(service, datetime(2026, 11, 21, tzinfo=UTC), ZoneInfo("UTC")) is None


@pytest.fixture
def metered(db, admin, catalog):
    db.transaction(lambda session: catalog_module.edit_product(session, admin, str(catalog.product_id), overages=["traffic_gb=100:0.05", "disk_gb=10:0.5"]))
    return catalog


def test_products_declare_overage_from_the_cli(cli, catalog):
    added = cli("products", "add", "--name", "Metered", "--type", "manual", "--price", "monthly=5", "--overage", "traffic_gb=100:0.05", "-f", "json")
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["overage"] == {"traffic_gb": {"included": "100", "price": "0.05"}}
    assert cli("products", "edit", "Metered", "--overage", "disk_gb=20:1", "--overage", "traffic_gb=").exit_code == 0
    shown = json.loads(cli("products", "show", "Metered", "-f", "json").stdout)
    assert shown["overage"] == {"disk_gb": {"included": "20", "price": "1"}}


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("traffic_gb=100", "METRIC=INCLUDED:PRICE"),
        ("cpu=1:2", "'cpu' is not a metric"),
        ("traffic_gb=-1:2", "not an included amount"),
        ("traffic_gb=100:abc", "not a price per unit"),
        ("traffic_gb=100:0.123456", "at most 4 decimals"),
        ("traffic_gb", "METRIC=INCLUDED:PRICE"),
    ],
)
def test_a_bad_overage_is_one_line_naming_it_and_writes_nothing(cli, db, catalog, value, hint):
    before = every_row_digest(db)
    for args in (["products", "add", "--name", "P", "--type", "manual", "--price", "monthly=1"], ["products", "edit", "Web Pro"]):
        result = cli(*args, "--overage", value)
        assert result.exit_code == 2, result.stdout
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: --overage: ") and hint in lines[0], lines
    assert every_row_digest(db) == before


def test_services_usage_prints_the_period_and_record_sets_it(cli, db, admin, metered, frozen):
    service_id = new_service(db, admin, metered, status="active", expires="2026-11-25")
    shown = cli("services", "usage", str(service_id))
    assert shown.exit_code == 0, shown.stderr
    assert "2026-10-25 to 2026-11-25" in shown.stdout and "0.00 EUR" in shown.stdout

    assert cli("services", "usage", str(service_id), "record", "traffic_gb", "130").exit_code == 0
    assert cli("services", "usage", str(service_id), "record", "disk_gb", "9").exit_code == 0
    assert cli("services", "usage", str(service_id), "record", "traffic_gb", "140.5").exit_code == 0
    report = json.loads(cli("services", "usage", str(service_id), "-f", "json").stdout)
    assert report["cost"] == "2.03"  # (140.5 - 100) x 0.05 = 2.025 -> 2.03; disk 9 of 10: nothing
    assert [(line["metric"], line["used"], line["cost"]) for line in report["metrics"]] == [("traffic_gb", "140.5", "2.03"), ("disk_gb", "9", "0.00")]
    with db.read() as session:
        rows = session.exec(select(Usage).where(Usage.service_id == service_id)).all()
    assert len(rows) == 2  # recorded again: updated, not duplicated
    assert json.loads(cli("services", "show", str(service_id), "-f", "json").stdout)["overage"]["cost"] == "2.03"


@pytest.mark.parametrize(
    ("args", "field", "hint"),
    [
        (["record", "cpu", "3"], "METRIC", "not a metric"),
        (["record", "traffic_gb", "lots"], "AMOUNT", "not an amount"),
        (["record", "traffic_gb", "1.2345"], "AMOUNT", "at most 3 decimals"),
        (["record", "traffic_gb"], "record", "needs METRIC and AMOUNT"),
        (["erase"], "usage", "not an action"),
    ],
)
def test_bad_usage_input_is_one_line_and_writes_nothing(cli, db, admin, metered, frozen, args, field, hint):
    service_id = new_service(db, admin, metered, status="active")
    before = every_row_digest(db)
    result = cli("services", "usage", str(service_id), *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0] and hint in lines[0], lines
    assert every_row_digest(db) == before


def test_record_refuses_a_metric_the_product_does_not_meter_and_a_panel_service(cli, db, admin, catalog, frozen):
    db.transaction(lambda session: catalog_module.edit_product(session, admin, str(catalog.product_id), overages=["traffic_gb=100:0.05"]))
    service_id = new_service(db, admin, catalog, status="active")
    refused = cli("services", "usage", str(service_id), "record", "disk_gb", "3")
    assert refused.exit_code == 2 and "meters no disk_gb" in refused.stderr
    with db.write() as session:
        session.get(Service, service_id).type = "proxmox"
    panel = cli("services", "usage", str(service_id), "record", "traffic_gb", "3")
    assert panel.exit_code == 1 and "reads its usage from the panel" in panel.stderr


def _overage_lines(db, service_id):
    with db.read() as session:
        return list(session.exec(select(InvoiceLine).where(InvoiceLine.service_id == service_id, InvoiceLine.kind == "overage")).all())


def test_the_renewal_invoice_bills_the_closed_period_once_across_runs(cli, db, admin, metered, frozen):
    service_id = new_service(db, admin, metered, status="active", expires="2026-11-25")
    assert cli("services", "usage", str(service_id), "record", "traffic_gb", "130").exit_code == 0

    for _ in range(2):
        automation.run(db, admin)
    assert _overage_lines(db, service_id) == []  # the period Oct 25 - Nov 25 has not closed yet
    with db.read() as session:
        renewal = session.exec(select(InvoiceLine).where(InvoiceLine.service_id == service_id, InvoiceLine.kind == "renewal")).one()
    db.transaction(lambda session: orders.pay_invoice(session, admin, renewal.invoice_id))

    later = datetime(2026, 12, 20, 12, tzinfo=UTC)
    for _ in range(2):
        automation.run(db, admin, at=later)
    lines = _overage_lines(db, service_id)
    assert len(lines) == 1
    line = lines[0]
    assert line.amount == Decimal("1.50")
    assert (clock.as_utc(line.period_start).date().isoformat(), clock.as_utc(line.period_end).date().isoformat()) == ("2026-10-25", "2026-11-25")
    with db.read() as session:
        next_renewal = session.exec(
            select(InvoiceLine).where(InvoiceLine.service_id == service_id, InvoiceLine.kind == "renewal", col(InvoiceLine.id) != renewal.id)
        ).one()
        assert next_renewal.invoice_id == line.invoice_id
        assert session.exec(select(Usage).where(Usage.service_id == service_id)).one().invoice_line_id == line.id


def test_a_closed_period_within_its_included_amount_adds_no_line(cli, db, admin, metered, frozen):
    service_id = new_service(db, admin, metered, status="active", expires="2026-11-25")
    assert cli("services", "usage", str(service_id), "record", "traffic_gb", "99").exit_code == 0
    automation.run(db, admin)
    with db.read() as session:
        renewal = session.exec(select(InvoiceLine).where(InvoiceLine.service_id == service_id, InvoiceLine.kind == "renewal")).one()
    db.transaction(lambda session: orders.pay_invoice(session, admin, renewal.invoice_id))
    automation.run(db, admin, at=datetime(2026, 12, 20, 12, tzinfo=UTC))
    assert _overage_lines(db, service_id) == []


def test_the_overage_line_uses_the_rates_in_force_when_it_is_made(cli, db, admin, metered, frozen):
    """Re-checked at that moment: a price changed after the usage was recorded is the one billed."""
    service_id = new_service(db, admin, metered, status="active", expires="2026-11-25")
    assert cli("services", "usage", str(service_id), "record", "traffic_gb", "130").exit_code == 0
    automation.run(db, admin)
    with db.read() as session:
        renewal = session.exec(select(InvoiceLine).where(InvoiceLine.service_id == service_id, InvoiceLine.kind == "renewal")).one()
    db.transaction(lambda session: orders.pay_invoice(session, admin, renewal.invoice_id))
    assert cli("products", "edit", "Web Pro", "--overage", "traffic_gb=100:0.10").exit_code == 0
    automation.run(db, admin, at=datetime(2026, 12, 20, 12, tzinfo=UTC))
    assert [line.amount for line in _overage_lines(db, service_id)] == [Decimal("3.00")]
