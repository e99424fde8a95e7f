"""Widgets of the console."""

from svcconsole.widgets.service_table import ServiceTable
from svcconsole.widgets.status_tabs import StatusTabs

__all__ = ["ServiceTable", "StatusTabs"]
