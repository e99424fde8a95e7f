"""Detail, edit (with a concurrent change), the wizard, the palette and help."""

from __future__ import annotations

import io

import pytest
from sqlmodel import select

from svcconsole.console.actions import REGISTRY, SCOPES
from svcconsole.console.screens.detail import DetailScreen
from svcconsole.console.screens.edit import EditScreen
from svcconsole.console.screens.wizard import WizardScreen
from svcconsole.core import lookups, records
from svcconsole.store.models import Service
from svcconsole.widgets.help import HelpScreen, help_table
from tests.conftest import make_actor, new_service
from tests.console.conftest import make_app, notifications, settle

pytestmark = pytest.mark.anyio


def plain(renderable) -> str:  # type: ignore[no-untyped-def]
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


async def test_enter_opens_the_detail_and_its_tabs_load(db, admin, catalog, frozen):
    target = new_service(db, admin, catalog, name="shop", status="active")
    db.transaction(lambda session: records.option_add(session, admin, target, name="Extra IPv4", price="2.00"))
    db.transaction(lambda session: records.meta_set(session, admin, target, "max_renewals", "3"))
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        assert "shop" in str(screen.query_one("#detail-header").render())
        assert screen.query_one("#options-table").row_count == 1
        assert screen.query_one("#meta-table").row_count == 1
        assert screen.query_one("#activity-table").row_count >= 2
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert "managed by hand" in plain(screen.query_one("#panel-state").content)
        await pilot.press("left_square_bracket")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        app.screen.query_one("#cycles").value = "2"
        await pilot.click("#confirm-button")
        await settle(pilot)
        with db.read() as session:
            assert len(records.renewals_of(session, target)) == 1
        assert app.screen.query_one("#renewals-table").row_count == 1


async def test_options_and_metadata_are_edited_through_core(db, admin, catalog, frozen):
    target = new_service(db, admin, catalog, name="shop", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_service(target)
        await settle(pilot)
        screen = app.screen
        screen.query_one("#option-name").value = "Backup slot"
        screen.query_one("#option-price").value = "3.00"
        screen.query_one("#option-add").press()
        await settle(pilot)
        screen.query_one("#meta-key").value = "disable_notify_expiration"
        screen.query_one("#meta-value").value = "yes"
        screen.query_one("#meta-set").press()
        await settle(pilot)
        with db.read() as session:
            assert [option.name for option in records.options_of(session, target)] == ["Backup slot"]
            assert lookups.meta_value(session, target, "disable_notify_expiration") == "true"
        screen.query_one("#meta-key").value = "max_renewals"
        screen.query_one("#meta-value").value = "many"
        screen.query_one("#meta-set").press()
        await settle(pilot)
        assert any("not a whole number" in text for severity, text in notifications(app) if severity == "error")


async def test_an_edit_after_another_admins_change_is_refused_with_their_name(db, admin, catalog, frozen):
    target = new_service(db, admin, catalog, name="shop", status="active")
    bob = make_actor(db, "bob", "admin")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, EditScreen)
        db.transaction(lambda session: records.edit_service(session, bob, target, {"notes": "bob was here"}))
        screen.query_one("#field-name").value = "renamed by me"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert any("changed by bob" in text for severity, text in notifications(app) if severity == "error")
        assert "changed by bob" in str(screen.query_one("#form-error").render())
        with db.read() as session:
            stored = lookups.get_service(session, target)
        assert (stored.name, stored.notes) == ("shop", "bob was here")
        assert screen.version == stored.version
        assert screen.query_one("#field-notes").value == "bob was here"
        screen.query_one("#field-name").value = "renamed by me"
        await pilot.press("ctrl+s")
        await settle(pilot)
        with db.read() as session:
            assert lookups.get_service(session, target).name == "renamed by me"


async def test_a_status_change_in_the_edit_form_needs_a_reason(db, admin, catalog, frozen):
    target = new_service(db, admin, catalog, name="shop", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        app.edit_service(target)
        await settle(pilot)
        screen = app.screen
        screen.query_one("#field-status").value = "expired"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "needs a reason" in str(screen.query_one("#form-error").render())
        screen.query_one("#reason").value = "migrated by hand"
        await pilot.press("ctrl+s")
        await settle(pilot)
        with db.read() as session:
            assert lookups.get_service(session, target).status == "expired"


async def test_the_wizard_creates_and_imports(db, admin, catalog, frozen):
    app = make_app(db, admin)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        wizard = app.screen
        assert isinstance(wizard, WizardScreen)
        wizard.query_one("#customer").value = "alice@example.com"
        wizard.query_one("#product").value = str(catalog.product_id)
        await pilot.click("#next")
        await settle(pilot)
        assert wizard.step == "step2"
        wizard.query_one("#name").value = "new shop"
        wizard.query_one("#price").value = "-3"
        await pilot.click("#next")
        await settle(pilot)
        assert "--price" in str(wizard.query_one("#form-error").render())
        wizard.query_one("#price").value = "15.00"
        wizard.query_one("#cycle").value = "annually"
        await pilot.click("#next")
        await settle(pilot)
        with db.read() as session:
            created = session.exec(select(Service).where(Service.name == "new shop")).one()
        assert (created.status, created.price, created.billing_cycle) == ("pending", 15, "annually")
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("escape")
        await pilot.press("n")
        await settle(pilot)
        wizard = app.screen
        wizard.query_one("#customer").value = str(catalog.customer_id)
        wizard.query_one("#mode").value = "import"
        await pilot.click("#next")
        await settle(pilot)
        wizard.query_one("#name").value = "imported site"
        wizard.query_one("#price").value = "7.00"
        wizard.query_one("#server").value = str(catalog.server_id)
        await settle(pilot)
        wizard.query_one("#external").value = "site-42"
        await pilot.click("#next")
        await settle(pilot)
        with db.read() as session:
            imported = session.exec(select(Service).where(Service.name == "imported site")).one()
        assert (imported.status, imported.external, imported.server_id) == ("active", {"ref": "site-42"}, catalog.server_id)


async def test_the_palette_opens_a_service_by_id(db, admin, catalog, frozen):
    target = new_service(db, admin, catalog, name="findme", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("colon")
        await pilot.pause(0.1)
        await pilot.press(*str(target))
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.service_id == target


async def test_the_palette_goes_to_the_jobs_screen(db, admin, frozen):
    from textual.command import CommandPalette

    from svcconsole.console.screens.jobs import JobsScreen

    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.1)
        assert CommandPalette.is_open(app)
        await pilot.press(*"jobs")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, JobsScreen)


async def test_help_lists_every_binding_of_the_registry(db, admin, frozen):
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        from rich.console import Console

        console = Console(width=400, record=True, file=io.StringIO())
        console.print(help_table(REGISTRY, SCOPES))
        shown = console.export_text()
        for entry in REGISTRY:
            lines = [line for line in shown.splitlines() if line.strip().startswith(entry.shown_key + " ")]
            assert any(entry.description in line and entry.help in line for line in lines), entry
        screen_keys = {binding.key for binding in app.screen_stack[1].BINDINGS} | {binding.key for binding in app.BINDINGS}
        assert {entry.key for entry in REGISTRY if entry.scope in {"services", "app"}} <= screen_keys


def test_every_screen_binds_exactly_its_registry_scope():
    from svcconsole.console.actions import bindings, in_scope
    from svcconsole.console.app import ConsoleApp
    from svcconsole.console.screens.bulk import BulkRunScreen
    from svcconsole.console.screens.dialogs import ActionDialog, BulkMenu
    from svcconsole.console.screens.jobs import JobsScreen
    from svcconsole.console.screens.services import ServicesScreen
    from svcconsole.widgets.dialogs import ConfirmDialog, PromptDialog
    from svcconsole.widgets.service_table import ServiceTable

    def keys(found) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
        return sorted((binding.key, binding.action) for binding in found if binding.key != "ctrl+c")

    owners = {
        "app": ConsoleApp,
        "table": ServiceTable,
        "services": ServicesScreen,
        "detail": DetailScreen,
        "edit": EditScreen,
        "wizard": WizardScreen,
        "jobs": JobsScreen,
        "bulk": BulkRunScreen,
        "help": HelpScreen,
    }
    for scope, owner in owners.items():
        assert keys(owner.BINDINGS) == keys(bindings(scope)), scope
    for dialog in (ActionDialog, BulkMenu, ConfirmDialog, PromptDialog):
        assert keys(dialog.BINDINGS) == keys(bindings("dialog")), dialog
    assert {entry.key for entry in in_scope("dialog")} >= {"escape", "tab", "enter"}


def test_help_shows_no_key_that_is_not_in_the_registry():
    table = help_table(REGISTRY, SCOPES)
    key_cells = [str(cell) for cell in table.columns[0]._cells if str(cell)]
    assert sorted(key_cells) == sorted(entry.shown_key for entry in REGISTRY if entry.scope in SCOPES)
    assert "ctrl+s" in {entry.key for entry in REGISTRY if entry.scope == "edit"}
