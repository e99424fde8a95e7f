"""What the customer area's screens and palette need from the app that runs them, as an interface.

The screens and the palette sit below `client.app` (which imports them) and never import it:
they are typed against this protocol, which `ClientApp` fulfils.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from svcconsole.core.customer_actions import ActionResult
from svcconsole.core.operators import Actor
from svcconsole.store.engine import Database

if TYPE_CHECKING:
    from sqlmodel import Session


class ClientHost(Protocol):
    """The customer area's app as its pages see it: whose area, its database, and the app-wide moves."""

    db: Database
    actor: Actor
    tz: ZoneInfo
    page_size: int
    locale: str
    tr: Callable[[str], str]

    @property
    def read_only(self) -> bool: ...

    @property
    def customer_label(self) -> str: ...

    def action_dashboard(self) -> None: ...

    def action_services(self) -> None: ...

    def action_open_by_id(self) -> None: ...

    def action_help(self) -> None: ...

    def open_service(self, service_id: int) -> None: ...

    def show_services(self, filter_text: str) -> None: ...

    def show_error(self, error: str) -> None: ...

    def refuse_preview(self) -> None: ...

    def ask_renew(self, service_id: int, name: str, price: str, done: Callable[[], None], *, to_payment: bool = False) -> None: ...

    def run_change(
        self, service_id: int, change: Callable[[Session, str], ActionResult], done: Callable[[], None] | None = None, *, to_payment: bool = False
    ) -> None: ...
