"""Hostile input, generated, against the customer area's filter line and service ids.

For any filter text: a filter scoped to the customer, or one `InvalidInput` naming its field;
the list's queries then run and hold only the customer's visible services. For any id, typed
or passed on: the customer's own service, or "no service N"; never an exception of another
kind, never another customer's row, and a refused change writes nothing.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from svcconsole.core import customer, customer_actions, parse
from svcconsole.core.errors import InvalidInput, NotFound, SvcError
from svcconsole.store.queries import Sort
from tests.reliability.support import fingerprint
from tests.reliability.test_hostile_input import HOSTILE

TERMS = st.one_of(
    st.sampled_from(HOSTILE),
    st.builds(
        lambda key, value: f"{key}:{value}",
        st.sampled_from([*customer.FILTER_KEYS, "customer", "product", "STATUS", "x"]),
        st.sampled_from(HOSTILE) | st.text(max_size=8),
    ),
    st.builds(lambda op, value: f"expires{op}{value}", st.sampled_from("<>"), st.sampled_from(HOSTILE) | st.text(max_size=8)),
    st.text(max_size=12),
)
FILTERS = st.one_of(st.lists(TERMS, max_size=5).map(" ".join), st.text(max_size=60))
IDS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.integers(min_value=-3, max_value=40), st.sampled_from([parse.MAX_ID, parse.MAX_ID + 1, 2**63])
)
TYPED_IDS = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=14), IDS.map(str), IDS.map(lambda number: f"#{number}"))
PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def assert_one_line_refusal(error: InvalidInput) -> None:
    assert error.message.startswith(f"{error.field}:") and "\n" not in error.message


@PROPERTY
@given(text=FILTERS)
@example(text="²")
@example(text="web ¹²")
@example(text="9999999999")
@example(text="999999999999")
@example(text="id:99999999999999999999")
@example(text="customer:1")
@example(text='status:deleted "unclosed')
@example(text="bob\x00")
def test_any_filter_line_is_the_customers_filter_or_one_refusal(db, shop, text):
    with db.read() as session:
        try:
            service_filter = customer.list_filter(session, shop.alice_actor, text)
        except InvalidInput as error:
            assert_one_line_refusal(error)
            return
        scope = customer.scope_of(shop.alice_actor)
        rows = [row for sort in (Sort("id"), Sort("expires", True), Sort("name")) for row in scope.page(session, service_filter, sort, limit=20)]
        total = scope.count(session, service_filter)
        by_status = scope.counts_by_status(session, service_filter)
    assert {row.customer_id for row in rows} <= {shop.alice_id}
    assert "deleted" not in {row.status for row in rows} and "deleted" not in by_status
    assert total <= sum(by_status.values()) <= 6
    window = scope.window(db, page_size=10)
    window.configure(service_filter, Sort())
    window.load(0, 10, generation=window.generation)
    assert {row.customer_id for row in window.rows(0, 10) if row is not None} <= {shop.alice_id}


@PROPERTY
@given(service_id=IDS | st.sampled_from(["bob web", "bob gone", "alice gone"]))
def test_any_service_id_is_the_customers_own_service_or_no_service(db, shop, service_id):
    named = {"bob web": shop.bob["web"], "bob gone": shop.bob["gone"], "alice gone": shop.alice["gone"]}
    target = named.get(service_id, service_id) if isinstance(service_id, str) else service_id
    visible = {shop.alice[name] for name in ("web", "late", "paused", "fixed", "pending", "old")}
    with db.read() as session:
        for read in (customer.service_detail, customer.history):
            try:
                found = read(session, shop.alice_actor, target)
            except NotFound as error:
                assert target not in visible and error.message == f"no service {target}"
                continue
            assert target in visible
            if read is customer.service_detail:
                assert found.service.id == target and found.customer_email == "alice@example.com"
    if target in visible:
        return
    before = fingerprint(db)
    changes = (
        lambda session: customer_actions.renew(session, shop.alice_actor, target),
        lambda session: customer_actions.cancel(session, shop.alice_actor, target, "immediate"),
        lambda session: customer_actions.uncancel(session, shop.alice_actor, target),
        lambda session: customer_actions.set_auto_renew(session, shop.alice_actor, target, False),
        lambda session: customer_actions.buy_option(session, shop.alice_actor, target, "Backups=daily"),
        lambda session: customer_actions.change_cycle(session, shop.alice_actor, target, "annually"),
        lambda session: customer_actions.delete(session, shop.alice_actor, target),
        lambda session: customer_actions.power(session, shop.alice_actor, target, "start"),
        lambda session: customer_actions.reinstall(session, shop.alice_actor, target, "bob web"),
        lambda session: customer_actions.suspend(session, shop.alice_actor, target),
        lambda session: customer_actions.lift_suspension(session, shop.alice_actor, target),
    )
    for change in changes:
        with pytest.raises(NotFound, match=f"^no service {target}$"):
            db.transaction(change)
    with pytest.raises(NotFound):
        customer.panel(db, shop.alice_actor, target)
    assert fingerprint(db) == before


@PROPERTY
@given(typed=TYPED_IDS)
@example(typed="²")
@example(typed="99999999999")
@example(typed="#-1")
def test_any_id_typed_by_hand_is_refused_in_one_line_or_opens_only_the_customers_own(db, shop, typed):
    try:
        service_id = parse.parse_id("id", typed.strip().lstrip("#"))
    except InvalidInput as error:
        assert_one_line_refusal(error)
        return
    with db.read() as session:
        try:
            detail = customer.service_detail(session, shop.alice_actor, service_id)
        except SvcError as error:
            assert isinstance(error, NotFound) and error.message == f"no service {service_id}"
            return
    assert detail.service.id == service_id and detail.customer_email == "alice@example.com"


SELF_SERVICE_TEXT = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=24),
    st.builds(lambda name, value: f"{name}={value}", st.sampled_from(["Backups", "backups", "Bob", ""]), st.sampled_from(HOSTILE) | st.text(max_size=8)),
)


@PROPERTY
@given(text=SELF_SERVICE_TEXT, action=st.sampled_from(["option", "cycle", "power", "reinstall"]))
@example(text="Backups=daily", action="option")
@example(text="Backups=daily=x", action="option")
@example(text="annually", action="cycle")
@example(text="ANNUALLY ", action="cycle")
@example(text="kill", action="power")
@example(text="alice web\x00", action="reinstall")
def test_crafted_self_service_input_is_done_or_refused_in_one_line_and_never_reaches_another_customer(db, admin, shop, text, action):
    """With every flag on: an option choice, a cycle, a power verb or a typed name, crafted, either
    does what it says on the customer's own service or is one line; Bob's data never changes."""
    from svcconsole.core import catalog as catalog_module
    from svcconsole.core import option_catalog
    from svcconsole.store.models import Invoice, ProductOption, Service

    with db.read() as session:
        declared = session.exec(select(ProductOption)).first() is not None
    if not declared:
        flags = dict.fromkeys(("customer_options", "customer_cycle", "customer_delete", "customer_power", "customer_suspend"), True)
        db.transaction(lambda session: catalog_module.edit_product(session, admin, str(shop.product_id), customer_flags=flags))
        db.transaction(lambda session: option_catalog.declare_option(session, admin, shop.product_id, name="Backups", choices=["daily=3.00"]))
    with db.read() as session:
        bob_before = session.get(Service, shop.bob["web"]).model_dump()
    web = shop.alice["web"]
    change = {
        "option": lambda session: customer_actions.buy_option(session, shop.alice_actor, web, text),
        "cycle": lambda session: customer_actions.change_cycle(session, shop.alice_actor, web, text),
        "power": lambda session: customer_actions.power(session, shop.alice_actor, web, text),
        "reinstall": lambda session: customer_actions.reinstall(session, shop.alice_actor, web, text),
    }[action]
    try:
        db.transaction(change)
    except SvcError as error:
        assert "\n" not in error.message and "Traceback" not in error.message
    with db.read() as session:
        assert session.get(Service, shop.bob["web"]).model_dump() == bob_before
        assert {invoice.customer_id for invoice in session.exec(select(Invoice)).all()} <= {shop.alice_id}
