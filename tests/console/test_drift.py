"""The console's Drift screen (D) and the drift rows on a service's detail, from drift made by hand
on the Pterodactyl sandbox through its API and found by a real reconcile."""

from __future__ import annotations

import httpx
import pytest
from textual.widgets import Button, DataTable, ProgressBar, Static

from svcconsole.console.screens.detail import DetailScreen
from svcconsole.console.screens.drift import DriftScreen
from svcconsole.core import clock, reconcile
from svcconsole.widgets.dialogs import ConfirmDialog
from tests.conftest import FROZEN_NOW
from tests.console.conftest import make_app, settle
from tests.console.test_panel import PANEL_SERVER_ID, game_server, ptero  # noqa: F401 - the sandbox panel fixture

pytestmark = pytest.mark.anyio


def drift_on_the_panel(sandbox) -> None:  # type: ignore[no-untyped-def]
    """Suspend the server and shrink its memory by hand, as a panel admin would (the server was
    added for the sandbox's own admin user, so its owner differs from the service's customer too)."""
    with httpx.Client(base_url=sandbox.url + "/api/application", headers={"Authorization": f"Bearer {sandbox.application_key}"}) as api:
        assert api.post(f"/servers/{PANEL_SERVER_ID}/suspend").status_code == 204
        current = api.get(f"/servers/{PANEL_SERVER_ID}").json()["attributes"]
        body = {"allocation": current["allocation"], "limits": {**current["limits"], "memory": 1024}, "feature_limits": current["feature_limits"]}
        assert api.patch(f"/servers/{PANEL_SERVER_ID}/build", json=body).status_code == 200


@pytest.fixture
def drifted(db, admin, ptero):  # type: ignore[no-untyped-def]
    game = game_server(db, admin, ptero)
    drift_on_the_panel(ptero)
    with clock.frozen_at(FROZEN_NOW):
        report = reconcile.reconcile(db, admin)
    assert not report.failed
    return game


def rows_of(screen: DriftScreen) -> list[str]:
    table = screen.query_one("#drift-rows", DataTable)
    return [str(table.get_row_at(index)[0]) for index in range(table.row_count)]


async def test_the_drift_screen_groups_by_kind_filters_and_applies_like_a_bulk_action(db, admin, drifted):  # type: ignore[no-untyped-def]
    app = make_app(db, admin)
    async with app.run_test(size=(140, 35)) as pilot:
        await settle(pilot)
        await pilot.press("D")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DriftScreen)
        counts = str(screen.query_one("#drift-counts", Static).content)
        assert "status 1" in counts and "build 1" in counts and "orphan 0" in counts
        assert "owner 1" in counts, "the sandbox's server belongs to its admin user, not to Greta"
        assert sorted(rows_of(screen)) == ["build", "owner", "status"]

        await pilot.press("f", "f", "f")
        await settle(pilot)
        assert rows_of(screen) == ["status"], "the third kind in turn is status"

        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "1 status" in str(app.screen.query_one(Static).content)
        app.screen.query_one("#yes", Button).press()
        await settle(pilot, timeout=30)
        results = str(screen.query_one("#drift-results", Static).content)
        assert "fixes: 1 ok" in results
        assert drifted.sandbox.server_status(PANEL_SERVER_ID) != "suspended"

        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, DriftScreen)


async def test_the_palette_opens_the_drift_screen(db, admin, drifted):  # type: ignore[no-untyped-def]
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("colon")
        await settle(pilot)
        await pilot.press(*"go: drift")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DriftScreen)


async def test_the_service_detail_lists_its_drift(db, admin, drifted):  # type: ignore[no-untyped-def]
    app = make_app(db, admin)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.open_service(drifted.service_id)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        body = screen.query_one("#overview-body", Static)
        text = "".join(segment.text for segment in app.console.render(body.content))  # type: ignore[arg-type]
        assert "Drift (last reconcile" in text
        assert "status suspended: billing active, panel suspended: unsuspend on the panel" in text
        assert "build memory: billing 4096, panel 1024: re-apply the build" in text


def test_the_drift_screen_snapshot(db, admin, drifted, snap_compare):  # type: ignore[no-untyped-def]
    async def open_drift(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("D")
        await settle(pilot)

    assert snap_compare(make_app(db, admin), terminal_size=(140, 24), run_before=open_drift)


async def test_reconcile_now_reads_the_panel_again_with_a_progress_bar(db, admin, drifted):  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=drifted.sandbox.url + "/api/application", headers={"Authorization": f"Bearer {drifted.sandbox.application_key}"}) as api:
        assert api.delete(f"/servers/{PANEL_SERVER_ID}").status_code == 204
    app = make_app(db, admin)
    async with app.run_test(size=(140, 35)) as pilot:
        await settle(pilot)
        await pilot.press("D")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DriftScreen)
        assert "missing 0" in str(screen.query_one("#drift-counts", Static).content)
        await pilot.press("n")
        await settle(pilot, timeout=30)
        assert "ptero-1: 0 resources, 1 drift (1 new, 3 resolved)" in str(screen.query_one("#drift-progress", Static).content)
        bar = screen.query_one("#drift-bar", ProgressBar)
        assert (bar.total, bar.progress, bar.display) == (0, 0, False), "the bar heard the panel's total (0 left) and hid when done"
        assert rows_of(screen) == ["missing"]
