"""The customer area's own widgets: the dashboard's "Active services" and "Services with overages" tables."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from svcconsole.core.customer import ActiveServiceLine, OverageLine
from svcconsole.widgets import render

COLUMNS = (("id", 6), ("Name", 14), ("Expiration date", 18), ("Auto-Renewal", 12), ("Renew", 18))
EMPTY = "Your active services will appear here once you have some."


class ActiveServices(DataTable[Text]):
    """id, name, "Expires 2026-08-07" or "Stopped 2026-07-01", auto-renewal On / Off, "12.00 EUR/month".

    The columns have fixed widths (78 cells in all), so the table fits 80 columns and its
    header never lags behind its rows.
    """

    DEFAULT_CSS = """
    ActiveServices { height: auto; max-height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        for title, width in COLUMNS:
            self.add_column(title, width=width, key=title)

    def show(self, lines: Sequence[ActiveServiceLine]) -> None:
        """Replace the rows (the cursor stays on the same service when it is still listed)."""
        current = self.service_id_at_cursor()
        self.clear()
        for line in lines:
            expiration = Text(line.expiration, style="bold red" if line.expiration.startswith("Stopped") else "")
            auto = Text(line.auto_renewal, style="green" if line.auto_renewal == "On" else "dim")
            self.add_row(render.text(line.id), render.text(line.name, "bold"), expiration, auto, render.text(line.renew), key=str(line.id))
        if current is not None and str(current) in self.rows:
            self.move_cursor(row=self.get_row_index(str(current)))

    def service_id_at_cursor(self) -> int | None:
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return int(key) if key is not None else None


OVERAGE_COLUMNS = (("id", 6), ("Name", 24), ("Expiration date", 18), ("Overage cost", 16))
OVERAGE_EMPTY = "Services with overages will appear here once more information is gathered."


class OverageServices(DataTable[Text]):
    """BILLmanager's second widget: id, name, "Expires 2026-08-07" or "Stopped 2026-07-01", and the
    current period's overage cost (every metered resource's together). Headers and the
    expiration's sentence go through the app's translator."""

    DEFAULT_CSS = """
    OverageServices { height: auto; max-height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        tr = self.app.tr  # type: ignore[attr-defined]  # the customer area's app holds its translator
        for title, width in OVERAGE_COLUMNS:
            self.add_column(tr(title), width=width, key=title)

    def show(self, lines: Sequence[OverageLine]) -> None:
        tr = self.app.tr  # type: ignore[attr-defined]
        current = self.service_id_at_cursor()
        self.clear()
        for line in lines:
            expiration = Text(tr(line.expiration).format(date=line.expiration_date), style="bold red" if line.expiration.startswith("Stopped") else "")
            self.add_row(render.text(line.id), render.text(line.name, "bold"), expiration, render.text(line.cost, "bold"), key=str(line.id))
        if current is not None and str(current) in self.rows:
            self.move_cursor(row=self.get_row_index(str(current)))

    def service_id_at_cursor(self) -> int | None:
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return int(key) if key is not None else None
