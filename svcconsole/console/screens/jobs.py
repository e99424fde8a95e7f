"""The module queue (WHMCS's "module queue"): jobs with their errors, marks, retry or resolve.

A job queued again after an error reads "failed, retrying at HH:MM (attempt 1/5)", the words a
bulk run's results use for the same job; Enter opens a job with its whole error.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from svcconsole.console.actions import bindings, mutating_actions
from svcconsole.console.host import ConsoleHost
from svcconsole.console.messages import ActionFailed, JobsLoaded, ServiceSaved
from svcconsole.console.screens.full_text import ReadingDialog
from svcconsole.core import job_queue, jobs
from svcconsole.core.errors import SvcError
from svcconsole.store import jobs as store_jobs
from svcconsole.widgets import render
from svcconsole.widgets.dialogs import PromptDialog
from svcconsole.widgets.messages import ErrorRaised

if TYPE_CHECKING:
    from sqlmodel import Session

    from svcconsole.core.operators import Actor
    from svcconsole.store.models import Job

STATUS_FILTERS = ("failed", "queued", "running", None)
JOB_STYLES = {"failed": f"bold {render.RED}", "queued": render.BLUE, "running": render.TEAL, "succeeded": render.GREEN, "resolved": render.GREY}
ERROR_WIDTH = 40


def job_state_text(job: Any, tz: Any) -> Text:
    """The job's state, coloured: a job waiting for its next attempt after an error is "failed"."""
    state = render.job_state(job.status, job.attempts, job.max_attempts, job.next_attempt_at, tz)
    style = JOB_STYLES["failed"] if state.startswith("failed") else JOB_STYLES.get(job.status, "")
    return Text(state, style=style)


def shortened(value: str, width: int) -> Text:
    """One line of `value`, ending with an ellipsis when cut (Enter opens the whole)."""
    line = " ".join(render.plain(value).split())
    return Text(line if len(line) <= width else line[: width - 1] + "…")


def _retry_one(actor: Actor, job_id: int, session: Session) -> Job:
    return job_queue.retry(session, actor, job_id)


def _resolve_one(actor: Actor, job_id: int, note: str | None, session: Session) -> Job:
    return job_queue.resolve(session, actor, job_id, note)


class JobDialog(ReadingDialog):
    """One job in full: its state, attempts, service and whole last error."""

    FRAME_ID = "job-dialog"

    def __init__(self, job: Any, tz: Any) -> None:
        super().__init__()
        self.job = job
        self.tz = tz

    def body(self) -> ComposeResult:
        job = self.job
        yield Static(Text(f"Job {job.id}: {render.plain(job.operation)} of service {job.service_id}", style="bold"))
        details = Text()
        details.append("state ", "dim")
        details.append_text(job_state_text(job, self.tz))
        details.append(f"\naction {render.plain(job.action)} · by {render.plain(job.actor)}", "")
        details.append(f"\ncreated {render.moment_text(job.created_at, self.tz)} · updated {render.moment_text(job.updated_at, self.tz)}", "dim")
        if job.bulk_run_id is not None:
            details.append(f"\nbulk run {job.bulk_run_id}", "dim")
        yield Static(details)
        with VerticalScroll(id="job-error"):
            yield Static(Text(render.plain(job.last_error or "no error"), style=f"{render.RED}" if job.last_error else "dim"))


class JobsScreen(Screen[None]):
    """The jobs of the module queue, newest first, filtered by status."""

    SCOPE = "jobs"
    BINDINGS = bindings("jobs")
    MUTATING = mutating_actions(["jobs"])

    def __init__(self) -> None:
        super().__init__()
        self.status_filter: str | None = None
        self.listed: dict[int, Any] = {}
        self.marked: set[int] = set()

    @property
    def console_app(self) -> ConsoleHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in its own app

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#jobs-table", DataTable)

    def compose(self) -> ComposeResult:
        yield Static(id="jobs-title")
        yield DataTable(id="jobs-table", cursor_type="row")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.table.add_column(" ", key="mark", width=1)
        self.table.add_columns("job", "service", "operation", "state")
        self.table.add_column("error", key="error")
        self.table.add_column("updated", key="updated")
        self.table.focus()
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action not in self.MUTATING or self.console_app.can_act

    def reload(self) -> None:
        self._render_title()
        self._load(self.status_filter)

    def _render_title(self) -> None:
        title = Text(" Jobs ", style="bold reverse")
        title.append(f" showing {self.status_filter or 'all'} (f to change)", "dim")
        if self.marked:
            title.append(f" · {len(self.marked):,} marked", "bold yellow")
        self.query_one("#jobs-title", Static).update(title)

    def action_reload(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="jobs-load")
    def _load(self, status: str | None) -> None:
        with self.console_app.db.read() as session:
            rows = store_jobs.list_jobs(session, status=status, limit=500)
        self.post_message(JobsLoaded(rows))

    @on(JobsLoaded)
    def _loaded(self, message: JobsLoaded) -> None:
        table = self.table
        cursor = table.cursor_row
        table.clear()
        tz = self.console_app.tz
        self.listed = {job.id: job for job in message.jobs}
        self.marked &= set(self.listed)
        for job in message.jobs:
            table.add_row(
                self._mark_cell(job.id),
                str(job.id),
                str(job.service_id),
                render.text(job.operation),
                job_state_text(job, tz),
                shortened(job.last_error or "", ERROR_WIDTH),
                render.moment_text(job.updated_at, tz),
                key=str(job.id),
            )
        if not message.jobs:
            table.add_row("", "", "", Text("no jobs", style="dim"), "", "", "")
        table.move_cursor(row=min(cursor, max(table.row_count - 1, 0)))
        self._render_title()

    def _mark_cell(self, job_id: int) -> Text:
        return Text("●", style="bold yellow") if job_id in self.marked else Text(" ")

    def _selected_job(self) -> int | None:
        table = self.table
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key and key.isdigit() else None

    def _chosen_jobs(self) -> list[int]:
        """The marked jobs, else the one under the cursor."""
        if self.marked:
            return sorted(self.marked)
        job_id = self._selected_job()
        return [job_id] if job_id is not None else []

    def action_cursor_down(self) -> None:
        self.table.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.table.action_cursor_up()

    def action_toggle_mark(self) -> None:
        job_id = self._selected_job()
        if job_id is None:
            return
        self.marked.symmetric_difference_update({job_id})
        self.table.update_cell(str(job_id), "mark", self._mark_cell(job_id))
        self.table.action_cursor_down()
        self._render_title()

    def action_mark_all(self) -> None:
        self.marked = set(self.listed)
        for job_id in self.listed:
            self.table.update_cell(str(job_id), "mark", self._mark_cell(job_id))
        self._render_title()
        self.notify(f"{len(self.marked):,} jobs marked (every job listed)", timeout=3)

    @on(DataTable.RowSelected, "#jobs-table")
    def _row_selected(self) -> None:
        self.action_open_job()

    def action_open_job(self) -> None:
        job_id = self._selected_job()
        if job_id is not None and job_id in self.listed:
            self.app.push_screen(JobDialog(self.listed[job_id], self.console_app.tz))

    def action_cycle_job_status(self) -> None:
        index = STATUS_FILTERS.index(self.status_filter)
        self.status_filter = STATUS_FILTERS[(index + 1) % len(STATUS_FILTERS)]
        self.marked.clear()
        self.reload()

    def action_retry_job(self) -> None:
        chosen = self._chosen_jobs()
        if chosen:
            self._retry(chosen)

    def action_resolve_job(self) -> None:
        chosen = self._chosen_jobs()
        if not chosen:
            return
        what = f"job {chosen[0]}" if len(chosen) == 1 else f"{len(chosen):,} marked jobs"

        def answered(note: str | None) -> None:
            if note is not None:
                self._resolve(chosen, note or None)

        self.app.push_screen(PromptDialog(f"Resolve {what} by hand? A note for the activity log:", placeholder="optional"), answered)

    @work(thread=True, group="jobs-write")
    def _retry(self, job_ids: list[int]) -> None:
        """Each job back in the queue in a transaction of its own (one refusal spoils none), then all run now."""
        app = self.console_app
        queued: list[int] = []
        refused: list[str] = []
        for job_id in job_ids:
            try:
                app.db.transaction(partial(_retry_one, app.actor, job_id))
                queued.append(job_id)
            except SvcError as error:
                refused.append(error.message)
        outcomes = jobs.run_jobs(app.db, queued)
        for message in refused:
            self.post_message(ActionFailed(message))
        if len(job_ids) == 1 and queued:
            result = outcomes[0].message if outcomes else "queued"
            self.post_message(ServiceSaved(f"job {job_ids[0]}: {result}"))
        elif queued:
            succeeded = sum(1 for outcome in outcomes if outcome.status == "succeeded")
            self.post_message(ServiceSaved(f"{len(queued):,} jobs run again: {succeeded:,} succeeded, {len(queued) - succeeded:,} not"))
        else:
            self.post_message(ServiceSaved(""))

    @work(thread=True, group="jobs-write")
    def _resolve(self, job_ids: list[int], note: str | None) -> None:
        app = self.console_app
        resolved = 0
        for job_id in job_ids:
            try:
                app.db.transaction(partial(_resolve_one, app.actor, job_id, note))
                resolved += 1
            except SvcError as error:
                self.post_message(ActionFailed(error.message))
        if resolved:
            self.post_message(ServiceSaved(f"job {job_ids[0]}: resolved" if len(job_ids) == 1 else f"{resolved:,} jobs resolved"))

    @on(ServiceSaved)
    def _saved(self, message: ServiceSaved) -> None:
        if message.message:
            self.notify(render.plain(message.message), markup=False, timeout=4)
        self.marked.clear()
        self.reload()

    @on(ActionFailed)
    def _failed(self, message: ActionFailed) -> None:
        message.stop()
        self.post_message(ErrorRaised(message.error))

    def action_back(self) -> None:
        if self.marked:
            self.marked.clear()
            self.reload()
            return
        self.dismiss(None)
