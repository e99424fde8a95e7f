"""The bulk runs the console started: what each asked, how far it got, how it ended.

A run belongs to the app, not to the screen that shows it, so the admin can close that screen
and go on working while the run goes on; the status line shows it, and the palette's
"bulk: last run" (or B) shows its screen again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from svcconsole.widgets import render

KEPT_RUNS = 10
OUTCOMES = ("ok", "failed", "skipped", "pending")


@dataclass
class ActionRequest:
    """What a confirmed dialog asks for: the core action and its checked parameters."""

    action: str
    params: dict[str, Any] = field(default_factory=dict)
    title: str = ""


@dataclass
class BulkRunState:
    """One run as the console knows it; changed only on the UI thread, from its worker's messages."""

    key: int
    request: ActionRequest
    count: int
    run_id: int | None = None
    done: int = 0
    total: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    finished: bool = False
    seen: bool = False
    """Whether the admin saw its results (its screen was open when it ended)."""

    @property
    def running(self) -> bool:
        return not self.finished

    @property
    def expected(self) -> int:
        return self.total or self.count

    def outcome_text(self) -> str:
        """'45 ok, 2 failed' (in the order of OUTCOMES, counts that are 0 left out)."""
        return ", ".join(f"{self.totals[outcome]:,} {outcome}" for outcome in OUTCOMES if self.totals.get(outcome))

    def status_text(self) -> str:
        """One short line for the status line: 'suspend 1,234/5,000' or 'suspend: 45 ok, 2 failed'."""
        title = render.plain(self.request.action)
        if self.error:
            return f"{title}: {render.plain(self.error)}"
        if self.finished:
            return f"{title}: {self.outcome_text() or 'nothing to do'}"
        return f"{title} {self.done:,}/{self.expected:,}"
