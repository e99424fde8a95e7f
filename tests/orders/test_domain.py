"""A service's domain (issue 16 item 1): set on create, import, edit and orders; shown in
`services show`, JSON and the list; found by free text and `domain:` through the search index,
its punycode form too; bad input is one line naming `--domain`."""

import json

import pytest
from sqlmodel import select

from svcconsole.core import filters, orders, records
from svcconsole.core.errors import InvalidInput
from svcconsole.store import queries
from svcconsole.store.models import Service
from svcconsole.store.queries import ServiceFilter, Sort
from tests.conftest import new_service

PUNYCODE = "xn--bcher-kva.example"
"""`bücher.example` in IDNA form (RFC 3492's algorithm, as registrars show it)."""


def matching(db, text):
    with db.read() as session:
        service_filter = filters.parse_filter(session, text)
        return [row.id for row in queries.page(session, service_filter, Sort("id"), limit=100)]


@pytest.fixture
def three(db, admin, catalog):
    return {
        "idn": new_service(db, admin, catalog, name="books", domain="bücher.example"),
        "plain": new_service(db, admin, catalog, name="shop", domain="Shop.Example.org"),
        "none": new_service(db, admin, catalog, name="example-named"),
    }


def test_an_idn_domain_is_stored_as_given_with_its_punycode_form(db, three):
    with db.read() as session:
        service = session.get(Service, three["idn"])
        assert (service.domain, service.domain_ascii) == ("bücher.example", PUNYCODE)
        assert "bücher.example" in service.search_text and PUNYCODE in service.search_text


@pytest.mark.parametrize("term", ["bücher", PUNYCODE, "bcher-kva", "BÜCHER.example"])
def test_free_text_and_the_domain_term_find_the_idn_domain_in_both_forms(db, three, term):
    assert three["idn"] in matching(db, f'"{term}"')
    assert matching(db, f'domain:"{term}"') == [three["idn"]]


def test_the_domain_term_looks_at_the_domain_only(db, three):
    assert three["none"] in matching(db, "example-named")
    assert matching(db, "domain:example") == [three["idn"], three["plain"]]
    assert matching(db, "domain:shop.example") == [three["plain"]]
    assert matching(db, "domain:named") == []


def test_the_domain_sorts_by_its_ascii_form_with_services_without_one_last(db, three):
    with db.read() as session:
        rows = queries.page(session, ServiceFilter(), Sort("domain"), limit=10)
    assert [row.id for row in rows] == [three["plain"], three["idn"], three["none"]]  # shop.example.org < xn--bcher-kva.example


@pytest.mark.parametrize("bad", ["localhost", "-bad.example", "a_b.example", "ex ample.com", "1.2.3.4", "x" * 64 + ".com", "bad\x1b.com"])
def test_a_bad_domain_is_refused_naming_the_option_and_nothing_is_written(db, admin, catalog, bad):
    with pytest.raises(InvalidInput) as refused:
        new_service(db, admin, catalog, name="refused", domain=bad)
    assert refused.value.field == "--domain"
    with db.read() as session:
        assert session.exec(select(Service).where(Service.name == "refused")).first() is None


def test_edit_sets_and_clears_the_domain_and_the_search_follows(db, admin, catalog, three):
    db.transaction(lambda session: records.edit_service(session, admin, three["none"], {"domain": "münchen.example"}))
    assert matching(db, "domain:xn--mnchen-3ya") == [three["none"]]
    db.transaction(lambda session: records.edit_service(session, admin, three["none"], {"domain": "none"}))
    assert matching(db, "domain:mnchen") == []
    with db.read() as session:
        service = session.get(Service, three["none"])
        assert (service.domain, service.domain_ascii) == (None, None)
        assert "mnchen" not in service.search_text


def test_renaming_the_customer_keeps_the_domain_searchable(db, admin, catalog, three):
    from svcconsole.core import catalog as catalog_module

    db.transaction(lambda session: catalog_module.edit_customer(session, admin, str(catalog.customer_id), email="alice.new@example.com"))
    assert three["idn"] in matching(db, PUNYCODE)
    assert three["idn"] in matching(db, "alice.new")


def test_cli_create_show_json_list_and_edit(cli, catalog):
    created = cli("services", "create", "--customer", "alice@example.com", "--name", "wiki", "--product", "Web Pro", "--domain", "wiki.bücher.example")
    assert created.exit_code == 0, created.stderr
    service_id = created.stdout.strip()
    shown = json.loads(cli("services", "show", service_id, "--format", "json").stdout)
    assert shown["domain"] == "wiki.bücher.example"
    listed = cli("services", "list", "--domain", "xn--bcher", "--format", "json")
    assert [row["domain"] for row in json.loads(listed.stdout)] == ["wiki.bücher.example"]
    table = cli("services", "list", "--search", "wiki.xn--bcher-kva")
    assert "DOMAIN" in table.lines[0] and "wiki.bücher.example" in table.lines[1]
    edited = cli("services", "edit", service_id, "--domain", "wiki.example.org")
    assert edited.exit_code == 0 and "domain: wiki.bücher.example -> wiki.example.org" in edited.stderr


def test_cli_bad_domain_is_one_line_with_exit_code_2(cli, catalog):
    result = cli("services", "create", "--customer", "alice@example.com", "--name", "wiki", "--product", "Web Pro", "--domain", "not a domain")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "--domain" in result.stderr
    assert cli("services", "list", "--format", "ids").stdout.strip() == ""


def test_an_order_carries_the_domain_to_the_service_it_creates(db, admin, catalog):
    def order(session):
        return orders.create_order(session, admin, str(catalog.customer_id), [orders.OrderItem(product="Web Pro", domain="shop.bücher.example")])

    invoice = db.transaction(order)
    db.transaction(lambda session: orders.pay_invoice(session, admin, invoice.id))
    assert matching(db, "domain:shop.xn--bcher") != []
    with db.read() as session:
        assert session.exec(select(Service.domain)).all() == ["shop.bücher.example"]


def test_an_order_with_a_bad_domain_is_refused_before_any_invoice(db, admin, catalog, cli):
    result = cli("orders", "create", "--customer", "alice@example.com", "--product", "Web Pro", "--domain", "..")
    assert result.exit_code == 2 and "--domain" in result.stderr
    assert cli("invoices", "list", "--format", "ids").stdout.strip() == ""


# ----------------------------------------------------------------------------- item 8: special price


def test_special_yes_lists_the_services_priced_apart_from_their_product(db, admin, catalog):
    listed = new_service(db, admin, catalog, name="listed")  # Web Pro monthly at the product's 12.00
    special = new_service(db, admin, catalog, name="special", price="9.00")
    custom = new_service(db, admin, catalog, name="custom", product=None, type="manual", price="5.00")
    assert matching(db, "special:yes") == [special]
    assert matching(db, "special:no") == [listed, custom]
    with db.read() as session:
        rows = queries.page(session, ServiceFilter(), Sort("id"), limit=10)
    assert {row.id: bool(row.special_price) for row in rows} == {listed: False, special: True, custom: False}
    with pytest.raises(InvalidInput, match="special"):
        with db.read() as session:
            filters.parse_filter(session, "special:maybe")


def test_the_status_cell_carries_the_markers():
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from svcconsole.widgets.service_table import cell

    def row(**fields):
        base = {"status": "active", "suspend_kind": None, "operation": None, "approval": None, "auto_renew": False, "special_price": False}
        return SimpleNamespace(**(base | fields))

    utc = ZoneInfo("UTC")
    assert cell(row(), "status", utc).plain == "active"
    assert cell(row(auto_renew=True), "status", utc).plain == "active ↻"
    assert cell(row(auto_renew=True, special_price=True), "status", utc).plain == "active ↻≠"
    assert cell(row(special_price=True, operation="suspension"), "status", utc).plain == "active: suspension… ≠"
    assert cell(row(status="suspended", suspend_kind="temporary", auto_renew=True), "status", utc).plain == "suspended (temporary)", "never cut the kind"
    assert cell(row(status="pending", approval="awaiting"), "status", utc).plain == "pending (approval)"
    assert cell(row(status="cancelled", auto_renew=True), "status", utc).plain == "cancelled", "an ended service renews no more"
