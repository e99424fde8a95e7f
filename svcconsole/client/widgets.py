"""The customer area's own widgets: the dashboard's "Active services" and "Services with overages" tables."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import DataTable

from svcconsole.core import customer
from svcconsole.core.customer import ActiveServiceLine, OverageLine
from svcconsole.core.i18n import N_, Translate, untranslated
from svcconsole.widgets import render

COLUMNS = (("id", N_("id")), ("name", N_("Name")), ("expiration", N_("Expiration date")), ("auto", N_("Auto-Renewal")), ("renew", N_("Renew")))
EMPTY = N_("Your active services will appear here once you have some.")
NAME_MINIMUM = 8
CELL_PADDING = 2
SCROLLBAR = 2
"""The cells kept at the right for the vertical scrollbar a long list shows."""
"""The cells DataTable pads each column with (one each side)."""


def column_widths(titles: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """The widths of the widget's columns in `width` cells: every column but the name as wide as its
    title and its longest value, the name (second) taking what is left, so a wide terminal shows
    names in full. When space runs short, titles longer than their values go on two lines first
    (each column stays as wide as the longest word of its title)."""
    values = [[cell_len(row[index]) for row in rows] for index in range(len(titles))]
    longest = [max(column, default=0) for column in values]
    natural = [max(cell_len(title), value) for title, value in zip(titles, longest, strict=True)]
    minimum = [max(value, 3, *(cell_len(word) for word in title.split())) for title, value in zip(titles, longest, strict=True)]
    available = max(width - CELL_PADDING * len(titles), 0)
    widths = list(natural)
    for index in range(len(widths) - 1, 1, -1):
        if available - sum(widths) + widths[1] >= NAME_MINIMUM:
            break
        widths[index] = minimum[index]
    widths[1] = max(available - sum(widths) + widths[1], min(NAME_MINIMUM, natural[1]))
    return widths


def header_label(title: str, width: int) -> str:
    """`title` on one line when it fits in `width`, else on two ("Renouvellement / automatique"
    in French on 80 columns); what still does not fit is cut with an ellipsis."""
    if cell_len(title) <= width:
        return title
    lines = textwrap.wrap(title, width=max(width, 1), break_long_words=False, max_lines=2, placeholder="…")
    return "\n".join(lines) if lines else title


class ServiceRows(DataTable[Text]):
    """A dashboard widget's table: one row per service, keyed by its id; a refresh keeps the cursor on its service."""

    def service_id_at_cursor(self) -> int | None:
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return int(key) if key is not None else None

    def keep_cursor_on(self, service_id: int | None) -> None:
        """Put the cursor back on `service_id` after the rows were drawn again, if it is still there."""
        if service_id is not None and str(service_id) in self.rows:
            self.move_cursor(row=self.get_row_index(str(service_id)))


class ActiveServices(ServiceRows):
    """id, name, "Expires 2026-08-07" or "Stopped 2026-07-01", auto-renewal On / Off, "12.00 EUR/month".

    The columns take the width the terminal gives: the dates, switches and prices as wide as
    they need, the name the rest (re-measured on each read and each resize, header and rows together).
    """

    DEFAULT_CSS = """
    ActiveServices { height: auto; max-height: 1fr; }
    """

    def __init__(self, *, id: str | None = None, translate: Translate = untranslated, locale: str = "en") -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.tr = translate
        self.locale = locale
        self.lines: tuple[ActiveServiceLine, ...] = ()

    def on_mount(self) -> None:
        self._build()

    def on_resize(self, event: events.Resize) -> None:
        self._build()

    def show(self, lines: Sequence[ActiveServiceLine]) -> None:
        """Replace the rows (the cursor stays on the same service when it is still listed)."""
        self.lines = tuple(lines)
        self._build()

    def _build(self) -> None:
        current = self.service_id_at_cursor()
        titles = [self.tr(title) for _, title in COLUMNS]
        cells = [(str(line.id), line.name, line.expiration, line.auto_renewal, line.renew) for line in self.lines]
        widths = column_widths(titles, cells, (self.size.width or self.app.size.width) - SCROLLBAR)
        self.clear(columns=True)
        headers = [header_label(title, width) for title, width in zip(titles, widths, strict=True)]
        self.header_height = max(len(header.split("\n")) for header in headers)
        for (key, _), header, width in zip(COLUMNS, headers, widths, strict=True):
            self.add_column(Text(header, overflow="ellipsis"), width=width, key=key)
        on_label = customer.auto_renew_label(True, self.locale)
        for line in self.lines:
            expiration = Text(line.expiration, style="bold red" if customer.is_stopped_label(line.expiration, self.locale) else "")
            auto = Text(line.auto_renewal, style="green" if line.auto_renewal == on_label else "dim")
            self.add_row(render.text(line.id), render.text(line.name, "bold"), expiration, auto, render.text(line.renew), key=str(line.id))
        self.keep_cursor_on(current)


OVERAGE_COLUMNS = ((N_("id"), 6), (N_("Name"), 24), (N_("Expiration date"), 18), (N_("Overage cost"), 16))
OVERAGE_EMPTY = N_("Services with overages will appear here once more information is gathered.")


class OverageServices(ServiceRows):
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
        self.keep_cursor_on(current)
