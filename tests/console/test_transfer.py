"""Transfer in the console: ctrl+t (`T` is Tickets) opens its dialog (list and detail), the palette offers it, a bad
new owner is one line naming --to, and a confirmed transfer changes the store as the CLI does."""

from __future__ import annotations

import pytest
from sqlmodel import select

from svcconsole.console.commands import ConsoleCommands
from svcconsole.console.screens.detail import DetailScreen
from svcconsole.console.screens.dialogs import ActionDialog
from svcconsole.core import catalog as catalog_core
from svcconsole.core import lookups
from svcconsole.store.models import Activity
from tests.conftest import new_service
from tests.console.conftest import make_app, notifications, settle

pytestmark = pytest.mark.anyio


def owner_of(db, service_id):  # type: ignore[no-untyped-def]
    with db.read() as session:
        return lookups.get_service(session, service_id).customer_id


async def test_transfer_from_the_list_through_its_dialog(db, admin, catalog, frozen):
    target = new_service(db, admin, catalog, name="web", status="active")
    bruno = db.transaction(lambda session: catalog_core.add_customer(session, admin, name="Bruno Rossi", email="bruno@example.com")).id
    app = make_app(db, admin)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ActionDialog) and dialog.action_name == "transfer"
        assert "Transfer service" in str(dialog.query_one("#question").render())
        dialog.query_one("#to").value = "nobody@example.com"
        await pilot.click("#confirm-button")
        await settle(pilot)
        errors = [text for severity, text in notifications(app) if severity == "error"]
        assert any(text.startswith("To: no customer") and "nobody@example.com" in text for text in errors), errors
        assert owner_of(db, target) == catalog.customer_id

        await pilot.press("ctrl+t")
        await settle(pilot)
        dialog = app.screen
        dialog.query_one("#to").value = "bruno@example.com"
        dialog.query_one("#reason").value = "sold the shop"
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert owner_of(db, target) == bruno
        with db.read() as session:
            row = session.exec(select(Activity).where(Activity.service_id == target).order_by(Activity.id.desc())).first()
        assert (row.action, row.reason, row.details["to"]["email"]) == ("transfer", "sold the shop", "bruno@example.com")


async def test_an_empty_owner_is_refused_in_the_dialog(db, admin, catalog, frozen):
    new_service(db, admin, catalog, name="web", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("ctrl+t")
        await settle(pilot)
        dialog = app.screen
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert isinstance(app.screen, ActionDialog)
        assert "To: give the customer" in str(dialog.query_one("#dialog-error").render())


async def test_the_palette_offers_transfer(db, admin, catalog, frozen):
    new_service(db, admin, catalog, name="web", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        provider = ConsoleCommands(app.screen)
        titles = [title for title, _, _ in provider._entries()]
        assert "service: transfer to another customer" in titles
