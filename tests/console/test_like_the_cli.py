"""The console does what the CLI does: each action through its modal leaves a service exactly as
the same `svcconsole services ...` command leaves its twin; the filter terms select what the CLI's
list options select; read-only mode turns every change off on every screen."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select
from textual.command import CommandPalette
from textual.widgets import OptionList

from svcconsole.console.screens.detail import DetailScreen
from svcconsole.console.screens.dialogs import ActionDialog
from svcconsole.console.screens.edit import EditScreen
from svcconsole.console.screens.wizard import WizardScreen
from svcconsole.core import actions
from svcconsole.core.context import acting_operator
from svcconsole.store import queries
from svcconsole.store.models import Activity, Service
from svcconsole.store.queries import ServiceFilter
from tests.conftest import new_service
from tests.console.conftest import make_app, notifications, settle

pytestmark = pytest.mark.anyio

COMPARED = ("status", "suspend_kind", "suspend_reason", "expires_at", "cancel_at", "cancel_mode", "cancelled_at", "auto_renew")


def fingerprint(db, service_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """What an action changes on a service, and the activity it wrote (ids left out)."""
    with db.read() as session:
        service = session.get(Service, service_id)
        entries = session.exec(select(Activity).where(Activity.service_id == service_id).order_by(Activity.id)).all()
        return {
            **{field: getattr(service, field) for field in COMPARED},
            "activity": [(entry.action, entry.actor, entry.from_status, entry.to_status, entry.reason) for entry in entries],
        }


def twins(db, admin, catalog, status: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    return new_service(db, admin, catalog, name="mine", status=status), new_service(db, admin, catalog, name="twin", status=status)


async def show_only(pilot, service_id: int) -> None:  # type: ignore[no-untyped-def]
    """Filter the list down to one service, the row under the cursor."""
    await pilot.press("slash", *f"id:{service_id}", "enter")
    await settle(pilot)
    assert pilot.app.screen.total == 1


async def confirm(pilot, **values: str) -> None:  # type: ignore[no-untyped-def]
    dialog = pilot.app.screen
    assert isinstance(dialog, ActionDialog)
    for field, value in values.items():
        dialog.query_one(f"#{field}").value = value
    await settle(pilot)
    await pilot.click("#confirm-button")
    await settle(pilot)


@pytest.mark.parametrize(
    ("status", "key", "values", "command"),
    [
        ("suspended", "u", {"reason": "paid at last"}, ["unsuspend", "--reason", "paid at last"]),
        ("active", "c", {"reason": "moving out"}, ["cancel", "--mode", "end-of-cycle", "--reason", "moving out"]),
        ("active", "c", {"mode": "immediate", "reason": "fraud", "confirm": "cancel"}, ["cancel", "--mode", "immediate", "--reason", "fraud"]),
        ("active", "minus", {"days": "3", "reason": "goodwill taken back"}, ["subtract-days", "--days", "3", "--reason", "goodwill taken back"]),
    ],
    ids=["unsuspend", "cancel-end-of-cycle", "cancel-immediately", "subtract-days"],
)
async def test_an_action_through_its_modal_matches_the_cli(db, admin, catalog, frozen, cli, status, key, values, command):
    mine, twin = twins(db, admin, catalog, status)
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await show_only(pilot, mine)
        await pilot.press(key)
        await settle(pilot)
        await confirm(pilot, **values)
    result = cli("services", command[0], str(twin), *command[1:], "--yes")
    assert result.exit_code == 0, result.stderr
    assert fingerprint(db, mine) == fingerprint(db, twin)
    assert fingerprint(db, mine)["status"] != status or command[0] in {"subtract-days", "cancel"}


async def test_delete_needs_the_typed_word_then_deletes_like_the_cli(db, admin, catalog, frozen, cli):
    mine, twin = twins(db, admin, catalog, "cancelled")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await show_only(pilot, mine)
        await pilot.press("x")
        await settle(pilot)
        dialog = app.screen
        assert dialog.focused.id == "reason"
        await confirm(pilot, confirm="yes please")
        assert "type delete to confirm" in str(dialog.query_one("#dialog-error").render())
        assert fingerprint(db, mine)["status"] == "cancelled"
        await confirm(pilot, confirm="delete")
        assert not isinstance(app.screen, ActionDialog)
    assert cli("services", "delete", str(twin), "--yes").exit_code == 0
    assert fingerprint(db, mine)["status"] == "deleted"
    assert fingerprint(db, mine) == fingerprint(db, twin)


@pytest.mark.parametrize(("status", "action"), [("active", "uncancel"), ("pending", "deliver"), ("pending", "redeliver")])
async def test_the_b_menu_runs_what_the_cli_runs(db, admin, catalog, frozen, cli, status, action):
    mine, twin = twins(db, admin, catalog, status)
    if action == "uncancel":
        for service_id in (mine, twin):
            db.transaction(lambda session, service_id=service_id: actions.perform(session, admin, "cancel-end-of-cycle", service_id, {}))
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await show_only(pilot, mine)
        await pilot.press("b")
        await settle(pilot)
        options = app.screen.query_one(OptionList)
        options.highlighted = next(index for index in range(options.option_count) if options.get_option_at_index(index).id == action)
        await pilot.press("enter")
        await settle(pilot)
        await confirm(pilot)
    result = cli("services", action, str(twin), "--yes")
    assert result.exit_code == 0, result.stderr
    after = fingerprint(db, mine)
    assert after == fingerprint(db, twin)
    assert after["activity"][-1][0] in {action, "deliver", "redeliver"}
    assert (after["status"], after["cancel_at"]) == ("active", None)


@pytest.mark.parametrize(
    ("term", "options"),
    [
        ("product:Web", ["--product", "Web"]),
        ("server:shared-1", ["--server", "shared-1"]),
        ("customer:bruno@example.com", ["--customer", "bruno@example.com"]),
        ("expires<7d", ["--expiring-within", "7d"]),
    ],
)
async def test_a_filter_term_selects_what_the_cli_list_option_selects(db, admin, catalog, frozen, cli, term, options):
    from svcconsole.core import catalog as catalog_module

    def other_catalog(session):  # type: ignore[no-untyped-def]
        bruno = catalog_module.add_customer(session, admin, name="Bruno Rossi", email="bruno@example.com")
        product = catalog_module.add_product(session, admin, name="Game Box", type="manual", prices=["monthly=9.00"])
        server = catalog_module.add_server(session, admin, name="games-2", module="manual", url="https://games-2.example.net")
        return bruno.id, product.id, server.id

    bruno, product, server = db.transaction(other_catalog)
    new_service(db, admin, catalog, name="soon", status="active", expires="2026-11-25")
    new_service(db, admin, catalog, name="later", status="active", expires="2027-03-01")
    new_service(db, admin, catalog, name="games", status="active", customer=str(bruno), product=str(product), server=str(server), expires="2026-11-23")
    new_service(db, admin, catalog, name="bruno web", status="suspended", customer=str(bruno), expires="2027-06-01")
    result = cli("services", "list", *options, "--format", "ids")
    assert result.exit_code == 0, result.stderr
    expected = [int(line) for line in result.lines]
    assert 0 < len(expected) < 4
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *term, "enter")
        await settle(pilot)
        screen = app.screen
        assert screen.filter_error is None
        assert screen.total == len(expected)
        assert sorted(screen.table.window.row(position).id for position in range(len(expected))) == sorted(expected)


@pytest.fixture
def read_only_app(db, catalog, frozen):  # type: ignore[no-untyped-def]
    target = new_service(db, acting_operator(db), catalog, name="web", status="active")
    app = make_app(db, acting_operator(db, read_only=True))
    return app, target


def version(db, service_id: int) -> int:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return session.get(Service, service_id).version


async def test_read_only_detail_offers_no_change(db, read_only_app):
    app, target = read_only_app
    before = version(db, target)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_service(target)
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        assert detail.check_action("service_action", ("suspend",)) is False
        assert detail.check_action("edit_service", ()) is False
        await pilot.press("s", "c", "b", "e", "plus")
        await settle(pilot)
        assert app.screen is detail
    assert version(db, target) == before


async def test_read_only_refuses_the_edit_form_and_the_wizard(db, read_only_app):
    app, target = read_only_app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n", "e")
        await settle(pilot)
        assert not isinstance(app.screen, (WizardScreen, EditScreen))
        app.edit_service(target)
        app.new_service()
        await settle(pilot)
        assert not isinstance(app.screen, (WizardScreen, EditScreen))
        errors = [text for severity, text in notifications(app) if severity == "error"]
        assert errors == ["read-only mode: actions are off"] * 2


async def test_read_only_palette_lists_no_change(db, read_only_app):
    app, target = read_only_app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("colon")
        await pilot.pause(0.1)
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        await pilot.press(*"suspend")
        await pilot.pause(0.5)
        assert "service: suspend" not in palette_hits(palette)
        await pilot.press(*["backspace"] * 7, *"new service")
        await pilot.pause(0.5)
        assert "go: new service" not in palette_hits(palette)
        await pilot.press(*["backspace"] * 11, *str(target))
        await pilot.pause(0.5)
        assert f"open service {target}" in palette_hits(palette)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
    with db.read() as session:
        assert queries.count(session, ServiceFilter(statuses=("active",))) == 1


def palette_hits(palette: CommandPalette) -> list[str]:
    from textual.command import CommandList

    found = palette.query_one(CommandList)
    return [str(found.get_option_at_index(index).prompt).split("\n")[0] for index in range(found.option_count)]
