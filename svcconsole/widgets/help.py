"""Help: the keys of the screen it was opened from in columns (k9s), a search over every key of
the registry, grouped by where it applies, and the filter syntax."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from svcconsole.core.filters import FILTER_HELP
from svcconsole.core.i18n import Translate, untranslated
from svcconsole.widgets import render
from svcconsole.widgets.keys import ConsoleAction, translate_bindings

HELP_KEYS: tuple[ConsoleAction, ...] = (
    ConsoleAction("help", "escape,q,question_mark", "close", "Close", "Close this help.", show=True, key_display="esc/q/?"),
    ConsoleAction("help", "slash", "search", "Search", "Search every screen's keys (key, name or what it does); esc closes.", show=True, key_display="/"),
)
HELP_COLUMNS = 3


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
    if filter_help:
        table.add_row("", Text(tr("Filter syntax"), style="bold underline"))
        table.add_row("", filter_help)
    return table


def matching(registry: Sequence[ConsoleAction], query: str) -> tuple[ConsoleAction, ...]:
    """The entries whose key, name or help holds every word of `query` (any case)."""
    words = query.lower().split()
    return tuple(entry for entry in registry if all(word in f"{entry.shown_key} {entry.description} {entry.help}".lower() for word in words))


def _section_table(rows: list[Text | tuple[str, str]]) -> Table:
    table = Table(box=None, show_header=False, expand=True, padding=(0, 1, 0, 0))
    table.add_column("key", style="bold cyan", no_wrap=True, width=8)
    table.add_column("what", no_wrap=True, overflow="ellipsis", ratio=1)
    for row in rows:
        if isinstance(row, Text):
            table.add_row("", row)
        else:
            table.add_row(*row)
    return table


def help_columns(
    registry: Sequence[ConsoleAction], scopes: dict[str, str], context: Sequence[str], filter_help: str = FILTER_HELP, *, markers: bool = True
) -> Group:
    """The keys of the scopes in `context` (the screen's first), each as key and name, flowed into
    HELP_COLUMNS columns so they fit one 120x35 screen; then the list's markers and the filter syntax."""
    lines: list[Text | tuple[str, str]] = []
    for scope in context:
        entries = [entry for entry in registry if entry.scope == scope]
        if not entries:
            continue
        if lines:
            lines.append(Text(""))
        lines.append(Text(scopes.get(scope, scope), style="bold underline"))
        lines += [(entry.shown_key, entry.description) for entry in entries]
    per_column = max(math.ceil(len(lines) / HELP_COLUMNS), 1)
    grid = Table.grid(expand=True, padding=(0, 2))
    for _ in range(HELP_COLUMNS):
        grid.add_column(ratio=1)
    columns = [lines[start : start + per_column] for start in range(0, len(lines), per_column)]
    columns = [column[1:] if isinstance(column[0], Text) and not column[0].plain else column for column in columns]
    grid.add_row(*(_section_table(column) for column in columns))
    parts: list[Table | Text] = [grid, Text("")]
    if markers and ("services" in context or "customer" in context):
        legend = Text("List markers  ", style="bold underline")
        for mark, meaning in render.MARKERS_LEGEND:
            legend.append_text(Text.assemble((mark, "bold"), f" {meaning.split(' (')[0]}   "))
        parts.append(legend)
    if "services" in context or "customer" in context:
        parts.append(Text.assemble(("Filter  ", "bold underline"), filter_help))
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    """The keys of a console: the screen's in columns (`help_columns`), and with the registry given,
    a search (/) over every key, drawn as `help_table` draws them."""

    BINDINGS = [entry.binding() for entry in HELP_KEYS if entry.bound]

    def __init__(
        self,
        table: Table | Group,
        title: str = "svcconsole keys · / searches every screen's keys · esc, q or ? closes",
        *,
        registry: Sequence[ConsoleAction] | None = None,
        scopes: dict[str, str] | None = None,
        translate: Translate = untranslated,
    ) -> None:
        super().__init__()
        self.table = table
        self.title_text = title
        self.registry = tuple(registry or ())
        self.scopes = scopes or {}
        translate_bindings(self, translate)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help", classes="dialog wide columns" if isinstance(self.table, Group) else "dialog wide"):
            yield Static(Text(self.title_text, style="bold"), id="help-title")
            yield Input(placeholder="search every key: a key, a name, a word of what it does", id="help-search")
            yield Static(self.table, id="help-table")

    def on_mount(self) -> None:
        self.query_one("#help-search", Input).display = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return bool(self.registry) if action == "search" else True

    def action_search(self) -> None:
        field = self.query_one("#help-search", Input)
        field.display = True
        field.focus()

    @on(Input.Changed, "#help-search")
    def _search_changed(self, event: Input.Changed) -> None:
        query = event.value.strip()
        if not query:
            self.query_one("#help-table", Static).update(self.table)
            return
        found = matching(self.registry, query)
        shown = help_table(found, self.scopes, markers=False, filter_help="") if found else Text(f"no key matches {query!r}", style="italic")
        self.query_one("#help-table", Static).update(shown)

    def action_close(self) -> None:
        self.dismiss(None)
