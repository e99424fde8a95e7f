"""Issue 23 item 12: what `expires<7d` means, natural name order, cycles by length, the cursor
kept on its service when the sort changes, and past-due expiries highlighted in the list."""

from __future__ import annotations

from datetime import timedelta

import pytest

from svcconsole.core import filters
from svcconsole.store import queries
from svcconsole.widgets.service_table import cell
from tests.conftest import FROZEN_NOW, new_service
from tests.console.conftest import make_app, settle

pytestmark = pytest.mark.anyio


def day(offset_days: int) -> str:
    return (FROZEN_NOW + timedelta(days=offset_days)).date().isoformat()


@pytest.fixture
def expiries(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    """Active services that expired long ago, yesterday, and expire in 3 days and in 30 days."""
    return {
        "long-ago": new_service(db, admin, catalog, name="long-ago", status="active", expires="2025-03-01"),
        "yesterday": new_service(db, admin, catalog, name="yesterday", status="active", expires=day(-1)),
        "soon": new_service(db, admin, catalog, name="soon", status="active", expires=day(3)),
        "later": new_service(db, admin, catalog, name="later", status="active", expires=day(30)),
    }


def listed(db, text: str) -> set[int]:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return set(queries.iter_ids(session, filters.parse_filter(session, text)))


def test_expires_within_a_span_means_from_now_and_0d_means_already_expired(db, expiries):  # type: ignore[no-untyped-def]
    assert listed(db, "expires<7d") == {expiries["soon"]}
    assert listed(db, "expires<60d") == {expiries["soon"], expiries["later"]}
    assert listed(db, "expires<0d") == {expiries["long-ago"], expiries["yesterday"]}
    assert listed(db, "expires<2026-01-01") == {expiries["long-ago"]}, "a date bound keeps its plain meaning"


def test_the_cli_expiring_within_follows_the_same_semantics(cli, db, expiries):  # type: ignore[no-untyped-def]
    assert cli("services", "list", "--expiring-within", "7d", "--format", "ids").lines == [str(expiries["soon"])]
    past = cli("services", "list", "--expiring-within", "0d", "--format", "ids").lines
    assert sorted(past) == sorted([str(expiries["long-ago"]), str(expiries["yesterday"])])


async def test_the_console_filter_expires_7d_leaves_out_the_expired_ones(db, admin, expiries):  # type: ignore[no-untyped-def]
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"expires<7d", "enter")
        await settle(pilot)
        screen = app.screen
        assert screen.filter_error is None
        assert [screen.table.window.row(position).id for position in range(screen.table.row_count)] == [expiries["soon"]]


def shown_ids(screen) -> list[int]:  # type: ignore[no-untyped-def]
    return [screen.table.window.row(position).id for position in range(screen.table.row_count)]


async def sort_by(pilot, screen, column: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(12):
        if screen.sort.column == column:
            return
        await pilot.press("o")
        await settle(pilot)
    raise AssertionError(f"o never reached the {column} sort")


async def test_names_sort_naturally_and_cycles_by_length(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    names = ["alpha-262", "alpha-28", "Alpha-3", "beta-1", "alpha-0100"]
    ids = {name: new_service(db, admin, catalog, name=name, status="active") for name in names}
    cycles = {"annually": "a-yearly", "weekly": "a-weekly", "quarterly": "a-quarterly", "monthly": "a-monthly"}
    cycle_ids = {cycle: new_service(db, admin, catalog, name=name, cycle=cycle, status="active") for cycle, name in cycles.items()}
    app = make_app(db, admin)
    async with app.run_test(size=(160, 35)) as pilot:
        await settle(pilot)
        screen = app.screen
        await sort_by(pilot, screen, "name")
        order = [ids[name] for name in ("Alpha-3", "alpha-28", "alpha-0100", "alpha-262", "beta-1")]
        shown = [service_id for service_id in shown_ids(screen) if service_id in ids.values()]
        assert shown == order
        await sort_by(pilot, screen, "cycle")
        by_cycle = [service_id for service_id in shown_ids(screen) if service_id in cycle_ids.values()]
        assert by_cycle == [cycle_ids[cycle] for cycle in ("weekly", "monthly", "quarterly", "annually")]


async def test_the_cursor_stays_on_its_service_when_the_sort_changes(demo, admin):  # type: ignore[no-untyped-def]
    app = make_app(demo, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        screen = app.screen
        for _ in range(57):
            await pilot.press("down")
        await settle(pilot)
        chosen = screen.table.current_row().id
        for _ in range(4):
            await pilot.press("o")
            await settle(pilot)
            assert screen.table.current_row() is not None
            assert screen.table.current_row().id == chosen, f"sorted by {screen.sort.column}, the cursor left service {chosen}"
            top = int(screen.table.scroll_offset.y)
            assert top <= screen.table.cursor < top + screen.table.visible_rows
        await pilot.press("O")
        await settle(pilot)
        assert screen.table.current_row().id == chosen


async def test_past_due_expiries_are_highlighted(db, admin, expiries):  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        rows = {row.id: row for row in (app.screen.table.window.row(position) for position in range(app.screen.table.row_count))}
        styles = {name: str(cell(rows[service_id], "expires", ZoneInfo("UTC")).style) for name, service_id in expiries.items()}
        assert styles["long-ago"] == styles["yesterday"] != styles["soon"] == styles["later"]
        assert "bold" in styles["yesterday"]
