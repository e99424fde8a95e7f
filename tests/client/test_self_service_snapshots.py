"""An SVG snapshot of a service's detail in the customer area with every self-service action its
product's flags offer (issue 17 item 2): the second row of buttons, Resume hidden while active and
Power/Reinstall disabled for a manual service, at a frozen time in UTC."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from textual.widgets import Input

from svcconsole.client.app import ClientApp
from svcconsole.core import catalog as catalog_module
from svcconsole.core import option_catalog
from svcconsole.store.models import Service
from tests.console.conftest import settle


def _fixed_uuid(session, service_id: int) -> None:  # type: ignore[no-untyped-def]
    """The reference row shows the service's uuid, random at creation: fixed here so the SVG is stable."""
    service = session.get(Service, service_id)
    service.uuid = "5e1f5e1f-0000-4000-8000-000000000017"
    session.add(service)


def test_detail_with_self_service(db, admin, shop, frozen, snap_compare):  # type: ignore[no-untyped-def]
    flags = {"customer_options": True, "customer_cycle": True, "customer_delete": True, "customer_power": True, "customer_suspend": True}
    db.transaction(lambda session: catalog_module.edit_product(session, admin, str(shop.product_id), customer_flags=flags))
    db.transaction(lambda session: option_catalog.declare_option(session, admin, shop.product_id, name="Backups", choices=["daily=3.00"]))
    db.transaction(lambda session: _fixed_uuid(session, shop.alice["web"]))

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        pilot.app.open_service(shop.alice["web"])
        await settle(pilot)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause(0.05)

    app = ClientApp(db, shop.alice_actor, tz=ZoneInfo("UTC"), page_size=40)
    assert snap_compare(app, terminal_size=(110, 30), run_before=run_before)
