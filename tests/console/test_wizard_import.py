"""The import wizard offers only the panel resources no live service holds (issue 12, item 2),
against the Pterodactyl sandbox over HTTP, driven with Pilot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import select
from textual.widgets import Select

from svcconsole.console.screens.wizard import WizardScreen
from svcconsole.core import catalog as catalog_module
from svcconsole.core import delivery, records
from svcconsole.modules.http import close_clients
from svcconsole.modules.ratelimits import reset_rate_limiters
from svcconsole.modules.sandbox import PterodactylSandbox
from svcconsole.store.models import Service
from tests.console.conftest import make_app, settle

pytestmark = pytest.mark.anyio


@pytest.fixture
def ptero(db, admin) -> Iterator[tuple[PterodactylSandbox, list[str], int]]:  # type: ignore[no-untyped-def]
    """A sandbox panel with three servers, wired as server "ptero-1"; the first is imported already."""
    reset_rate_limiters()
    panel = PterodactylSandbox(install_delay=0.05, power_delay=0.01, fault_delay=1.0, rate_limit_per_minute=None)
    panel.start()
    references = [str(server_id) for server_id in panel.seed_servers(3)]

    def wire(session):  # type: ignore[no-untyped-def]
        catalog_module.add_customer(session, admin, name="Greta Keller", email="greta@example.com")
        catalog_module.add_server(
            session,
            admin,
            name="ptero-1",
            module="pterodactyl",
            url=panel.url,
            credentials=panel.credentials,
            node="1",
            config=["timeout=2", "rate_limit_per_minute=0"],
        )
        return catalog_module.add_product(session, admin, name="Paper 4GB", type="pterodactyl", prices=["monthly=12.00"], config=["nest=1", "egg=1"]).id

    product_id = db.transaction(wire)
    draft = records.ServiceDraft(customer="greta@example.com", name="legacy", product="Paper 4GB", server="ptero-1", external=references[0])
    found = delivery.importable_external(db, "ptero-1", references[0])
    db.transaction(lambda session: records.import_service(session, admin, draft, external=found))
    yield panel, references, product_id
    panel.stop()
    close_clients()
    reset_rate_limiters()


async def test_the_import_wizard_does_not_offer_a_linked_resource_and_refuses_it_typed(db, admin, ptero):
    _panel, references, product_id = ptero
    with db.read() as session:
        server_id = session.exec(select(Service.server_id).where(Service.name == "legacy")).one()
        holder_id = session.exec(select(Service.id).where(Service.name == "legacy")).one()
    app = make_app(db, admin)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        wizard = app.screen
        assert isinstance(wizard, WizardScreen)
        wizard.query_one("#customer").value = "greta@example.com"
        wizard.query_one("#product").value = str(product_id)
        wizard.query_one("#mode").value = "import"
        await pilot.click("#next")
        await settle(pilot)
        assert wizard.step == "step2"
        wizard.query_one("#server").value = str(server_id)
        await settle(pilot)

        choice = wizard.query_one("#external-choice", Select)
        offered = [value for _, value in choice._options if value is not Select.NULL]
        assert offered == references[1:]
        assert "(1 already linked, not shown)" in str(choice.prompt)

        wizard.query_one("#name").value = "copy"
        wizard.query_one("#external").value = references[0]
        await pilot.click("#next")
        await settle(pilot)
        error = str(wizard.query_one("#form-error").render())
        assert f"--external: resource {references[0]} on server ptero-1 is already service {holder_id} (legacy, active)" in error
        assert isinstance(app.screen, WizardScreen)

        choice.value = references[2]
        await settle(pilot)
        await pilot.click("#next")
        await settle(pilot)
    with db.read() as session:
        imported = session.exec(select(Service.name, Service.external_key).where(Service.status == "active").order_by(Service.id)).all()
    assert [tuple(row) for row in imported] == [("legacy", references[0]), ("copy", references[2])]
