"""The service list: status tabs, the `/` filter, the virtual table, marks and actions.

`ServiceListScreen` is the list itself (filter, tabs, sort, paging, open) with its data access
left to subclasses; `ServicesScreen` is the admin's, over the whole store, with marks and the
actions. The customer area's list is another `ServiceListScreen`, so no admin path (the
unscoped counts, resolving marks, the action and edit dialogs) exists on it at all.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import get_current_worker

from svcconsole.console.actions import applies, bindings, mutating_actions
from svcconsole.console.host import ConsoleHost
from svcconsole.console.messages import (
    ActionRequested,
    BulkMenuRequested,
    CountsLoaded,
    CustomerOpened,
    EditRequested,
    FilterRejected,
    ListReloaded,
    MenuCounted,
    NewServiceRequested,
    ReadOnlyRefused,
    SelectionResolved,
    ServiceOpened,
    SettingsLoaded,
)
from svcconsole.console.selection import Marks, resolve, status_counts
from svcconsole.console.why import why_not
from svcconsole.core import filters, lookups
from svcconsole.core.bulk import Matching
from svcconsole.core.errors import SvcError
from svcconsole.core.statuses import LISTED_STATUSES
from svcconsole.store import queries
from svcconsole.store.queries import SORT_COLUMNS, ServiceFilter, Sort
from svcconsole.store.window import ServiceWindow
from svcconsole.widgets import render
from svcconsole.widgets.footer import ContextFooter
from svcconsole.widgets.inputs import InertInput as Input
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


def marked_label(count: int) -> str:
    return f"{count:,} marked service{'s' if count != 1 else ''}"


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
    def console_app(self) -> ConsoleHost:
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
        why = why_not(self, "services", event.key, row.status if row is not None else None)
        if why:
            self.notify(why, severity="warning", timeout=4, markup=False)

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


SELECTION_ACTIONS = frozenset({"toggle_mark", "mark_all", "service_action", "bulk_menu", "edit_service"})
"""The keys that mark rows or act on them: off while the list is not the filter line's."""


class ServicesScreen(ServiceListScreen):
    """The admin's list over the whole store, with marks and the actions on them."""

    BINDINGS = bindings("services")
    SCOPE = "services"
    MUTATING = mutating_actions(["services"])
    FILTER_PLACEHOLDER = "filter: text status:active product:NAME server: customer: cycle: expires<7d"

    def __init__(self) -> None:
        super().__init__()
        self.marks = Marks()

    def new_window(self) -> ServiceWindow:
        app = self.console_app
        return ServiceWindow(app.db, page_size=app.page_size)

    def parse_filter_text(self, session: Any, text: str) -> ServiceFilter:
        return filters.parse_filter(session, text, tz_name=self.console_app.tz.key)

    def count_by_status(self, session: Any, service_filter: ServiceFilter) -> dict[str, int]:
        return queries.counts_by_status(session, service_filter)

    def position_of(self, session: Any, service_filter: ServiceFilter, sort: Sort, service_id: int) -> int | None:
        return queries.position_of(session, service_filter, sort, service_id)

    def read_time_zone(self, session: Any) -> ZoneInfo:
        return lookups.timezone_of(session)

    def _is_marked(self, service_id: int) -> bool:
        return self.marks.is_marked(service_id, self.current_filter)

    def _has_marks(self) -> bool:
        return bool(self.marks)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """With no marks, a service action shows only when the row under the cursor is in a
        status it can start from; marking and actions are off while the filter line is invalid."""
        if self.is_mounted and action in SELECTION_ACTIONS and self.console_app.can_act and not self.list_matches_filter():
            return False
        if self.is_mounted and self.console_app.can_act and action == "service_action" and parameters and not self.marks:
            row = self.table.current_row()
            return row is not None and applies(str(parameters[0]), row.status)
        return super().check_action(action, parameters)

    def _render_title(self) -> None:
        app = self.console_app
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(" svcconsole ", "bold reverse")
        line.append(" services ", "bold")
        line.append(render.plain(app.actor.name), "cyan")
        line.append(f" ({app.actor.role.label})", "dim")
        line.append(f"  {render.plain(app.database_label)}", "dim")
        if app.read_only:
            line.append("  READ-ONLY: actions are off", "bold red")
        problems = app.health_problems
        if problems:
            line.append(f"  ! health: {problems} problem{'s' if problems != 1 else ''} (H)", "bold red")
        self.query_one("#title", Static).update(line)

    def _status_marks(self, line: Text) -> None:
        if not self.marks:
            return
        line.append(" · ", "dim")
        if self.filter_error is not None:
            line.append(f"{self.marks.count:,} marked under another filter (actions off)", "yellow")
            return
        if self.marks.all_filter is not None:
            line.append(f"{self.marks.count:,} marked (all matching)", "bold yellow")
            if self.marks.all_filter != self.current_filter:
                line.append(" by an earlier filter", "yellow")
        else:
            line.append(f"{self.marks.count:,} marked", "bold yellow")

    def _total_known(self, total: int) -> None:
        self.marks.set_all_count(self.current_filter, total)

    def action_clear(self) -> None:
        """Clear the marks, unless the filter is being typed in; else the filter."""
        if self.marks and not self.query_one("#filter", Input).has_focus:
            self.marks.clear()
            self.table.refresh()
            self._render_status()
            self.notify("marks cleared", timeout=2)
            return
        super().action_clear()

    # ------------------------------------------------------------------ marks

    def refuse_unsettled_filter(self) -> bool:
        """Say why marking and actions are off while the filter is invalid or still applied; True when they are."""
        if self.list_matches_filter():
            return False
        if self.filter_error is not None:
            self.notify(f"the filter is invalid ({render.plain(self.filter_error)}): fix or clear it (esc) first", severity="warning", markup=False)
        else:
            self.notify("the filter is still being applied; try again in a moment", severity="warning")
        return True

    def action_toggle_mark(self) -> None:
        if self.refuse_unsettled_filter():
            return
        row = self.table.current_row()
        if row is None:
            return
        if self.marks.all_filter is not None and self.marks.all_filter != self.current_filter:
            self.notify("a mark-all made under another filter is active: esc clears it first", severity="warning")
            return
        self.marks.toggle(row.id, self.current_filter)
        self.table.action_cursor_down()
        self.table.refresh()
        self._render_status()

    def action_mark_all(self) -> None:
        if self.refuse_unsettled_filter():
            return
        if self.total is None:
            self.notify("still counting; try again in a moment", severity="warning")
            return
        self.marks.mark_all(self.current_filter, self.total)
        self.table.refresh()
        self._render_status()
        self.notify(f"{self.marks.count:,} services marked (every row matching the filter)", timeout=3)

    # ------------------------------------------------------------------ edit, new

    def action_edit_service(self) -> None:
        if self.refuse_unsettled_filter():
            return
        row = self.table.current_row()
        if row is not None:
            self.post_message(EditRequested(row.id))

    def action_open_customer(self) -> None:
        row = self.table.current_row()
        if row is not None:
            self.post_message(CustomerOpened(row.customer_id))

    def action_new_service(self) -> None:
        self.post_message(NewServiceRequested())

    # ------------------------------------------------------------------ actions

    def action_service_action(self, name: str) -> None:
        if not self.console_app.can_act:
            self.post_message(ReadOnlyRefused())
            return
        if self.refuse_unsettled_filter():
            return
        row = self.table.current_row()
        if not self.marks and row is None:
            self.notify("no service under the cursor", severity="warning")
            return
        if self.marks.all_filter is not None and self.marks.all_filter == self.current_filter:
            count = self.marks.count
            matching = Matching(self.current_filter, frozenset(self.marks.excluded))
            self.post_message(SelectionResolved(name, None, count, 0, True, marked_label(count), matching))
            return
        self._resolve_selection(name, row.id if row is not None else None, render.plain(row.name) if row is not None else "")

    @work(thread=True, exclusive=True, group="list-selection")
    def _resolve_selection(self, name: str, cursor_id: int | None, cursor_name: str) -> None:
        with self.console_app.db.read() as session:
            resolved = resolve(session, self.marks, self.current_filter, cursor_id)
        if resolved.marked:
            label = marked_label(resolved.count)
        else:
            label = f"service {cursor_id} {cursor_name!r}" if cursor_name else f"service {cursor_id}"
        self.post_message(SelectionResolved(name, resolved.ids, resolved.count, resolved.hidden, resolved.marked, label, resolved.matching))

    @on(SelectionResolved)
    def _selection_resolved(self, message: SelectionResolved) -> None:
        if message.count == 0:
            self.notify("nothing to act on", severity="warning")
            return
        self.post_message(ActionRequested(message, on_done=self._after_action))

    def action_bulk_menu(self) -> None:
        if not self.console_app.can_act:
            self.post_message(ReadOnlyRefused())
            return
        if self.refuse_unsettled_filter():
            return
        row = self.table.current_row()
        if not self.marks and row is None:
            self.notify("no service under the cursor", severity="warning")
            return
        if self.marks:
            label = marked_label(self.marks.count)
        else:
            assert row is not None
            label = f"service {row.id} {render.plain(row.name)!r}" if row.name else f"service {row.id}"
        self._count_menu(label, row.id if row is not None else None)

    @work(thread=True, exclusive=True, group="list-menu")
    def _count_menu(self, label: str, cursor_id: int | None) -> None:
        with self.console_app.db.read() as session:
            counts = status_counts(session, self.marks, cursor_id)
        self.post_message(MenuCounted(label, counts))

    @on(MenuCounted)
    def _menu_counted(self, message: MenuCounted) -> None:
        self.post_message(BulkMenuRequested(self.action_service_action, message.label, message.counts))

    def _after_action(self, clear_marks: bool) -> None:
        if clear_marks:
            self.marks.clear()
        self.reload(keep_position=True)
