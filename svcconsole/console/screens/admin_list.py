"""The service list as the admin console reads it: the whole store, through core's filters."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from svcconsole.console.host import ConsoleHost
from svcconsole.core import filters, lookups
from svcconsole.store import queries
from svcconsole.store.queries import ServiceFilter, Sort
from svcconsole.store.window import ServiceWindow
from svcconsole.widgets.service_list import ServiceListScreen


class AdminServiceList(ServiceListScreen):
    """What every admin list of services reads the same way: its window, filter, counts,
    positions and time zone (the Services screen and the customer's profile)."""

    @property
    def console_app(self) -> ConsoleHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in the admin console

    def new_window(self) -> ServiceWindow:
        app = self.console_app
        return ServiceWindow(app.db, page_size=app.page_size)

    def parse_filter_text(self, session: Any, text: str) -> ServiceFilter:
        return filters.parse_filter(session, text, tz_name=self.console_app.tz.key)

    def count_by_status(self, session: Any, service_filter: ServiceFilter) -> dict[str, int]:
        return queries.counts_by_status(session, service_filter)

    def position_of(self, session: Any, service_filter: ServiceFilter, sort: Sort, service_id: int) -> int | None:
        return queries.position_of(session, service_filter, sort, service_id)

    def read_time_zone(self, session: Any) -> ZoneInfo:
        return lookups.timezone_of(session)
