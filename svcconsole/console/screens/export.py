"""Export (ctrl+e on the list): every row of the list as it is filtered and sorted, to a CSV or
JSON file the admin types, written page by page from the database with a progress bar."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, ProgressBar, Static
from textual.worker import get_current_worker

from svcconsole.console.actions import bindings
from svcconsole.console.host import ConsoleHost
from svcconsole.core import export
from svcconsole.core.errors import SvcError
from svcconsole.store.queries import ServiceFilter, Sort
from svcconsole.widgets import render


@dataclass
class ExportProgressed(Message):
    written: int


@dataclass
class ExportEnded(Message):
    written: int
    path: Path | None
    error: str | None = None


class ExportScreen(ModalScreen[None]):
    """Asks for the file (its ending chooses CSV or JSON), then writes it with a progress bar."""

    BINDINGS = bindings("export")

    def __init__(self, service_filter: ServiceFilter, sort: Sort, total: int, label: str, default_path: str) -> None:
        super().__init__(classes="dialog-screen")
        self.service_filter = service_filter
        self.sort = sort
        self.total = total
        self.label = label
        self.default_path = default_path
        self.running = False

    @property
    def console_app(self) -> ConsoleHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in its own app

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="export"):
            yield Static(Text(f"Export {self.total:,} services ({render.plain(self.label)})", style="bold"))
            yield Static(Text("every matching row, in the list's order; the file's ending (.csv or .json) chooses the format", style="dim"))
            yield Input(value=self.default_path, id="export-path")
            yield Static(id="dialog-error")
            yield ProgressBar(total=max(self.total, 1), show_eta=False, id="export-progress")
            yield Static(Text("enter writes it · esc closes (and stops an export under way)", style="dim"), id="export-status")

    def on_mount(self) -> None:
        self.query_one("#dialog-error", Static).display = False
        self.query_one("#export-progress", ProgressBar).display = False
        field = self.query_one("#export-path", Input)
        field.cursor_blink = False
        field.focus()

    def _say_error(self, text: str) -> None:
        error = self.query_one("#dialog-error", Static)
        error.update(Text(render.plain(text), style=f"bold {render.RED}"))
        error.display = True

    @on(Input.Submitted, "#export-path")
    def _start(self, event: Input.Submitted) -> None:
        if self.running:
            return
        try:
            path, fmt = export.export_path(event.value)
        except SvcError as error:
            self._say_error(error.message)
            return
        self.query_one("#dialog-error", Static).display = False
        self.running = True
        event.input.disabled = True
        self.query_one("#export-progress", ProgressBar).display = True
        self.query_one("#export-status", Static).update(Text(f"writing {path} …", style="dim"))
        self._write(path, fmt)

    @work(thread=True, exclusive=True, group="export")
    def _write(self, path: Path, fmt: str) -> None:
        worker = get_current_worker()

        def progressed(written: int) -> None:
            self.post_message(ExportProgressed(written))

        try:
            written = export.export_services(
                self.console_app.db,
                self.service_filter,
                self.sort,
                path,
                fmt,
                progress=progressed,
                stopped=lambda: worker.is_cancelled,
            )
        except export.ExportStopped:
            return
        except SvcError as error:
            self.post_message(ExportEnded(0, None, error.message))
            return
        self.post_message(ExportEnded(written, path))

    @on(ExportProgressed)
    def _progressed(self, message: ExportProgressed) -> None:
        self.query_one("#export-progress", ProgressBar).update(progress=message.written, total=max(self.total, message.written, 1))

    @on(ExportEnded)
    def _ended(self, message: ExportEnded) -> None:
        self.running = False
        if message.error is not None:
            self.query_one("#export-path", Input).disabled = False
            self.query_one("#export-progress", ProgressBar).display = False
            self._say_error(message.error)
            return
        status = f"{message.written:,} services written to {message.path}"
        self.query_one("#export-status", Static).update(Text(status, style=f"bold {render.GREEN}"))
        self.app.notify(status, markup=False, timeout=6)

    def action_close(self) -> None:
        """Close; an export under way is stopped and leaves no file."""
        if self.running:
            self.workers.cancel_group(self, "export")
            self.app.notify("export stopped; no file was written", severity="warning")
        self.dismiss(None)
