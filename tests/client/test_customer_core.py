"""The customer area's core: one customer's data only, the widget's wording, the allow-listed actions."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from sqlmodel import select

from svcconsole.core import actions, bulk, customer, customer_actions, records
from svcconsole.core.errors import InvalidInput, NotFound, PermissionDenied, TransitionRefused
from svcconsole.core.operators import CLIENT_ACTIONS, client_actor
from svcconsole.core.statuses import ACTIONS
from svcconsole.store.customer_scope import CustomerScope
from svcconsole.store.models import Activity, Invoice, InvoiceLine, Service
from svcconsole.store.queries import ServiceFilter, Sort
from tests.client.conftest import INTERNAL_REASON, NOTE, client_of
from tests.conftest import make_actor


def read(db, work):  # type: ignore[no-untyped-def]
    with db.read() as session:
        return work(session)


def row(db, service_id: int) -> Service:  # type: ignore[no-untyped-def]
    return read(db, lambda session: session.get(Service, service_id))


def test_the_widget_lists_active_and_suspended_services_worded_as_the_client_area(db, shop):
    board = read(db, lambda session: customer.dashboard(session, shop.alice_actor))
    lines = [(line.id, line.name, line.expiration, line.auto_renewal, line.renew) for line in board.active]
    assert lines == [
        (shop.alice["late"], "alice late", "Stopped 2026-11-01", "On", "12.00 EUR/month"),
        (shop.alice["paused"], "alice paused", "Stopped 2026-11-21", "Off", "12.00 EUR/month"),
        (shop.alice["fixed"], "alice fixed", "Expires 2027-01-31", "On", "100.00 EUR/year"),
        (shop.alice["web"], "alice web", "Expires 2027-08-07", "On", "12.00 EUR/month"),
    ]
    assert (board.active_total, board.services_total, board.customer_email) == (4, 6, "alice@example.com")


def test_the_renew_price_counts_options_and_names_the_cycle(db, admin, shop):
    db.transaction(lambda session: records.option_add(session, admin, shop.alice["web"], name="backup", price="1.50", quantity=2))
    board = read(db, lambda session: customer.dashboard(session, shop.alice_actor))
    assert next(line.renew for line in board.active if line.id == shop.alice["web"]) == "15.00 EUR/month"
    assert customer.renew_price_label(read(db, lambda s: row(db, shop.alice["web"])).price, "EUR", "weekly") == "12.00 EUR/week"
    assert [customer.renew_price_label(12, "EUR", cycle) for cycle in ("quarterly", "semiannually", "biennially", "triennially", "onetime", "free")] == [
        "12.00 EUR/quarter",
        "12.00 EUR/6 months",
        "12.00 EUR/2 years",
        "12.00 EUR/3 years",
        "12.00 EUR once",
        "free",
    ]


@pytest.mark.parametrize("target", ["bob web", "bob gone", "alice gone", "nothing"])
def test_another_customers_or_a_deleted_service_is_no_service(db, shop, target):
    ids = {"bob web": shop.bob["web"], "bob gone": shop.bob["gone"], "alice gone": shop.alice["gone"], "nothing": 999_999}
    service_id = ids[target]
    reads = (
        lambda session: customer.service_detail(session, shop.alice_actor, service_id),
        lambda session: customer.history(session, shop.alice_actor, service_id),
    )
    for work in reads:
        with pytest.raises(NotFound) as refused:
            read(db, work)
        assert str(refused.value) == f"no service {service_id}"
    for change in (
        lambda session: customer_actions.renew(session, shop.alice_actor, service_id),
        lambda session: customer_actions.cancel(session, shop.alice_actor, service_id, "end-of-cycle"),
        lambda session: customer_actions.uncancel(session, shop.alice_actor, service_id),
        lambda session: customer_actions.set_auto_renew(session, shop.alice_actor, service_id, False),
    ):
        with pytest.raises(NotFound) as refused:
            db.transaction(change)
        assert str(refused.value) == f"no service {service_id}"
    with pytest.raises(NotFound):
        customer.panel(db, shop.alice_actor, service_id)
    assert read(db, lambda session: session.exec(select(Invoice)).all()) == []


@pytest.mark.parametrize("text", ["", "bob", "web", "status:deleted", "status:active,deleted", "cycle:monthly", "expires>2020-01-01"])
def test_no_filter_line_reaches_another_customer(db, shop, text):
    service_filter = read(db, lambda session: customer.list_filter(session, shop.alice_actor, text))
    scope = CustomerScope(shop.alice_id)
    window = scope.window(db, page_size=10)
    window.configure(service_filter, Sort())
    window.load(0, 100)
    ids = {item.id for item in window.rows(0, 100) if item is not None}
    assert ids <= {shop.alice[name] for name in ("web", "late", "paused", "fixed", "pending", "old")}
    assert read(db, lambda session: scope.count(session, service_filter)) == len(ids)


def test_a_crafted_id_or_text_finds_nothing_and_other_keys_are_refused(db, shop):
    scope = CustomerScope(shop.alice_id)
    for text in (f"id:{shop.bob['web']}", f"id:{shop.bob['web']},{shop.bob['gone']}", "bob@example.com", f"id:{shop.alice['gone']}", "alice gone"):
        service_filter = read(db, lambda session: customer.list_filter(session, shop.alice_actor, text))
        assert read(db, lambda session: scope.count(session, service_filter)) == 0, text
    by_number = read(db, lambda session: customer.list_filter(session, shop.alice_actor, str(shop.bob["web"])))
    rows = read(db, lambda session: scope.page(session, by_number, limit=100))
    assert shop.bob["web"] not in {item.id for item in rows} and {item.customer_id for item in rows} <= {shop.alice_id}
    for text in (f"customer:{shop.bob_id}", "customer:bob@example.com", "server:shared-1", "product:Web", "type:manual"):
        with pytest.raises(InvalidInput, match="unknown key"):
            read(db, lambda session: customer.list_filter(session, shop.alice_actor, text))


def test_the_scoped_window_keeps_its_scope_whatever_filter_it_is_given(db, shop):
    window = CustomerScope(shop.alice_id).window(db, page_size=3)
    crafted = ServiceFilter(customer_ids=(shop.bob_id,), include_deleted=True)
    window.configure(crafted, Sort())
    window.load(0, 10)
    assert [item for item in window.rows(0, 10) if item is not None] == []
    window.configure(ServiceFilter(include_deleted=True, statuses=("deleted", "active")), Sort("name"))
    window.load(0, 10)
    assert sorted(item.name for item in window.rows(0, 10) if item is not None) == ["alice fixed", "alice late", "alice web"]
    unconfigured = CustomerScope(shop.alice_id).window(db, page_size=50)
    unconfigured.load(0, 50)
    assert {item.customer_id for item in unconfigured.rows(0, 50) if item is not None} == {shop.alice_id}


def test_the_detail_never_carries_admin_notes_internal_reasons_or_staff_names(db, admin, shop):
    for name in ("web", "paused"):
        detail = read(db, lambda session: customer.service_detail(session, shop.alice_actor, shop.alice[name]))
        text = repr(asdict(detail))
        assert NOTE not in text and INTERNAL_REASON not in text and admin.name not in text
        assert "notes" not in asdict(detail.service) and "external" not in asdict(detail.service)
    paused = read(db, lambda session: customer.service_detail(session, shop.alice_actor, shop.alice["paused"]))
    assert [(line.who, line.what, line.change, line.reason) for line in paused.history[:1]] == [("support", "suspended", "active → suspended", "")]
    assert {line.what for line in paused.history} >= {"ordered", "suspended"}


def test_history_shows_the_customers_own_reason_and_hides_internal_rows(db, admin, shop, frozen):
    service_id = shop.alice["web"]
    db.transaction(lambda session: records.meta_set(session, admin, service_id, "internal_flag", "watch"))
    db.transaction(lambda session: customer_actions.cancel(session, shop.alice_actor, service_id, "end-of-cycle", "moving to another host"))
    lines = read(db, lambda session: customer.history(session, shop.alice_actor, service_id))
    assert (lines[0].who, lines[0].what, lines[0].reason) == ("you", "cancellation", "moving to another host")
    assert all(line.what != "meta_set" for line in lines)
    assert "status changed" in {line.what for line in lines}


def test_renew_bills_an_invoice_then_reuses_it_and_never_renews_for_free(db, shop):
    web, late = shop.alice["web"], shop.alice["late"]
    expiry = row(db, web).expires_at
    first = db.transaction(lambda session: customer_actions.renew(session, shop.alice_actor, web, 2))
    assert first.invoice_id and "24.00 EUR" in first.message and "new invoice" in first.message
    assert row(db, web).expires_at == expiry
    again = db.transaction(lambda session: customer_actions.renew(session, shop.alice_actor, web))
    assert again.invoice_id == first.invoice_id and "already bills this renewal" in again.message
    other = db.transaction(lambda session: customer_actions.renew(session, shop.alice_actor, late))
    assert other.invoice_id == first.invoice_id and f"added to invoice {first.invoice_id}" in other.message
    invoices = read(db, lambda session: session.exec(select(Invoice)).all())
    assert [(invoice.customer_id, invoice.status) for invoice in invoices] == [(shop.alice_id, "unpaid")]
    lines = read(db, lambda session: session.exec(select(InvoiceLine).order_by(InvoiceLine.id)).all())
    assert [(line.service_id, str(line.amount)) for line in lines] == [(web, "24.00"), (late, "12.00")]
    rows = read(db, lambda session: session.exec(select(Activity).where(Activity.action == "renewal_invoiced")).all())
    assert {(item.actor_kind, item.actor) for item in rows} == {("client", "alice@example.com")}


def test_cancel_follows_the_product_rule_and_uncancel_only_the_customers_own(db, admin, shop, frozen):
    with pytest.raises(TransitionRefused, match="cannot be cancelled from the customer area"):
        db.transaction(lambda session: customer_actions.cancel(session, shop.alice_actor, shop.alice["fixed"], "end-of-cycle"))
    web = shop.alice["web"]
    planned = db.transaction(lambda session: customer_actions.cancel(session, shop.alice_actor, web, "end-of-cycle"))
    assert planned.message == f"service {web} will be cancelled on 2027-08-07"
    assert row(db, web).cancel_mode == "end-of-cycle"
    db.transaction(lambda session: customer_actions.uncancel(session, shop.alice_actor, web))
    assert row(db, web).cancel_at is None
    late = shop.alice["late"]
    db.transaction(lambda session: actions.perform(session, admin, "cancel-end-of-cycle", shop.alice["paused"], {"reason": "abuse"}))
    with pytest.raises(TransitionRefused, match="support planned this cancellation"):
        db.transaction(lambda session: customer_actions.uncancel(session, shop.alice_actor, shop.alice["paused"]))
    now = customer_actions.carry_out(db, lambda session, worker: customer_actions.cancel(session, shop.alice_actor, late, "immediate", claim_for=worker))
    assert now.message == f"service {late} is cancelled" and row(db, late).status == "cancelled"


def test_auto_renewal_toggles_and_the_activity_names_the_customer(db, shop):
    web = shop.alice["web"]
    result = db.transaction(lambda session: customer_actions.set_auto_renew(session, shop.alice_actor, web, False))
    assert result.message == f"auto-renewal of service {web} is now Off" and row(db, web).auto_renew is False
    last = read(db, lambda session: session.exec(select(Activity).where(Activity.service_id == web).order_by(Activity.id.desc())).first())
    assert (last.actor_kind, last.actor, last.action, last.details) == ("client", "alice@example.com", "auto_renew", {"auto_renew": [True, False]})
    with pytest.raises(TransitionRefused):
        db.transaction(lambda session: customer_actions.set_auto_renew(session, shop.alice_actor, shop.alice["old"], True))


def test_an_operator_running_the_customer_area_gets_a_read_only_preview(db, admin, shop):
    make_actor(db, "olga", "operator")
    preview = client_of(db, "olga", "alice@example.com")
    assert preview.read_only and preview.is_client and preview.customer_id == shop.alice_id
    assert read(db, lambda session: customer.dashboard(session, preview)).active_total == 4
    version = row(db, shop.alice["web"]).version
    for change in (
        lambda session: customer_actions.renew(session, preview, shop.alice["web"]),
        lambda session: customer_actions.set_auto_renew(session, preview, shop.alice["web"], False),
        lambda session: customer_actions.cancel(session, preview, shop.alice["web"], "end-of-cycle"),
    ):
        with pytest.raises(PermissionDenied, match="read-only"):
            db.transaction(change)
    after = row(db, shop.alice["web"])
    assert (after.version, after.auto_renew, after.cancel_at) == (version, True, None)
    assert read(db, lambda session: session.exec(select(Invoice)).all()) == []


@pytest.mark.parametrize("action", sorted(set(ACTIONS) - CLIENT_ACTIONS))
def test_no_other_action_is_open_to_a_customer(db, shop, action):
    actor = shop.alice_actor
    with pytest.raises(PermissionDenied, match="not available in the customer area"):
        db.transaction(lambda session: actions.perform(session, actor, action, shop.alice["web"], {}))
    with pytest.raises(PermissionDenied):
        bulk.start(db, actor, action, {}, [shop.alice["web"]], selection={"ids": [shop.alice["web"]]})


def test_core_functions_outside_the_allow_list_refuse_a_customer(db, shop):
    actor = shop.alice_actor
    web = shop.alice["web"]
    for change in (
        lambda session: records.edit_service(session, actor, web, {"auto_renew": "false"}),
        lambda session: records.meta_set(session, actor, web, "max_renewals", "1"),
        lambda session: records.option_add(session, actor, web, name="x"),
        lambda session: records.create_service(session, actor, records.ServiceDraft(customer=str(shop.alice_id), name="free", product=str(shop.product_id))),
    ):
        with pytest.raises(PermissionDenied):
            db.transaction(change)


def test_customer_functions_refuse_operators_and_customers_of_nothing(db, admin, shop):
    with pytest.raises(PermissionDenied, match="customer area"):
        read(db, lambda session: customer.dashboard(session, admin))
    stranger = client_actor(999_999, "nobody@example.com")
    with pytest.raises(NotFound):
        read(db, lambda session: customer.dashboard(session, stranger))
    with pytest.raises(NotFound, match="no service"):
        read(db, lambda session: customer.service_detail(session, stranger, shop.alice["web"]))
    with pytest.raises(NotFound, match="--customer"):
        client_of(db, "svcclient", "carol@example.com")
