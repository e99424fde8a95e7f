"""Self-service in the customer area driven by Pilot (issue 17 item 2): power on a sandbox
Pterodactyl panel through the queue, suspend and resume by the customer, delete, the cycle, an
option bought by invoice and added once paid; and the dashboard's Renew that ends on the invoice
to pay (item 5). Each action names the customer as its actor."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from sqlmodel import select
from textual.widgets import Button, Input, Select, Static

from svcconsole.client.app import ClientApp
from svcconsole.client.commands import ClientCommands
from svcconsole.client.dialogs import ChoiceDialog, OptionDialog, PaymentDialog, RenewDialog, TypedConfirmDialog
from svcconsole.client.screens import ClientDetailScreen, DashboardScreen
from svcconsole.core import catalog as catalog_module
from svcconsole.core import customer, option_catalog, orders
from svcconsole.modules.http import close_clients
from svcconsole.modules.ratelimits import reset_rate_limiters
from svcconsole.modules.sandbox import PterodactylSandbox
from svcconsole.store.models import Activity, Invoice, InvoiceLine, Job, Service, ServiceOption
from svcconsole.widgets.dialogs import ConfirmDialog
from tests.client.conftest import client_of
from tests.console.conftest import notifications, settle
from tests.console.test_panel import PANEL_SERVER_ID, game_server

pytestmark = pytest.mark.anyio

ALL_FLAGS = {"customer_options": True, "customer_cycle": True, "customer_delete": True, "customer_power": True, "customer_suspend": True}


@pytest.fixture
def ptero() -> Iterator[PterodactylSandbox]:
    reset_rate_limiters()
    sandbox = PterodactylSandbox(install_delay=0.05, power_delay=0.01, fault_delay=1.5, rate_limit_per_minute=None, client_rate_limit_per_minute=None)
    sandbox.start()
    yield sandbox
    sandbox.stop()
    close_clients()
    reset_rate_limiters()


def make_client(db, actor) -> ClientApp:  # type: ignore[no-untyped-def]
    return ClientApp(db, actor, tz=ZoneInfo("UTC"), page_size=40)


def plain(renderable) -> str:  # type: ignore[no-untyped-def]
    console = Console(width=400, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def row(db, service_id: int) -> Service:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return session.get(Service, service_id)


def errors(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [text for severity, text in notifications(app) if severity == "error"]


def set_flags(db, admin, product_id: int, **flags: bool) -> None:  # type: ignore[no-untyped-def]
    db.transaction(lambda session: catalog_module.edit_product(session, admin, str(product_id), customer_flags=flags))


def logged(db, service_id: int, action: str) -> list[Activity]:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return list(session.exec(select(Activity).where(Activity.service_id == service_id, Activity.action == action)).all())


async def open_detail(pilot, app, service_id: int) -> ClientDetailScreen:  # type: ignore[no-untyped-def]
    await settle(pilot)
    app.open_service(service_id)
    await settle(pilot)
    assert isinstance(app.screen, ClientDetailScreen)
    return app.screen


async def wait_for(pilot, check, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check() and loop.time() < deadline:
        await settle(pilot, rounds=1)
    return bool(check())


async def test_power_and_reinstall_reach_the_sandbox_panel_through_the_queue_as_the_customer(db, admin, ptero, frozen):
    game = game_server(db, admin, ptero)
    with db.read() as session:
        product_id = row(db, game.service_id).product_id
    set_flags(db, admin, product_id, customer_power=True)
    actor = client_of(db, "c-greta", "greta@example.com")
    app = make_client(db, actor)
    async with app.run_test(size=(120, 34)) as pilot:
        screen = await open_detail(pilot, app, game.service_id)
        assert screen.query_one("#power", Button).display and not screen.query_one("#power", Button).disabled
        await pilot.press("p")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ChoiceDialog)
        assert [str(option[0]) for option in dialog.query_one("#choice", Select)._options] == ["start", "stop", "restart"]
        dialog.query_one("#choice", Select).value = "start"
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert await wait_for(pilot, lambda: ptero.servers[PANEL_SERVER_ID].power_state in {"starting", "running"})
        assert any("start sent to the panel" in text for _, text in notifications(app))
        [power] = logged(db, game.service_id, "power")
        assert (power.actor_kind, power.actor, power.details["signal"]) == ("client", "greta@example.com", "start")
        with db.read() as session:
            [job] = session.exec(select(Job).where(Job.service_id == game.service_id)).all()
        assert (job.action, job.status, job.actor_kind) == ("power", "succeeded", "client")

        await pilot.press("I")
        await settle(pilot)
        confirm = app.screen
        assert isinstance(confirm, TypedConfirmDialog)
        confirm.query_one("#typed", Input).value = "greta"
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert app.screen is confirm and "type the service's name" in plain(confirm.query_one("#dialog-error", Static).content)
        confirm.query_one("#typed", Input).value = "greta-mc"
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert await wait_for(pilot, lambda: bool(logged(db, game.service_id, "reinstall")))
        [reinstall] = logged(db, game.service_id, "reinstall")
        assert (reinstall.actor_kind, reinstall.actor) == ("client", "greta@example.com")
        assert ptero.servers[PANEL_SERVER_ID].power_state == "offline"


async def test_power_is_not_offered_when_the_flag_is_off_and_refused_if_asked_anyway(db, admin, ptero, frozen):
    game = game_server(db, admin, ptero)
    actor = client_of(db, "c-greta", "greta@example.com")
    app = make_client(db, actor)
    async with app.run_test(size=(120, 34)) as pilot:
        screen = await open_detail(pilot, app, game.service_id)
        assert not screen.query_one("#self-service").display
        await pilot.press("p")
        await settle(pilot)
        assert app.screen is screen
        titles = [title for title, _, _ in ClientCommands(screen)._entries()]
        assert not any("power" in title or "delete" in title for title in titles)
        screen.action_power()
        await settle(pilot)
        assert "does not let customers start, stop or reinstall" in errors(app)[-1]
    assert ptero.servers[PANEL_SERVER_ID].power_state == "offline"
    with db.read() as session:
        assert session.exec(select(Job)).all() == []


async def test_the_customer_suspends_and_resumes_and_cannot_lift_supports_suspension(db, admin, shop, frozen):
    set_flags(db, admin, shop.product_id, customer_suspend=True)
    web = shop.alice["web"]
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(120, 34)) as pilot:
        screen = await open_detail(pilot, app, web)
        assert screen.query_one("#suspend", Button).display and not screen.query_one("#unsuspend", Button).display
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.click("#yes")
        await settle(pilot)
        assert (row(db, web).status, row(db, web).suspend_kind) == ("suspended", "client")
        assert screen.query_one("#unsuspend", Button).display
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.click("#yes")
        await settle(pilot)
        assert (row(db, web).status, row(db, web).suspend_kind) == ("active", None)
        assert [(entry.actor_kind, entry.actor) for entry in logged(db, web, "suspend") + logged(db, web, "unsuspend")] == [("client", "alice@example.com")] * 2
        app.pop_screen()
        await settle(pilot)
        paused = await open_detail(pilot, app, shop.alice["paused"])
        assert paused.query_one("#unsuspend", Button).disabled
        await pilot.press("s")
        await settle(pilot)
        assert app.screen is paused and "only support can lift it" in errors(app)[-1]
    assert (row(db, shop.alice["paused"]).status, row(db, shop.alice["paused"]).suspend_kind) == ("suspended", "abuse")


async def test_the_customer_deletes_a_cancelled_service_after_typing_its_name(db, admin, shop, frozen):
    set_flags(db, admin, shop.product_id, customer_delete=True)
    old = shop.alice["old"]
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(120, 34)) as pilot:
        await open_detail(pilot, app, old)
        await pilot.press("x")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, TypedConfirmDialog)
        assert "disappears from your area" in plain(dialog.query_one("#consequence", Static).content)
        dialog.query_one("#typed", Input).value = "alice old"
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert any(f"service {old} is deleted" in text for _, text in notifications(app))
    assert row(db, old).status == "deleted"
    [deleted] = logged(db, old, "delete")
    assert (deleted.actor_kind, deleted.actor) == ("client", "alice@example.com")


async def test_the_customer_changes_the_cycle_from_the_next_renewal(db, admin, shop, frozen):
    set_flags(db, admin, shop.product_id, customer_cycle=True)
    web = shop.alice["web"]
    expiry = row(db, web).expires_at
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(120, 34)) as pilot:
        await open_detail(pilot, app, web)
        await pilot.press("y")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ChoiceDialog)
        offered = [str(option[0]) for option in dialog.query_one("#choice", Select)._options]
        assert offered == ["annually: 120.00 EUR/year", "weekly: 3.00 EUR/week", "quarterly: 33.00 EUR/quarter"]
        dialog.query_one("#choice", Select).value = "annually"
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert any("120.00 EUR/year from the renewal on 2027-08-07" in text for _, text in notifications(app))
        assert "120.00 EUR/year" in plain(app.screen.query_one("#overview-body", Static).content)
    assert (row(db, web).billing_cycle, str(row(db, web).price), row(db, web).expires_at) == ("annually", "120.00", expiry)
    [changed] = logged(db, web, "cycle")
    assert (changed.actor_kind, changed.details["billing_cycle"]) == ("client", ["monthly", "annually"])


async def test_an_option_bought_in_the_area_is_invoiced_then_added_once_paid(db, admin, shop, frozen):
    set_flags(db, admin, shop.product_id, customer_options=True)
    db.transaction(lambda session: option_catalog.declare_option(session, admin, shop.product_id, name="Backups", choices=["daily=3.00", "hourly=9.00"]))
    web = shop.alice["web"]
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(120, 34)) as pilot:
        await open_detail(pilot, app, web)
        await pilot.press("o")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, OptionDialog)
        dialog.query_one("#value", Input).value = "daily"
        await pilot.click("#confirm-button")
        await settle(pilot)
        with db.read() as session:
            invoice = session.exec(select(Invoice)).one()
            line = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).one()
        assert (invoice.customer_id, invoice.status, line.kind) == (shop.alice_id, "unpaid", "option")
        assert any(f"invoice {invoice.id} bills" in text for _, text in notifications(app))
        with db.read() as session:
            assert session.exec(select(ServiceOption).where(ServiceOption.service_id == web)).all() == []
        db.transaction(lambda session: orders.pay_invoice(session, admin, invoice.id or 0))
        await pilot.press("ctrl+r")
        await settle(pilot)
        with db.read() as session:
            [option] = session.exec(select(ServiceOption).where(ServiceOption.service_id == web)).all()
        assert (option.name, option.value) == ("Backups", "daily")
        assert not app.screen.detail.option_offers
    [invoiced] = logged(db, web, "option_invoiced")
    assert (invoiced.actor_kind, invoiced.actor) == ("client", "alice@example.com")


async def test_renew_on_a_dashboard_row_goes_to_the_invoice_to_pay_with_its_amount(db, shop, frozen):
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, RenewDialog)
        await pilot.click("#confirm-button")
        await settle(pilot)
        payment = app.screen
        assert isinstance(payment, PaymentDialog)
        with db.read() as session:
            invoice = session.exec(select(Invoice)).one()
        assert payment.payment.invoice_id == invoice.id
        shown = " ".join(plain(widget.content) for widget in payment.query(Static))
        assert f"Invoice #{invoice.id} to pay" in shown and "Amount: 12.00 EUR" in shown and "Renewal of #" in shown
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("r")
        await settle(pilot)
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert isinstance(app.screen, PaymentDialog) and app.screen.payment.invoice_id == invoice.id
    with db.read() as session:
        assert len(session.exec(select(Invoice)).all()) == 1


def test_customer_detail_lists_what_the_flags_offer(db, admin, shop, frozen):  # type: ignore[no-untyped-def]
    with db.read() as session:
        before = customer.service_detail(session, shop.alice_actor, shop.alice["web"])
    assert before.offered == ()
    set_flags(db, admin, shop.product_id, **ALL_FLAGS)
    with db.read() as session:
        after = customer.service_detail(session, shop.alice_actor, shop.alice["web"])
    assert set(after.offered) == {"buy-option", "change-cycle", "delete", "power", "reinstall", "suspend", "unsuspend"}
    assert after.allowed("suspend") and after.allowed("delete") and not after.allowed("power")
