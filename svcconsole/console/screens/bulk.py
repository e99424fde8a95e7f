"""A bulk run's screen: a progress bar while it runs, then one line per service and "retry failed".

The run itself belongs to the app (`console.bulk_runs`): this screen can be closed while it
goes on and opened again. Results are read from the run's items in the database, failed ones
first, at most SHOWN_ITEMS of them, so a run over a million services costs no more to show.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, ProgressBar, Static

from svcconsole.console.actions import bindings
from svcconsole.console.bulk_runs import OUTCOMES, BulkRunState
from svcconsole.console.host import ConsoleHost
from svcconsole.console.messages import BulkProgressNote, BulkResultsLoaded, RetryListed
from svcconsole.console.screens.full_text import FullTextDialog, shortened
from svcconsole.core import bulk
from svcconsole.core.errors import SvcError
from svcconsole.widgets import render
from svcconsole.widgets.messages import ErrorRaised

OUTCOME_STYLES = {"ok": render.GREEN, "failed": f"bold {render.RED}", "skipped": render.ORANGE, "pending": render.BLUE}
SHOWN_ORDER = ("failed", "skipped", "pending", "ok")
RETRY_PLAN = re.compile(r" \(attempt \d+ of \d+; retrying after [^)]*\)$")
SHOWN_ITEMS = 2000
PAGE = 500


MESSAGE_WIDTH = 72
"""Result messages longer than this end with an ellipsis; Enter on the row shows them whole."""


def job_error(message: str) -> str:
    """A failed item's error without the retry plan the queue wrote after it (the job's state says it)."""
    return RETRY_PLAN.sub("", message)


def rest_line(totals: dict[str, int], shown: dict[str, int], run_id: int) -> Text:
    """The line under a cut list: how many more of each outcome, and where to see them all."""
    more = {outcome: totals.get(outcome, 0) - shown.get(outcome, 0) for outcome in OUTCOMES}
    parts = ", ".join(f"{number:,} {outcome}" for outcome, number in more.items() if number > 0)
    return Text(f"{sum(more.values()):,} more: {parts} (svcconsole services bulk show {run_id})", style="dim")


class BulkRunScreen(ModalScreen[bool]):
    """One bulk run of the console: its progress, then its results; closing never stops it."""

    BINDINGS = bindings("bulk")

    def __init__(self, run: BulkRunState) -> None:
        super().__init__(classes="dialog-screen")
        self.run = run
        self.totals: dict[str, int] = {}
        self.shown: dict[str, int] = {}
        self.full_messages: dict[str, tuple[str, str]] = {}

    @property
    def console_app(self) -> ConsoleHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in its own app

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="bulk-run"):
            yield Static(id="bulk-title")
            yield ProgressBar(total=max(self.run.expected, 1), show_eta=False, id="bulk-progress")
            yield Static("starting…", id="bulk-summary")
            yield DataTable(id="bulk-items", cursor_type="row", zebra_stripes=False)
            with Horizontal(classes="buttons"):
                yield Button("Retry failed", id="retry", disabled=True)
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("id", key="id", width=8)
        table.add_column("outcome", key="outcome", width=8)
        table.add_column("message", key="message")
        self.console_app.bulk_changed.subscribe(self, self._changed)
        self._show(self.run)

    @on(DataTable.RowSelected, "#bulk-items")
    def _item_chosen(self, event: DataTable.RowSelected) -> None:
        """Enter on a result: its whole message."""
        chosen = self.full_messages.get(str(event.row_key.value))
        if chosen is not None:
            outcome, text = chosen
            self.app.push_screen(FullTextDialog(f"service {event.row_key.value}: {outcome}", [("message", text)]))

    def _changed(self, run: BulkRunState) -> None:
        if run is self.run:
            self._show(run)

    def _show(self, run: BulkRunState) -> None:
        """Draw the run as it stands; once it ended, read its results."""
        title = Text(f"{run.request.title}: {render.plural(run.expected, 'service')}", style="bold")
        if run.run_id is not None:
            title.append(f"  (run {run.run_id})", "dim")
        self.query_one("#bulk-title", Static).update(title)
        self.query_one(ProgressBar).update(total=max(run.expected, 1), progress=run.done)
        table = self.query_one(DataTable)
        retry = self.query_one("#retry", Button)
        if run.error:
            self.query_one("#bulk-summary", Static).update(Text(render.plain(run.error), style="bold red"))
            table.display, retry.disabled = False, True
        elif run.running:
            line = Text(f"{run.done:,} of {run.expected:,} done")
            line.append("  (close: it goes on in the background)", "dim")
            self.query_one("#bulk-summary", Static).update(line)
            table.display, retry.disabled = False, True
        else:
            run.seen = True
            self.query_one("#bulk-summary", Static).update(self._summary(run.totals))
            if run.run_id is not None:
                self._load_results(run.run_id)

    def _summary(self, totals: dict[str, int]) -> Text:
        summary = Text()
        for outcome in OUTCOMES:
            if totals.get(outcome):
                if summary:
                    summary.append(", ")
                summary.append(f"{totals[outcome]:,} {outcome}", OUTCOME_STYLES[outcome])
        if not summary:
            summary.append("nothing to do")
        return summary

    @work(thread=True, exclusive=True, group="bulk-results")
    def _load_results(self, run_id: int) -> None:
        """The run's outcome counts and its first SHOWN_ITEMS items, failed, skipped, pending, ok."""
        items: list[bulk.ItemResult] = []
        with self.console_app.db.read() as session:
            totals = bulk.outcome_counts(session, run_id)
            for outcome in SHOWN_ORDER:
                after = 0
                while len(items) < SHOWN_ITEMS:
                    page = bulk.items_page(session, run_id, outcome, after=after, limit=min(PAGE, SHOWN_ITEMS - len(items)))
                    items.extend(page)
                    if len(page) < PAGE:
                        break
                    after = page[-1].service_id
            failed = [item.service_id for item in items if item.outcome == "failed"]
            tz = self.console_app.tz
            job_states = {
                service_id: render.job_state(job.status, job.attempts, job.max_attempts, job.next_attempt_at, tz)
                for service_id, job in bulk.item_jobs(session, run_id, failed).items()
                if job.status in bulk.RETRYABLE_JOB_STATUSES
            }
        self.post_message(BulkResultsLoaded(run_id, totals, items, job_states))

    @on(BulkResultsLoaded)
    def _results_loaded(self, message: BulkResultsLoaded) -> None:
        if message.run_id != self.run.run_id:
            return
        self.totals = message.totals
        self.run.totals = dict(message.totals)
        self.query_one("#bulk-summary", Static).update(self._summary(message.totals))
        self.shown = {outcome: sum(1 for item in message.items if item.outcome == outcome) for outcome in OUTCOMES}
        table = self.query_one(DataTable)
        table.clear()
        self.full_messages = {}
        for item in message.items:
            state = message.job_states.get(item.service_id)
            shown = f"{state}: {job_error(item.message)}" if state else item.message
            key = str(item.service_id)
            self.full_messages[key] = (item.outcome, shown)
            table.add_row(key, Text(item.outcome, OUTCOME_STYLES.get(item.outcome, "")), shortened(shown, MESSAGE_WIDTH), key=key)
        if sum(message.totals.values()) > len(message.items):
            table.add_row("…", "", rest_line(message.totals, self.shown, message.run_id))
        table.display = True
        failed = message.totals.get("failed", 0)
        retry = self.query_one("#retry", Button)
        retry.disabled = failed == 0
        retry.label = f"Retry failed ({failed:,})" if failed else "Retry failed"
        retry.refresh(layout=True)
        (retry if failed else self.query_one("#close", Button)).focus()

    @on(Button.Pressed, "#retry")
    def _retry(self) -> None:
        if self.run.running or self.run.run_id is None or not self.totals.get("failed"):
            return
        self.query_one("#retry", Button).disabled = True
        self._list_failed(self.run.run_id)

    @work(thread=True, exclusive=True, group="bulk-retry")
    def _list_failed(self, run_id: int) -> None:
        """Re-run now the failed items' jobs (they may be queued for a later attempt); the failed
        items that never reached a module are run again as a new run."""
        app = self.console_app
        self.post_message(BulkProgressNote("retrying the failed services now…"))
        try:
            retried = bulk.retry_failed(app.db, app.actor, run_id)
        except SvcError as error:
            self.post_message(RetryListed([], error.message))
            return
        self.post_message(RetryListed(retried.without_job))

    @on(BulkProgressNote)
    def _progress_note(self, message: BulkProgressNote) -> None:
        self.query_one("#bulk-summary", Static).update(Text(message.text, style="italic"))

    @on(RetryListed)
    def _retry_listed(self, message: RetryListed) -> None:
        if message.error:
            self.post_message(ErrorRaised(message.error))
        if not message.ids:
            self._show(self.run)
            return
        self.run = self.console_app.start_bulk(self.run.request, message.ids, len(message.ids))
        self.query_one(DataTable).clear()
        self._show(self.run)

    @on(Button.Pressed, "#close")
    def _close_pressed(self) -> None:
        self.action_close()

    def action_close(self) -> None:
        if self.run.running:
            self.notify("the run goes on in the background; B or the palette's 'bulk: last run' shows it", timeout=4)
        self.dismiss(True)
