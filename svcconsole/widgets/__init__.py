"""What the admin console and the customer area share: the service list, the detail frame, dialogs, help, messages, widgets, text and keys."""

from svcconsole.widgets.dialog_frame import DialogFrame
from svcconsole.widgets.panel_state import ModuleSubTabs, PanelStateView
from svcconsole.widgets.records import Column, PagedRecords, RecordTable
from svcconsole.widgets.service_table import ServiceTable
from svcconsole.widgets.status_tabs import StatusTabs

__all__ = ["Column", "DialogFrame", "ModuleSubTabs", "PagedRecords", "PanelStateView", "RecordTable", "ServiceTable", "StatusTabs"]
