"""Stepping through the tabs of a TabbedContent with keys (the detail's tabs, the module's sub-tabs)."""

from __future__ import annotations

from collections.abc import Sequence

from textual.widgets import TabbedContent, Tabs


def step_tab(tabs: TabbedContent, names: Sequence[str], delta: int) -> None:
    """Show the next or previous of `names`; focus moves to the tab bar first, or a focused
    widget in the pane being left would bring its pane straight back."""
    if not names:
        return
    current = list(names).index(tabs.active) if tabs.active in names else 0
    tabs.query_one(Tabs).focus()
    tabs.active = names[(current + delta) % len(names)]
