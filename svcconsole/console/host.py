"""What the admin console's screens and palette read from the app that runs them, as an interface.

Screens sit below `console.app` (which imports them) and never import it: they read the app's
state through this protocol, which `ConsoleApp` fulfils, and ask it for things by posting the
messages in `console.messages` (`ServiceOpened`, `ActionRequested`, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from svcconsole.console.bulk_runs import ActionRequest, BulkRunState
from svcconsole.core.config import Config, ViewSpec
from svcconsole.core.operators import Actor
from svcconsole.store.engine import Database

if TYPE_CHECKING:
    from textual.signal import Signal

    from svcconsole.core import bulk
    from svcconsole.core.health import HealthReport
    from svcconsole.widgets.keys import ConsoleAction


class ConsoleHost(Protocol):
    """The console's app as its screens see it: who acts, on which database, in which time zone."""

    db: Database
    actor: Actor
    tz: ZoneInfo
    tz_override: ZoneInfo | None
    page_size: int
    bulk_changed: Signal[BulkRunState]
    health_changed: Signal[HealthReport]
    registry: tuple[ConsoleAction, ...]
    config: Config
    views: dict[str, ViewSpec]
    """config.toml's views and those saved from the console (views.toml), by name."""
    """The action registry with the keys in force (config.toml's `[keys]`)."""

    @property
    def read_only(self) -> bool: ...

    @property
    def can_act(self) -> bool: ...

    @property
    def database_label(self) -> str: ...

    @property
    def database_title(self) -> str | None: ...

    database_accent: str | None

    @property
    def health_problems(self) -> int: ...

    def start_bulk(self, request: ActionRequest, target: list[int] | bulk.Matching, count: int) -> BulkRunState: ...

    def show_services(self) -> None: ...

    def new_service(self) -> None: ...

    def open_service(self, service_id: int) -> None: ...

    def open_customer(self, customer_id: int) -> None: ...

    def run_action(self, action: str) -> Any: ...

    def pick_theme(self) -> None: ...

    def open_view(self, name: str) -> None: ...

    def save_view(self, name: str) -> None: ...
