"""Tables of records described by columns, and the paged variant with a "Load older" button.

The admin detail and the customer's detail show their renewals, options and history with
these; each screen gives its own columns (the customer's carry no staff fields), so the table
code, the paging and the worker that reads older pages exist once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import RenderableType
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable

from svcconsole.core.errors import SvcError
from svcconsole.core.i18n import Translate, untranslated


@dataclass(frozen=True)
class Column:
    """A column: its title, and the cell it shows for a record (in the viewer's time zone)."""

    title: str
    cell: Callable[[Any, ZoneInfo], RenderableType]


class RecordTable(DataTable[RenderableType]):
    """A DataTable whose rows are records drawn through `columns`; `show` replaces them all."""

    def __init__(
        self, columns: Sequence[Column], *, key: Callable[[Any], str] | None = None, id: str | None = None, translate: Translate = untranslated
    ) -> None:
        super().__init__(id=id, cursor_type="row")
        self.record_columns = tuple(columns)
        self.record_key = key
        self.translate = translate

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        if not self.columns:
            self.add_columns(*(self.translate(column.title) for column in self.record_columns))

    def show(self, records: Sequence[Any], tz: ZoneInfo) -> None:
        self._add_columns()
        self.clear()
        for record in records:
            key = self.record_key(record) if self.record_key else None
            self.add_row(*(column.cell(record, tz) for column in self.record_columns), key=key)


class PagedRecords(Vertical):
    """A RecordTable of the newest `page_size` records and a button that reads the next older page.

    `load_older(before_id)` runs in a thread worker and returns the page of records older than
    the record with that id (the records have an `id`); a short page means there is no more.
    """

    DEFAULT_CSS = """
    PagedRecords { height: 1fr; }
    PagedRecords > DataTable { height: 1fr; }
    """

    class LoadFailed(Message):
        """Reading an older page was refused; `error` is the one line to show."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(
        self,
        columns: Sequence[Column],
        load_older: Callable[[int], list[Any]],
        *,
        page_size: int,
        table_id: str,
        button_id: str,
        translate: Translate = untranslated,
    ) -> None:
        super().__init__()
        self.translate = translate
        self.record_columns = tuple(columns)
        self.load_older = load_older
        self.page_size = page_size
        self.table_id = table_id
        self.button_id = button_id
        self.records: list[Any] = []
        self.tz = ZoneInfo("UTC")

    def compose(self) -> ComposeResult:
        yield RecordTable(self.record_columns, id=self.table_id, translate=self.translate)
        yield Horizontal(Button(self.translate("Load older"), id=self.button_id), classes="pane-buttons")

    @property
    def table(self) -> RecordTable:
        return self.query_one(RecordTable)

    def show(self, records: Sequence[Any], tz: ZoneInfo) -> None:
        """Show the newest page again (older pages read before are dropped)."""
        self.records = list(records)
        self.tz = tz
        self._show_rows()

    def _show_rows(self) -> None:
        self.table.show(self.records, self.tz)
        self.query_one(f"#{self.button_id}", Button).disabled = not self.records or len(self.records) % self.page_size != 0

    @on(Button.Pressed)
    def _older_wanted(self, event: Button.Pressed) -> None:
        event.stop()
        if self.records:
            self._read_older(self.records[-1].id)

    @work(thread=True, exclusive=True, group="paged-records")
    def _read_older(self, before_id: int) -> None:
        try:
            older = self.load_older(before_id)
        except SvcError as error:
            self.post_message(self.LoadFailed(error.message))
            return
        self.app.call_from_thread(self._append, older)

    def _append(self, older: list[Any]) -> None:
        self.records.extend(older)
        self._show_rows()


__all__ = ["Column", "PagedRecords", "RecordTable"]
