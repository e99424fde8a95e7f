"""Drift: the last reconcile's report, grouped by kind with counts, and its fixes applied like a bulk action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, ProgressBar, Static

from svcconsole.console.actions import bindings
from svcconsole.console.host import ConsoleHost
from svcconsole.core import bulk
from svcconsole.core import reconcile as core
from svcconsole.core.errors import SvcError
from svcconsole.core.settings import DRIFT_KINDS
from svcconsole.widgets import render
from svcconsole.widgets.dialogs import ConfirmDialog
from svcconsole.widgets.messages import ReadOnlyRefused

SHOWN = 500
"""Rows read into the table at once (the counts cover every drift)."""
KIND_STYLES = {"missing": f"bold {render.RED}", "duplicate": f"bold {render.RED}", "status": render.TEAL, "orphan": render.GREY}
OUTCOME_STYLES = {"ok": render.GREEN, "failed": f"bold {render.RED}", "skipped": render.GREY, "pending": render.TEAL}


@dataclass
class DriftLoaded(Message):
    counts: dict[str, int]
    rows: list[dict[str, Any]]


@dataclass
class ReconcileProgressed(Message):
    server: str
    count: int
    total: int | None


@dataclass
class ReconcileDone(Message):
    lines: list[str]


@dataclass
class FixesApplied(Message):
    report: core.ApplyReport | None
    error: str | None = None


class DriftScreen(Screen[None]):
    """The open drift of the last reconcile: counts by kind, a kind filter, apply and retry failed."""

    SCOPE = "drift"
    BINDINGS = bindings("drift")

    def __init__(self) -> None:
        super().__init__()
        self.kind: str | None = None
        self.counts: dict[str, int] = {}
        self.last: core.ApplyReport | None = None

    @property
    def console_app(self) -> ConsoleHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in the console's app

    def compose(self) -> ComposeResult:
        yield Static(Text(" Drift ", style="bold reverse"), id="drift-title")
        yield Static(id="drift-counts")
        yield Static(id="drift-progress")
        yield ProgressBar(id="drift-bar", show_eta=False)
        yield DataTable(id="drift-rows", cursor_type="row")
        yield Static(id="drift-results")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#drift-bar", ProgressBar).display = False
        self.query_one(DataTable).add_columns("kind", "server", "service", "external", "field", "billing", "panel", "fix", "first seen")
        self.query_one(DataTable).focus()
        self.reload()

    def reload(self) -> None:
        self._load(self.kind)

    def action_reload(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="drift-load")
    def _load(self, kind: str | None) -> None:
        drift_filter = core.DriftFilter(kinds=(kind,) if kind else ())
        db = self.console_app.db
        with db.read() as session:
            counts = core.counts(session, core.DriftFilter())
            rows = [core.drift_dict(drift, server) for drift, server in core.drift_rows(session, drift_filter, limit=SHOWN)]
        self.post_message(DriftLoaded(counts, rows))

    @on(DriftLoaded)
    def _loaded(self, message: DriftLoaded) -> None:
        message.stop()
        self.counts = message.counts
        line = Text()
        for kind in DRIFT_KINDS:
            style = "bold reverse" if kind == self.kind else ("" if message.counts[kind] else "dim")
            line.append(f" {kind} {message.counts[kind]} ", style)
            line.append(" ")
        line.append(f"  shown: {self.kind or 'every kind'} (f)", "dim")
        self.query_one("#drift-counts", Static).update(line)
        table = self.query_one(DataTable)
        table.clear()
        tz = self.console_app.tz
        for row in message.rows:
            table.add_row(
                Text(row["kind"], style=KIND_STYLES.get(row["kind"], "")),
                render.text(row["server"] or ""),
                str(row["service_id"] or "-"),
                render.text(row["external"] or ""),
                render.text(row["field"] or ""),
                render.text(row["billing"] or ""),
                render.text(row["panel"] or ""),
                render.text(row["fix"]),
                render.moment_text(row["first_seen"], tz),
                key=str(row["id"]),
            )
        if not message.rows:
            table.add_row(Text("no drift: billing and the panels agree (as of the last reconcile)", style="dim"), "", "", "", "", "", "", "", "")

    def action_reconcile_now(self) -> None:
        """Read every panel again and compare (in a worker, with a progress bar per server as it reads)."""
        self.query_one("#drift-progress", Static).update(Text("reconciling…", style="dim"))
        self._reconcile()

    @work(thread=True, exclusive=True, group="drift-reconcile")
    def _reconcile(self) -> None:
        app = self.console_app

        def progress(server: str, count: int, total: int | None) -> None:
            self.post_message(ReconcileProgressed(server, count, total))

        try:
            report = core.reconcile(app.db, app.actor, progress=progress)
        except SvcError as error:
            self.post_message(ReconcileDone([f"reconcile refused: {error.message}"]))
            return
        lines = [
            outcome.error or f"{outcome.panel.names[0]}: {outcome.resources} resources, {outcome.found} drift ({outcome.new} new, {outcome.resolved} resolved)"
            for outcome in report.panels
        ]
        self.post_message(ReconcileDone(lines or ["no panel to reconcile"]))

    @on(ReconcileProgressed)
    def _progressed(self, message: ReconcileProgressed) -> None:
        message.stop()
        bar = self.query_one("#drift-bar", ProgressBar)
        bar.display = True
        bar.update(total=message.total, progress=message.count)
        read = f"{message.count}/{message.total}" if message.total else str(message.count)
        self.query_one("#drift-progress", Static).update(Text(f"{message.server}: {read} resources read", style=render.TEAL))

    @on(ReconcileDone)
    def _reconciled(self, message: ReconcileDone) -> None:
        message.stop()
        self.query_one("#drift-bar", ProgressBar).display = False
        self.query_one("#drift-progress", Static).update(Text("\n".join(message.lines), style="dim"))
        self.reload()

    def action_cycle_kind(self) -> None:
        """Show every kind, then each kind in turn."""
        order: list[str | None] = [None, *DRIFT_KINDS]
        self.kind = order[(order.index(self.kind) + 1) % len(order)]
        self.reload()

    def action_apply_fixes(self) -> None:
        if not self.console_app.can_act:
            self.post_message(ReadOnlyRefused())
            return
        shown = {kind: count for kind, count in self.counts.items() if count and (self.kind in (None, kind))}
        if not shown:
            self.notify("no drift to fix", severity="warning")
            return
        listed = ", ".join(f"{count} {kind}" for kind, count in shown.items())
        question = f"Apply the fixes of {listed}? (owner and duplicate are never applied from here)"

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._apply(self.kind)

        self.app.push_screen(ConfirmDialog(question, yes="Apply"), confirmed)

    @work(thread=True, exclusive=True, group="drift-apply")
    def _apply(self, kind: str | None) -> None:
        app = self.console_app
        try:
            report = core.apply(app.db, app.actor, core.DriftFilter(kinds=(kind,) if kind else ()))
        except SvcError as error:
            self.post_message(FixesApplied(None, error.message))
            return
        self.post_message(FixesApplied(report))

    def action_retry_failed(self) -> None:
        if self.last is None or not self.last.count("failed"):
            self.notify("no failed fix to retry", severity="warning")
            return
        self._retry(list(self.last.runs))

    @work(thread=True, exclusive=True, group="drift-apply")
    def _retry(self, runs: list[int]) -> None:
        app = self.console_app
        for run_id in runs:
            try:
                bulk.retry_failed(app.db, app.actor, run_id)
            except SvcError as error:
                self.post_message(FixesApplied(None, error.message))
                return
        report = core.ApplyReport(runs=runs)
        for run_id in runs:
            for item in bulk.report(app.db, run_id).items:
                report.results.append(core.FixResult(0, "", item.service_id, item.outcome, item.message, run_id))
        self.post_message(FixesApplied(report))

    @on(FixesApplied)
    def _applied(self, message: FixesApplied) -> None:
        message.stop()
        if message.report is None:
            self.notify(message.error or "the fixes could not be applied", severity="error")
            return
        self.last = report = message.report
        lines = Text()
        counted = ", ".join(f"{report.count(outcome)} {outcome}" for outcome in ("ok", "failed", "skipped", "pending") if report.count(outcome))
        lines.append(f"fixes: {counted or 'nothing to do'}" + (" (t: retry failed)" if report.count("failed") else "") + "\n", "bold")
        for result in report.results[:50]:
            service = f"service {result.service_id}" if result.service_id else "no service"
            label = f"drift {result.drift_id} {result.kind}: " if result.drift_id else ""
            lines.append(f"  {label}{service}: ", "")
            lines.append(result.outcome, OUTCOME_STYLES.get(result.outcome, ""))
            lines.append(f": {render.plain(result.message)}\n")
        self.query_one("#drift-results", Static).update(lines)
        self.reload()

    def action_back(self) -> None:
        self.dismiss(None)
