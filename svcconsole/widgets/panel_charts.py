"""Charts of a service's figures on its panel: the panel's recorded history (Proxmox `rrddata`)
over an hour, a day or a week, or the live figures of successive answers (Pterodactyl keeps no
history), each series drawn with Textual's `Sparkline` beside its latest and highest value."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from svcconsole.modules import HISTORY_SERIES, PanelHistory

LIVE_SAMPLES = 60
"""How many live answers a chart keeps (the oldest is dropped)."""
STEP_WORDS = {60: "a minute", 1800: "half an hour", 10800: "three hours"}


def figure(series: str, value: float | None) -> str:
    """A value of a series in its unit: cpu in %, memory in MiB, network in KiB/s."""
    if value is None:
        return "–"
    if series == "cpu":
        return f"{value:.1f} %"
    if series == "memory":
        return f"{value / 1024**2:,.0f} MiB"
    return f"{value / 1024:,.1f} KiB/s"


def series_label(series: str, values: Sequence[float | None]) -> Text:
    """`name  latest (max highest)`, from the values that are known."""
    known = [value for value in values if value is not None]
    label = Text(f"{series:<12}", style="dim")
    label.append(figure(series, known[-1] if known else None))
    if known:
        label.append(f"  max {figure(series, max(known))}", style="dim")
    return label


def live_rates(samples: Sequence[tuple[float, dict[str, float]]]) -> dict[str, list[float | None]]:
    """Series from successive live answers: cpu and memory as read, the network counters as the
    rate between two answers (a counter that went down, a restart, gives no rate)."""
    series: dict[str, list[float | None]] = {name: [] for name in HISTORY_SERIES}
    for index, (at, sample) in enumerate(samples):
        for name in ("cpu", "memory"):
            series[name].append(sample.get(name))
        for name in ("network in", "network out"):
            if index == 0:
                continue
            before_at, before = samples[index - 1]
            elapsed, grown = at - before_at, sample.get(name, 0.0) - before.get(name, 0.0)
            series[name].append(grown / elapsed if elapsed > 0 and grown >= 0 else None)
    return series


class PanelCharts(Vertical):
    """A title line, then one row per series: its label and its sparkline."""

    DEFAULT_CSS = """
    PanelCharts { height: auto; margin-top: 1; }
    PanelCharts .chart-row { height: 1; }
    PanelCharts .chart-label { width: 44; }
    PanelCharts Sparkline { width: 1fr; }
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.samples: deque[tuple[float, dict[str, float]]] = deque(maxlen=LIVE_SAMPLES)

    def compose(self) -> ComposeResult:
        yield Static(Text("", style="dim"), id="charts-title")
        for index, name in enumerate(HISTORY_SERIES):
            with Horizontal(classes="chart-row"):
                yield Static(series_label(name, []), id=f"chart-label-{index}", classes="chart-label")
                yield Sparkline([], id=f"chart-{index}")

    def _draw(self, title: Text, series: dict[str, list[float | None]]) -> None:
        self.query_one("#charts-title", Static).update(title)
        for index, name in enumerate(HISTORY_SERIES):
            values = series.get(name) or []
            self.query_one(f"#chart-label-{index}", Static).update(series_label(name, values))
            self.query_one(f"#chart-{index}", Sparkline).data = [value or 0.0 for value in values]

    def show_history(self, history: PanelHistory) -> None:
        """The panel's recorded figures over the span."""
        every = STEP_WORDS.get(history.step_seconds, f"{history.step_seconds} s")
        title = Text(f"history of the last {history.span} ({len(history.times)} points, one every {every})", style="bold")
        self._draw(title, history.series)

    def show_error(self, line: str) -> None:
        self.query_one("#charts-title", Static).update(Text(line, style="red"))

    def add_sample(self, sample: dict[str, float], at: float | None = None) -> None:
        """A live answer's figures, charted with the answers before it."""
        self.samples.append((time.monotonic() if at is None else at, dict(sample)))
        count = len(self.samples)
        title = Text(f"live: {count} answer{'s' if count != 1 else ''} since the tab opened (the panel keeps no history)", style="bold")
        self._draw(title, live_rates(list(self.samples)))


__all__ = ["LIVE_SAMPLES", "PanelCharts", "figure", "live_rates"]
