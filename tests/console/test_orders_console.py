"""The console's side of issue 16 items 3, 4 (and 9): the Ordered tab, the order review on the
detail screen (`a`), the order on the Metadata tab; with snapshots of the review dialog and the tab."""

from __future__ import annotations

import pytest
from sqlmodel import select
from textual.widgets import Static, TabbedContent

from svcconsole.console.screens.detail import DetailScreen
from svcconsole.console.screens.detail_orders import OrderReviewDialog
from svcconsole.core import orders, settings
from svcconsole.store.models import Notification, Service
from tests.console.conftest import make_app, notifications, settle
from tests.console.test_screens import plain

pytestmark = pytest.mark.anyio


def ordered(db, admin, *, paid: bool, approval: bool = True) -> int:
    db.transaction(lambda session: settings.set_value(session, admin, "order_approval", "true" if approval else "false"))

    def work(session):  # type: ignore[no-untyped-def]
        return orders.create_order(session, admin, "alice@example.com", [orders.OrderItem(product="Web Pro", name="shop", domain="shop.example.org")])

    invoice = db.transaction(work)
    if paid:
        db.transaction(lambda session: orders.pay_invoice(session, admin, invoice.id))
    with db.read() as session:
        return session.exec(select(Service.id)).one()


async def open_detail(pilot, app):  # type: ignore[no-untyped-def]
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, DetailScreen)
    return app.screen


async def test_the_ordered_tab_lists_services_waiting_for_payment(db, admin, catalog, frozen):
    service_id = ordered(db, admin, paid=False)
    app = make_app(db, admin)
    async with app.run_test(size=(120, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        for _ in range(7):
            await pilot.press("right_square_bracket")
            await settle(pilot, rounds=2)
            if screen.tab == "ordered":
                break
        assert screen.tab == "ordered" and screen.total == 1
        assert "ordered" in plain(screen.query_one("#tabs").render()).lower()
    with db.read() as session:
        assert session.get(Service, service_id).status == "ordered"


async def test_a_approves_a_paid_order_from_the_detail_screen(db, admin, catalog, frozen):
    service_id = ordered(db, admin, paid=True)
    app = make_app(db, admin)
    async with app.run_test(size=(100, 30)) as pilot:
        detail = await open_detail(pilot, app)
        assert "awaiting approval" in plain(detail.query_one("#detail-header", Static).render())
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, OrderReviewDialog)
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert app.screen is detail
        assert any("approved" in text for _, text in notifications(app))
    with db.read() as session:
        service = session.get(Service, service_id)
        assert (service.status, service.approval) == ("pending", None)
        assert len(session.exec(select(Notification).where(Notification.template == "manual_delivery")).all()) == 1


async def test_a_does_nothing_without_an_order_awaiting_approval(db, admin, catalog, frozen):
    ordered(db, admin, paid=True, approval=False)
    app = make_app(db, admin)
    async with app.run_test(size=(100, 30)) as pilot:
        detail = await open_detail(pilot, app)
        await pilot.press("a")
        await settle(pilot)
        assert app.screen is detail


async def test_the_metadata_tab_shows_the_order(db, admin, catalog, frozen):
    ordered(db, admin, paid=True)
    app = make_app(db, admin)
    async with app.run_test(size=(100, 30)) as pilot:
        detail = await open_detail(pilot, app)
        detail.query_one(TabbedContent).active = "metadata"
        await settle(pilot)
        text = plain(detail.query_one("#order-summary", Static).render())
        assert "Order (invoice 1, paid)" in text and 'Order: Web Pro (monthly) "shop"' in text and "domain shop.example.org" in text


def test_snapshot_order_review_dialog(db, admin, catalog, frozen, snap_compare):
    ordered(db, admin, paid=True)

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await open_detail(pilot, pilot.app)
        await pilot.press("a")
        await settle(pilot)

    assert snap_compare(make_app(db, admin), run_before=run, terminal_size=(80, 24))


def test_snapshot_metadata_tab_with_the_order(db, admin, catalog, frozen, snap_compare):
    ordered(db, admin, paid=True)

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        detail = await open_detail(pilot, pilot.app)
        detail.query_one(TabbedContent).active = "metadata"
        await settle(pilot)

    assert snap_compare(make_app(db, admin), run_before=run, terminal_size=(80, 24))


async def test_exclamation_mark_records_an_abuse_report_listed_on_the_overview(db, admin, catalog, frozen):
    from svcconsole.console.screens.detail_orders import AbuseDialog
    from svcconsole.store.models import AbuseReport
    from tests.conftest import new_service

    service_id = new_service(db, admin, catalog, name="shop", status="active")
    db.transaction(lambda session: settings.set_value(session, admin, "abuse_limit", "1"))
    app = make_app(db, admin)
    async with app.run_test(size=(100, 30)) as pilot:
        detail = await open_detail(pilot, app)
        await pilot.press("!")
        await settle(pilot)
        assert isinstance(app.screen, AbuseDialog)
        app.screen.query_one("#note").value = "phishing kit found"
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert app.screen is detail
        overview = plain(detail.query_one("#overview-body", Static).content)
        assert "Abuse reports" in overview and "phishing kit found" in overview
        assert "suspended (abuse)" in plain(detail.query_one("#detail-header", Static).render())
    with db.read() as session:
        assert len(session.exec(select(AbuseReport)).all()) == 1
        assert session.get(Service, service_id).suspend_kind == "abuse"


def test_snapshot_abuse_dialog(db, admin, catalog, frozen, snap_compare):
    from tests.conftest import new_service

    new_service(db, admin, catalog, name="shop", status="active")
    db.transaction(lambda session: settings.set_value(session, admin, "abuse_limit", "3"))

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await open_detail(pilot, pilot.app)
        await pilot.press("!")
        await settle(pilot)

    assert snap_compare(make_app(db, admin), run_before=run, terminal_size=(80, 24))


def test_help_explains_the_list_markers_to_staff_only():
    from svcconsole.client.actions import REGISTRY as CLIENT_REGISTRY
    from svcconsole.client.actions import SCOPES as CLIENT_SCOPES
    from svcconsole.console.actions import REGISTRY, SCOPES
    from svcconsole.widgets.help import help_table

    staff = plain(help_table(REGISTRY, SCOPES))
    assert "List markers" in staff and "↻" in staff and "special price" in staff and "special:yes" in staff
    assert "List markers" not in plain(help_table(CLIENT_REGISTRY, CLIENT_SCOPES, markers=False))
