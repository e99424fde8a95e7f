"""What the admin detail and the customer's detail share: the screen's frame and its tables.

`TabbedDetail` is the frame: a header, the tabs (`]` and `[` step through them; `}` and `{`
through the Panel tab's module sub-tabs), back, and a footer; each screen composes its own
panes. The column sets draw renewals, options and history for both, the customer's without
staff fields (who recorded a renewal, option ids).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static, TabbedContent, TabPane

from svcconsole.core import i18n
from svcconsole.core.i18n import N_, Translate, untranslated
from svcconsole.widgets import render
from svcconsole.widgets.footer import ContextFooter
from svcconsole.widgets.panel_state import PanelStateView
from svcconsole.widgets.records import Column
from svcconsole.widgets.tabs import step_tab

SUB_TAB_ACTIONS = frozenset({"next_sub_tab", "previous_sub_tab"})


def header_text(detail: Any, tz: ZoneInfo, *, translate: Translate | None = None, locale: str | None = None) -> Text:
    """Name and status, then cycle, price, expiry, cancellation and customer of `detail.service`:
    two lines that never wrap (the customer, last, is cut with an ellipsis when the line is too long).
    With a `locale` (the customer area) the words, dates and money are that language's."""
    tr = translate or untranslated
    service = detail.service
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"#{service.id} ", "bold")
    line.append(render.plain(service.name), "bold")
    line.append("  ")
    line.append_text(render.status_text(service.status, service.suspend_kind, service.operation, service.placement_note, translate=tr))
    if getattr(service, "approval", None) and service.status == "pending":
        line.append(" · awaiting approval", render.AWAITING_STYLE)
    if getattr(service, "domain", None):
        line.append(f"  {render.plain(service.domain)}", "cyan")
    line.append("\n")
    if locale is None:
        line.append(f"{service.billing_cycle} {render.money(service.price, service.currency)}")
        line.append(f"  expires {render.day(service.expires_at, tz)}")
    else:
        line.append(f"{i18n.cycle_name(service.billing_cycle, tr)} {i18n.format_money(service.price, service.currency, locale)}")
        line.append("  " + tr("expires {date}").format(date=i18n.format_day(service.expires_at, tz, locale)))
    if service.cancel_at or service.cancelled_at:
        if locale is None:
            when = render.day(service.cancelled_at or service.cancel_at, tz)
            line.append(f"  cancel {render.plain(service.cancel_mode)} {when}", "bold magenta")
        else:
            when = i18n.format_day(service.cancelled_at or service.cancel_at, tz, locale)
            mode = tr(CANCEL_MODE_NAMES[service.cancel_mode]) if service.cancel_mode in CANCEL_MODE_NAMES else render.plain(service.cancel_mode)
            line.append("  " + tr("cancel {mode} {date}").format(mode=mode, date=when), "bold magenta")
    line.append("  ")
    line.append(render.plain(service.customer_name), "cyan")
    line.append(f" <{render.plain(detail.customer_email)}>", "dim")
    return line


CANCEL_MODE_NAMES = {"end-of-cycle": N_("at the end of the cycle"), "immediate": N_("now")}


def key_values(rows: Iterable[tuple[str, Any]]) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    table.add_column("field", style="dim", no_wrap=True, width=16)
    table.add_column("value", ratio=1)
    for name, value in rows:
        table.add_row(name, value if isinstance(value, Text) else Text(render.plain(value)))
    return table


@dataclass(frozen=True)
class AwaitingRenewal:
    """A renewal billed on an invoice still to be paid (staff see it above the renewals done)."""

    period_start: datetime | None
    period_end: datetime | None
    cycles: str
    amount: Decimal
    invoice_id: int
    invoice_status: str


def period(row: Any, tz: ZoneInfo) -> str:
    return f"{render.day(row.period_start, tz)} → {render.day(row.period_end, tz)}"


def renewed(row: Any, tz: ZoneInfo) -> RenderableType:
    if isinstance(row, AwaitingRenewal):
        return Text("awaiting payment", style="bold yellow")
    return render.day(row.renewed_at, tz)


def customer_renewal_columns(currency: str | None, locale: str) -> tuple[Column, ...]:
    """A customer's renewals: periods, amount and invoice, dated and priced in `locale` (the table translates the titles)."""
    return (
        Column(N_("renewed"), lambda row, tz: i18n.format_day(row.renewed_at, tz, locale)),
        Column(
            N_("period"),
            lambda row, tz: f"{i18n.format_day(row.period_start, tz, locale)} → {i18n.format_day(row.period_end, tz, locale)}",
        ),
        Column(N_("periods"), lambda row, tz: str(row.cycles)),
        Column(N_("amount"), lambda row, tz: i18n.format_money(row.amount, currency, locale)),
        Column(N_("invoice"), lambda row, tz: str(row.invoice_id or "-")),
    )


def renewal_invoice(row: Any, tz: ZoneInfo) -> RenderableType:
    if isinstance(row, AwaitingRenewal):
        return render.text(f"{row.invoice_id} ({row.invoice_status})")
    return str(row.invoice_id or "-")


RENEWED = Column("renewed", renewed)
PERIOD = Column("period", period)
RENEWAL_INVOICE = Column("invoice", renewal_invoice)
OPTION_COLUMNS = (
    Column("name", lambda option, tz: render.text(option.name)),
    Column("value", lambda option, tz: render.text(option.value or "")),
    Column("qty", lambda option, tz: str(option.quantity)),
    Column("price", lambda option, tz: render.money(option.price)),
    Column("expires", lambda option, tz: render.day(option.expires_at, tz)),
)
AT = Column("at", lambda row, tz: render.moment_text(row.at, tz))


def renewal_columns(*, staff: bool, currency: str | None = None, locale: str | None = None) -> tuple[Column, ...]:
    """Renewals: staff see cycles and who recorded each; a customer sees periods priced in `currency` (in `locale`, when given)."""
    if not staff and locale is not None:
        return customer_renewal_columns(currency, locale)
    if staff:
        return (
            RENEWED,
            PERIOD,
            Column("cycles", lambda row, tz: str(row.cycles)),
            Column("amount", lambda row, tz: render.money(row.amount)),
            RENEWAL_INVOICE,
            Column("by", lambda row, tz: "-" if isinstance(row, AwaitingRenewal) else render.text(row.actor)),
        )
    return (
        RENEWED,
        PERIOD,
        Column("periods", lambda row, tz: str(row.cycles)),
        Column("amount", lambda row, tz: render.money(row.amount, currency)),
        RENEWAL_INVOICE,
    )


def option_columns(*, staff: bool, locale: str | None = None) -> tuple[Column, ...]:
    """Options: staff see each option's id too (the key the Options tab edits by); a customer's in `locale`, when given."""
    if not staff and locale is not None:
        return (
            Column(N_("name"), lambda option, tz: render.text(option.name)),
            Column(N_("value"), lambda option, tz: render.text(option.value or "")),
            Column(N_("qty"), lambda option, tz: str(option.quantity)),
            Column(N_("price"), lambda option, tz: i18n.format_money(option.price, None, locale)),
            Column(N_("expires"), lambda option, tz: i18n.format_day(option.expires_at, tz, locale)),
        )
    return (Column("id", lambda option, tz: str(option.id)), *OPTION_COLUMNS) if staff else OPTION_COLUMNS


class TabbedDetail(Screen[None]):
    """A service's header and tabs; subclasses list `TABS` and compose each pane."""

    TABS: tuple[tuple[str, str], ...] = ()
    """(pane id, title) of each tab, in order."""

    load_generation = 0
    """How many reads of the service this screen has started; only the newest one's answer is shown."""

    def next_load(self) -> int:
        """Count a new read (a read started earlier may answer after it, and is then dropped)."""
        self.load_generation += 1
        return self.load_generation

    def translate(self, text: str) -> str:
        """`text` in the reader's language: the admin detail's stays English; the customer's translates."""
        return text

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        yield Static(self.header_placeholder(), id="detail-header")
        with TabbedContent(id="tabs"):
            for pane_id, title in self.TABS:
                with TabPane(self.translate(title), id=pane_id):
                    yield from self.compose_pane(pane_id)
        yield ContextFooter()

    def compose_top(self) -> ComposeResult:
        yield from ()

    def header_placeholder(self) -> Text:
        return Text()

    def compose_pane(self, pane_id: str) -> ComposeResult:
        raise NotImplementedError

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one("#tabs", TabbedContent)

    @property
    def panel_state(self) -> PanelStateView:
        return self.query_one(PanelStateView)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The sub-tab keys work on the Panel tab, when the module gave sub-tabs."""
        if action in SUB_TAB_ACTIONS:
            return self.tabs.active == "panel" and self.panel_state.sub_tabs is not None
        return True

    @on(TabbedContent.TabActivated, "#tabs")
    def _detail_tab_shown(self) -> None:
        self.refresh_bindings()

    def action_next_tab(self) -> None:
        step_tab(self.tabs, [pane_id for pane_id, _ in self.TABS], 1)

    def action_previous_tab(self) -> None:
        step_tab(self.tabs, [pane_id for pane_id, _ in self.TABS], -1)

    def action_next_sub_tab(self) -> None:
        self.panel_state.step_sub_tab(1)

    def action_previous_sub_tab(self) -> None:
        self.panel_state.step_sub_tab(-1)

    def action_back(self) -> None:
        self.dismiss(None)


__all__ = ["AwaitingRenewal", "TabbedDetail", "header_text", "key_values", "option_columns", "renewal_columns"]
