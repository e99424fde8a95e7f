"""The module queue (WHMCS's "module queue"): jobs with their errors, retry or resolve."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from svcconsole.console import render
from svcconsole.console.actions import bindings, mutating_actions
from svcconsole.console.messages import ActionFailed, JobsLoaded, ServiceSaved
from svcconsole.core import jobs
from svcconsole.core.errors import SvcError

if TYPE_CHECKING:
    from svcconsole.app import ConsoleApp

STATUS_FILTERS = ("failed", "queued", "running", None)
JOB_STYLES = {"failed": f"bold {render.RED}", "queued": render.BLUE, "running": render.TEAL, "succeeded": render.GREEN, "resolved": render.GREY}


class JobsScreen(Screen[None]):
    """The jobs of the module queue, newest first, filtered by status."""

    SCOPE = "jobs"
    BINDINGS = bindings("jobs")
    MUTATING = mutating_actions(["jobs"])

    def __init__(self) -> None:
        super().__init__()
        self.status_filter: str | None = None

    @property
    def console_app(self) -> ConsoleApp:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in its own app

    def compose(self) -> ComposeResult:
        yield Static(id="jobs-title")
        yield DataTable(id="jobs-table", cursor_type="row")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("job", "service", "operation", "status", "tries", "updated", "error")
        self.query_one(DataTable).focus()
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.MUTATING and not self.console_app.can_act:
            return None
        return True

    def reload(self) -> None:
        title = Text(" Jobs ", style="bold reverse")
        title.append(f" showing {self.status_filter or 'all'} (f to change)", "dim")
        self.query_one("#jobs-title", Static).update(title)
        self._load(self.status_filter)

    def action_reload(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="jobs-load")
    def _load(self, status: str | None) -> None:
        with self.console_app.db.read() as session:
            rows = jobs.list_jobs(session, status=status, limit=500)
        self.post_message(JobsLoaded(rows))

    @on(JobsLoaded)
    def _loaded(self, message: JobsLoaded) -> None:
        table = self.query_one(DataTable)
        table.clear()
        tz = self.console_app.tz
        for job in message.jobs:
            table.add_row(
                str(job.id),
                str(job.service_id),
                render.text(job.operation),
                Text(job.status, style=JOB_STYLES.get(job.status, "")),
                f"{job.attempts}/{job.max_attempts}",
                render.moment_text(job.updated_at, tz),
                render.text(job.last_error or ""),
                key=str(job.id),
            )
        if not message.jobs:
            table.add_row("", "", Text("no jobs", style="dim"), "", "", "", "")

    def _selected_job(self) -> int | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key and key.isdigit() else None

    def action_cycle_job_status(self) -> None:
        index = STATUS_FILTERS.index(self.status_filter)
        self.status_filter = STATUS_FILTERS[(index + 1) % len(STATUS_FILTERS)]
        self.reload()

    def action_retry_job(self) -> None:
        job_id = self._selected_job()
        if job_id is not None:
            self._retry(job_id)

    def action_resolve_job(self) -> None:
        from svcconsole.screens.dialogs import PromptDialog

        job_id = self._selected_job()
        if job_id is None:
            return

        def answered(note: str | None) -> None:
            if note is not None:
                self._resolve(job_id, note or None)

        self.app.push_screen(PromptDialog(f"Resolve job {job_id} by hand? A note for the activity log:", placeholder="optional"), answered)

    @work(thread=True, group="jobs-write")
    def _retry(self, job_id: int) -> None:
        app = self.console_app
        try:
            app.db.transaction(lambda session: jobs.retry(session, app.actor, job_id))
            outcomes = jobs.run_jobs(app.db, [job_id])
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        result = outcomes[0].message if outcomes else "queued"
        self.post_message(ServiceSaved(f"job {job_id}: {result}"))

    @work(thread=True, group="jobs-write")
    def _resolve(self, job_id: int, note: str | None) -> None:
        app = self.console_app
        try:
            app.db.transaction(lambda session: jobs.resolve(session, app.actor, job_id, note))
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        self.post_message(ServiceSaved(f"job {job_id}: resolved"))

    @on(ServiceSaved)
    def _saved(self, message: ServiceSaved) -> None:
        self.notify(render.plain(message.message), markup=False, timeout=4)
        self.reload()

    @on(ActionFailed)
    def _failed(self, message: ActionFailed) -> None:
        message.stop()
        self.console_app.show_error(message.error)

    def action_back(self) -> None:
        self.dismiss(None)
