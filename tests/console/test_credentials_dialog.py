"""The Login dialog (issue 16, item 2): `L` on a service's detail shows the provisioned login
masked (the view logged), `v` reveals it, `R` resets it on the panel after a question; a
non-admin gets the core's refusal; the snapshot never holds the password."""

from __future__ import annotations

import pytest
from sqlmodel import select
from textual.widgets import Static

from svcconsole.console.screens.credentials import MASK, CredentialsDialog
from svcconsole.core import actions, jobs, records
from svcconsole.store.models import Activity
from svcconsole.widgets.dialogs import ConfirmDialog
from tests.conftest import make_actor
from tests.console.conftest import make_app, settle

pytestmark = pytest.mark.anyio


def delivered(db, admin, scripted) -> int:  # type: ignore[no-untyped-def]
    draft = records.ServiceDraft(
        customer=str(scripted.customer_id), name="game", product=str(scripted.product_id), server=str(scripted.server_id), expires="2027-01-31"
    )
    service_id = db.transaction(lambda session: records.create_service(session, admin, draft)).id
    db.transaction(lambda session: actions.perform(session, admin, "deliver", service_id, {}))
    jobs.run_jobs(db, jobs.due_job_ids(db))
    return service_id or 0


def login_text(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one("#login", Static).render())


async def test_l_shows_the_login_masked_reveals_it_and_resets_it(db, admin, scripted, frozen):
    service_id = delivered(db, admin, scripted)
    app = make_app(db, admin)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_service(service_id)
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        assert isinstance(app.screen, CredentialsDialog)
        assert f"user{scripted.customer_id}" in login_text(app) and MASK in login_text(app)
        assert scripted.script.password not in login_text(app)
        with db.read() as session:
            [viewed] = session.exec(select(Activity).where(Activity.action == "credentials_viewed")).all()
        assert viewed.actor == admin.name

        await pilot.press("v")
        await settle(pilot)
        assert scripted.script.password in login_text(app)

        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.click("#yes")
        await settle(pilot)
        assert isinstance(app.screen, CredentialsDialog) and MASK in login_text(app)
        assert scripted.script.count("change_password", service_id) == 1
        await pilot.press("v")
        await settle(pilot)
        assert f"{scripted.script.password}-1" in login_text(app)


async def test_an_operator_is_told_the_login_is_for_admins(db, admin, scripted, frozen):
    service_id = delivered(db, admin, scripted)
    operator = make_actor(db, "otto", "operator")
    app = make_app(db, operator)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_service(service_id)
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        error = str(app.screen.query_one("#dialog-error", Static).render())
        assert "admin" in error and scripted.script.password not in login_text(app)


def test_snapshot_of_the_login_dialog(db, admin, scripted, frozen, snap_compare):  # type: ignore[no-untyped-def]
    service_id = delivered(db, admin, scripted)

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        pilot.app.open_service(service_id)
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)

    assert snap_compare(make_app(db, admin), run_before=run, terminal_size=(100, 30))
