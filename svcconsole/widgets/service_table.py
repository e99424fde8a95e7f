"""The service list as a virtual table: it draws only the rows in view, from a `ServiceWindow`.

Rows come from the window's page cache; rows not loaded yet draw as placeholders and a thread
worker loads their pages (exclusive, so a fast scroll keeps only the newest request). The
table knows the total count, so the scrollbar spans the whole store, and a drag to row 500,000
is one seek in the window, never a scan of the rows before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on, work
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

from svcconsole.core import clock, i18n
from svcconsole.core.i18n import N_, Translate, untranslated
from svcconsole.store.window import ServiceWindow
from svcconsole.widgets import render
from svcconsole.widgets.keys import ConsoleAction


@dataclass(frozen=True)
class ListColumn:
    """A column: its sort key, header, minimum width, share of spare width, and alignment."""

    key: str
    title: str
    width: int
    flex: int = 0
    right: bool = False


STATUS_WIDTH = len("suspended (temporary)")

COLUMNS: tuple[ListColumn, ...] = (
    ListColumn("id", N_("id"), 7, right=True),
    ListColumn("customer", N_("customer"), 11, 2),
    ListColumn("name", N_("name"), 12, 3),
    ListColumn("domain", N_("domain"), 14, 2),
    ListColumn("product", N_("product"), 10, 2),
    ListColumn("server", N_("server"), 8, 1),
    ListColumn("status", N_("status"), STATUS_WIDTH),
    ListColumn("cycle", N_("cycle"), len("semiannually")),
    ListColumn("price", N_("price"), 10, right=True),
    ListColumn("expires", N_("expires"), 10),
)
"""The list's columns in SPEC order; `id` stays pinned at the left while the others scroll."""
MARK_WIDTH = 2
MORE_WIDTH = 1
"""A cell kept at the right of the header for › (more columns that way)."""


@dataclass(frozen=True)
class ColumnLayout:
    """The columns in view with their widths, and whether columns are hidden on either side."""

    columns: list[tuple[ListColumn, int]]
    first: int
    hidden_left: bool
    hidden_right: bool


COLUMNS_BY_KEY = {column.key: column for column in COLUMNS}


def chosen_columns(keys: tuple[str, ...] | list[str]) -> tuple[ListColumn, ...]:
    """The list's columns named by `keys` (a view's or config.toml's `columns`), id first; all of them when empty."""
    if not keys:
        return COLUMNS
    return (COLUMNS[0], *(COLUMNS_BY_KEY[key] for key in keys if key != "id" and key in COLUMNS_BY_KEY))


def last_first_column(width: int, columns: tuple[ListColumn, ...] = COLUMNS) -> int:
    """The first scrolled column that shows the last column at `width` (scrolling stops there)."""
    available = max(width - MARK_WIDTH - MORE_WIDTH, 10) - columns[0].width
    used, first = 0, len(columns)
    while first > 1 and used + columns[first - 1].width + 1 <= available:
        first -= 1
        used += columns[first].width + 1
    return max(min(first, len(columns) - 1), 1)


DROPPED_FIRST = ("domain", "cycle", "price", "server")
"""When the list is not scrolled and every column does not fit, these go first (in this order),
so a narrow terminal keeps the expiry in view; the domain yields first."""


def fit_columns(width: int, first: int = 1, columns: tuple[ListColumn, ...] = COLUMNS) -> ColumnLayout:
    """The pinned id column and the columns from `first` that fit in `width` cells, widened to fill
    it: the spare cells go to the flexible columns (name and customer most), never to the status."""
    first = min(max(first, 1), last_first_column(width, columns))
    available = max(width - MARK_WIDTH - MORE_WIDTH, 10)
    candidates = list(columns[first:])
    if first == 1:
        for key in DROPPED_FIRST:
            if columns[0].width + sum(1 + column.width for column in candidates) <= available:
                break
            candidates = [column for column in candidates if column.key != key]
    chosen = [columns[0]]
    used = columns[0].width
    for column in candidates:
        if used + 1 + column.width > available and len(chosen) > 1:
            break
        chosen.append(column)
        used += 1 + column.width
    spare = max(available - used, 0)
    flex_total = sum(column.flex for column in chosen) or 1
    widths = {column.key: column.width + spare * column.flex // flex_total for column in chosen}
    leftover = available - used - sum(widths[column.key] - column.width for column in chosen)
    if leftover > 0:
        flexible = [column for column in chosen if column.flex] or chosen
        widths[flexible[0].key] += leftover
    hidden_right = len(chosen) - 1 < len(columns) - first
    return ColumnLayout([(column, widths[column.key]) for column in chosen], first, first > 1, hidden_right)


def cell(row: Any, key: str, tz: ZoneInfo, translate: Translate | None = None, locale: str | None = None) -> Text:
    """The cell of `row` in column `key`; with a `locale` (the customer area), in that language."""
    if key == "id":
        return render.text(row.id)
    if key == "customer":
        return render.text(row.customer_name)
    if key == "name":
        return render.text(row.name, "bold")
    if key == "domain":
        domain = getattr(row, "domain", None)
        return render.text(domain or "-", "" if domain else "dim")
    if key == "product":
        tr = translate or untranslated
        return render.text(row.product_name or tr("(custom)"), "" if row.product_name else "dim")
    if key == "server":
        return render.text(row.server_name or "-")
    if key == "status":
        status = render.short_status_text(row.status, row.suspend_kind, row.operation, getattr(row, "placement_note", None), translate=translate)
        if getattr(row, "approval", None) and row.status == "pending":
            status.append(" (approval)", render.AWAITING_STYLE)
        renews = bool(getattr(row, "auto_renew", False)) and row.status in render.RENEWING_STATUSES
        return render.with_markers(status, auto_renew=renews, special_price=bool(getattr(row, "special_price", False)), width=STATUS_WIDTH)
    if key == "cycle":
        return render.text(i18n.cycle_name(row.billing_cycle, translate) if translate else row.billing_cycle)
    if key == "price":
        return render.text(i18n.format_money(row.price, None, locale) if locale else render.money(row.price))
    if key == "expires":
        expires = i18n.format_day(row.expires_at, tz, locale) if locale else render.day(row.expires_at, tz)
        return render.text(expires, render.PAST_DUE_STYLE if is_past_due(row) else "")
    raise KeyError(key)


TABLE_ACTIONS: tuple[ConsoleAction, ...] = (
    ConsoleAction("table", "up,k", "cursor_up", "Up", "Move the cursor up a row.", key_display="↑/k", palette=False),
    ConsoleAction("table", "down,j", "cursor_down", "Down", "Move the cursor down a row.", key_display="↓/j", palette=False),
    ConsoleAction("table", "pageup,ctrl+b", "page_up", "Page up", "Move up a screenful.", key_display="pgup", palette=False),
    ConsoleAction("table", "pagedown,ctrl+f", "page_down", "Page down", "Move down a screenful.", key_display="pgdn", palette=False),
    ConsoleAction(
        "table",
        "left",
        "scroll_columns(-1)",
        "Columns",
        "Show the columns to the left (id stays in view; ‹ in the header: more that way).",
        key_display="←",
        palette=False,
        name="columns-left",
    ),
    ConsoleAction(
        "table",
        "right",
        "scroll_columns(1)",
        "Columns",
        "Show the columns to the right (id stays in view; › in the header: more that way).",
        key_display="→",
        palette=False,
        name="columns-right",
    ),
    ConsoleAction("table", "home,g", "first_row", "First row", "Go to the first row.", key_display="home/g"),
    ConsoleAction("table", "end,G", "last_row", "Last row", "Go to the last row (a deep jump on a large store).", key_display="end/G"),
)
"""The list's moving keys (scope "table"), in both areas' registries, help and footer."""


@dataclass
class RowsLoaded(Message):
    """Pages of the window were loaded for the viewport."""

    window_generation: int


LIVE_STATUSES = frozenset({"active", "suspended"})


def is_past_due(row: Any) -> bool:
    """A live service whose expiry has passed (it should have been renewed or expired)."""
    return row.status in LIVE_STATUSES and row.expires_at is not None and row.expires_at < clock.now()


class ServiceTable(ScrollView, can_focus=True):
    """A scrollable table over a `ServiceWindow`, with a cursor and marks."""

    BINDINGS = [entry.binding() for entry in TABLE_ACTIONS if entry.bound]
    COMPONENT_CLASSES = {
        "service-table--header",
        "service-table--cursor",
        "service-table--marked",
        "service-table--placeholder",
        "service-table--sorted",
    }
    DEFAULT_CSS = """
    ServiceTable { height: 1fr; scrollbar-size-vertical: 1; overflow-x: hidden; overflow-y: scroll; }
    ServiceTable > .service-table--header { text-style: bold; background: $panel; }
    ServiceTable > .service-table--sorted { text-style: bold underline; background: $panel; }
    ServiceTable > .service-table--cursor { background: $row-cursor-unfocused; }
    ServiceTable:focus > .service-table--cursor { background: $row-cursor; }
    ServiceTable > .service-table--marked { background: $row-marked; }
    ServiceTable > .service-table--placeholder { color: $text-muted; }
    """

    cursor = reactive(0, always_update=True, repaint=False)

    @dataclass
    class CursorMoved(Message):
        """The cursor moved to another row."""

        position: int

    @dataclass
    class HeaderClicked(Message):
        """A column header was clicked (sort by it)."""

        column: str

    @dataclass
    class RowChosen(Message):
        """A row was chosen (enter or double click)."""

        position: int

    def __init__(
        self,
        window: ServiceWindow,
        *,
        is_marked: Callable[[int], bool] | None = None,
        id: str | None = None,
        translate: Translate | None = None,
        locale: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.translate = translate
        self.locale = locale
        self.window = window
        self.is_marked = is_marked or (lambda service_id: False)
        self.tz = ZoneInfo("UTC")
        self.sort_column = "id"
        self.sort_descending = False
        self.first_column = 1
        self.columns = COLUMNS
        """The columns this list shows, in order (a view's, config.toml's, else every one)."""

    def use_columns(self, columns: tuple[ListColumn, ...]) -> None:
        """Show these columns (id always first), from the left."""
        self.columns = columns
        self.first_column = 1
        self.refresh()
        self.refresh_bindings()

    # ------------------------------------------------------------------ data

    def use_window(self, window: ServiceWindow, *, keep_position: bool = False) -> None:
        """Show another window (a new filter or sort), from the top unless asked to stay."""
        self.window = window
        self.sort_column = window.sort.column
        self.sort_descending = window.sort.descending
        self.reveal_column(self.sort_column)
        self._update_virtual_size()
        if not keep_position:
            self.cursor = 0
            self.scroll_to(y=0, animate=False, immediate=True)
        else:
            self.cursor = min(self.cursor, max(self.row_count - 1, 0))
        self.refresh()
        self.request_rows()

    @property
    def row_count(self) -> int:
        if self.window.total is not None:
            return self.window.total
        pages = self.window.pages_in_memory
        return (pages[-1] + 1) * self.window.page_size if pages else 0

    @property
    def visible_rows(self) -> int:
        return max(self.size.height - 1, 1)

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self.size.width, self.row_count + 1)

    def total_changed(self) -> None:
        """The window learnt its total: resize the scroll range."""
        self._update_virtual_size()
        if self.cursor >= self.row_count:
            self.cursor = max(self.row_count - 1, 0)
        self.refresh()
        self.request_rows()

    def current_row(self) -> Any | None:
        return self.window.row(self.cursor)

    def request_rows(self) -> None:
        """Load the pages the viewport (and a margin around it) needs, off the UI thread."""
        top = int(self.scroll_offset.y)
        start = max(top - self.visible_rows, 0)
        stop = top + 2 * self.visible_rows + 1
        if self.window.missing_pages(start, stop):
            self._load_rows(self.window, start, stop)

    @work(thread=True, exclusive=True, group="table-rows")
    def _load_rows(self, window: ServiceWindow, start: int, stop: int) -> None:
        worker = get_current_worker()
        generation = window.generation
        if window.load(start, stop, generation=generation, cancelled=lambda: worker.is_cancelled):
            self.post_message(RowsLoaded(generation))

    @on(RowsLoaded)
    def _rows_loaded(self, message: RowsLoaded) -> None:
        message.stop()
        if message.window_generation != self.window.generation:
            return
        self._update_virtual_size()
        self.refresh()
        self.post_message(self.CursorMoved(self.cursor))

    # ------------------------------------------------------------------ cursor

    def watch_cursor(self, old: int, new: int) -> None:
        top = int(self.scroll_offset.y)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + self.visible_rows:
            self.scroll_to(y=new - self.visible_rows + 1, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.CursorMoved(new))

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self.request_rows()

    def on_resize(self, event: events.Resize) -> None:
        self._update_virtual_size()
        self.request_rows()
        self.refresh_bindings()

    def move_cursor(self, position: int) -> None:
        last = max(self.row_count - 1, 0)
        self.cursor = min(max(position, 0), last)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor - self.visible_rows)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor + self.visible_rows)

    def action_first_row(self) -> None:
        self.move_cursor(0)

    def action_last_row(self) -> None:
        self.move_cursor(self.row_count - 1)

    # ------------------------------------------------------------------ columns

    @property
    def column_layout(self) -> ColumnLayout:
        """The columns in view (the vertical scrollbar always shows, so its width never changes them)."""
        return fit_columns(self.scrollable_content_region.width, self.first_column, self.columns)

    def action_scroll_columns(self, delta: int) -> None:
        """Show the columns to the left or right (id stays)."""
        width = self.scrollable_content_region.width
        self.first_column = min(max(self.column_layout.first + delta, 1), last_first_column(width, self.columns))
        self.refresh()
        self.refresh_bindings()

    def reveal_column(self, key: str) -> None:
        """Scroll the columns so `key` (the sort column, say) is in view."""
        width = self.scrollable_content_region.width
        if not width or self._shows(key):
            return
        index = next((position for position, column in enumerate(self.columns) if column.key == key), None)
        if index is None:
            return
        if index < self.column_layout.first:
            self.first_column = index
        while not self._shows(key) and self.first_column < last_first_column(width, self.columns):
            self.first_column += 1
        self.refresh_bindings()

    def _shows(self, key: str) -> bool:
        return any(column.key == key for column, _ in self.column_layout.columns)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The column keys show only when there are columns out of view that way."""
        if action == "scroll_columns" and parameters:
            layout = self.column_layout
            return layout.hidden_left if int(str(parameters[0])) < 0 else layout.hidden_right
        return True

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            x = event.x - MARK_WIDTH
            for column, width in self.column_layout.columns:
                if 0 <= x < width:
                    self.post_message(self.HeaderClicked(column.key))
                    return
                x -= width + 1
            return
        position = int(self.scroll_offset.y) + event.y - 1
        if position < self.row_count:
            self.cursor = position
            if event.chain >= 2:
                self.post_message(self.RowChosen(position))

    # ------------------------------------------------------------------ drawing

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        layout = self.column_layout
        columns = layout.columns
        if y == 0:
            return self._header(layout, width)
        position = int(self.scroll_offset.y) + y - 1
        if position >= self.row_count:
            return Strip.blank(width, self.rich_style)
        row = self.window.row(position)
        if row is None:
            style = self.get_component_rich_style("service-table--placeholder")
            line = Text("  " + "·" * min(width - 4, 3), style=style)
            return self._strip(line, width, self._row_style(position, False))
        marked = self.is_marked(row.id)
        line = Text(no_wrap=True, end="")
        line.append("● " if marked else "  ", f"bold {render.ORANGE}" if marked else "")
        for index, (column, column_width) in enumerate(columns):
            if index:
                line.append(" ")
            content = cell(row, column.key, self.tz, self.translate, self.locale)
            content.truncate(column_width, overflow="ellipsis", pad=False)
            padding = " " * (column_width - content.cell_len)
            if column.right:
                line.append(padding)
                line.append_text(content)
            else:
                line.append_text(content)
                line.append(padding)
        return self._strip(line, width, self._row_style(position, marked))

    def _row_style(self, position: int, marked: bool) -> Style:
        base = self.rich_style
        if position == self.cursor:
            return base + self.get_component_rich_style("service-table--cursor")
        if marked:
            return base + self.get_component_rich_style("service-table--marked")
        return base

    def _header(self, layout: ColumnLayout, width: int) -> Strip:
        """Column titles, the sort arrow, and ‹ › where columns are scrolled out of view."""
        header_style = self.get_component_rich_style("service-table--header")
        sorted_style = self.get_component_rich_style("service-table--sorted")
        line = Text("  ", no_wrap=True, end="")
        for index, (column, column_width) in enumerate(layout.columns):
            if index:
                line.append("‹" if index == 1 and layout.hidden_left else " ", header_style)
            title = self.translate(column.title) if self.translate else column.title
            style = header_style
            if column.key == self.sort_column:
                title += " ▼" if self.sort_descending else " ▲"
                style = sorted_style
            title = title[:column_width]
            line.append(title.rjust(column_width) if column.right else title.ljust(column_width), style)
        if layout.hidden_right:
            line.append("›", header_style)
        return self._strip(line, width, self.rich_style + header_style)

    def _strip(self, line: Text, width: int, style: Style) -> Strip:
        segments = list(line.render(self.app.console))
        strip = Strip(Segment.apply_style(segments, style), line.cell_len)
        return strip.adjust_cell_length(width, style).crop(0, width)
