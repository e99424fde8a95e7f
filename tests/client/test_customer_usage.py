"""Usage and overages in the customer area (issue 17 item 3): the dashboard's "Services with
overages" widget and the service's overage, each scoped to the customer; and crafted input to
`--overage` and `services usage ID record`: accepted, or one line naming its field and nothing written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlmodel import select

from svcconsole.core import catalog as catalog_module
from svcconsole.core import customer, overage, usage
from svcconsole.core.errors import InvalidInput, NotFound, SvcError
from svcconsole.store.models import Product, Service, Usage
from tests.client.test_customer_hostile_input import IDS, PROPERTY, assert_one_line_refusal
from tests.reliability.support import fingerprint
from tests.reliability.test_hostile_input import HOSTILE


@pytest.fixture
def metered(db, admin, shop):
    db.transaction(lambda session: catalog_module.edit_product(session, admin, str(shop.product_id), overages=["traffic_gb=100:0.05"]))
    db.transaction(lambda session: usage.record(session, admin, shop.alice["web"], "traffic_gb", "130"))
    db.transaction(lambda session: usage.record(session, admin, shop.alice["late"], "traffic_gb", "90"))
    db.transaction(lambda session: usage.record(session, admin, shop.bob["web"], "traffic_gb", "600"))
    return shop


def test_the_widget_lists_the_customers_own_services_with_an_overage(db, metered):
    shop = metered
    with db.read() as session:
        alice = customer.dashboard(session, shop.alice_actor)
        bob = customer.dashboard(session, shop.bob_actor)
    assert [(line.id, line.name, line.expiration.format(date=line.expiration_date), line.cost) for line in alice.overages] == [
        (shop.alice["web"], "alice web", "Expires 2027-08-07", "1.50 EUR")
    ]  # "alice late" used 90 of 100: no overage; Bob's 600 is Bob's
    assert alice.overages_total == 1
    assert [(line.id, line.cost) for line in bob.overages] == [(shop.bob["web"], "25.00 EUR")]


def test_the_service_detail_shows_its_overage_and_never_another_customers(db, metered):
    shop = metered
    with db.read() as session:
        detail = customer.service_detail(session, shop.alice_actor, shop.alice["web"])
        assert detail.overage == "1.50 EUR (traffic_gb 130 of 100)"
        assert customer.service_detail(session, shop.alice_actor, shop.alice["late"]).overage == "none"
        with pytest.raises(NotFound):
            customer.service_detail(session, shop.alice_actor, shop.bob["web"])
        scope = customer.scope_of(shop.alice_actor)
        bob_period = usage.current_report(session, session.get(Service, shop.bob["web"])).period_start
        assert scope.usage_rows(session, shop.bob["web"], bob_period) == []


def test_a_service_whose_product_meters_nothing_shows_no_overage(db, shop):
    with db.read() as session:
        assert customer.service_detail(session, shop.alice_actor, shop.alice["web"]).overage is None
        assert customer.dashboard(session, shop.alice_actor).overages == ()


@PROPERTY
@given(service_id=IDS)
def test_any_service_id_reads_usage_of_the_customers_own_services_only(db, metered, service_id):
    shop = metered
    scope = customer.scope_of(shop.alice_actor)
    with db.read() as session:
        for period_start in {row.period_start for row in session.exec(select(Usage)).all()}:
            rows = scope.usage_rows(session, service_id, period_start)
            assert {row.service_id for row in rows} <= {shop.alice["web"], shop.alice["late"]}


AMOUNTS = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=14), st.decimals(allow_nan=True, allow_infinity=True).map(str), st.integers().map(str))
METRICS = st.one_of(st.sampled_from([*overage.METRICS, "TRAFFIC_GB", " disk_gb ", "cpu"]), st.sampled_from(HOSTILE), st.text(max_size=10))


@PROPERTY
@given(metric=METRICS, amount=AMOUNTS)
@example(metric="traffic_gb", amount="1e3")
@example(metric="traffic_gb", amount="NaN")
@example(metric="traffic_gb", amount="-0")
@example(metric="traffic_gb", amount="１２")
def test_any_recorded_usage_is_stored_as_given_or_refused_in_one_line_writing_nothing(db, admin, metered, metric, amount):
    shop = metered
    before = fingerprint(db)
    try:
        report = db.transaction(lambda session: usage.record(session, admin, shop.alice["web"], metric, amount))
    except InvalidInput as error:
        assert_one_line_refusal(error)
        assert error.field in ("METRIC", "AMOUNT")
        assert fingerprint(db) == before
        return
    assert amount.strip().replace(".", "").isascii(), "only ASCII digits are an amount"
    used = {line.metric: line.used for line in report.lines}
    assert used["traffic_gb"] == Decimal(amount.strip())
    assert report.cost == overage.cost(Decimal(amount.strip()), overage.Rate("traffic_gb", Decimal(100), Decimal("0.05")))


@PROPERTY
@given(values=st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=20), st.builds("{}={}:{}".format, METRICS, AMOUNTS, AMOUNTS)), max_size=3))
@example(values=["traffic_gb=100:0.05", "traffic_gb=1:1"])
@example(values=["disk_gb=1e9:1"])
def test_any_overage_option_is_a_declaration_or_one_line_naming_it(db, admin, shop, values):
    before = fingerprint(db)
    try:
        db.transaction(lambda session: catalog_module.edit_product(session, admin, str(shop.product_id), overages=values))
    except SvcError as error:
        assert isinstance(error, InvalidInput) and error.field == "--overage"
        assert_one_line_refusal(error)
        assert fingerprint(db) == before
        return
    with db.read() as session:
        declared = session.get(Product, shop.product_id).overage
    assert set(declared) <= set(overage.METRICS)
    for rate in overage.rates_of(declared).values():
        assert rate.included >= 0 and rate.price >= 0
