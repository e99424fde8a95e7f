"""The customer area driven by Pilot: one customer's services only, fail-closed look-ups, the widget."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from sqlmodel import select
from textual.command import CommandPalette
from textual.widgets import DataTable, Input, Static

from svcconsole.client.app import ClientApp
from svcconsole.client.commands import ClientCommands
from svcconsole.client.dialogs import CancelDialog, PaymentDialog, RenewDialog
from svcconsole.client.screens import ClientDetailScreen, ClientServicesScreen, DashboardScreen
from svcconsole.client.widgets import ActiveServices
from svcconsole.core import customer, records
from svcconsole.core.errors import PermissionDenied
from svcconsole.store.models import Invoice, Service
from svcconsole.widgets.dialogs import ConfirmDialog, PromptDialog
from tests.client.conftest import INTERNAL_REASON, NOTE, client_of
from tests.conftest import make_actor
from tests.console.conftest import notifications, settle

pytestmark = pytest.mark.anyio


def make_client(db, actor, **options) -> ClientApp:  # type: ignore[no-untyped-def]
    options.setdefault("tz", ZoneInfo("UTC"))
    options.setdefault("page_size", 40)
    return ClientApp(db, actor, **options)


def plain(renderable) -> str:  # type: ignore[no-untyped-def]
    console = Console(width=400, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def everything_shown(app: ClientApp) -> str:
    """The text of every Static and every table cell on the current screen, tabs not in view included."""
    parts = []
    for widget in app.screen.query(Static):
        parts.append(plain(widget.content))
    for table in app.screen.query(DataTable):
        for row_key in table.rows:
            parts.extend(plain(cell) for cell in table.get_row(row_key))
        parts.extend(str(column.label) for column in table.columns.values())
    return "\n".join(parts)


def errors(app: ClientApp) -> list[str]:
    return [text for severity, text in notifications(app) if severity == "error"]


def row(db, service_id: int) -> Service:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return session.get(Service, service_id)


async def test_the_dashboard_shows_the_active_services_widget_worded_as_the_seeds(db, shop):
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        table = app.screen.query_one(ActiveServices)
        assert [str(column.label) for column in table.columns.values()] == ["id", "Name", "Expiration date", "Auto-Renewal", "Renew"]
        rows = [[plain(cell).strip() for cell in table.get_row(key)] for key in table.rows]
        assert rows == [
            [str(shop.alice["late"]), "alice late", "Stopped 2026-11-01", "On", "12.00 EUR/month"],
            [str(shop.alice["paused"]), "alice paused", "Stopped 2026-11-21", "Off", "12.00 EUR/month"],
            [str(shop.alice["fixed"]), "alice fixed", "Expires 2027-01-31", "On", "100.00 EUR/year"],
            [str(shop.alice["web"]), "alice web", "Expires 2027-08-07", "On", "12.00 EUR/month"],
        ]
        shown = everything_shown(app)
        assert "bob" not in shown.lower() and NOTE not in shown


async def test_the_services_page_holds_exactly_one_customers_services(db, shop):
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ClientServicesScreen)
        window = screen.table.window
        listed = {item.id for item in window.rows(0, 100) if item is not None}
        assert listed == {shop.alice[name] for name in ("web", "late", "paused", "fixed", "pending", "old")}
        assert screen.total == 6
        assert sum(screen.by_status.values()) == 6
        await pilot.press("G", "ctrl+r")
        await settle(pilot)
        assert "bob" not in everything_shown(app).lower()


async def test_opening_another_customers_service_by_the_palette_fails_closed(db, shop):
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        for service_id in (shop.bob["web"], shop.bob["gone"], shop.alice["gone"], 424242):
            await pilot.press("colon")
            await pilot.pause(0.1)
            assert isinstance(app.screen, CommandPalette)
            await pilot.press(*str(service_id))
            await pilot.pause(0.5)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen)
            assert errors(app)[-1] == f"no service {service_id}"
        await pilot.press("colon")
        await pilot.pause(0.1)
        await pilot.press(*str(shop.alice["web"]))
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ClientDetailScreen) and app.screen.service_id == shop.alice["web"]


async def test_an_id_typed_by_hand_fails_closed_with_the_message_of_an_unknown_id(db, shop):
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        for service_id in (shop.bob["web"], 999_999):
            await pilot.press("i")
            await settle(pilot, rounds=2)
            assert isinstance(app.screen, PromptDialog)
            await pilot.press(*str(service_id), "enter")
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen)
            assert errors(app)[-1] == f"no service {service_id}"


async def test_a_crafted_filter_finds_nothing_of_another_customer(db, shop):
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        screen = app.screen
        for text in (f"id:{shop.bob['web']}", "bob", "status:deleted", f"id:{shop.alice['gone']}"):
            await pilot.press("slash")
            field = screen.query_one("#filter", Input)
            field.value = text
            await settle(pilot)
            assert screen.total == 0, text
            assert [item for item in screen.table.window.rows(0, 50) if item is not None] == []
            await pilot.press("escape")
            await settle(pilot)
        await pilot.press("slash")
        screen.query_one("#filter", Input).value = f"customer:{shop.bob_id}"
        await settle(pilot)
        assert "unknown key 'customer'" in plain(screen.query_one("#filter-error", Static).content)
        assert {item.customer_id for item in screen.table.window.rows(0, 50) if item is not None} <= {shop.alice_id}


@pytest.mark.parametrize("text", ["²", "9999999999", "web ¹²"])
async def test_a_number_that_is_no_id_is_one_error_line_and_the_session_goes_on(db, shop, text):
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        screen = app.screen
        await pilot.press("slash")
        screen.query_one("#filter", Input).value = text
        await settle(pilot)
        if text.isdigit():
            assert plain(screen.query_one("#filter-error", Static).content).strip().startswith(f"search: {text!r} is a number but not an id")
        assert app.is_running and app.screen is screen
        screen.query_one("#filter", Input).value = "paused"
        await settle(pilot)
        assert [item.id for item in screen.table.window.rows(0, 10) if item is not None] == [shop.alice["paused"]]


async def test_the_widget_row_shows_the_service_in_the_list_filtered_by_its_id(db, shop):
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ClientServicesScreen)
        assert screen.filter_text == f"id:{shop.alice['paused']}"
        assert [item.id for item in screen.table.window.rows(0, 10) if item is not None] == [shop.alice["paused"]]
        await pilot.press("escape")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ClientDetailScreen)


async def test_admin_notes_and_internal_reasons_never_render(db, admin, shop):
    db.transaction(lambda session: records.option_add(session, admin, shop.alice["paused"], name="backups", price="2.00"))
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for name in ("web", "paused"):
            app.open_service(shop.alice[name])
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, ClientDetailScreen)
            for _ in range(5):
                await pilot.press("right_square_bracket")
                await settle(pilot, rounds=2)
                shown = everything_shown(app) + app.export_screenshot()
                assert NOTE not in shown and "chargeback" not in shown
                assert INTERNAL_REASON not in shown and "kestrel" not in shown
                assert admin.name not in everything_shown(app)
            await pilot.press("escape")
            await settle(pilot)
        app.open_service(shop.alice["paused"])
        await settle(pilot)
        shown = everything_shown(app)
        assert "suspended (abuse)" in shown and "Stopped 2026-11-21" in shown and "14.00 EUR/month" in shown
        assert "backups" in shown and "support" in shown


async def test_renew_from_the_detail_adds_an_invoice_and_says_so(db, shop):
    app = make_client(db, shop.alice_actor)
    expiry = row(db, shop.alice["web"]).expires_at
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_service(shop.alice["web"])
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, RenewDialog) and dialog.focused.id == "cycles"
        assert "12.00 EUR/month" in plain(dialog.query_one("#consequence", Static).content)
        dialog.query_one("#cycles", Input).value = "3"
        await pilot.click("#confirm-button")
        await settle(pilot)
        with db.read() as session:
            invoice = session.exec(select(Invoice)).one()
        assert invoice.customer_id == shop.alice_id and invoice.status == "unpaid"
        assert any(f"invoice {invoice.id}" in text and "36.00 EUR" in text for severity, text in notifications(app) if severity == "information")
        assert row(db, shop.alice["web"]).expires_at == expiry
        assert f"invoice #{invoice.id} bills the next renewal" in everything_shown(app)


async def test_renew_from_the_dashboard_widget(db, shop):
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, RenewDialog)
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert isinstance(app.screen, PaymentDialog)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert "invoice" in plain(app.screen.query_one("#invoices-heading", Static).content).lower()
        invoices = app.screen.query_one("#invoices", DataTable)
        assert invoices.row_count == 1 and "Renewal of #" in plain(invoices.get_row_at(0)[3])


async def test_cancel_uncancel_and_auto_renewal_from_the_detail(db, shop):
    web = shop.alice["web"]
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_service(web)
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, CancelDialog) and dialog.focused.id == "cancel-button"
        dialog.query_one("#reason", Input).value = "too expensive"
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert (row(db, web).cancel_mode, row(db, web).cancel_reason) == ("end-of-cycle", "too expensive")
        assert any("will be cancelled on 2027-08-07" in text for _, text in notifications(app))
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.click("#yes")
        await settle(pilot)
        assert row(db, web).cancel_at is None
        await pilot.press("a")
        await settle(pilot)
        await pilot.click("#yes")
        await settle(pilot)
        assert row(db, web).auto_renew is False
        assert "Auto-renewal: Off" in str(app.screen.query_one("#auto-renew").label)


async def test_a_product_that_forbids_cancelling_says_why(db, shop):
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_service(shop.alice["fixed"])
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ClientDetailScreen)
        assert "cannot be cancelled from the customer area" in errors(app)[-1]
        assert row(db, shop.alice["fixed"]).cancel_at is None


async def test_the_palette_offers_only_customer_commands(db, shop):
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_service(shop.alice["web"])
        await settle(pilot)
        titles = [title for title, _, _ in ClientCommands(app.screen)._entries()]
        assert titles == [
            "go: dashboard",
            "go: my services",
            "go: open a service by id",
            "go: help",
            "service: renew",
            "service: cancel",
            "service: keep it",
            "service: auto-renewal on/off",
        ]
        assert app.COMMANDS == {ClientCommands}


async def test_an_operators_preview_is_read_only_and_says_so(db, shop):
    make_actor(db, "olga", "operator")
    preview = client_of(db, "olga", "alice@example.com")
    app = make_client(db, preview)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "PREVIEW: read-only" in plain(app.screen.query_one("#title", Static).content)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        app.open_service(shop.alice["web"])
        await settle(pilot)
        for key in ("r", "c", "a"):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, ClientDetailScreen)
        app.screen.action_renew()
        await settle(pilot)
        assert "preview" in errors(app)[-1]
        assert row(db, shop.alice["web"]).auto_renew is True
    with db.read() as session:
        assert session.exec(select(Invoice)).all() == []


def test_the_customer_area_refuses_an_operator_actor(db, admin):
    with pytest.raises(PermissionDenied):
        ClientApp(db, admin)


async def test_the_panel_tab_shows_the_modules_state_or_one_plain_line(db, admin, scripted):
    service_id = db.transaction(
        lambda session: records.create_service(
            session,
            admin,
            records.ServiceDraft(
                customer=str(scripted.customer_id),
                name="game",
                product=str(scripted.product_id),
                server=str(scripted.server_id),
            ),
        )
    ).id
    db.transaction(lambda session: records.edit_service(session, admin, service_id, {"status": "active"}, reason="setup"))
    actor = client_of(db, "svcclient", str(scripted.customer_id))
    app = make_client(db, actor)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_service(service_id)
        await settle(pilot)
        shown = everything_shown(app)
        assert "running" in shown and "10.0.0.9:25565" in shown and "Network" in shown
        assert "secret-token-123" not in shown + app.export_screenshot()
    view = customer.panel(db, actor, service_id)
    assert view.error is None and view.state.status == "running" and view.state.addresses == ["10.0.0.9:25565"]
    assert view.state.details == {} and [tab.title for tab in view.tabs] == ["Network"]


async def test_what_a_customer_types_or_pastes_into_a_dialog_is_drawn_inert(db, shop):
    from tests.reliability.test_hostile_text import screen_text

    pasted = "\x1b[2J\x1b]0;pwned\x07 too dear \u202eevil"
    app = make_client(db, shop.alice_actor)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_service(shop.alice["web"])
        await settle(pilot)
        for key, field in (("c", "#reason"), ("r", "#cycles")):
            await pilot.press(key)
            await settle(pilot)
            dialog = app.screen
            dialog.query_one(field, Input).value = pasted
            await settle(pilot, rounds=2)
            shown = screen_text(app)
            assert "\u241b[2J\u241b]0;pwned" in shown and "too dear \ufffdevil" in shown
            assert dialog.query_one(field, Input).value == pasted
            await pilot.press("escape")
            await settle(pilot)
