"""Messages both consoles' shared screens post: the service list's loads, and what a screen asks of its app."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from textual.message import Message

from svcconsole.store.queries import ServiceFilter, Sort
from svcconsole.store.window import ServiceWindow


@dataclass
class SettingsLoaded(Message):
    """The time zone and catalog names were read."""

    tz: ZoneInfo


@dataclass
class ListReloaded(Message):
    """A filter or sort was applied: a fresh window with its first rows loaded."""

    generation: int
    window: ServiceWindow
    service_filter: ServiceFilter
    sort: Sort
    keep_position: bool = False
    cursor: int | None = None
    """Where the cursor goes (the row it was on, found again after a new sort)."""


@dataclass
class FilterRejected(Message):
    """The filter line has a bad term; `window` is empty: the list shows no rows until it is fixed."""

    generation: int
    error: str
    window: ServiceWindow


@dataclass
class CountsLoaded(Message):
    """The total, the per-status counts of the filter line and each tab's count were computed."""

    generation: int
    total: int
    by_status: dict[str, int]
    tabs: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------ what screens ask of their app
# Screens never import their app: they post these, and the app handles them.


@dataclass
class ServiceOpened(Message):
    """A service was opened (Enter on a row, the palette, a service the wizard made): the app shows its detail."""

    service_id: int


@dataclass
class ReadOnlyRefused(Message):
    """A change was refused because the console is read-only (or its operator a viewer): the app says so."""


@dataclass
class ErrorRaised(Message):
    """Something failed with a one-line error the app shows as a notification."""

    error: str
