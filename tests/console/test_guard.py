"""The last-resort guard: an unexpected error is one line on screen and a traceback in the
operations log, never a traceback on screen; the palette takes only valid ids."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from textual.command import CommandPalette

from svcconsole.client.app import ClientApp
from svcconsole.console.screens.detail import DetailScreen
from svcconsole.console.screens.services import ServicesScreen
from svcconsole.core import customer, logs
from svcconsole.store import queries
from svcconsole.widgets.palette import service_id_in
from svcconsole.widgets.status_tabs import StatusTabs
from tests.client.conftest import client_of
from tests.conftest import new_service
from tests.console.conftest import make_app, notifications, settle

pytestmark = pytest.mark.anyio

SECRET_SQL = "SELECT password FROM operators WHERE url='postgresql://admin:hunter2@db'"


@pytest.fixture
def log_file(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    path = tmp_path / "operations.log"
    monkeypatch.setenv(logs.LOG_FILE_ENV, str(path))
    return path


def errors(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [text for severity, text in notifications(app) if severity == "error"]


def raising(*_, **__):  # type: ignore[no-untyped-def]
    raise ValueError(f"broken on purpose\n[SQL: {SECRET_SQL}]")


def test_the_palette_takes_only_ids_the_store_can_hold():
    assert service_id_in("open service 12") == 12
    assert service_id_in("#7") == 7
    assert service_id_in("99999999999") is None
    assert service_id_in("2147483648") is None
    assert service_id_in("0") is None
    assert service_id_in("²") is None
    assert service_id_in("go: jobs") is None


async def test_an_out_of_range_id_in_the_palette_opens_nothing_and_keeps_the_app(db, admin, frozen, log_file):
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("colon")
        await pilot.pause(0.1)
        await pilot.press(*"99999999999")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert app.is_running and app.return_code is None
        assert not isinstance(app.screen, DetailScreen)
        assert errors(app) == []


async def test_a_worker_that_raises_is_one_line_and_a_logged_traceback(db, admin, catalog, frozen, log_file, monkeypatch, internal_errors):
    new_service(db, admin, catalog, name="web", status="active")
    monkeypatch.setattr(queries, "counts_by_status", raising)
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.is_running and app.return_code is None
        assert isinstance(app.screen, ServicesScreen)
        shown = errors(app)
        assert shown == ["internal error: ValueError: broken on purpose (the details are in the operations log)"]
        screen = app.export_screenshot()
        assert "Traceback" not in screen and "hunter2" not in screen and "SELECT" not in screen
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert app.screen.query_one(StatusTabs).active == "pending"
    logged = log_file.read_text()
    assert "Traceback" in logged and "broken on purpose" in logged and "raising" in logged


async def test_a_handler_that_raises_leaves_the_console_working(db, admin, catalog, frozen, log_file, monkeypatch, internal_errors):
    new_service(db, admin, catalog, name="web", status="active")
    monkeypatch.setattr(ServicesScreen, "action_next_sort", raising)
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("o", "o")
        await settle(pilot)
        assert app.is_running and app.return_code is None
        assert len(errors(app)) == 1, "the same error is shown once, not once per occurrence"
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert app.screen.query_one(StatusTabs).active == "pending"
        assert app.screen.total == 0
        assert "Traceback" not in app.export_screenshot()
    assert log_file.read_text().count("Traceback") == 1


async def test_the_customer_area_has_the_same_guard(db, admin, catalog, frozen, log_file, monkeypatch, internal_errors):
    new_service(db, admin, catalog, name="web", status="active")
    monkeypatch.setattr(customer, "dashboard", raising)
    actor = client_of(db, admin.name, str(catalog.customer_id))
    app = ClientApp(db, actor, tz=ZoneInfo("UTC"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.is_running and app.return_code is None
        assert errors(app) == ["internal error: ValueError: broken on purpose (the details are in the operations log)"]
        assert "Traceback" not in app.export_screenshot()
        await pilot.press("ctrl+p")
        await pilot.pause(0.1)
        assert CommandPalette.is_open(app)
    assert "broken on purpose" in log_file.read_text()
