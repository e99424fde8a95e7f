"""Turning stored values into inert, coloured `rich.text.Text` for the console.

User data is always a `Text` built from `parse.inert(...)`: never markup, never raw control
characters, so a name such as `[bold]x` or one with escape sequences shows as typed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from rich.text import Text

from svcconsole.core import clock, i18n
from svcconsole.core.i18n import Translate, untranslated
from svcconsole.core.parse import inert

DARK_COLOURS = {
    "blue": "#5fafff",
    "green": "#5fd75f",
    "orange": "#ffaf00",
    "violet": "#d787ff",
    "grey": "#a8a8a8",
    "red": "#ff8787",
    "dark-grey": "#6c6c6c",
    "teal": "#5fd7d7",
    "yellow": "#ffff87",
}
"""Colours of the xterm 256-colour cube, so a 256-colour terminal shows exactly these, and
explicit, so no theme maps two of them to one (ANSI red and magenta are both #f4005f in
Textual's default theme)."""
LIGHT_COLOURS = {
    "blue": "#005faf",
    "green": "#005f00",
    "orange": "#875f00",
    "violet": "#5f0087",
    "grey": "#4e4e4e",
    "red": "#af0000",
    "dark-grey": "#808080",
    "teal": "#005f5f",
    "yellow": "#5f5f00",
}
"""The same colours for a light theme: darker cells of the same 256-colour cube."""
BLUE, GREEN, ORANGE, VIOLET, GREY, RED, DARK_GREY, TEAL, YELLOW = DARK_COLOURS.values()
STATUS_LOOK = {
    "ordered": ("italic", "yellow"),
    "pending": ("bold", "blue"),
    "active": ("", "green"),
    "suspended": ("bold", "orange"),
    "expired": ("", "violet"),
    "cancelled": ("", "grey"),
    "terminated": ("bold", "red"),
    "deleted": ("strike", "dark-grey"),
}
"""Each status's emphasis and colour; the colour is the theme variable `$status-<status>`."""
STATUS_STYLES = {status: f"{emphasis} {DARK_COLOURS[colour]}".strip() for status, (emphasis, colour) in STATUS_LOOK.items()}
IN_PROGRESS_STYLE = f"italic {TEAL}"
AWAITING_STYLE = f"bold {ORANGE}"
"""A paid order awaiting an admin's approval."""
ROW_BACKGROUNDS = {"cursor": "#3a3a3a", "cursor-unfocused": "#303030", "marked": "#00005f"}
"""The list's cursor and marked rows: greys and a navy of the 256-colour palette, on which
every status colour keeps a contrast of 4:1 or more."""
LIGHT_ROW_BACKGROUNDS = {"cursor": "#ffffff", "cursor-unfocused": "#eeeeee", "marked": "#d7d7ff"}
"""The same rows on a light theme, on which the light colours keep that contrast."""


def theme_variables(dark: bool) -> dict[str, str]:
    """svcconsole's theme variables for a dark or light theme: `$status-<status>`,
    `$status-in-progress`, `$status-awaiting`, `$status-marker` and `$row-<cursor|cursor-unfocused|marked>`
    (a theme's own `variables` may set any of them)."""
    colours = DARK_COLOURS if dark else LIGHT_COLOURS
    rows = ROW_BACKGROUNDS if dark else LIGHT_ROW_BACKGROUNDS
    variables = {f"status-{status}": colours[colour] for status, (_, colour) in STATUS_LOOK.items()}
    variables |= {"status-in-progress": colours["teal"], "status-awaiting": colours["orange"], "status-marker": colours["teal"], "status-error": colours["red"]}
    variables |= {f"row-{name}": colour for name, colour in rows.items()}
    return variables


def use_theme_variables(variables: dict[str, str]) -> None:
    """Draw statuses in the colours a theme's variables give them (`theme_variables`' names)."""
    global IN_PROGRESS_STYLE, AWAITING_STYLE, NOT_AVAILABLE_STYLE, MARKER_STYLE, PAST_DUE_STYLE
    for status, (emphasis, _) in STATUS_LOOK.items():
        STATUS_STYLES[status] = f"{emphasis} {variables[f'status-{status}']}".strip()
    IN_PROGRESS_STYLE = f"italic {variables['status-in-progress']}"
    AWAITING_STYLE = f"bold {variables['status-awaiting']}"
    NOT_AVAILABLE_STYLE = f"bold {variables['status-error']}"
    MARKER_STYLE = f"bold {variables['status-marker']}"
    PAST_DUE_STYLE = f"bold {variables['status-error']}"


def plain(value: Any) -> str:
    """A value as one inert line of text ('' for None)."""
    if value is None:
        return ""
    return inert(str(value))


def text(value: Any, style: str = "") -> Text:
    return Text(plain(value), style=style, no_wrap=True, overflow="ellipsis", end="")


def body_text(body: str, *, indent: str = "  ", style: str = "") -> Text:
    """A message as it was written, line by line: each line inert (control characters shown as
    escapes, tabs as spaces), never read as markup."""
    lines = body.replace("\r\n", "\n").split("\n")
    return Text("\n".join(indent + inert(line.replace("\t", "    ")) for line in lines), style=style)


def status_label(status: str, suspend_kind: str | None = None, operation: str | None = None) -> str:
    label = status
    if status == "suspended" and suspend_kind:
        label = f"{status} ({suspend_kind})"
    if operation:
        label = f"{label} · in progress: {operation}"
    return label


NOT_AVAILABLE_STYLE = f"bold {RED}"
MARKER_STYLE = f"bold {TEAL}"
PAST_DUE_STYLE = f"bold {RED}"
"""A live service's expiry that has passed."""


def short_status_text(
    status: str, suspend_kind: str | None = None, operation: str | None = None, not_placed: str | None = None, *, translate: Translate | None = None
) -> Text:
    """The status for a narrow column: with an operation in progress, "active: suspend…" (the
    suspension's kind left out), so the operation stays readable; a pending service no server
    had room for reads "pending: no room" (the detail says "not available: <why>").
    With `translate` (the customer area) the words are the customer's language."""
    name = i18n.status_name(status, translate) if translate else status
    if not operation and status == "pending" and not_placed:
        result = Text(no_wrap=True, overflow="ellipsis", end="")
        result.append(name, STATUS_STYLES.get(status, ""))
        tr = translate or untranslated
        result.append(tr(": no room"), NOT_AVAILABLE_STYLE)
        return result
    if not operation:
        return status_text(status, suspend_kind, translate=translate)
    result = Text(no_wrap=True, overflow="ellipsis", end="")
    result.append(name, STATUS_STYLES.get(status, ""))
    result.append(f": {plain(operation)}…", IN_PROGRESS_STYLE)
    return result


AUTO_RENEW_MARK = "↻"
RENEWING_STATUSES = ("pending", "active", "suspended")
"""Where auto-renewal means something: an ended service renews no more, whatever its flag says."""
SPECIAL_PRICE_MARK = "≠"
MARKERS_LEGEND = (
    (AUTO_RENEW_MARK, "auto-renewal on (the service renews itself at expiry)"),
    (SPECIAL_PRICE_MARK, "special price: the price differs from the product's for its cycle (filter: special:yes)"),
    ("…", "an operation in progress on the panel (activation, suspension...)"),
    ("(approval)", "a paid order awaiting approval (detail: a)"),
)
"""The list's markers next to the status, as help's legend explains them."""


def with_markers(status: Text, *, auto_renew: bool, special_price: bool, width: int) -> Text:
    """The status cell with the list's markers after it (see `MARKERS_LEGEND`), when they fit in
    `width` cells: the status itself (a suspension's kind, an operation) is never cut for them."""
    marks = (AUTO_RENEW_MARK if auto_renew else "") + (SPECIAL_PRICE_MARK if special_price else "")
    if marks and status.cell_len + 1 + len(marks) <= width:
        status.append(f" {marks}", MARKER_STYLE)
    return status


def status_text(
    status: str, suspend_kind: str | None = None, operation: str | None = None, not_placed: str | None = None, *, translate: Translate | None = None
) -> Text:
    """The status with its suspension kind, the operation in progress, or, for a pending service
    no server had room for, "not available: <why>" (`not_placed` is the why). With `translate`
    (the customer area) the words are the customer's language."""
    result = Text(no_wrap=True, overflow="ellipsis", end="")
    tr = translate or untranslated
    name = i18n.status_name(status, tr) if translate else status
    kind = (i18n.suspend_kind_name(suspend_kind, tr) if translate else plain(suspend_kind)) if suspend_kind else ""
    label = name if not (status == "suspended" and suspend_kind) else f"{name} ({plain(kind)})"
    result.append(label, STATUS_STYLES.get(status, ""))
    if operation:
        result.append(" · ", "dim")
        result.append(tr("in progress: {operation}").format(operation=plain(operation)), IN_PROGRESS_STYLE)
    elif status == "pending" and not_placed:
        result.append(" · ", "dim")
        result.append(tr("not available: {why}").format(why=plain(not_placed)), NOT_AVAILABLE_STYLE)
    return result


def day(moment: datetime | None, tz: ZoneInfo) -> str:
    if moment is None:
        return "-"
    return clock.as_utc(moment).astimezone(tz).strftime("%Y-%m-%d")


def moment_text(moment: datetime | None, tz: ZoneInfo) -> str:
    if moment is None:
        return "-"
    return clock.as_utc(moment).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def money(amount: Decimal | None, currency: str | None = None) -> str:
    if amount is None:
        return "-"
    value = f"{Decimal(amount):,.2f}"
    return f"{value} {plain(currency)}" if currency else value


def count(number: int | None, *, short: bool = False) -> str:
    """A count for tabs and status lines; `short` gives 12k / 1.2M for narrow screens."""
    if number is None:
        return "…"
    if not short or number < 10_000:
        return f"{number:,}"
    if number < 1_000_000:
        return f"{number // 1000}k"
    return f"{number / 1_000_000:.1f}M"


def plural(number: int, word: str) -> str:
    return f"{number:,} {word}{'' if number == 1 else 's'}"


def job_state(status: str, attempts: int, max_attempts: int, next_attempt_at: datetime | None, tz: ZoneInfo) -> str:
    """A module job's state in the words both the Jobs screen and a bulk run's results use:
    a job queued again after an error is "failed, retrying at HH:MM (attempt 1/5)"."""
    if status == "queued" and attempts and next_attempt_at is not None:
        return f"failed, retrying at {clock.as_utc(next_attempt_at).astimezone(tz):%H:%M} (attempt {attempts}/{max_attempts})"
    if status == "failed":
        return f"failed (attempt {attempts}/{max_attempts})"
    return status
