"""The service list both consoles share: status tabs, the `/` filter and the virtual table.

`ServiceListScreen` is the list itself (filter, tabs, sort, paging, open) with its data access
left to subclasses: the admin console's `ServicesScreen` adds marks and the actions over the
whole store; the customer area's list has only its customer's rows, so no admin path (the
unscoped counts, resolving marks, the action and edit dialogs) exists on it at all.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import get_current_worker

from svcconsole.core.errors import SvcError
from svcconsole.core.statuses import LISTED_STATUSES
from svcconsole.store.engine import Database
from svcconsole.store.queries import SORT_COLUMNS, ServiceFilter, Sort
from svcconsole.store.window import ServiceWindow
from svcconsole.widgets import render
from svcconsole.widgets.footer import ContextFooter
from svcconsole.widgets.inputs import InertInput as Input
from svcconsole.widgets.messages import CountsLoaded, FilterRejected, ListReloaded, ServiceOpened, SettingsLoaded
from svcconsole.widgets.service_table import ServiceTable
from svcconsole.widgets.status_tabs import StatusTabs

SORT_ORDER = tuple(SORT_COLUMNS)
LISTED = tuple(status.value for status in LISTED_STATUSES)
FILTER_DEBOUNCE_SECONDS = 0.08
COUNTS_KEPT_SECONDS = 15.0
DEEP_LIST_ROWS = 20_000
"""How long the filter line waits for the next keystroke before it queries: a burst of typing
runs one page query and one count, not one per character."""
REJECTED_FILTER = ServiceFilter(matches_nothing=True)
"""What the list shows while the filter line has a bad term: nothing, so nothing can be marked or acted on."""


def with_tab(service_filter: ServiceFilter, tab: str) -> ServiceFilter:
    """The filter narrowed to a status tab (a `status:` term and a tab intersect)."""
    if tab == "all":
        return service_filter
    if service_filter.statuses:
        kept = tuple(status for status in service_filter.statuses if status == tab)
        return replace(service_filter, statuses=kept or (tab,), matches_nothing=service_filter.matches_nothing or not kept)
    return replace(service_filter, statuses=(tab,))


def total_from_counts(service_filter: ServiceFilter, by_status: dict[str, int]) -> int:
    """The filter's row count, from the per-status counts of the same filter without statuses."""
    if service_filter.matches_nothing:
        return 0
    statuses = service_filter.statuses or (LISTED if not service_filter.include_deleted else tuple(by_status))
    return sum(by_status.get(status, 0) for status in statuses)


def tab_counts(text_filter: ServiceFilter, by_status: dict[str, int]) -> dict[str, int]:
    """What each tab would list under the filter line (All included), so a tab's count is its rows."""
    return {tab: total_from_counts(with_tab(text_filter, tab), by_status) for tab in ("all", *LISTED)}


class ListHost(Protocol):
    """The app a service list runs in, as the list sees it: its database, its time zone, whether it may act."""

    db: Database
    tz: ZoneInfo
    tz_override: ZoneInfo | None

    @property
    def can_act(self) -> bool: ...


class ServiceListScreen(Screen[None]):
    """A list of services that pages from the database and never loads every row.

    Subclasses say where the rows come from (`new_window`, `parse_filter_text`,
    `count_by_status`, `read_time_zone`) and draw the title line.
    """

    MUTATING: frozenset[str] = frozenset()
    FILTER_PLACEHOLDER = "filter"

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self.tab = "all"
        self.sort = Sort()
        self.text_filter = ServiceFilter()
        self.current_filter = ServiceFilter()
        self.generation = 0
        self.total: int | None = None
        self.by_status: dict[str, int] | None = None
        self.filter_error: str | None = None
        self.shown_text = ""
        self._requested_text = ""
        self._filter_timer: Timer | None = None
        self._last_filter_at = 0.0
        self._counts_cache: dict[ServiceFilter, tuple[float, dict[str, int]]] = {}
        self._footer_state: tuple[object, ...] = ()

    @property
    def console_app(self) -> ListHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in its own app

    def compose(self) -> ComposeResult:
        with Vertical(id="services"):
            yield Static(id="title")
            yield StatusTabs(id="tabs")
            yield Input(placeholder=self.FILTER_PLACEHOLDER, id="filter")
            yield Static(id="filter-error")
            yield ServiceTable(self.new_window(), is_marked=self._is_marked, id="table")
            yield Static(id="statusline")
        yield ContextFooter()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#filter-error", Static).display = False
        self.query_one(ServiceTable).focus()
        self._render_title()
        self._render_status()
        self._load_settings_then_list()
        bulk_changed = getattr(self.app, "bulk_changed", None)
        if bulk_changed is not None:
            bulk_changed.subscribe(self, self._bulk_changed)
        health_changed = getattr(self.app, "health_changed", None)
        if health_changed is not None:
            health_changed.subscribe(self, lambda _report: self._render_title())

    def _bulk_changed(self, run: Any) -> None:
        """A bulk run moved on: the status line shows it; once it ended, the rows are read again."""
        self._render_status()
        if run.finished:
            self.reload(keep_position=True)

    # ------------------------------------------------------------------ helpers

    @property
    def table(self) -> ServiceTable:
        return self.query_one(ServiceTable)

    def new_window(self) -> ServiceWindow:
        """An empty window over the rows this list may show."""
        raise NotImplementedError

    def parse_filter_text(self, session: Any, text: str) -> ServiceFilter:
        """The filter the filter line means."""
        raise NotImplementedError

    def count_by_status(self, session: Any, service_filter: ServiceFilter) -> dict[str, int]:
        """How many of the rows this list may show match the filter, in each status."""
        raise NotImplementedError

    def read_time_zone(self, session: Any) -> ZoneInfo:
        """The configured time zone, in which the list shows dates."""
        raise NotImplementedError

    def position_of(self, session: Any, service_filter: ServiceFilter, sort: Sort, service_id: int) -> int | None:
        """Where a service is in the list's order, to keep the cursor on it after a new sort
        (None: not found, or a list that does not follow its cursor)."""
        return None

    def _is_marked(self, service_id: int) -> bool:
        return False

    def on_key(self, event: events.Key) -> None:
        """A footer key that did nothing says why, at the bottom of the screen."""
        row = self.table.current_row() if self.is_mounted else None
        why = self.why_key_did_nothing(event.key, row.status if row is not None else None)
        if why:
            self.notify(why, severity="warning", timeout=4, markup=False)

    def why_key_did_nothing(self, key: str, status: str | None) -> str | None:
        """Why `key` did nothing on a row in `status` (None: it did something, or it is no key of this list)."""
        return None

    def _render_title(self) -> None:
        raise NotImplementedError

    def _status_marks(self, line: Text) -> None:
        """Add what the status line says about marks (this list has none)."""

    def _total_known(self, total: int) -> None:
        """The filter's row count arrived (the admin's marks count by it)."""

    def _render_status(self) -> None:
        table = self.table
        line = Text(no_wrap=True, overflow="ellipsis")
        total = self.total
        position = table.cursor + 1 if total else 0
        line.append(f" row {position:,} of {render.count(total)}", "")
        arrow = "▼" if self.sort.descending else "▲"
        line.append(f" · sort {self.sort.column} {arrow}", "dim")
        self._status_marks(line)
        if self.filter_text and not self.query_one("#filter", Input).display:
            line.append(" · filter: ", "dim")
            line.append(render.plain(self.filter_text), "italic")
        for run in getattr(self.app, "bulk_runs", ()):
            if run.running:
                line.append(" · bulk ", "dim")
                line.append(run.status_text(), render.BLUE)
        self.query_one("#statusline", Static).update(line)
        self._refresh_footer()

    def _refresh_footer(self) -> None:
        """Redraw the footer's keys when what they depend on changed (marks, the cursor row's status)."""
        row = self.table.current_row()
        state = (self._has_marks(), row.status if row is not None else None, bool(self.filter_text), self._filter_shown(), self.list_matches_filter())
        if state != self._footer_state:
            self._footer_state = state
            self.refresh_bindings()

    def _has_marks(self) -> bool:
        return False

    def list_matches_filter(self) -> bool:
        """Whether the rows on screen are the valid filter line's (not an invalid one's, not one still being applied)."""
        return self.filter_error is None and self.shown_text == self.filter_text and self._filter_timer is None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Changes are off in read-only mode; esc shows when there is something to clear."""
        if action in self.MUTATING and not self.console_app.can_act:
            return False
        if self.is_mounted and action == "clear":
            return bool(self._has_marks() or self.filter_text or self._filter_shown())
        return True

    def _filter_shown(self) -> bool:
        return self.query_one("#filter", Input).display

    # ------------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="list-settings")
    def _load_settings_then_list(self) -> None:
        app = self.console_app
        if app.tz_override is None:
            with app.db.read() as session:
                self.post_message(SettingsLoaded(self.read_time_zone(session)))
        self.app.call_from_thread(self.reload)

    @on(SettingsLoaded)
    def _settings_loaded(self, message: SettingsLoaded) -> None:
        self.console_app.tz = message.tz
        self.table.tz = message.tz
        self.table.refresh()

    def reload(self, *, keep_position: bool = False, follow: int | None = None) -> None:
        """Apply the filter line, the tab and the sort: a new window and new counts, in workers.
        Keeping the position means the rows changed (an action, a refresh): counts are read again.
        Following a service (a new sort) puts the cursor back on it wherever the new order has it."""
        self.generation += 1
        self._requested_text = self.filter_text
        if keep_position:
            self._counts_cache.clear()
        self.table.tz = self.console_app.tz
        around = self.table.cursor if keep_position else 0
        total = self.total if keep_position else None
        self._apply(self.generation, self.filter_text, self.tab, self.sort, around, total, max(self.table.visible_rows * 2, 50), follow)

    def _resort(self, sort: Sort) -> None:
        """Sort the list another way, the cursor staying on the service it was on."""
        row = self.table.current_row()
        self.sort = sort
        self.reload(follow=row.id if row is not None else None)

    @work(thread=True, exclusive=True, group="list-filter")
    def _apply(self, generation: int, text: str, tab: str, sort: Sort, around: int, total: int | None, rows: int, follow: int | None = None) -> None:
        """Parse, load the first page, count: each step skipped once a newer filter cancelled this one."""
        worker = get_current_worker()

        def cancelled() -> bool:
            return worker.is_cancelled

        app = self.console_app
        try:
            with app.db.read() as session:
                text_filter = self.parse_filter_text(session, text)
        except SvcError as error:
            self.post_message(FilterRejected(generation, error.message, self._empty_window(sort)))
            return
        if cancelled():
            return
        combined = with_tab(text_filter, tab)
        window = self.new_window()
        window_generation = window.configure(combined, sort)
        window.load(0, rows, generation=window_generation, cancelled=cancelled)
        cursor: int | None = None
        if follow is not None:
            with app.db.read() as session:
                cursor = self.position_of(session, combined, sort, follow)
            if cursor is not None:
                window.load_around(cursor, follow, generation=window_generation)
                window.load(max(cursor - rows, 0), cursor + rows, generation=window_generation, cancelled=cancelled)
        keep_position = total is not None
        if total is not None and window.total is None and not cancelled():
            window.set_total(total, window_generation)
            window.load(max(around - rows, 0), around + rows, generation=window_generation, cancelled=cancelled)
        if cancelled():
            return
        self.post_message(ListReloaded(generation, window, text_filter, sort, keep_position, cursor))
        by_status = self._cached_counts(text_filter)
        if by_status is None:
            with app.db.read() as session:
                by_status = self.count_by_status(session, text_filter)
            self._counts_cache[text_filter] = (time.monotonic(), by_status)
        if cancelled():
            return
        total_rows = total_from_counts(combined, by_status)
        self.post_message(CountsLoaded(generation, total_rows, by_status, tab_counts(text_filter, by_status)))
        if total_rows > DEEP_LIST_ROWS and window.set_total(total_rows, window_generation):
            window.prepare_seeks()

    def _empty_window(self, sort: Sort) -> ServiceWindow:
        """A window of no rows, shown while the filter line is invalid (never the last good list)."""
        window = self.new_window()
        window.set_total(0, window.configure(REJECTED_FILTER, sort))
        return window

    def _cached_counts(self, text_filter: ServiceFilter) -> dict[str, int] | None:
        """The per-status counts of `text_filter` computed in the last few seconds (a tab or sort
        change keeps the filter line, so its counts are not read again)."""
        cached = self._counts_cache.get(text_filter)
        if cached is None or time.monotonic() - cached[0] > COUNTS_KEPT_SECONDS:
            return None
        return cached[1]

    @on(ListReloaded)
    def _list_reloaded(self, message: ListReloaded) -> None:
        if message.generation != self.generation:
            return
        self.text_filter = message.service_filter
        self.current_filter = message.window.service_filter
        self.shown_text = self._requested_text
        self.filter_error = None
        error = self.query_one("#filter-error", Static)
        error.display = False
        if not message.keep_position:
            self.total = None
        self.table.use_window(message.window, keep_position=message.keep_position)
        if message.cursor is not None:
            self.table.move_cursor(message.cursor)
        self._render_status()

    @on(FilterRejected)
    def _filter_rejected(self, message: FilterRejected) -> None:
        if message.generation != self.generation:
            return
        self.filter_error = message.error
        self.shown_text = self._requested_text
        error = self.query_one("#filter-error", Static)
        error.update(Text(f" {render.plain(message.error)} · no rows until it is fixed (esc clears)", style=f"bold {render.RED}"))
        error.display = True
        self.text_filter = self.current_filter = REJECTED_FILTER
        self.total = 0
        self.by_status = {}
        self.table.use_window(message.window)
        self.query_one(StatusTabs).counts = {tab: 0 for tab in ("all", *LISTED)}
        self._render_status()

    @on(CountsLoaded)
    def _counts_loaded(self, message: CountsLoaded) -> None:
        if message.generation != self.generation:
            return
        self.total = message.total
        self.by_status = message.by_status
        window = self.table.window
        window.set_total(message.total, window.generation)
        self._total_known(message.total)
        self.table.total_changed()
        self.query_one(StatusTabs).counts = message.tabs
        self._render_status()

    @on(ServiceTable.CursorMoved)
    def _cursor_moved(self) -> None:
        self._render_status()

    # ------------------------------------------------------------------ filter, tabs, sort

    def action_focus_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()
        self._render_status()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        """A keystroke after a pause is applied at once; keystrokes that follow it within the
        debounce time are applied together once typing pauses."""
        self.filter_text = event.value
        now = time.monotonic()
        if self._filter_timer is None and now - self._last_filter_at >= FILTER_DEBOUNCE_SECONDS:
            self._last_filter_at = now
            self.reload()
            return
        self._stop_filter_timer()
        self._filter_timer = self.set_timer(FILTER_DEBOUNCE_SECONDS, self._filter_settled)

    def _stop_filter_timer(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None

    def _filter_settled(self) -> None:
        self._filter_timer = None
        self._last_filter_at = time.monotonic()
        self.reload()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.table.focus()
        if not self.filter_text:
            self.query_one("#filter", Input).display = False
        self._render_status()

    def _clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        with field.prevent(Input.Changed):
            field.value = ""
        field.display = False
        self.filter_text = ""
        self._stop_filter_timer()
        self.table.focus()
        self.reload()

    def action_clear(self) -> None:
        if self.filter_text or self.query_one("#filter", Input).display:
            self._clear_filter()

    def action_next_tab(self) -> None:
        self._choose_tab(self.query_one(StatusTabs).step(1))

    def action_previous_tab(self) -> None:
        self._choose_tab(self.query_one(StatusTabs).step(-1))

    @on(StatusTabs.Chosen)
    def _tab_clicked(self, message: StatusTabs.Chosen) -> None:
        self._choose_tab(message.status)

    def _choose_tab(self, tab: str) -> None:
        self.tab = tab
        self.query_one(StatusTabs).active = tab
        self.reload()

    def action_next_sort(self) -> None:
        index = SORT_ORDER.index(self.sort.column)
        self._resort(Sort(SORT_ORDER[(index + 1) % len(SORT_ORDER)], self.sort.descending))

    def action_reverse_sort(self) -> None:
        self._resort(Sort(self.sort.column, not self.sort.descending))

    @on(ServiceTable.HeaderClicked)
    def _header_clicked(self, message: ServiceTable.HeaderClicked) -> None:
        if message.column == self.sort.column:
            self._resort(Sort(self.sort.column, not self.sort.descending))
        else:
            self._resort(Sort(message.column))

    def action_reload(self) -> None:
        self.reload(keep_position=True)

    # ------------------------------------------------------------------ open

    def action_open_service(self) -> None:
        row = self.table.current_row()
        if row is not None:
            self.post_message(ServiceOpened(row.id))

    @on(ServiceTable.RowChosen)
    def _row_chosen(self) -> None:
        self.action_open_service()

    def on_screen_resume(self) -> None:
        if self.generation:
            self.reload(keep_position=True)
