"""The customer sees their service's provisioned login behind a reveal key (issue 16, item 2):
`v` on the service's overview reads it (the view logged as theirs) and hides it again; another
customer's service is not theirs to read."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from sqlmodel import select
from textual.widgets import Static

from svcconsole.client.app import ClientApp
from svcconsole.core import actions, credentials, jobs, records
from svcconsole.core import catalog as catalog_core
from svcconsole.core.errors import NotFound
from svcconsole.store.models import Activity
from tests.client.conftest import client_of
from tests.console.conftest import settle

pytestmark = pytest.mark.anyio


def delivered(db, admin, scripted, customer_id) -> int:  # type: ignore[no-untyped-def]
    draft = records.ServiceDraft(customer=str(customer_id), name="game", product=str(scripted.product_id), server=str(scripted.server_id), expires="2027-01-31")
    service_id = db.transaction(lambda session: records.create_service(session, admin, draft)).id
    db.transaction(lambda session: actions.perform(session, admin, "deliver", service_id, {}))
    jobs.run_jobs(db, jobs.due_job_ids(db))
    return service_id or 0


def drawn(widget: Static) -> str:
    """The text the widget's content draws (a Text, or the key/value table of the login)."""
    console = Console(width=200, record=True, color_system=None, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


async def test_l_on_the_overview_reveals_and_hides_the_login(db, admin, scripted, frozen):
    service_id = delivered(db, admin, scripted, scripted.customer_id)
    actor = client_of(db, "svcclient", "bruno@example.com")
    app = ClientApp(db, actor, tz=ZoneInfo("UTC"), page_size=40)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        app.open_service(service_id)
        await settle(pilot)
        body = app.screen.query_one("#login-body", Static)
        assert scripted.script.password not in drawn(body) and "press v" in drawn(body)
        await pilot.press("v")
        await settle(pilot)
        assert scripted.script.password in drawn(body) and f"user{scripted.customer_id}" in drawn(body)
        await pilot.press("v")
        await settle(pilot)
        assert scripted.script.password not in drawn(body)
    with db.read() as session:
        [viewed] = session.exec(select(Activity).where(Activity.action == "credentials_viewed")).all()
    assert (viewed.service_id, viewed.actor_kind) == (service_id, actor.kind)


def test_a_customer_cannot_read_another_customers_login(db, admin, scripted, frozen):
    other = db.transaction(lambda session: catalog_core.add_customer(session, admin, name="Carla Diaz", email="carla@example.com")).id
    theirs = delivered(db, admin, scripted, other)
    actor = client_of(db, "svcclient", "bruno@example.com")
    with pytest.raises(NotFound):
        db.transaction(lambda session: credentials.reveal(session, actor, theirs))
