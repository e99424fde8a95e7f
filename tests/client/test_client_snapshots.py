"""SVG snapshots of the customer area's pages at 80x24, on the seeded demo store at a frozen time.

The customer is the seeded customer with the most services; the SVGs live in the top-level
snapshots/ folder, beside the admin console's.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select
from textual.widgets import Input

from svcconsole.client.app import ClientApp
from svcconsole.core import catalog, customer, records, usage
from svcconsole.store.models import Service
from tests.client.conftest import client_of
from tests.conftest import make_actor
from tests.console.conftest import settle


@pytest.fixture
def store(demo):  # type: ignore[no-untyped-def]
    return demo


@pytest.fixture
def customer_id(store) -> int:  # type: ignore[no-untyped-def]
    with store.read() as session:
        return session.exec(select(Service.customer_id).group_by(Service.customer_id).order_by(func.count().desc(), Service.customer_id)).first()


def manual_service(store, customer_id: int) -> int:  # type: ignore[no-untyped-def]
    with store.read() as session:
        return session.exec(
            select(Service.id).where(Service.customer_id == customer_id, Service.status == "active", Service.type == "manual").order_by(Service.id)
        ).first()


def area(store, customer_id: int, login: str = "svcclient") -> ClientApp:  # type: ignore[no-untyped-def]
    return ClientApp(store, client_of(store, login, str(customer_id)), tz=ZoneInfo("UTC"), page_size=40)


def steps(*keys: str, open_service: int | None = None):  # type: ignore[no-untyped-def]
    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        if open_service is not None:
            pilot.app.open_service(open_service)
            await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot, rounds=2)
        await settle(pilot)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause(0.05)

    return run


class TestClientArea:
    def test_dashboard(self, store, customer_id, snap_compare):
        assert snap_compare(area(store, customer_id), terminal_size=(80, 24), run_before=steps())

    def test_dashboard_with_overages(self, store, customer_id, snap_compare):
        """BILLmanager's second widget, "Services with overages": a manual service of the customer
        whose product meters traffic, 130 GB recorded of 100 included at 0.05: 1.50."""
        target = manual_service(store, customer_id)
        admin = make_actor(store, "alice", "admin")
        with store.write() as session:
            product_id = session.get(Service, target).product_id
            catalog.edit_product(session, admin, str(product_id), overages=["traffic_gb=100:0.05"])
            usage.record(session, admin, target, "traffic_gb", "130")
        assert snap_compare(area(store, customer_id), terminal_size=(100, 32), run_before=steps())

    def test_dashboard_in_french(self, store, customer_id, snap_compare):
        """The customer's locale is French: ClientXCMS's wording, French dates and money (issue 17 item 4)."""
        admin = make_actor(store, "alice", "admin")
        store.transaction(lambda session: catalog.edit_customer(session, admin, str(customer_id), locale="fr"))
        assert snap_compare(area(store, customer_id), terminal_size=(80, 24), run_before=steps())

    def test_dashboard_at_120_columns(self, store, customer_id, snap_compare):
        """The widget's name column takes what the terminal gives (issue 17 item 5)."""
        admin = make_actor(store, "alice", "admin")
        target = manual_service(store, customer_id)
        store.transaction(lambda session: records.edit_service(session, admin, target, {"name": "shop-frontend-production-eu-west-2"}))
        assert snap_compare(area(store, customer_id), terminal_size=(120, 24), run_before=steps())

    def test_services(self, store, customer_id, snap_compare):
        assert snap_compare(area(store, customer_id), terminal_size=(80, 24), run_before=steps("l"))

    def test_services_filtered_by_a_widget_row(self, store, customer_id, snap_compare):
        assert snap_compare(area(store, customer_id), terminal_size=(80, 24), run_before=steps("down", "enter"))

    @pytest.mark.parametrize("tab", range(5))
    def test_detail(self, store, customer_id, snap_compare, tab):
        target = manual_service(store, customer_id)
        admin = make_actor(store, "alice", "admin")
        with store.write() as session:
            records.option_add(session, admin, target, name="Extra IPv4", price="2.00")
        keys = ("right_square_bracket",) * tab
        assert snap_compare(area(store, customer_id), terminal_size=(80, 24), run_before=steps(*keys, open_service=target))

    @pytest.mark.parametrize("key", ["r", "c", "a"])
    def test_action_dialog(self, store, customer_id, snap_compare, key):
        target = manual_service(store, customer_id)
        assert snap_compare(area(store, customer_id), terminal_size=(80, 24), run_before=steps(key, open_service=target))

    def test_preview(self, store, customer_id, snap_compare):
        make_actor(store, "olga", "operator")
        assert snap_compare(area(store, customer_id, "olga"), terminal_size=(80, 24), run_before=steps())

    def test_no_service(self, store, customer_id, snap_compare):
        with store.read() as session:
            other = session.exec(select(Service.id).where(Service.customer_id != customer_id).order_by(Service.id)).first()
        assert snap_compare(area(store, customer_id), terminal_size=(80, 24), run_before=steps(open_service=other))

    def test_help(self, store, customer_id, snap_compare):
        assert snap_compare(area(store, customer_id), terminal_size=(80, 24), run_before=steps("question_mark"))


def test_the_snapshot_customer_has_services_in_several_states(store, customer_id):
    with store.read() as session:
        board = customer.dashboard(session, client_of(store, "svcclient", str(customer_id)))
    assert board.active_total >= 5 and board.services_total > board.active_total
