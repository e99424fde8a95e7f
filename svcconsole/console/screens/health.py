"""Health: the last automation run and what it did, workers, the module queue and the outbox."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from svcconsole.console.actions import bindings
from svcconsole.console.host import ConsoleHost
from svcconsole.console.messages import HealthChecked
from svcconsole.core import health
from svcconsole.widgets import render

RUN_STYLES = {"failed": f"bold {render.RED}", "died": f"bold {render.RED}", "running": render.TEAL, "finished": render.GREEN, "locked": render.GREY}


class HealthScreen(Screen[None]):
    """The same figures as `svcconsole health`, the problems, and the recent runs (Enter: a run's steps)."""

    SCOPE = "health"
    BINDINGS = bindings("health")

    def __init__(self) -> None:
        super().__init__()
        self.report: health.HealthReport | None = None

    @property
    def console_app(self) -> ConsoleHost:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static(Text(" Health ", style="bold reverse"), id="health-title")
        yield Static(id="health-summary")
        yield Static(id="health-problems")
        yield DataTable(id="health-runs", cursor_type="row")
        yield Static(id="health-steps")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("run", "status", "started", "finished", "by", "dry run", "touched", "failed", "error")
        self.query_one(DataTable).focus()
        self.reload()

    def reload(self) -> None:
        self._load()

    def action_reload(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="health-load")
    def _load(self) -> None:
        self.post_message(HealthChecked(health.check(self.console_app.db)))

    @on(HealthChecked)
    def _checked(self, message: HealthChecked) -> None:
        message.stop()
        self.report = report = message.report
        tz = self.console_app.tz
        self.query_one("#health-summary", Static).update(Text("\n".join(health.summary_lines(report, tz))))
        problems = Text()
        for problem in report.problems:
            problems.append(f"! {render.plain(problem.message)}\n", f"bold {render.RED}")
        self.query_one("#health-problems", Static).update(problems or Text("no problems", style=render.GREEN))
        table = self.query_one(DataTable)
        table.clear()
        for run in report.recent_runs:
            steps = run["steps"]
            table.add_row(
                str(run["id"]),
                Text(run["status"], style=RUN_STYLES.get(run["status"], "")),
                render.moment_text(run["started_at"], tz),
                render.moment_text(run["finished_at"], tz),
                render.text(run["actor"]),
                "yes" if run["dry_run"] else "no",
                str(sum(step["touched"] for step in steps)),
                str(sum(step["failed"] for step in steps)),
                render.text(run["error"] or ""),
                key=str(run["id"]),
            )
        if not report.recent_runs:
            table.add_row("", Text("no automation run recorded yet", style="dim"), "", "", "", "", "", "", "")

    def action_open_run(self) -> None:
        table = self.query_one(DataTable)
        if self.report is None or table.row_count == 0:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        run = next((run for run in self.report.recent_runs if str(run["id"]) == key), None)
        if run is None:
            return
        lines = Text(f"run {run['id']}: {run['status']}\n", style="bold")
        for step in run["steps"]:
            lines.append(
                f"  step {step['step']} {step['title']}: {step['touched']} touched, {step['ok']} ok, {step['failed']} failed, {step['skipped']} skipped ({step['seconds']:.2f}s)\n"
            )
        self.query_one("#health-steps", Static).update(lines)

    @on(DataTable.RowSelected)
    def _row_selected(self, message: DataTable.RowSelected) -> None:
        self.action_open_run()

    def action_back(self) -> None:
        self.dismiss(None)
