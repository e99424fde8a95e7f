"""The admin console: a Textual app over the services store (SPEC.md section 8).

Screens never touch tables: reads and every change run in thread workers that call `core`
(or the read queries of `store`), and their results come back as messages.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from textual import on, work
from textual.app import App
from textual.binding import Binding

from svcconsole.console import render
from svcconsole.console.actions import bindings
from svcconsole.console.commands import ConsoleCommands
from svcconsole.console.guard import CrashGuard
from svcconsole.console.messages import ActionFailed, ActionFinished, SelectionResolved
from svcconsole.core import bulk
from svcconsole.core.errors import SvcError
from svcconsole.core.operators import Actor
from svcconsole.core.statuses import Role
from svcconsole.store.engine import Database, safe_url
from svcconsole.store.queries import ServiceFilter


class ConsoleApp(CrashGuard, App[None]):
    """The console: the service list first, the other screens pushed over it."""

    CSS_PATH = Path(__file__).parent / "console.tcss"
    TITLE = "svcconsole"
    COMMANDS = {ConsoleCommands}
    BINDINGS = [*bindings("app"), Binding("ctrl+c", "quit", show=False, priority=True)]

    def __init__(self, db: Database, actor: Actor, *, tz: ZoneInfo | None = None, page_size: int = 100, database_label: str | None = None) -> None:
        super().__init__()
        self._database_label = database_label
        self.db = db
        self.actor = actor
        self.tz_override = tz
        self.tz = tz or ZoneInfo("UTC")
        self.page_size = page_size
        self._action_done: Callable[[bool], None] | None = None
        self.theme = "textual-dark"

    @property
    def read_only(self) -> bool:
        return self.actor.read_only or self.actor.role is Role.VIEWER

    @property
    def can_act(self) -> bool:
        return not self.read_only

    @property
    def database_label(self) -> str:
        if self._database_label is not None:
            return self._database_label
        path = self.db.sqlite_file
        return path.name if path is not None else safe_url(self.db.url)

    def on_mount(self) -> None:
        from svcconsole.screens.services import ServicesScreen

        self.push_screen(ServicesScreen())

    # ------------------------------------------------------------------ navigation

    def show_services(self) -> None:
        from svcconsole.screens.services import ServicesScreen

        while len(self.screen_stack) > 2 and not isinstance(self.screen, ServicesScreen):
            self.pop_screen()

    def action_help(self) -> None:
        from svcconsole.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_jobs(self) -> None:
        from svcconsole.screens.jobs import JobsScreen

        if not isinstance(self.screen, JobsScreen):
            self.push_screen(JobsScreen())

    def open_service(self, service_id: int) -> None:
        from svcconsole.screens.detail import DetailScreen

        self.push_screen(DetailScreen(service_id))

    def edit_service(self, service_id: int) -> None:
        from svcconsole.screens.edit import EditScreen

        if not self.can_act:
            self.refuse_read_only()
            return
        self.push_screen(EditScreen(service_id))

    def new_service(self) -> None:
        from svcconsole.screens.wizard import WizardScreen

        if not self.can_act:
            self.refuse_read_only()
            return
        self.push_screen(WizardScreen())

    def refuse_read_only(self) -> None:
        why = "read-only mode" if self.actor.read_only else f"{self.actor.name} is a viewer"
        self.notify(f"{why}: actions are off", severity="error")

    def show_error(self, error: str) -> None:
        self.notify(render.plain(error), severity="error", markup=False, timeout=8)

    # ------------------------------------------------------------------ actions

    def bulk_menu(self, chosen: Callable[[str], None], label: str = "the selection") -> None:
        from svcconsole.screens.dialogs import BulkMenu

        def picked(name: str | None) -> None:
            if name:
                chosen(name)

        self.push_screen(BulkMenu(label), picked)

    def ask_action(
        self,
        selection: SelectionResolved,
        *,
        selection_filter: ServiceFilter | None = None,
        excluded: set[int] | None = None,
        on_done: Callable[[bool], None] | None = None,
        renew_mode: str = "now",
    ) -> None:
        """The action's dialog, then a one-service run (a notification) or a bulk run screen."""
        from svcconsole.screens.bulk import BulkRunScreen
        from svcconsole.screens.dialogs import ActionDialog, ActionRequest

        def confirmed(request: ActionRequest | None) -> None:
            if request is None:
                return
            if selection.ids is not None and len(selection.ids) == 1 and not selection.marked:
                self._action_done = on_done
                self.run_single(request.action, request.params, selection.ids[0])
                return

            def finished(_: bool | None) -> None:
                if on_done is not None:
                    on_done(True)

            screen = BulkRunScreen(request, selection.ids, selection_filter=selection_filter, excluded=excluded, count=selection.count)
            self.push_screen(screen, finished)

        single = selection.ids[0] if selection.ids is not None and len(selection.ids) == 1 else None
        dialog = ActionDialog(selection.action, selection.label, selection.count, selection.hidden, service_id=single, renew_mode=renew_mode)
        self.push_screen(dialog, confirmed)

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


def run_console(db: Database, actor: Actor) -> None:
    """Open the console on `db` as `actor` (read-only when the actor is)."""
    ConsoleApp(db, actor).run()
