"""Help: every key of a registry, grouped by where it applies, and the filter syntax."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from svcconsole.core.filters import FILTER_HELP
from svcconsole.core.i18n import Translate, untranslated
from svcconsole.widgets import render
from svcconsole.widgets.keys import ConsoleAction, translate_bindings

HELP_KEYS: tuple[ConsoleAction, ...] = (
    ConsoleAction("help", "escape,q,question_mark", "close", "Close", "Close this help.", show=True, key_display="esc/q/?"),
)


def help_table(
    registry: tuple[ConsoleAction, ...],
    scopes: dict[str, str],
    filter_help: str = FILTER_HELP,
    *,
    markers: bool = True,
    translate: Translate = untranslated,
) -> Table:
    """The registry as a table: key, action, what it does, grouped by where it applies; then the
    list's markers (staff only) and the filter syntax. `translate` puts the words in the reader's
    language (the customer area's); the admin console's stay English."""
    tr = translate
    table = Table(box=None, show_header=False, expand=True, padding=(0, 1))
    table.add_column("key", style="bold cyan", no_wrap=True, width=9)
    table.add_column("what", ratio=1)
    for scope, title in scopes.items():
        entries = [entry for entry in registry if entry.scope == scope]
        if not entries:
            continue
        table.add_row("", Text(tr(title), style="bold underline"))
        for entry in entries:
            line = Text()
            line.append(tr(entry.description), "bold")
            line.append(f"  {tr(entry.help)}")
            if entry.mutates:
                line.append("  " + tr("(off in read-only mode)"), "dim")
            table.add_row(entry.shown_key, line)
    if markers:
        table.add_row("", Text("List markers", style="bold underline"))
        for mark, meaning in render.MARKERS_LEGEND:
            table.add_row("", Text.assemble((mark, "bold"), f"  {meaning}"))
    table.add_row("", Text(tr("Filter syntax"), style="bold underline"))
    table.add_row("", filter_help)
    return table


class HelpScreen(ModalScreen[None]):
    """Every key of a console, as `help_table` draws it from the registry its bindings are built from."""

    BINDINGS = [entry.binding() for entry in HELP_KEYS if entry.bound]

    def __init__(self, table: Table, title: str = "svcconsole keys · esc, q or ? closes", *, translate: Translate = untranslated) -> None:
        super().__init__()
        self.table = table
        self.title_text = title
        translate_bindings(self, translate)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help", classes="dialog wide"):
            yield Static(Text(self.title_text, style="bold"), id="help-title")
            yield Static(self.table, id="help-table")

    def action_close(self) -> None:
        self.dismiss(None)
