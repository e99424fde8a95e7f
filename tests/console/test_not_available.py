"""A service no server had room for (issue 16 item 10), as the console and the customer area
show it: "pending: no room" in the list, "not available: <why>" in the detail header and
overview, and a reason without server names for the customer."""

from __future__ import annotations

import io

import pytest
from sqlmodel import col, func, select

from svcconsole.client.app import ClientApp
from svcconsole.console.screens.detail import DetailScreen
from svcconsole.core import actions, catalog, customer, records
from svcconsole.store.models import Service
from tests.client.conftest import client_of
from tests.console.conftest import make_app, settle
from tests.console.test_snapshots import interact

pytestmark = pytest.mark.anyio

WHY = "web-a is full (1 of 1 services)"


def waiting_service(db, admin) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """A delivered service on the group's only server (capacity 1), and one that found no room."""

    def work(session):  # type: ignore[no-untyped-def]
        buyer = catalog.add_customer(session, admin, name="Chloé Dubois", email="chloe@example.com")
        catalog.add_server(session, admin, name="web-a", module="manual", url="https://web-a.example.net", capacity=1)
        product = catalog.add_product(session, admin, name="Shared", type="manual", prices=["monthly=5.00"], servers="web-a", placement="fill-first")
        return buyer.id, product.id

    customer_id, product_id = db.transaction(work)
    ids = []
    for name in ("placed", "waiting"):
        draft = records.ServiceDraft(customer=str(customer_id), name=name, product=str(product_id))
        service_id = db.transaction(lambda session, draft=draft: records.create_service(session, admin, draft)).id
        db.transaction(lambda session, service_id=service_id: actions.perform(session, admin, "deliver", service_id, {}))
        ids.append(service_id)
    return customer_id, ids[1]


def plain(renderable) -> str:  # type: ignore[no-untyped-def]
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


async def test_the_list_marks_the_service_and_the_detail_says_why(db, admin, frozen):  # type: ignore[no-untyped-def]
    _, waiting = waiting_service(db, admin)
    app = make_app(db, admin)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        rows = [app.screen.table.render_line(line).text for line in range(1, 4)]
        marked = [row for row in rows if "waiting" in row]
        assert marked and "pending: no room" in marked[0], rows
        assert not [row for row in rows if "placed" in row and "no room" in row]
        app.open_service(waiting)
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        header = app.screen.query_one("#detail-header").render_line(0).text
        assert f"pending · not available: {WHY}" in header, header
        overview = plain(app.screen.query_one("#overview-body").content)
        assert f"not available: {WHY}" in " ".join(overview.split()), overview


async def test_the_customer_is_told_it_waits_without_server_names(db, admin, frozen):  # type: ignore[no-untyped-def]
    customer_id, waiting = waiting_service(db, admin)
    actor = client_of(db, "svcclient", str(customer_id))
    with db.read() as session:
        seen = customer.service_detail(session, actor, waiting).service
    assert seen.placement_note == customer.CUSTOMER_NOT_AVAILABLE
    assert "web-a" not in (seen.placement_note or "")
    app = ClientApp(db, actor)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        app.open_service(waiting)
        await settle(pilot)
        shown = " ".join(plain(app.screen.query_one("#overview-body").content).split())
        assert "pending · not available: the hosting platform has not enough resources" in shown, shown
        assert "web-a" not in shown


def full_demo_server(store, alice) -> int:  # type: ignore[no-untyped-def]
    """Fill the server of the demo's first pending panel-less (manual) service, then try to deliver it."""
    with store.read() as session:
        target, server_id = session.exec(
            select(Service.id, Service.server_id)
            .where(Service.status == "pending", Service.type == "manual", col(Service.server_id).is_not(None))
            .order_by(col(Service.id))
        ).first()
        used = session.exec(select(func.count()).where(Service.server_id == server_id, col(Service.status).in_(("active", "suspended")))).one()
    store.transaction(lambda session: catalog.edit_server(session, alice, str(server_id), capacity=str(used)))
    outcome = store.transaction(lambda session: actions.perform(session, alice, "deliver", target, {}))
    assert outcome.result == "skipped", outcome
    return target


class TestSnapshot:
    @pytest.fixture
    def store(self, demo):  # type: ignore[no-untyped-def]
        return demo

    def test_detail_of_a_service_not_available(self, store, snap_compare):  # type: ignore[no-untyped-def]
        from tests.conftest import make_actor

        alice = make_actor(store, "alice", "admin")
        target = full_demo_server(store, alice)

        async def open_it(pilot) -> None:  # type: ignore[no-untyped-def]
            await settle(pilot)
            pilot.app.open_service(target)
            await interact()(pilot)

        assert snap_compare(make_app(store, alice), terminal_size=(120, 30), run_before=open_it)
