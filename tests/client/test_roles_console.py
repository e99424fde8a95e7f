"""Each role against each action in the admin console: done, or refused with the reason shown.

A viewer's console is read-only: the action keys are off, the title says so, and an action
reached another way (the palette, the actions menu) is refused with a notification. An
operator may open the dialog of an admin-only action, and the refusal core gives is shown.
"""

from __future__ import annotations

import pytest
from rich.console import Console
from sqlmodel import select
from textual.widgets import Input, Select, Static

from svcconsole.console.screens.dialogs import ActionDialog
from svcconsole.console.screens.edit import EditScreen
from svcconsole.console.screens.services import ServicesScreen
from svcconsole.core import actions
from svcconsole.store.models import Activity, Service
from tests.conftest import make_actor, new_service
from tests.console.conftest import make_app, notifications, settle

pytestmark = pytest.mark.anyio

ROLES = ("viewer", "operator", "admin")
LOGINS = {"viewer": "vera", "operator": "olga", "admin": "adam"}
RANK = {role: index for index, role in enumerate(ROLES)}

ACTIONS = {
    "suspend": ("active", "operator", "s", lambda service: service.status == "suspended"),
    "unsuspend": ("suspended", "operator", "u", lambda service: service.status == "active"),
    "cancel": ("active", "operator", "c", lambda service: service.cancel_mode == "end-of-cycle"),
    "renew": ("active", "operator", "r", lambda service: service.renewals == 1),
    "terminate": ("active", "admin", "t", lambda service: service.status == "terminated"),
    "delete": ("cancelled", "admin", "x", lambda service: service.status == "deleted"),
    "add-days": ("active", "operator", "plus", lambda service: service.version > 2),
    "subtract-days": ("active", "operator", "minus", lambda service: service.version > 2),
    "uncancel": ("cancelling", "operator", None, lambda service: service.cancel_at is None),
    "deliver": ("pending", "operator", None, lambda service: service.status == "active"),
    "redeliver": ("pending", "operator", None, lambda service: service.status == "active"),
}


def plain(renderable) -> str:  # type: ignore[no-untyped-def]
    console = Console(width=300, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def read(db, service_id: int) -> Service:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return session.get(Service, service_id)


def prepared(db, admin, catalog, status: str) -> int:  # type: ignore[no-untyped-def]
    if status == "cancelling":
        service_id = new_service(db, admin, catalog, name="target", status="active")
        db.transaction(lambda session: actions.perform(session, admin, "cancel-end-of-cycle", service_id, {}))
        return service_id
    if status == "suspended":
        service_id = new_service(db, admin, catalog, name="target", status="active")
        db.transaction(lambda session: actions.perform(session, admin, "suspend", service_id, {}))
        return service_id
    return new_service(db, admin, catalog, name="target", status=None if status == "pending" else status)


def fill(dialog: ActionDialog, action: str) -> None:
    if action in {"add-days", "subtract-days"}:
        dialog.query_one("#days", Input).value = "5"
    if action in {"terminate", "delete"}:
        dialog.query_one("#confirm", Input).value = action


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(ACTIONS))
async def test_each_role_against_each_console_action(db, admin, catalog, frozen, action, role):
    status, needs, key, done = ACTIONS[action]
    service_id = prepared(db, admin, catalog, status)
    before = read(db, service_id)
    actor = make_actor(db, LOGINS[role], role)
    app = make_app(db, actor)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ServicesScreen)
        if role == "viewer":
            assert "READ-ONLY: actions are off" in plain(screen.query_one("#title", Static).content)
            if key:
                await pilot.press(key)
                await settle(pilot)
                assert app.screen is screen
            screen.action_service_action(action)
            await settle(pilot)
            assert app.screen is screen
            assert ("error", "vera is a viewer: actions are off") in notifications(app)
        else:
            screen.action_service_action(action)
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, ActionDialog)
            fill(dialog, action)
            await pilot.click("#confirm-button")
            await settle(pilot)
            errors = [text for severity, text in notifications(app) if severity == "error"]
            if RANK[role] < RANK[needs]:
                assert any(f"olga is operator: {action} needs the admin role" in text for text in errors), errors
            else:
                assert errors == []
    after = read(db, service_id)
    if RANK[role] >= RANK[needs]:
        assert done(after)
        with db.read() as session:
            last = session.exec(select(Activity).where(Activity.service_id == service_id).order_by(Activity.id.desc())).first()
        assert (last.actor_kind, last.actor) == ("admin", LOGINS[role])
    else:
        assert (after.status, after.version, after.cancel_at, after.renewals) == (before.status, before.version, before.cancel_at, before.renewals)


@pytest.mark.parametrize("role", ROLES)
async def test_a_status_override_in_the_edit_screen_is_for_admins(db, admin, catalog, frozen, role):
    service_id = new_service(db, admin, catalog, name="target", status="active")
    actor = make_actor(db, LOGINS[role], role)
    app = make_app(db, actor)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        app.edit_service(service_id)
        await settle(pilot)
        if role == "viewer":
            assert not isinstance(app.screen, EditScreen)
            assert ("error", "vera is a viewer: actions are off") in notifications(app)
            return
        screen = app.screen
        assert isinstance(screen, EditScreen)
        screen.query_one("#field-status", Select).value = "suspended"
        screen.query_one("#reason", Input).value = "by hand"
        screen.action_save()
        await settle(pilot)
        form_error = plain(screen.query_one("#form-error", Static).content) if role != "admin" else ""
    if role == "admin":
        assert read(db, service_id).status == "suspended"
    else:
        assert read(db, service_id).status == "active"
        assert "olga is operator: a status override needs the admin role" in form_error


async def test_an_operator_cancelling_immediately_is_told_it_deletes_the_service_from_its_panel(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, name="target", status="active")
    app = make_app(db, make_actor(db, "olga", "operator"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.screen.action_service_action("cancel")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ActionDialog)
        said = " ".join(plain(dialog.query_one("#consequence", Static).content).split())
        assert "Immediately: cancelled now and deleted from its panel (the module's terminate); this cannot be undone." in said
        mode = dialog.query_one("#mode", Select)
        assert dict((value, str(label)) for label, value in mode._options)["immediate"] == "immediately: deletes it from its panel"
        mode.value = "immediate"
        dialog.query_one("#confirm").value = "cancel"
        await settle(pilot)
        await pilot.click("#confirm-button")
        await settle(pilot)
    assert read(db, service_id).status == "cancelled"
