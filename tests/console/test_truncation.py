"""Issue 23 item 17: what the list and the detail header keep in view when space is short, and
what the demo and a bulk suspend give by default."""

from __future__ import annotations

import pytest
from sqlmodel import select

from svcconsole.core import actions, lookups
from svcconsole.store.models import Service
from svcconsole.widgets.service_table import fit_columns
from tests.conftest import new_service
from tests.console.conftest import make_app, settle

pytestmark = pytest.mark.anyio


def widths(width: int) -> dict[str, int]:
    return {column.key: size for column, size in fit_columns(width).columns}


def test_spare_width_goes_to_names_not_to_status_or_cycle():  # type: ignore[no-untyped-def]
    narrow, wide = widths(130), widths(220)
    assert wide["status"] == narrow["status"] and wide["cycle"] == narrow["cycle"]
    for key in ("customer", "name", "product", "server"):
        assert wide[key] > narrow[key], key


async def test_at_80_columns_the_expiry_stays_in_view_and_the_cycle_goes_first(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    new_service(db, admin, catalog, name="web", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header = app.screen.table.render_line(0).text
        assert "expires" in header and "cycle" not in header, header
        assert "status" in header and "name" in header


async def test_a_status_with_an_operation_in_progress_stays_readable(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    target = new_service(db, admin, catalog, name="web", status="suspended")

    def mark(session):  # type: ignore[no-untyped-def]
        service = lookups.get_service(session, target, for_update=True)
        service.operation = "unsuspend"
        session.add(service)

    db.transaction(mark)
    app = make_app(db, admin)
    async with app.run_test(size=(120, 24)) as pilot:
        await settle(pilot)
        line = app.screen.table.render_line(1).text
        assert "suspended: unsuspend…" in line, line


async def test_the_detail_header_does_not_wrap_at_120_columns(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    from svcconsole.core import catalog as catalog_module

    customer = db.transaction(
        lambda session: catalog_module.add_customer(
            session, admin, name="Maximilian Alexander Featherstonehaugh-Smythe", email="maximilian.featherstonehaugh@very-long-company-name.example.com"
        )
    )
    target = new_service(db, admin, catalog, name="a-rather-long-service-name-for-the-header", status="active", customer=str(customer.id))
    db.transaction(lambda session: actions.perform(session, admin, "cancel-end-of-cycle", target, {"reason": "moving"}))
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        app.open_service(target)
        await settle(pilot)
        header = app.screen.query_one("#detail-header")
        assert header.size.height == 2, header.size
        second = header.render_line(1).text
        assert "expires 2027-01-31" in second and "cancel end-of-cycle" in second and second.rstrip().endswith("…"), second


async def test_notify_the_customer_is_off_by_default_in_a_bulk_suspend(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    for name in ("a", "b", "c"):
        new_service(db, admin, catalog, name=name, status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("space", "space", "s")
        await settle(pilot)
        assert app.screen.query_one("#notify").value is False


def test_the_demo_command_gives_the_services_asked_for_all_listed(cli, monkeypatch):  # type: ignore[no-untyped-def]
    import svcconsole.console.app

    listed: dict[str, int] = {}

    def fake_console(db, actor) -> None:  # type: ignore[no-untyped-def]
        with db.read() as session:
            listed["all"] = len(session.exec(select(Service.id).where(Service.status != "deleted")).all())

    monkeypatch.setattr(svcconsole.console.app, "run_console", fake_console)
    result = cli("demo", "--services", "500")
    assert result.exit_code == 0, result.stderr
    assert listed["all"] == 500


async def test_bulk_results_end_with_an_ellipsis_and_open_in_full_on_enter(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    from textual.widgets import DataTable

    from svcconsole.console.screens.bulk import BulkRunScreen
    from svcconsole.console.screens.full_text import FullTextDialog
    from svcconsole.core import invoices, lookups

    billed = [new_service(db, admin, catalog, name=f"b{index}", status="active") for index in range(2)]
    for service_id in billed:
        db.transaction(lambda session, service_id=service_id: invoices.invoice_renewal(session, admin, lookups.get_service(session, service_id), 1, "new"))
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+a", "r")
        await settle(pilot)
        await pilot.click("#confirm-button")
        await settle(pilot, rounds=10)
        run = app.screen
        assert isinstance(run, BulkRunScreen)
        table = run.query_one("#bulk-items", DataTable)
        message = str(table.get_row_at(0)[2])
        assert message.endswith("…") and "already bills the period" in message, message
        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FullTextDialog)
        whole = " ".join(str(widget.render()) for widget in app.screen.query(".full-text-section"))
        assert "mark it paid to renew, or cancel it first" in whole


async def _open_every_dropdown(app, pilot, key: str) -> int:  # type: ignore[no-untyped-def]
    """Press `key`, open each visible dropdown of the screen it brings up; how many opened.

    Fails when one ends on or below the last row (the footer's)."""
    from textual.widgets import Select
    from textual.widgets._select import SelectOverlay

    await settle(pilot)
    await pilot.press(key)
    await settle(pilot)
    screen = app.screen
    footer_row = app.size.height - 1
    opened = 0
    for dropdown in screen.query(Select):
        if not dropdown.region.height:
            continue
        dropdown.focus()
        dropdown.expanded = True
        await settle(pilot)
        overlay = dropdown.query_one(SelectOverlay).region
        assert overlay.height > 0 and overlay.bottom <= footer_row, f"{dropdown.id}: {overlay} runs over the footer row {footer_row}"
        opened += 1
        dropdown.expanded = False
        await settle(pilot)
    return opened


@pytest.mark.parametrize("key", ["s", "c"])
async def test_at_80x24_the_dropdowns_of_suspend_and_cancel_end_above_the_footer(db, admin, catalog, frozen, key):
    """Item 17: the suspend and cancel dialogs' dropdowns, opened at 80x24, stay above the footer row."""
    new_service(db, admin, catalog, name="web", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await _open_every_dropdown(app, pilot, key) >= 1


async def test_at_80x24_the_wizards_dropdowns_end_above_the_footer_on_the_demo_catalogue(demo, admin):
    """Item 17: the wizard's dropdowns (the demo's dozen products among them) stay above the footer row at 80x24."""
    app = make_app(demo, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await _open_every_dropdown(app, pilot, "n") >= 3
