"""A service's live state on its panel, and the module's own sub-tabs as tabs of their own.

Both detail screens show the Panel tab with this widget: the admin's adds power and reinstall
buttons above it, the customer's gives it a state without the panel's internal references.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, TabPane

from svcconsole.core.i18n import N_, Translate, untranslated
from svcconsole.modules import ModuleTab, PanelState
from svcconsole.widgets import render
from svcconsole.widgets.tabs import step_tab

STATE_STYLES = {"running": "green", "offline": "red", "stopped": "red", "suspended": "bold dark_orange", "paused": "dark_orange", "installing": "italic cyan"}
PANE_PREFIX = "module-tab-"
PANEL_STATE_NAMES = {
    "running": N_("running"),
    "offline": N_("offline"),
    "stopped": N_("stopped"),
    "suspended": N_("suspended"),
    "paused": N_("paused"),
    "installing": N_("installing"),
    "managed by hand": N_("managed by hand"),
}
"""The panel's state words as the customer area translates them (the admin console shows them as they are)."""
RESOURCE_NAMES = {"memory": N_("memory"), "disk": N_("disk"), "cpu": N_("cpu"), "uptime": N_("uptime"), "network": N_("network")}


def key_value_table() -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    table.add_column("field", style="dim", no_wrap=True, width=16)
    table.add_column("value", ratio=1)
    return table


def state_table(state: PanelState, translate: Translate = untranslated) -> Table:
    """The live state as key / value rows: status, resources, addresses, details (labels in the reader's language)."""
    table = key_value_table()
    status = render.plain(state.status)
    shown = translate(PANEL_STATE_NAMES[status]) if status in PANEL_STATE_NAMES else status
    table.add_row(translate("state"), Text(shown, style=STATE_STYLES.get(status, "bold")))
    for key, value in state.resources.items():
        table.add_row(render.text(translate(RESOURCE_NAMES[key]) if key in RESOURCE_NAMES else key), Text(render.plain(value)))
    for address in state.addresses:
        table.add_row(translate("address"), Text(render.plain(address)))
    for key, value in state.details.items():
        table.add_row(render.text(key), Text(render.plain(value)))
    return table


def tab_rows(tab: ModuleTab) -> Table:
    table = key_value_table()
    for key, value in tab.rows:
        table.add_row(render.text(key), Text(render.plain(value)))
    return table


def pane_id(tab: ModuleTab) -> str:
    """A DOM id for the sub-tab of `tab` (module keys are free text)."""
    return PANE_PREFIX + (re.sub(r"[^A-Za-z0-9_-]", "-", render.plain(tab.key)) or "tab")


class ModuleSubTabs(Widget):
    """The module's sub-tabs (`Module.tabs`), each a key / value table under its own tab."""

    DEFAULT_CSS = """
    ModuleSubTabs { height: auto; margin-top: 1; }
    """

    def __init__(self, tabs: Sequence[ModuleTab]) -> None:
        super().__init__()
        self.tabs = tuple(tabs)

    @property
    def names(self) -> list[str]:
        return [pane_id(tab) for tab in self.tabs]

    def compose(self) -> ComposeResult:
        with TabbedContent(id="module-tabs"):
            for tab in self.tabs:
                with TabPane(render.plain(tab.title), id=pane_id(tab)):
                    yield Static(tab_rows(tab), classes="module-tab-rows")

    def holds(self, tabs: Sequence[ModuleTab]) -> bool:
        """Whether `tabs` are the same sub-tabs (keys and titles) as those shown."""
        return [(tab.key, tab.title) for tab in tabs] == [(tab.key, tab.title) for tab in self.tabs]

    def refill(self, tabs: Sequence[ModuleTab]) -> None:
        """New rows for the same sub-tabs; the chosen sub-tab and the focus stay."""
        self.tabs = tuple(tabs)
        for tab in self.tabs:
            self.query_one(f"#{pane_id(tab)} .module-tab-rows", Static).update(tab_rows(tab))

    def step(self, delta: int) -> None:
        step_tab(self.query_one("#module-tabs", TabbedContent), self.names, delta)

    @property
    def active(self) -> str:
        return self.query_one("#module-tabs", TabbedContent).active


class PanelStateView(Vertical):
    """The state line or table (`#panel-state`), then the module's sub-tabs when it has some."""

    DEFAULT_CSS = """
    PanelStateView { height: auto; }
    """

    def __init__(self, waiting: str, *, translate: Translate = untranslated, **options: Any) -> None:
        super().__init__(**options)
        self.waiting = waiting
        self.translate = translate

    def compose(self) -> ComposeResult:
        yield Static(Text(self.waiting, style="dim"), id="panel-state")

    @property
    def sub_tabs(self) -> ModuleSubTabs | None:
        found = self.query(ModuleSubTabs)
        return found.first() if found else None

    def show_line(self, line: Text) -> None:
        """A line in place of the state: asking, a note, or the one error line."""
        self.query_one("#panel-state", Static).update(line)

    def show_state(self, state: PanelState) -> None:
        self.query_one("#panel-state", Static).update(state_table(state, self.translate))

    async def show_tabs(self, tabs: Sequence[ModuleTab]) -> None:
        """The module's sub-tabs: refilled when they are the same, else built anew (none: removed)."""
        current = self.sub_tabs
        if current is not None and tabs and current.holds(tabs):
            current.refill(tabs)
            return
        if current is not None:
            await current.remove()
        if tabs:
            await self.mount(ModuleSubTabs(tabs))

    def step_sub_tab(self, delta: int) -> bool:
        """Show the next or previous sub-tab; False when there are none."""
        current = self.sub_tabs
        if current is None:
            return False
        current.step(delta)
        return True


__all__ = ["STATE_STYLES", "ModuleSubTabs", "PanelStateView", "state_table"]
