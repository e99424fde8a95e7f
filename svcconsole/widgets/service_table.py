"""The service list as a virtual table: it draws only the rows in view, from a `ServiceWindow`.

Rows come from the window's page cache; rows not loaded yet draw as placeholders and a thread
worker loads their pages (exclusive, so a fast scroll keeps only the newest request). The
table knows the total count, so the scrollbar spans the whole store, and a drag to row 500,000
is one seek in the window, never a scan of the rows before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable
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

from svcconsole.console import render
from svcconsole.console.actions import bindings
from svcconsole.console.messages import RowsLoaded
from svcconsole.store.window import ServiceWindow


@dataclass(frozen=True)
class ListColumn:
    """A column: its sort key, header, minimum width, share of spare width, and drop priority."""

    key: str
    title: str
    width: int
    flex: int = 0
    priority: int = 0
    right: bool = False


COLUMNS: tuple[ListColumn, ...] = (
    ListColumn("id", "id", 7, 0, 0, right=True),
    ListColumn("customer", "customer", 10, 2, 3),
    ListColumn("name", "name", 10, 3, 1),
    ListColumn("product", "product", 10, 2, 6),
    ListColumn("server", "server", 8, 1, 8),
    ListColumn("status", "status", 17, 1, 2),
    ListColumn("cycle", "cycle", 9, 0, 7),
    ListColumn("price", "price", 8, 0, 4, right=True),
    ListColumn("expires", "expires", 10, 0, 5),
)
MARK_WIDTH = 2


def fit_columns(width: int) -> list[tuple[ListColumn, int]]:
    """The columns that fit in `width` cells (dropping the least important), with their widths."""
    available = max(width - MARK_WIDTH, 10)
    chosen = list(COLUMNS)

    def needed(columns: list[ListColumn]) -> int:
        return sum(column.width for column in columns) + len(columns) - 1

    while len(chosen) > 1 and needed(chosen) > available:
        chosen.remove(max(chosen, key=lambda column: column.priority))
    spare = max(available - needed(chosen), 0)
    flex_total = sum(column.flex for column in chosen) or 1
    widths = {column.key: column.width + spare * column.flex // flex_total for column in chosen}
    leftover = available - needed(chosen) - sum(widths[c.key] - c.width for c in chosen)
    if leftover > 0:
        flexible = [column for column in chosen if column.flex] or chosen
        widths[flexible[0].key] += leftover
    return [(column, widths[column.key]) for column in chosen]


def cell(row: Any, key: str, tz: ZoneInfo) -> Text:
    if key == "id":
        return render.text(row.id)
    if key == "customer":
        return render.text(row.customer_name)
    if key == "name":
        return render.text(row.name, "bold")
    if key == "product":
        return render.text(row.product_name or "(custom)", "" if row.product_name else "dim")
    if key == "server":
        return render.text(row.server_name or "-")
    if key == "status":
        return render.status_text(row.status, row.suspend_kind, row.operation)
    if key == "cycle":
        return render.text(row.billing_cycle)
    if key == "price":
        return render.text(render.money(row.price))
    if key == "expires":
        return render.text(render.day(row.expires_at, tz))
    raise KeyError(key)


class ServiceTable(ScrollView, can_focus=True):
    """A scrollable table over a `ServiceWindow`, with a cursor and marks."""

    BINDINGS = bindings("table")
    COMPONENT_CLASSES = {
        "service-table--header",
        "service-table--cursor",
        "service-table--marked",
        "service-table--placeholder",
        "service-table--sorted",
    }
    DEFAULT_CSS = f"""
    ServiceTable {{ height: 1fr; scrollbar-size-vertical: 1; overflow-x: hidden; }}
    ServiceTable > .service-table--header {{ text-style: bold; background: $panel; }}
    ServiceTable > .service-table--sorted {{ text-style: bold underline; background: $panel; }}
    ServiceTable > .service-table--cursor {{ background: {render.ROW_BACKGROUNDS["cursor-unfocused"]}; }}
    ServiceTable:focus > .service-table--cursor {{ background: {render.ROW_BACKGROUNDS["cursor"]}; }}
    ServiceTable > .service-table--marked {{ background: {render.ROW_BACKGROUNDS["marked"]}; }}
    ServiceTable > .service-table--placeholder {{ color: $text-muted; }}
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

    def __init__(self, window: ServiceWindow, *, is_marked: Callable[[int], bool] | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.window = window
        self.is_marked = is_marked or (lambda service_id: False)
        self.tz = ZoneInfo("UTC")
        self.sort_column = "id"
        self.sort_descending = False

    # ------------------------------------------------------------------ data

    def use_window(self, window: ServiceWindow, *, keep_position: bool = False) -> None:
        """Show another window (a new filter or sort), from the top unless asked to stay."""
        self.window = window
        self.sort_column = window.sort.column
        self.sort_descending = window.sort.descending
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

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            x = event.x - MARK_WIDTH
            for column, width in fit_columns(self.scrollable_content_region.width):
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
        columns = fit_columns(width)
        if y == 0:
            return self._header(columns, width)
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
            content = cell(row, column.key, self.tz)
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

    def _header(self, columns: list[tuple[Any, int]], width: int) -> Strip:
        header_style = self.get_component_rich_style("service-table--header")
        sorted_style = self.get_component_rich_style("service-table--sorted")
        line = Text("  ", no_wrap=True, end="")
        for index, (column, column_width) in enumerate(columns):
            if index:
                line.append(" ")
            title = column.title
            style = header_style
            if column.key == self.sort_column:
                title += " ▼" if self.sort_descending else " ▲"
                style = sorted_style
            title = title[:column_width]
            line.append(title.rjust(column_width) if column.right else title.ljust(column_width), style)
        return self._strip(line, width, self.rich_style + header_style)

    def _strip(self, line: Text, width: int, style: Style) -> Strip:
        segments = list(line.render(self.app.console))
        strip = Strip(Segment.apply_style(segments, style), line.cell_len)
        return strip.adjust_cell_length(width, style).crop(0, width)
