"""The catalogue of configurable options: declared on a product, chosen at order time or on a
service, billed with each renewal; bad choices are one line naming --option and change nothing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from svcconsole.core import actions, renewals
from svcconsole.store.models import Activity, Invoice, InvoiceLine, ProductOption, Service, ServiceOption
from tests.billing.conftest import count, rows
from tests.conftest import new_service

PRICES = [
    # options chosen at order time        cycle       order line   one renewal   two renewals
    ((), "monthly", "12.00", "12.00", "24.00"),
    (("Extra IPv4=1",), "monthly", "15.00", "15.00", "30.00"),
    (("Extra IPv4=2",), "monthly", "17.50", "17.50", "35.00"),
    (("Extra IPv4=2", "Backup slots=3"), "monthly", "21.25", "21.25", "42.50"),
    (("Backup slots=0",), "monthly", "12.00", "12.00", "24.00"),
    (("Backup slots=10",), "monthly", "24.50", "24.50", "49.00"),
    (("Extra IPv4=1", "Backup slots=1"), "annually", "124.25", "124.25", "248.50"),
]
"""Web Pro costs 12.00 a month, 120.00 a year; Extra IPv4 is 1 at 3.00 or 2 at 5.50 a cycle; a backup
slot is 1.25 a cycle, 0 to 10 of them. Worked out by hand, not by the code."""


def declare(cli, *args):
    result = cli("products", "options", "Web Pro", "add", *args)
    assert result.exit_code == 0, result.stderr
    return result


@pytest.fixture
def offered(db, catalog, cli):
    declare(cli, "--name", "Extra IPv4", "--choice", "1=3.00", "--choice", "2=5.50")
    declare(cli, "--name", "Backup slots", "--min", "0", "--max", "10", "--price", "1.25")


def order(cli, *options, cycle="monthly"):
    args = [arg for option in options for arg in ("--option", option)]
    return cli("orders", "create", "--customer", "alice@example.com", "--product", "Web Pro", "--cycle", cycle, "--name", "shop", *args)


@pytest.mark.parametrize(("options", "cycle", "line", "one", "two"), PRICES, ids=[" ".join(row[0]) + f" {row[1]}" or "none" for row in PRICES])
def test_chosen_options_bill_on_the_order_and_with_each_renewal(db, admin, offered, cli, frozen, options, cycle, line, one, two):
    created = order(cli, *options, cycle=cycle)
    assert created.exit_code == 0, created.stderr
    [order_line] = rows(db, InvoiceLine)
    assert order_line.amount == Decimal(line)

    paid = cli("invoices", "pay", created.stdout.strip())
    assert paid.exit_code == 0, paid.stderr
    [service] = rows(db, Service)
    with db.read() as session:
        assert renewals.renewal_amount(session, service, 1) == Decimal(one)
        assert renewals.renewal_amount(session, service, 2) == Decimal(two)
    chosen = {(option.name, option.value, option.quantity) for option in rows(db, ServiceOption)}
    expected = {("Extra IPv4", text.split("=")[1], 1) for text in options if text.startswith("Extra")}
    expected |= {("Backup slots", None, int(text.split("=")[1])) for text in options if text.startswith("Backup") and text != "Backup slots=0"}
    assert chosen == expected


def test_products_options_lists_the_catalogue_as_json(db, offered, cli):
    listed = cli("products", "options", "Web Pro", "list", "--format", "json")
    assert listed.exit_code == 0, listed.stderr
    [ipv4, backups] = json.loads(listed.stdout)
    assert (ipv4["name"], ipv4["choices"], ipv4["resource"]) == ("Extra IPv4", [{"value": "1", "price": "3.00"}, {"value": "2", "price": "5.50"}], None)
    assert (backups["minimum"], backups["maximum"], backups["unit_price"]) == (0, 10, "1.25")
    assert backups["accepts"] == "0 to 10 at 1.25 each"


def test_removing_an_option_from_the_catalogue_leaves_services_that_chose_it_billed(db, admin, offered, cli, frozen):
    cli("invoices", "pay", order(cli, "Extra IPv4=1").stdout.strip())
    assert cli("products", "options", "Web Pro", "remove", "Extra IPv4").exit_code == 0
    assert [option.name for option in rows(db, ProductOption)] == ["Backup slots"]
    [service] = rows(db, Service)
    with db.read() as session:
        assert renewals.renewal_amount(session, service, 1) == Decimal("15.00")
    refused = order(cli, "Extra IPv4=1")
    assert refused.exit_code == 2 and "accepted: Backup slots" in refused.stderr


BAD_ORDERS = [
    (("Extra IPv6=1",), "no option 'Extra IPv6' (accepted: Extra IPv4, Backup slots)"),
    (("Extra IPv4=3",), "'3' is not a choice of 'Extra IPv4' (accepted: 1 (3.00) or 2 (5.50))"),
    (("Backup slots=11",), "'11' is not a quantity of 'Backup slots' (accepted: 0 to 10 at 1.25 each)"),
    (("Backup slots=-1",), "'-1' is not a quantity of 'Backup slots'"),
    (("Backup slots=²",), "'²' is not a quantity of 'Backup slots'"),
    (("Backup slots",), "is not NAME=VALUE"),
    (("Extra IPv4=1", "Extra IPv4=2"), "'Extra IPv4' is chosen twice"),
]


@pytest.mark.parametrize(("options", "said"), BAD_ORDERS, ids=[" ".join(row[0]) for row in BAD_ORDERS])
def test_a_bad_choice_is_one_line_naming_option_and_writes_nothing(db, offered, cli, options, said):
    result = order(cli, *options)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: --option: ") or "--option: " in line, line
    assert said in line, line
    assert (count(db, Invoice), count(db, InvoiceLine), count(db, Service), count(db, ServiceOption)) == (0, 0, 0, 0)


BAD_DECLARATIONS = [
    (["--name", "Extra IPv4", "--choice", "1=1.00"], "--name: product 'Web Pro' has an option named 'Extra IPv4' already"),
    (["--name", "Disk", "--choice", "10"], "--choice: '10' is not VALUE=PRICE"),
    (["--name", "Disk", "--min", "1", "--max", "0", "--price", "1"], "--max:"),
    (["--name", "Disk", "--choice", "1=1", "--min", "1", "--max", "2"], "--choice: give either"),
    (["--name", "Disk", "--choice", "1=1", "--resource", "memory"], "--resource: 'memory' is not a resource the manual module applies"),
    (["--name", "a=b", "--choice", "1=1"], "--name: an option's name cannot hold '='"),
]


@pytest.mark.parametrize(("args", "said"), BAD_DECLARATIONS, ids=[row[1].split(":")[0] + str(i) for i, row in enumerate(BAD_DECLARATIONS)])
def test_a_bad_declaration_is_one_line_naming_its_field_and_declares_nothing(db, offered, cli, args, said):
    result = cli("products", "options", "Web Pro", "add", *args)
    assert result.exit_code == 2, result.stdout
    (line,) = result.stderr.strip().splitlines()
    assert said in line, line
    assert count(db, ProductOption) == 2


def test_add_option_on_a_service_of_a_manual_product_is_a_billing_record_with_one_activity_row(db, admin, catalog, offered, cli, frozen):
    service_id = new_service(db, admin, catalog, status="active")
    added = cli("services", "add-option", str(service_id), "--option", "Backup slots=4")
    assert added.exit_code == 0, added.stderr
    [option] = rows(db, ServiceOption)
    assert (option.name, option.quantity, option.price) == ("Backup slots", 4, Decimal("1.25"))
    assert count(db, Activity, Activity.action == "option_add") == 1
    with db.read() as session:
        assert renewals.renewal_amount(session, session.get(Service, service_id), 1) == Decimal("17.00")
    again = cli("services", "add-option", str(service_id), "--option", "Backup slots=2")
    assert again.exit_code != 0 and "has 'Backup slots' already" in again.stdout + again.stderr
    assert count(db, ServiceOption) == 1


def test_add_option_refuses_a_bad_choice_naming_option_and_writes_nothing(db, admin, catalog, offered, frozen):
    from svcconsole.core.errors import InvalidInput

    service_id = new_service(db, admin, catalog, status="active")
    with pytest.raises(InvalidInput) as refused:
        db.transaction(lambda session: actions.perform(session, admin, "add-option", service_id, {"option": "Extra IPv4=9"}))
    assert str(refused.value) == "--option: '9' is not a choice of 'Extra IPv4' (accepted: 1 (3.00) or 2 (5.50))"
    assert count(db, ServiceOption) == 0 and count(db, Activity, Activity.action == "option_add") == 0


def test_add_option_is_refused_from_a_status_the_table_does_not_allow(db, admin, catalog, offered, frozen):
    from svcconsole.core.errors import TransitionRefused

    service_id = new_service(db, admin, catalog, status="terminated")
    with pytest.raises(TransitionRefused):
        db.transaction(lambda session: actions.perform(session, admin, "add-option", service_id, {"option": "Extra IPv4=1"}))
    assert count(db, ServiceOption) == 0
