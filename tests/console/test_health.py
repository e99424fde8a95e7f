"""The console's Health screen and header badge (issue 20)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select
from textual.widgets import DataTable, Static

from svcconsole.console.screens.health import HealthScreen
from svcconsole.core import automation, leases
from svcconsole.store.models import AutomationRun
from tests.console.conftest import make_app, settle

pytestmark = pytest.mark.anyio


def _title(app) -> str:
    return str(app.screen.query_one("#title", Static).content)


def _age_last_run(db, minutes):
    def work(session):
        run = session.exec(select(AutomationRun).order_by(AutomationRun.id.desc())).first()
        run.finished_at = run.heartbeat_at = leases.wall_clock() - timedelta(minutes=minutes)
        session.add(run)

    db.transaction(work)


async def test_the_header_shows_a_badge_while_health_is_bad_and_none_once_it_is_well(db, admin):
    automation.run(db, admin)
    _age_last_run(db, 45)
    app = make_app(db, admin, health_check_seconds=3600)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        assert "! health: 1 problem (H)" in _title(app)

        automation.run(db, admin)
        app.check_health()
        await settle(pilot)
        assert "health:" not in _title(app)


async def test_the_health_screen_shows_the_figures_the_recent_runs_and_a_runs_steps(db, admin):
    automation.run(db, admin)
    automation.run(db, admin, dry_run=True)
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("H")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, HealthScreen)
        summary = str(screen.query_one("#health-summary", Static).content)
        assert "health: ok" in summary and "queue: 0 queued" in summary and "mail: " in summary
        table = screen.query_one("#health-runs", DataTable)
        assert table.row_count == 2
        await pilot.press("down", "enter")
        await settle(pilot)
        steps = str(screen.query_one("#health-steps", Static).content)
        assert steps.startswith("run 1: finished") and "step 4 expire" in steps and "step 7 jobs and mail" in steps
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, HealthScreen)
