"""The service list: paging, counts, filters, sorting, marks and mark-all."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from svcconsole.core.statuses import LISTED_STATUSES
from svcconsole.store import queries
from svcconsole.store.models import Service
from svcconsole.store.queries import ServiceFilter, Sort
from svcconsole.widgets.service_table import ServiceTable
from tests.console.conftest import make_app, notifications, settle

pytestmark = pytest.mark.anyio


def listed_count(db, **where) -> int:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return queries.count(session, ServiceFilter(**where))


async def test_the_list_shows_the_first_page_and_counts_every_status(demo, admin):
    app = make_app(demo, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.query_one(ServiceTable)
        assert screen.total == listed_count(demo)
        assert table.window.rows_in_memory <= 40 * table.window.max_pages
        first = table.render_line(1).text
        assert first.split()[0] == "1"
        with demo.read() as session:
            by_status = queries.counts_by_status(session, ServiceFilter())
        assert screen.by_status == by_status
        assert sum(by_status.get(status.value, 0) for status in LISTED_STATUSES) == screen.total


async def test_the_filter_applies_terms_and_free_text_and_escape_clears_it(demo, admin):
    app = make_app(demo, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("slash", *"status:suspended")
        await settle(pilot)
        assert screen.total == listed_count(demo, statuses=("suspended",))
        assert {screen.table.window.row(position).status for position in range(min(screen.total, 20))} == {"suspended"}
        await pilot.press(*" cycle:monthly")
        await settle(pilot)
        assert screen.total == listed_count(demo, statuses=("suspended",), cycles=("monthly",))
        await pilot.press("escape")
        await settle(pilot)
        assert screen.filter_text == ""
        assert screen.total == listed_count(demo)
        await pilot.press("slash", *"nexus")
        await settle(pilot)
        assert screen.total == listed_count(demo, search="nexus") > 0


async def test_a_bad_term_shows_a_one_line_error_and_no_rows(demo, admin):
    app = make_app(demo, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("slash", *"status:active")
        await settle(pilot)
        before = screen.total
        screen.query_one("#filter").insert_text_at_cursor(" colour:red")
        await settle(pilot)
        error = screen.query_one("#filter-error")
        assert error.display
        assert "unknown key 'colour'" in str(error.render())
        assert "expires<7d)" in str(error.render())
        assert "no rows until it is fixed (esc clears)" in str(error.render())
        assert error.size.height == 2, "the known keys wrap at 80 columns instead of being cut"
        assert before > 0 and screen.total == screen.table.row_count == 0
        await pilot.press(*["backspace"] * 11)
        await settle(pilot)
        assert not error.display
        assert screen.total == listed_count(demo, statuses=("active",))


async def test_status_tabs_and_sort_keys(demo, admin):
    app = make_app(demo, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("right_square_bracket", "right_square_bracket")
        await settle(pilot)
        assert screen.tab == "active"
        assert screen.total == listed_count(demo, statuses=("active",))
        await pilot.press("o", "O")
        await settle(pilot)
        assert screen.sort == Sort("customer", True)
        with demo.read() as session:
            expected = [row.id for row in queries.page(session, ServiceFilter(statuses=("active",)), Sort("customer", True), limit=5)]
        assert [screen.table.window.row(position).id for position in range(5)] == expected


async def test_a_deep_jump_shows_the_last_rows(demo, admin):
    app = make_app(demo, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("G")
        await settle(pilot)
        table = app.screen.query_one(ServiceTable)
        with demo.read() as session:
            last = session.exec(select(func.max(Service.id)).where(Service.status != "deleted")).one()
        assert table.current_row().id == last
        assert str(last) in table.render_line(table.visible_rows).text
        assert table.window.rows_in_memory <= 40 * table.window.max_pages


async def test_space_marks_and_ctrl_a_marks_every_matching_row_out_of_view_included(demo, admin):
    app = make_app(demo, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("space", "space")
        assert screen.marks.count == 2
        assert "2 marked" in str(screen.query_one("#statusline").render())
        await pilot.press("escape")
        assert screen.marks.count == 0
        await pilot.press("slash", *"status:active", "enter")
        await settle(pilot)
        await pilot.press("ctrl+a")
        active = listed_count(demo, statuses=("active",))
        assert active > 40
        assert screen.marks.count == active
        assert f"{active:,} marked (all matching)" in str(screen.query_one("#statusline").render())
        await pilot.press("space")
        assert screen.marks.count == active - 1
        assert any(f"{active:,} services marked" in text for _, text in notifications(app))


async def test_hostile_text_renders_inert(db, admin, catalog, frozen):
    from tests.conftest import new_service

    new_service(db, admin, catalog, name="[bold]boom\x1b[31m\u202eevil")
    app = make_app(db, admin)
    async with app.run_test(size=(120, 24)) as pilot:
        await settle(pilot)
        line = app.screen.query_one(ServiceTable).render_line(1).text
        assert "[bold]boom\\x1" in line
        assert "\x1b" not in line


async def test_the_all_tab_counts_what_the_list_shows_under_a_status_term(demo, admin):
    from svcconsole.widgets.status_tabs import StatusTabs

    app = make_app(demo, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        tabs = screen.query_one(StatusTabs)
        assert tabs.counts["all"] == screen.total == listed_count(demo)
        await pilot.press("slash", *"status:active", "enter")
        await settle(pilot)
        active = listed_count(demo, statuses=("active",))
        assert screen.total == active
        assert tabs.counts["all"] == active
        assert tabs.counts["active"] == active
        assert tabs.counts["suspended"] == 0
        assert f"All {active}" in str(tabs.render())
        assert f"row 1 of {active}" in str(screen.query_one("#statusline").render())


def counting(monkeypatch, screen, *, slow_parse: float = 0.0) -> list[str]:  # type: ignore[no-untyped-def]
    """Record every count query the screen runs (and slow its filter parsing down when asked)."""
    import time

    counted: list[str] = []
    count_by_status, parse_filter_text = screen.count_by_status, screen.parse_filter_text

    def count(session, service_filter):  # type: ignore[no-untyped-def]
        counted.append(screen.filter_text)
        return count_by_status(session, service_filter)

    def parse(session, text):  # type: ignore[no-untyped-def]
        time.sleep(slow_parse)
        return parse_filter_text(session, text)

    monkeypatch.setattr(screen, "count_by_status", count)
    monkeypatch.setattr(screen, "parse_filter_text", parse)
    return counted


async def test_a_burst_of_keystrokes_is_counted_at_its_first_key_and_once_it_pauses(demo, admin, monkeypatch):
    app = make_app(demo, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        counted = counting(monkeypatch, screen)
        await pilot.press("slash")
        field = screen.query_one("#filter")
        for character in "status:active":
            field.insert_text_at_cursor(character)
        await settle(pilot)
        assert 1 <= len(counted) <= 2, counted
        assert counted[-1] == "status:active"
        assert screen.total == listed_count(demo, statuses=("active",))


async def test_a_keystroke_after_a_pause_is_applied_without_waiting_for_the_debounce(demo, admin, monkeypatch):
    import asyncio

    from svcconsole.widgets import service_list as services_screen

    monkeypatch.setattr(services_screen, "FILTER_DEBOUNCE_SECONDS", 5.0)
    app = make_app(demo, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("slash")
        before = screen.generation
        screen.query_one("#filter").insert_text_at_cursor("n")
        for _ in range(200):
            await asyncio.sleep(0.005)
            if screen.generation > before:
                break
        assert screen.generation == before + 1, "the first keystroke waited for the debounce"
        screen.query_one("#filter").insert_text_at_cursor("e")
        await asyncio.sleep(0.3)
        assert screen.generation == before + 1, "a keystroke right after it must wait for typing to pause"


async def test_filter_work_overtaken_by_a_newer_keystroke_stops_before_its_queries(demo, admin, monkeypatch):
    app = make_app(demo, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        counted = counting(monkeypatch, screen, slow_parse=0.5)
        await pilot.press("slash")
        for key in "nexus":
            await pilot.press(key)
            await pilot.pause(0.2)
        await settle(pilot)
        assert len(counted) <= 2, counted
        assert counted[-1] == "nexus"
        assert screen.total == listed_count(demo, search="nexus")


def header_titles(table) -> list[str]:  # type: ignore[no-untyped-def]
    return [word.strip("‹›▲▼ ") for word in table.render_line(0).text.split() if word.strip("‹›▲▼ ")]


async def test_every_column_is_reachable_at_80_columns_with_id_pinned(demo, admin):
    from svcconsole.widgets.service_table import COLUMNS

    app = make_app(demo, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(ServiceTable)
        seen: list[str] = []
        for _ in range(len(COLUMNS)):
            titles = header_titles(table)
            assert titles[0] == "id"
            assert table.render_line(1).text.split()[0] == "1"
            seen.extend(title for title in titles if title not in seen)
            await pilot.press("right")
        assert sorted(seen) == sorted(column.title for column in COLUMNS)
        assert "‹" in table.render_line(0).text and "›" not in table.render_line(0).text
        for _ in range(len(COLUMNS)):
            await pilot.press("left")
        assert "‹" not in table.render_line(0).text and "›" in table.render_line(0).text


async def test_the_columns_do_not_depend_on_whether_the_scrollbar_shows(demo, admin):
    app = make_app(demo, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(ServiceTable)
        many = header_titles(table)
        await pilot.press("slash", *"id:1", "enter")
        await settle(pilot)
        assert app.screen.total == 1
        assert header_titles(table) == many


async def test_a_suspension_kind_shows_whole_in_the_list(db, admin, catalog, frozen):
    from tests.conftest import new_service

    target = new_service(db, admin, catalog, name="late", status="active")
    from svcconsole.core import actions

    db.transaction(lambda session: actions.perform(session, admin, "suspend", target, {"kind": "temporary"}))
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "suspended (temporary)" in app.screen.query_one(ServiceTable).render_line(1).text


async def test_sorting_by_a_column_out_of_view_scrolls_it_into_view(demo, admin):
    app = make_app(demo, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(ServiceTable)
        assert "cycle" not in header_titles(table)
        await pilot.press(*"o" * 6)
        await settle(pilot)
        assert app.screen.sort == Sort("cycle")
        assert "cycle" in header_titles(table)


async def test_a_tab_change_reuses_the_counts_of_its_filter_line_and_a_refresh_reads_them_again(demo, admin, monkeypatch):
    app = make_app(demo, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        counted = counting(monkeypatch, screen)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert screen.tab == "pending" and counted == []
        assert screen.total == listed_count(demo, statuses=("pending",))
        screen.action_reload()
        await settle(pilot)
        assert len(counted) == 1
