"""The yardstick for the console's launch: a bare Textual app showing a 100-row table.

`bench/scale.py` starts it in a pseudo-terminal beside the console and times both to their first
row on screen, so the console's figure can be read against what Textual itself costs here.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable

FIRST_ROW = "bare-row-0001"


class BareApp(App[None]):
    """One DataTable of 100 rows, nothing else."""

    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("id", "customer", "name", "status", "expires")
        for index in range(1, 101):
            table.add_row(str(index), f"Customer {index}", f"bare-row-{index:04d}", "active", "2027-01-31")


if __name__ == "__main__":
    BareApp().run()
