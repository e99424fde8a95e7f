"""A bulk run: a progress bar while it runs, then one line per service and "retry failed"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, ProgressBar, Static

from svcconsole.console import render
from svcconsole.console.actions import bindings
from svcconsole.console.messages import ActionFailed, BulkProgressed, BulkRunFinished
from svcconsole.core import bulk
from svcconsole.core.errors import SvcError
from svcconsole.screens.dialogs import ActionRequest
from svcconsole.store import queries
from svcconsole.store.queries import ServiceFilter

if TYPE_CHECKING:
    from svcconsole.app import ConsoleApp

OUTCOME_STYLES = {"ok": render.GREEN, "failed": f"bold {render.RED}", "skipped": render.ORANGE, "pending": render.BLUE}
SHOWN_ITEMS = 2000


class BulkRunScreen(ModalScreen[bool]):
    """Runs one action over many services through `core.bulk` in a worker, and reports each."""

    BINDINGS = bindings("bulk")

    def __init__(self, request: ActionRequest, ids: list[int] | None, *, selection_filter: ServiceFilter | None = None, excluded: set[int] | None = None, count: int = 0) -> None:
        super().__init__(classes="dialog-screen")
        self.request = request
        self.ids = ids
        self.selection_filter = selection_filter
        self.excluded = excluded or set()
        self.count = len(ids) if ids is not None else count
        self.report: bulk.RunReport | None = None
        self.running = False

    @property
    def console_app(self) -> "ConsoleApp":
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="bulk-run"):
            yield Static(Text(f"{self.request.title}: {render.plural(self.count, 'service')}", style="bold"), id="bulk-title")
            yield ProgressBar(total=max(self.count, 1), show_eta=False, id="bulk-progress")
            yield Static("starting…", id="bulk-summary")
            yield DataTable(id="bulk-items", cursor_type="row", zebra_stripes=False)
            with Horizontal(classes="buttons"):
                yield Button("Retry failed", id="retry", disabled=True)
                yield Button("Close", id="close", disabled=True, variant="primary")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("id", key="id", width=8)
        table.add_column("outcome", key="outcome", width=8)
        table.add_column("message", key="message")
        table.display = False
        self.start(self.ids)

    def start(self, ids: list[int] | None) -> None:
        self.running = True
        self.query_one("#retry", Button).disabled = True
        self.query_one("#close", Button).disabled = True
        self._run(ids)

    @work(thread=True, exclusive=True, group="bulk-run")
    def _run(self, ids: list[int] | None) -> None:
        app = self.console_app
        if ids is None:
            assert self.selection_filter is not None
            with app.db.read() as session:
                ids = [identifier for identifier in queries.iter_ids(session, self.selection_filter) if identifier not in self.excluded]
        total = len(ids)
        done = 0

        def progress(item: bulk.ItemResult) -> None:
            nonlocal done
            done += 1
            self.post_message(BulkProgressed(done, total, item))

        try:
            report = bulk.run(app.db, app.actor, self.request.action, self.request.params, ids, selection={"ids": sorted(set(ids))}, progress=progress)
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        self.post_message(BulkRunFinished(report))

    @on(BulkProgressed)
    def _progressed(self, message: BulkProgressed) -> None:
        bar = self.query_one(ProgressBar)
        bar.update(total=max(message.total, 1), progress=message.done)
        self.query_one("#bulk-summary", Static).update(f"{message.done:,} of {message.total:,} done")

    @on(ActionFailed)
    def _failed(self, message: ActionFailed) -> None:
        message.stop()
        self.running = False
        self.query_one("#bulk-summary", Static).update(Text(render.plain(message.error), style="bold red"))
        self.query_one("#close", Button).disabled = False
        self.query_one("#close", Button).focus()
        self.notify(render.plain(message.error), severity="error", markup=False)

    @on(BulkRunFinished)
    def _finished(self, message: BulkRunFinished) -> None:
        self.running = False
        report = message.report
        self.report = report
        bar = self.query_one(ProgressBar)
        bar.update(total=max(len(report.items), 1), progress=len(report.items))
        summary = Text()
        for outcome in ("ok", "failed", "skipped", "pending"):
            number = report.count(outcome)
            if number:
                if summary:
                    summary.append(", ")
                summary.append(f"{number:,} {outcome}", OUTCOME_STYLES[outcome])
        summary.append(f"  (run {report.run_id})", "dim")
        self.query_one("#bulk-summary", Static).update(summary)
        table = self.query_one(DataTable)
        table.clear()
        order = {"failed": 0, "skipped": 1, "pending": 2, "ok": 3}
        items = sorted(report.items, key=lambda item: (order.get(item.outcome, 9), item.service_id))
        for item in items[:SHOWN_ITEMS]:
            table.add_row(str(item.service_id), Text(item.outcome, OUTCOME_STYLES.get(item.outcome, "")), Text(render.plain(item.message)))
        if len(items) > SHOWN_ITEMS:
            table.add_row("…", "", Text(f"{len(items) - SHOWN_ITEMS:,} more ok (svcconsole services bulk show {report.run_id})", style="dim"))
        table.display = True
        failed = report.count("failed")
        retry = self.query_one("#retry", Button)
        retry.disabled = failed == 0
        retry.label = f"Retry failed ({failed})" if failed else "Retry failed"
        self.query_one("#close", Button).disabled = False
        (retry if failed else self.query_one("#close", Button)).focus()

    @on(Button.Pressed, "#retry")
    def _retry(self) -> None:
        if self.report is None or self.running:
            return
        failed = [item.service_id for item in self.report.items if item.outcome == "failed"]
        if not failed:
            return
        self.count = len(failed)
        self.query_one("#bulk-title", Static).update(Text(f"{self.request.title}: retry {render.plural(len(failed), 'failed service')}", style="bold"))
        self.query_one(DataTable).display = False
        self.start(failed)

    @on(Button.Pressed, "#close")
    def _close_pressed(self) -> None:
        self.action_close()

    def action_close(self) -> None:
        if self.running:
            self.notify("the run is still going; it ends on its own", severity="warning")
            return
        self.dismiss(True)
