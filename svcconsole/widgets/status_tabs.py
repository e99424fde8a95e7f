"""The status tabs over the list (All, Pending, Active, ...) with their counts, on one line."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from svcconsole.core.i18n import N_, Translate, untranslated
from svcconsole.widgets import render

TABS: tuple[tuple[str, str, str], ...] = (
    ("all", N_("All"), N_("All")),
    ("pending", N_("Pending"), N_("Pend")),
    ("active", N_("Active"), N_("Act")),
    ("suspended", N_("Suspended"), N_("Susp")),
    ("expired", N_("Expired"), N_("Exp")),
    ("cancelled", N_("Cancelled"), N_("Canc")),
    ("terminated", N_("Terminated"), N_("Term")),
    ("ordered", N_("Ordered"), N_("Ord")),
)
"""The list's tabs: `core.statuses.LISTED_STATUSES` after All, `ordered` (in an unpaid order) last."""


class StatusTabs(Widget):
    """One line of tabs; the active one highlighted; counts shortened when the line is narrow.

    `counts` maps each tab (All included) to the rows it lists under the current filter.
    """

    DEFAULT_CSS = """
    StatusTabs { height: 1; background: $panel; }
    """

    active = reactive("all")
    counts: reactive[dict[str, int] | None] = reactive(None)
    view_tabs: reactive[tuple[str, ...]] = reactive(())
    """Saved views shown as extra tabs after the statuses (config.toml's `tab = true`), keyed "view:NAME"."""

    @dataclass
    class Chosen(Message):
        """A tab was clicked."""

        status: str

    def __init__(self, *, id: str | None = None, translate: Translate = untranslated) -> None:
        super().__init__(id=id)
        self.translate = translate

    def _labels(self) -> list[tuple[str, str]]:
        tr = self.translate
        counts = self.counts
        width = self.size.width or 80
        for long_names, short_counts in ((True, False), (True, True), (False, True)):
            labels = []
            for key, name, short in TABS:
                total = None if counts is None else counts.get(key, 0)
                labels.append((key, f" {tr(name) if long_names else tr(short)} {render.count(total, short=short_counts)} "))
            labels += [(f"view:{name}", f" ★ {name} ") for name in self.view_tabs]
            if sum(len(label) for _, label in labels) + len(labels) - 1 <= width:
                return labels
        return labels

    def render(self) -> Text:
        line = Text(no_wrap=True, overflow="crop")
        for index, (key, label) in enumerate(self._labels()):
            if index:
                line.append("│", "dim")
            line.append(label, "bold reverse" if key == self.active else "")
        return line

    def on_click(self, event: events.Click) -> None:
        x = event.x
        for key, label in self._labels():
            if x < len(label):
                self.post_message(self.Chosen(key))
                return
            x -= len(label) + 1

    def step(self, delta: int) -> str:
        keys = [key for key, _, _ in TABS] + [f"view:{name}" for name in self.view_tabs]
        return keys[(keys.index(self.active) + delta) % len(keys)]
