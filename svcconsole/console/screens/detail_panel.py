"""The detail screen's Panel tab: the module's live state, its power and reinstall actions, the
module's own sub-tabs (the shared `PanelStateView` draws the state and the sub-tabs) and charts of
its figures (`PanelCharts`: the panel's history over an hour, a day or a week where the module
keeps one, else the live figures of each answer).

The panel is asked in a thread worker (the module calls have timeouts), only when the tab is
first shown, on `R`, and after an action; a failure is one line with the retry key, and an
answer to an older question is dropped.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Static

from svcconsole.console.host import ConsoleHost
from svcconsole.console.messages import HistoryLoaded, PanelLoaded, PowerSent, ServiceSaved
from svcconsole.console.screens.dialogs import POWER_CONSEQUENCES, PowerDialog
from svcconsole.core import delivery, lookups
from svcconsole.core.errors import SvcError
from svcconsole.core.statuses import Status
from svcconsole.modules import HISTORY_SPANS, ModuleError, get_module, is_module
from svcconsole.widgets import render
from svcconsole.widgets.messages import ErrorRaised, ReadOnlyRefused
from svcconsole.widgets.panel_charts import PanelCharts
from svcconsole.widgets.panel_state import PanelStateView

ON_A_PANEL = (Status.ACTIVE.value, Status.SUSPENDED.value)
SIGNAL_NAME = re.compile(r"[a-z][a-z_-]{0,30}")
POWER_SETTLE_SECONDS = 2.0
"""After a power signal the panel is asked at once, then again this much later (a server takes time to stop)."""
BUSY_POLL_SECONDS = 2.0
"""While the panel reports an operation under way (a lock, a starting or installing server), it is asked again this often."""
BUSY_STATES = frozenset({"starting", "stopping", "installing", "reinstalling", "restoring_backup"})
POWER_LABELS = {"suspend": "pause", "resume": "resume (unpause)"}
"""Power signals named for what they do to the machine: a VM's "suspend" pauses it while the
service stays active (suspending the service is `s`)."""


def power_label(signal: str) -> str:
    return POWER_LABELS.get(signal, signal)


def is_busy(state: Any) -> bool:
    """Whether the panel reports an operation still under way."""
    return bool(state.details.get("lock")) or str(state.status) in BUSY_STATES


def one_line(error: BaseException) -> str:
    """An exception as the one line the tab shows: a module's or core's message, else its type and text."""
    if isinstance(error, (ModuleError, SvcError)):
        text = error.message
    else:
        text = f"{type(error).__name__}: {error}"
    return " ".join(render.plain(text).split()) or type(error).__name__


def read_panel(db: Any, service_id: int, generation: int) -> PanelLoaded:
    """Ask the service's module for its live state and sub-tabs (in a worker thread)."""
    try:
        with db.read() as session:
            service = lookups.get_service(session, service_id)
            status, module_name, held = service.status, service.type, lookups.held_by_module(service)
        if not is_module(module_name):
            return PanelLoaded(service_id, generation, error=f"module {module_name} is not installed")
        if status not in ON_A_PANEL and not held:
            why = "not delivered to its panel yet" if status == Status.PENDING.value else "nothing of it is left on its panel"
            return PanelLoaded(service_id, generation, note=f"the service is {status}: {why}")
        module = get_module(module_name)
        if not module.supports_operation("panel"):
            return PanelLoaded(service_id, generation, note=f"module {module.label or module_name} has no panel")
        state = delivery.panel_state(db, service_id)
        tabs = delivery.module_tabs(db, service_id) if module.supports_operation("tabs") else []
    except Exception as error:  # noqa: BLE001 - every failure becomes the tab's one error line
        return PanelLoaded(service_id, generation, error=one_line(error))
    return PanelLoaded(service_id, generation, state=state, tabs=tabs)


def read_history(db: Any, service_id: int, span: str, generation: int) -> HistoryLoaded:
    """Ask the service's module what its panel recorded over `span` (in a worker thread)."""
    try:
        history = delivery.panel_history(db, service_id, span)
    except Exception as error:  # noqa: BLE001 - every failure becomes the chart's one error line
        return HistoryLoaded(service_id, generation, error=one_line(error))
    return HistoryLoaded(service_id, generation, history=history)


class PanelView(Vertical):
    """The Panel tab's content, asking the module in workers and showing what it answered."""

    def __init__(self, service_id: int, **options: Any) -> None:
        super().__init__(**options)
        self.service_id = service_id
        self.generation = 0
        self.asked = False
        self.loaded: PanelLoaded | None = None
        self.service_status: str | None = None
        self.module_operations: frozenset[str] = frozenset()
        self.module_label = ""
        self._shown = 0
        self.span = HISTORY_SPANS[0]
        self.history_generation = 0
        self._sampled: Any = None

    @property
    def console_app(self) -> ConsoleHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in its own app

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="panel-body"):
            yield Horizontal(id="panel-actions", classes="pane-buttons")
            yield PanelStateView("the panel is asked when this tab opens")
            with Horizontal(id="history-spans", classes="pane-buttons"):
                for span in HISTORY_SPANS:
                    yield Button(f"last {span}", id=f"history-{span}", classes="history-span")
            yield PanelCharts(id="panel-charts")

    @property
    def view(self) -> PanelStateView:
        return self.query_one(PanelStateView)

    @property
    def charts(self) -> PanelCharts:
        return self.query_one(PanelCharts)

    def on_mount(self) -> None:
        self.query_one("#history-spans").display = False
        self.charts.display = False

    def know_service(self, status: str, operations: frozenset[str], module_label: str = "") -> None:
        """The service's status and its module's operations, for the buttons offered."""
        changed = (status, operations) != (self.service_status, self.module_operations)
        self.service_status, self.module_operations, self.module_label = status, operations, module_label
        if changed and self.loaded is not None:
            self.call_later(self._show, self.loaded)

    def ask(self) -> None:
        """Ask the panel (again); an answer to an earlier question is dropped."""
        self.asked = True
        self.generation += 1
        self.view.show_line(Text("asking the panel…", style="italic dim"))
        self._read(self.service_id, self.generation)

    @work(thread=True, exclusive=True, group="panel-read")
    def _read(self, service_id: int, generation: int) -> None:
        self.post_message(read_panel(self.console_app.db, service_id, generation))

    @on(PanelLoaded)
    async def _loaded(self, message: PanelLoaded) -> None:
        message.stop()
        if message.generation != self.generation:
            return
        self.loaded = message
        await self._show(message)

    async def _show(self, message: PanelLoaded) -> None:
        """Show an answer; of two overlapping calls only the later one mounts its buttons."""
        self._shown += 1
        showing = self._shown
        view = self.view
        actions = self.query_one("#panel-actions", Horizontal)
        await actions.remove_children()
        if showing != self._shown:
            return
        actions.display = False
        await view.show_tabs(message.tabs)
        self.screen.refresh_bindings()
        if message.error:
            line = Text()
            line.append(message.error, "bold red")
            line.append("\nR", "bold")
            line.append(" asks the panel again", "dim")
            view.show_line(line)
            await actions.mount(Button("Retry", id="panel-retry"))
            actions.display = True
            return
        if message.note:
            view.show_line(Text(message.note, style="dim"))
            return
        state = message.state
        view.show_state(state)
        self._chart(state)
        active = self.service_status == Status.ACTIVE.value
        read_only = not self.console_app.can_act
        buttons: list[Widget] = []
        if "power" in self.module_operations and active:
            for signal in state.actions:
                if signal != "reinstall" and SIGNAL_NAME.fullmatch(str(signal)):
                    buttons.append(Button(power_label(signal), id=f"power-{signal}", classes="power", disabled=read_only))
        if "reinstall" in self.module_operations and active:
            buttons.append(Button("Reinstall…", id="reinstall", variant="warning", disabled=read_only))
        elif active:
            module = self.module_label or "this module"
            buttons.append(Static(Text(f"no reinstall: {module} cannot reinstall (terminate and create the service again)", style="dim"), id="no-reinstall"))
        if buttons:
            await actions.mount_all(buttons)
            actions.display = True
        if is_busy(state):
            asked = self.generation
            self.set_timer(BUSY_POLL_SECONDS, lambda: self._ask_unless_asked_since(asked))

    def _chart(self, state: Any) -> None:
        """Chart the panel's history where the module keeps one, else this answer's live figures."""
        keeps_history = "history" in self.module_operations
        self.query_one("#history-spans").display = keeps_history
        if keeps_history:
            self.charts.display = True
            self.ask_history(self.span)
        elif state.samples and state is not self._sampled:
            self._sampled = state
            self.charts.display = True
            self.charts.add_sample(state.samples)

    def ask_history(self, span: str) -> None:
        """Ask the panel for its history over `span`; an answer to an earlier question is dropped."""
        self.span = span
        self.history_generation += 1
        for button in self.query(".history-span").results(Button):
            button.variant = "primary" if button.id == f"history-{span}" else "default"
        self._read_history(self.service_id, span, self.history_generation)

    @work(thread=True, exclusive=True, group="panel-history")
    def _read_history(self, service_id: int, span: str, generation: int) -> None:
        self.post_message(read_history(self.console_app.db, service_id, span, generation))

    @on(HistoryLoaded)
    def _history_loaded(self, message: HistoryLoaded) -> None:
        message.stop()
        if message.generation != self.history_generation:
            return
        if message.error:
            self.charts.show_error(f"history: {message.error}")
        else:
            self.charts.show_history(message.history)

    @on(Button.Pressed, ".history-span")
    def _span_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.ask_history((event.button.id or "").removeprefix("history-"))

    @on(Button.Pressed, "#panel-retry")
    def _retry(self, event: Button.Pressed) -> None:
        event.stop()
        self.ask()

    @on(Button.Pressed, ".power")
    def _power_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if not self.console_app.can_act:
            self.post_message(ReadOnlyRefused())
            return
        signal = (event.button.id or "").removeprefix("power-")
        if signal in POWER_CONSEQUENCES:
            self.app.push_screen(PowerDialog(signal, f"service {self.service_id}"), self._power_confirmed)
            return
        self._power_confirmed(signal)

    def _power_confirmed(self, signal: str | None) -> None:
        if not signal:
            return
        self.view.show_line(Text(f"sending {signal}…", style="italic dim"))
        self._send_power(signal)

    @work(thread=True, group="panel-power")
    def _send_power(self, signal: str) -> None:
        app = self.console_app
        try:
            result = delivery.power(app.db, app.actor, self.service_id, signal)
        except Exception as error:  # noqa: BLE001 - shown as one line; the tab stays usable
            self.post_message(PowerSent(signal, error=one_line(error)))
            return
        self.post_message(PowerSent(signal, render.plain(result.message) or f"{signal} sent"))

    @on(PowerSent)
    def _power_sent(self, message: PowerSent) -> None:
        message.stop()
        if message.error:
            self.post_message(ErrorRaised(f"power {message.signal}: {message.error}"))
        else:
            self.notify(message.message, timeout=4, markup=False)
            self.post_message(ServiceSaved(""))
        self.ask()
        asked = self.generation
        self.set_timer(POWER_SETTLE_SECONDS, lambda: self._ask_unless_asked_since(asked))

    def _ask_unless_asked_since(self, generation: int) -> None:
        if self.generation == generation and self.is_attached:
            self.ask()
