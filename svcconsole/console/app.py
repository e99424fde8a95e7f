"""The admin console: a Textual app over the services store (SPEC.md section 8).

Screens never touch tables: reads and every change run in thread workers that call `core`
(or the read queries of `store`), and their results come back as messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.command import CommandPalette
from textual.notifications import SeverityLevel
from textual.signal import Signal
from textual.theme import ThemeProvider

from svcconsole.console.actions import SCOPES, bindings, remapped
from svcconsole.console.bulk_runs import KEPT_RUNS, ActionRequest, BulkRunState
from svcconsole.console.commands import ConsoleCommands
from svcconsole.console.look import config_problems, theme_problem, valid_accent
from svcconsole.console.messages import (
    ActionFailed,
    ActionFinished,
    ActionRequested,
    BulkMenuRequested,
    BulkProgressed,
    BulkRunFailed,
    BulkRunFinished,
    BulkRunStarted,
    CustomerOpened,
    EditRequested,
    HealthChecked,
    NewServiceRequested,
    SelectionResolved,
    TicketOpened,
)
from svcconsole.console.screens.bulk import BulkRunScreen
from svcconsole.console.screens.customer import CustomerScreen
from svcconsole.console.screens.detail import DetailScreen
from svcconsole.console.screens.dialogs import ActionDialog, BulkMenu
from svcconsole.console.screens.drift import DriftScreen
from svcconsole.console.screens.edit import EditScreen
from svcconsole.console.screens.health import HealthScreen
from svcconsole.console.screens.jobs import JobsScreen
from svcconsole.console.screens.services import ServicesScreen
from svcconsole.console.screens.tickets import TicketsScreen, TicketThreadScreen
from svcconsole.console.screens.wizard import WizardScreen
from svcconsole.core import bulk, health
from svcconsole.core import config as config_files
from svcconsole.core.config import Config
from svcconsole.core.errors import SvcError
from svcconsole.core.health import HealthReport
from svcconsole.core.operators import Actor
from svcconsole.core.statuses import Role
from svcconsole.store.engine import Database, safe_url
from svcconsole.widgets import render, words
from svcconsole.widgets.guard import CrashGuard
from svcconsole.widgets.heap import freeze_startup_objects
from svcconsole.widgets.help import HelpScreen, help_columns
from svcconsole.widgets.messages import ErrorRaised, ReadOnlyRefused, ServiceOpened

PROGRESS_SECONDS = 0.1
HEALTH_CHECK_SECONDS = 60.0
"""How often the console reads health for its header badge."""


class ConsoleApp(CrashGuard, App[None]):
    """The console: the service list first, the other screens pushed over it."""

    CSS_PATH = Path(__file__).resolve().parent.parent / "console.tcss"
    TITLE = "svcconsole"
    COMMANDS = {ConsoleCommands}
    BINDINGS = [*bindings("app"), Binding("ctrl+c", "quit", show=False, priority=True)]

    def __init__(
        self,
        db: Database,
        actor: Actor,
        *,
        tz: ZoneInfo | None = None,
        page_size: int = 100,
        database_label: str | None = None,
        health_check_seconds: float | None = HEALTH_CHECK_SECONDS,
        config: Config | None = None,
    ) -> None:
        self.config = config or Config()
        self.database_accent = valid_accent(self.config, db.url)
        super().__init__()
        self.keys = remapped(self.config.keys)
        self.registry = self.keys.registry
        """The action registry with the keys in force (config.toml's `[keys]`): help and the palette show these."""
        self.set_keymap(self.keys.keymap)
        self.views, self.view_problems = config_files.all_views(self.config)
        if tz is None and self.config.timezone:
            tz = ZoneInfo(self.config.timezone)
        self._theme_before_picker: str | None = None
        self.health_check_seconds = health_check_seconds
        self.health: HealthReport | None = None
        self.health_changed: Signal[HealthReport] = Signal(self, "health-changed")
        self._database_label = database_label
        self.db = db
        self.actor = actor
        self.tz_override = tz
        self.tz = tz or ZoneInfo("UTC")
        self.page_size = page_size
        self._action_done: Callable[[bool], None] | None = None
        self.bulk_runs: list[BulkRunState] = []
        self._bulk_keys = 0
        self.bulk_changed: Signal[BulkRunState] = Signal(self, "bulk-changed")
        self.theme = self.config.theme if self.config.theme and theme_problem(self.config) is None else "textual-dark"

    # ------------------------------------------------------------------ look: theme, status colours, the database's accent

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """svcconsole's own variables ($status-active, $row-cursor...), for a dark or a light theme."""
        return render.theme_variables(self.current_theme.dark)

    def get_css_variables(self) -> dict[str, str]:
        """The theme's variables; a database with an `accent` in config.toml takes it as the theme's accent and primary."""
        variables = super().get_css_variables()
        if self.database_accent:
            marked = replace(self.current_theme, primary=self.database_accent, accent=self.database_accent)
            generated = marked.to_color_system().generate()
            variables |= {name: value for name, value in generated.items() if name.startswith(("primary", "accent"))}
        render.use_theme_variables(variables)
        return variables

    def pick_theme(self) -> None:
        """Textual's theme list; the highlighted theme shows at once, esc goes back to the one before."""
        self._theme_before_picker = self.theme
        self.push_screen(CommandPalette(providers=[ThemeProvider], placeholder="theme: ↑↓ shows it, enter keeps it, esc goes back"))

    @on(CommandPalette.OptionHighlighted)
    def _preview_theme(self, message: CommandPalette.OptionHighlighted) -> None:
        if self._theme_before_picker is None:
            return
        hit = getattr(message.highlighted_event.option, "hit", None)
        name = getattr(hit, "text", None)
        if isinstance(name, str) and name in self.available_themes:
            self.theme = name

    @on(CommandPalette.Closed)
    def _theme_picker_closed(self, message: CommandPalette.Closed) -> None:
        if self._theme_before_picker is None:
            return
        if not message.option_selected:
            self.theme = self._theme_before_picker
        else:
            self.call_later(self._keep_theme, self._theme_before_picker)
        self._theme_before_picker = None

    def _keep_theme(self, before: str) -> None:
        """Write the theme picked to console.toml, so the next launch opens on it (after the palette's own command has set it)."""
        theme = self.theme
        if theme == before:
            return
        try:
            kept = config_files.save_theme(theme, config_files.console_path(self.config.path))
        except OSError as error:
            self.notify(f"theme {theme}: not kept for the next launch ({type(error).__name__}: {error})", severity="warning")
            return
        self.notify(f"theme {theme}: kept for the next launch ({kept})")

    @property
    def database_title(self) -> str | None:
        """The title config.toml gives this database ("PRODUCTION"), shown in the header in its accent."""
        return self.config.look_of(self.db.url).title

    @property
    def read_only(self) -> bool:
        return self.actor.read_only or self.actor.role is Role.VIEWER

    @property
    def can_act(self) -> bool:
        return not self.read_only

    @property
    def database_label(self) -> str:
        if self.database_title:
            return self.database_title
        if self._database_label is not None:
            return self._database_label
        path = self.db.sqlite_file
        return path.name if path is not None else safe_url(self.db.url)

    def on_mount(self) -> None:
        self.push_screen(ServicesScreen())
        for problem in [*config_problems(self.config), *self.view_problems]:
            self.notify(problem, title="config", severity="error", markup=False, timeout=20)
        self.call_after_refresh(freeze_startup_objects)
        if self.health_check_seconds is not None:
            self.check_health()
            self.set_interval(self.health_check_seconds, self.check_health)

    def on_unmount(self) -> None:
        """The status colours go back to the dark theme's, which every other app of this process expects."""
        render.use_theme_variables(render.theme_variables(True))

    @work(thread=True, exclusive=True, group="health-check")
    def check_health(self) -> None:
        """Read health in a worker; the header's badge follows it."""
        self.post_message(HealthChecked(health.check(self.db)))

    @on(HealthChecked)
    def _health_checked(self, message: HealthChecked) -> None:
        self.health = message.report
        self.health_changed.publish(message.report)

    @property
    def health_problems(self) -> int:
        """How many problems the last health check found (0 before the first one)."""
        return len(self.health.problems) if self.health is not None else 0

    def action_health(self) -> None:
        if not isinstance(self.screen, HealthScreen):
            self.push_screen(HealthScreen())

    # ------------------------------------------------------------------ navigation

    def show_services(self) -> None:
        while len(self.screen_stack) > 2 and not isinstance(self.screen, ServicesScreen):
            self.pop_screen()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            scope = getattr(self.screen, "SCOPE", None)
            context = [scope] if scope else []
            if scope in ("services", "customer"):
                context.append("table")
            context += ["app", "help"]
            self.push_screen(HelpScreen(help_columns(self.registry, SCOPES, context), registry=self.registry, scopes=SCOPES))

    def _services_screen(self) -> ServicesScreen:
        return next(screen for screen in self.screen_stack if isinstance(screen, ServicesScreen))

    def open_view(self, name: str) -> None:
        """Back to the list, showing the saved view `name`."""
        view = self.views.get(name)
        if view is None:
            self.notify(f"no view {name!r} (views: {', '.join(sorted(self.views)) or 'none yet; :view save NAME'})", severity="error", markup=False)
            return
        self.show_services()
        self.call_after_refresh(self._services_screen().apply_view, view)

    def save_view(self, name: str) -> None:
        """Save the list's filter line, sort and columns as the view `name` (views.toml in the config dir)."""
        if not config_files.valid_view_name(name):
            self.notify(f"view {name!r}: a view's name is lower-case letters, digits, - and _ (up to 40)", severity="error", markup=False)
            return
        view = self._services_screen().current_view(name)
        try:
            path = config_files.save_view(view)
        except OSError as error:
            self.notify(f"view {name}: not saved ({error.strerror or error})", severity="error", markup=False)
            return
        self.views[name] = view
        self._services_screen().view_name = name
        self.notify(f"view {name} saved in {path}; :view {name} shows it", markup=False)

    def action_drift(self) -> None:
        if not isinstance(self.screen, DriftScreen):
            self.push_screen(DriftScreen())

    def action_jobs(self) -> None:
        if not isinstance(self.screen, JobsScreen):
            self.push_screen(JobsScreen())

    def action_tickets(self) -> None:
        if not isinstance(self.screen, TicketsScreen):
            self.push_screen(TicketsScreen())

    def open_ticket(self, ticket_id: int) -> None:
        self.push_screen(TicketThreadScreen(ticket_id))

    def open_service(self, service_id: int) -> None:
        self.push_screen(DetailScreen(service_id))

    def open_customer(self, customer_id: int) -> None:
        self.push_screen(CustomerScreen(customer_id))

    def edit_service(self, service_id: int) -> None:
        if not self.can_act:
            self.refuse_read_only()
            return
        self.push_screen(EditScreen(service_id))

    def new_service(self) -> None:
        if not self.can_act:
            self.refuse_read_only()
            return
        self.push_screen(WizardScreen())

    def refuse_read_only(self) -> None:
        why = "read-only mode" if self.actor.read_only else f"{self.actor.name} is a viewer"
        self.notify(f"{why}: actions are off", severity="error")

    def show_error(self, error: str) -> None:
        self.notify(render.plain(words.console_text(error)), severity="error", markup=False, timeout=8)

    # ------------------------------------------------------------------ what the screens ask for

    @on(ServiceOpened)
    def _service_opened(self, message: ServiceOpened) -> None:
        self.open_service(message.service_id)

    @on(TicketOpened)
    def _ticket_opened(self, message: TicketOpened) -> None:
        self.open_ticket(message.ticket_id)

    @on(CustomerOpened)
    def _customer_opened(self, message: CustomerOpened) -> None:
        self.open_customer(message.customer_id)

    @on(EditRequested)
    def _edit_requested(self, message: EditRequested) -> None:
        self.edit_service(message.service_id)

    @on(NewServiceRequested)
    def _new_service_requested(self, message: NewServiceRequested) -> None:
        self.new_service()

    @on(ActionRequested)
    def _action_requested(self, message: ActionRequested) -> None:
        self.ask_action(message.selection, on_done=message.on_done, renew_mode=message.renew_mode)

    @on(BulkMenuRequested)
    def _bulk_menu_requested(self, message: BulkMenuRequested) -> None:
        self.bulk_menu(message.chosen, message.label, message.counts)

    @on(ReadOnlyRefused)
    def _read_only_refused(self, message: ReadOnlyRefused) -> None:
        self.refuse_read_only()

    @on(ErrorRaised)
    def _error_raised(self, message: ErrorRaised) -> None:
        self.show_error(message.error)

    # ------------------------------------------------------------------ actions

    def bulk_menu(self, chosen: Callable[[str], None], label: str, counts: dict[tuple[str, bool], int]) -> None:
        """The menu of the actions that apply to the selection, its services counted by (status, has a cancellation date)."""

        def picked(name: str | None) -> None:
            if name:
                chosen(name)

        self.push_screen(BulkMenu(label, counts), picked)

    def ask_action(
        self,
        selection: SelectionResolved,
        *,
        on_done: Callable[[bool], None] | None = None,
        renew_mode: str = "now",
    ) -> None:
        """The action's dialog, then a one-service run (a notification) or a bulk run and its screen.

        `on_done(True)` is called once the bulk run's screen is closed (the run may go on)."""

        def confirmed(request: ActionRequest | None) -> None:
            if request is None:
                return
            if selection.ids is not None and len(selection.ids) == 1 and not selection.marked:
                self._action_done = on_done
                self.run_single(request.action, request.params, selection.ids[0])
                return
            target = selection.matching if selection.matching is not None else list(selection.ids or [])
            run = self.start_bulk(request, target, selection.count)

            def closed(_: bool | None) -> None:
                if on_done is not None:
                    on_done(True)

            self.push_screen(BulkRunScreen(run), closed)

        single = selection.ids[0] if selection.ids is not None and len(selection.ids) == 1 else None
        dialog = ActionDialog(selection.action, selection.label, selection.count, selection.hidden, service_id=single, renew_mode=renew_mode)
        self.push_screen(dialog, confirmed)

    # ------------------------------------------------------------------ bulk runs

    def start_bulk(self, request: ActionRequest, target: list[int] | bulk.Matching, count: int) -> BulkRunState:
        """Start a bulk run in the background; its state is kept, and announced on `bulk_changed`."""
        self._bulk_keys += 1
        run = BulkRunState(self._bulk_keys, request, count)
        self.bulk_runs = [*self.bulk_runs[-(KEPT_RUNS - 1) :], run]
        self._run_bulk(run.key, request, target)
        return run

    def bulk_run(self, key: int) -> BulkRunState | None:
        return next((run for run in self.bulk_runs if run.key == key), None)

    @work(thread=True, group="bulk-runs")
    def _run_bulk(self, key: int, request: ActionRequest, target: list[int] | bulk.Matching) -> None:
        """Write the run (a mark-all by one INSERT ... SELECT), then process it, reporting progress
        at most every PROGRESS_SECONDS; only the outcome counts come back, never every item."""
        selection = target.selection() if isinstance(target, bulk.Matching) else {"ids": sorted(set(target))}
        try:
            run_id, _ = bulk.start(self.db, self.actor, request.action, request.params, target, selection=selection)
            with self.db.read() as session:
                total = sum(bulk.outcome_counts(session, run_id).values())
            self.post_message(BulkRunStarted(key, run_id, total))
            done, last = 0, 0.0

            def progress(_: bulk.ItemResult) -> None:
                nonlocal done, last
                done += 1
                if time.monotonic() - last >= PROGRESS_SECONDS or done == total:
                    last = time.monotonic()
                    self.post_message(BulkProgressed(key, done, total))

            report = bulk.process(self.db, self.actor, run_id, progress=progress, items=False)
        except SvcError as error:
            self.post_message(BulkRunFailed(key, error.message))
            return
        self.post_message(BulkRunFinished(key, report.totals or {}))

    @on(BulkRunStarted)
    def _bulk_started(self, message: BulkRunStarted) -> None:
        run = self.bulk_run(message.key)
        if run is not None:
            run.run_id, run.total = message.run_id, message.total
            self.bulk_changed.publish(run)

    @on(BulkProgressed)
    def _bulk_progressed(self, message: BulkProgressed) -> None:
        run = self.bulk_run(message.key)
        if run is not None and not run.finished:
            run.done, run.total = message.done, message.total
            self.bulk_changed.publish(run)

    @on(BulkRunFinished)
    def _bulk_finished(self, message: BulkRunFinished) -> None:
        run = self.bulk_run(message.key)
        if run is None:
            return
        run.finished, run.totals = True, message.totals
        run.done = sum(message.totals.values())
        self.bulk_changed.publish(run)
        if not run.seen:
            severity: SeverityLevel = "warning" if message.totals.get("failed") or message.totals.get("skipped") else "information"
            self.notify(f"bulk {run.status_text()} (run {run.run_id}; B shows it)", severity=severity, markup=False, timeout=8)

    @on(BulkRunFailed)
    def _bulk_failed(self, message: BulkRunFailed) -> None:
        run = self.bulk_run(message.key)
        if run is None:
            return
        run.finished, run.error = True, message.error
        self.bulk_changed.publish(run)
        self.show_error(message.error)

    def action_last_bulk_run(self) -> None:
        """Show the last bulk run's screen again: its progress, or its results."""
        if not self.bulk_runs:
            self.notify("no bulk run yet in this session", severity="warning")
            return
        if not isinstance(self.screen, BulkRunScreen):
            self.push_screen(BulkRunScreen(self.bulk_runs[-1]))

    @work(thread=True, group="single-action")
    def run_single(self, action: str, params: dict[str, Any], service_id: int) -> None:
        """One action on one service, as `svcconsole services ACTION ID` runs it (a bulk run of one)."""
        try:
            report = bulk.run(self.db, self.actor, action, params, [service_id], selection={"ids": [service_id]})
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        self.post_message(ActionFinished(report))

    @on(ActionFinished)
    def _action_finished(self, message: ActionFinished) -> None:
        for item in message.report.items:
            text = f"service {item.service_id}: {render.plain(item.message)}"
            if item.outcome == "ok":
                self.notify(text, timeout=4, markup=False)
            elif item.outcome == "pending":
                self.notify(text, severity="warning", markup=False)
            else:
                self.show_error(text)
        self._finish_action(True)

    @on(ActionFailed)
    def _action_failed(self, message: ActionFailed) -> None:
        self.show_error(message.error)
        self._finish_action(False)

    def _finish_action(self, changed: bool) -> None:
        done, self._action_done = self._action_done, None
        if done is not None:
            done(False)


def run_console(db: Database, actor: Actor, config: Config | None = None) -> None:
    """Open the console on `db` as `actor` (read-only when the actor is), as config.toml says."""
    ConsoleApp(db, actor, config=config).run()
