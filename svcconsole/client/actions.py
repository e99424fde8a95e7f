"""The customer area's keys: one registry that its bindings, footer, help and palette read."""

from __future__ import annotations

from textual.binding import BindingType

from svcconsole.widgets.dialogs import DIALOG_KEYS
from svcconsole.widgets.keys import ConsoleAction
from svcconsole.widgets.service_table import TABLE_ACTIONS

SCOPES = {
    "client": "Everywhere",
    "client-dashboard": "Dashboard",
    "table": "Service list: moving",
    "client-services": "My services",
    "client-detail": "Service detail",
    "client-ticket": "A ticket",
    "dialog": "Dialogs",
}

REGISTRY: tuple[ConsoleAction, ...] = (
    ConsoleAction("client", "question_mark", "app.help", "Help", "Every key.", show=True, key_display="?"),
    ConsoleAction(
        "client", "colon,ctrl+p", "app.command_palette", "Commands", "The command palette (also ctrl+p): go to a page, open a service by id.", key_display=":"
    ),
    ConsoleAction("client", "d", "app.dashboard", "Dashboard", "The dashboard: active services and unpaid invoices.", show=True),
    ConsoleAction("client", "l", "app.services", "Services", "Every one of your services.", show=True),
    ConsoleAction("client", "i", "app.open_by_id", "Open id", "Open one of your services by its id."),
    ConsoleAction("client", "ctrl+q", "app.quit", "Quit", "Leave the customer area.", key_display="^q"),
    ConsoleAction("client-dashboard", "enter", "show_in_list", "Show", "Show the service under the cursor in the list.", show=True, key_display="⏎"),
    ConsoleAction(
        "client-dashboard",
        "r",
        "renew",
        "Renew",
        "Renew the service under the cursor: its invoice (made or reused) to pay, with the amount.",
        show=True,
        mutates=True,
    ),
    ConsoleAction("client-dashboard", "ctrl+r", "reload", "Reload", "Read the dashboard again.", key_display="^r"),
    ConsoleAction("client-dashboard", "q", "app.quit", "Quit", "Leave the customer area.", palette=False),
    *TABLE_ACTIONS,
    ConsoleAction("client-services", "enter", "open_service", "Open", "Open the service under the cursor.", show=True, key_display="⏎"),
    ConsoleAction("client-services", "slash", "focus_filter", "Filter", "Filter: free text and status: id: cycle: expires<30d.", show=True, key_display="/"),
    ConsoleAction("client-services", "escape", "clear", "Clear", "Clear the filter.", key_display="esc"),
    ConsoleAction("client-services", "o", "next_sort", "Sort", "Sort by the next column.", key_display="o"),
    ConsoleAction("client-services", "O", "reverse_sort", "Reverse", "Flip the sort direction.", key_display="O"),
    ConsoleAction("client-services", "right_square_bracket", "next_tab", "Next tab", "Next status tab.", key_display="]"),
    ConsoleAction("client-services", "left_square_bracket", "previous_tab", "Prev tab", "Previous status tab.", key_display="["),
    ConsoleAction("client-services", "ctrl+r", "reload", "Reload", "Read the list again.", key_display="^r"),
    ConsoleAction("client-services", "q", "app.dashboard", "Back", "Back to the dashboard.", palette=False),
    ConsoleAction(
        "client-detail",
        "r",
        "renew",
        "Renew",
        "Renew: adds the renewal to your unpaid invoice, or a new one; the service is extended when it is paid.",
        show=True,
        mutates=True,
    ),
    ConsoleAction("client-detail", "c", "cancel", "Cancel", "Cancel at the end of the cycle, or now (when the product allows it).", show=True, mutates=True),
    ConsoleAction("client-detail", "u", "uncancel", "Keep", "Withdraw your end-of-cycle cancellation.", mutates=True),
    ConsoleAction("client-detail", "a", "auto_renew", "Auto-renewal", "Turn auto-renewal on or off.", show=True, mutates=True),
    ConsoleAction(
        "client-detail",
        "o",
        "buy_option",
        "Add option",
        "Add an option from the catalogue: an invoice for the rest of the period; added when paid.",
        mutates=True,
    ),
    ConsoleAction("client-detail", "y", "change_cycle", "Cycle", "Change the renewal cycle, from the next renewal on.", mutates=True),
    ConsoleAction("client-detail", "p", "power", "Power", "Start, stop or restart the service on its panel.", mutates=True),
    ConsoleAction("client-detail", "I", "reinstall", "Reinstall", "Reinstall the service: its data is lost (you type its name to confirm).", mutates=True),
    ConsoleAction("client-detail", "s", "suspend", "Suspend/resume", "Suspend the service yourself, or resume it from your own suspension.", mutates=True),
    ConsoleAction(
        "client-detail", "x", "delete", "Delete", "Delete the service: an ended one at once; a running one is cancelled now, then deleted.", mutates=True
    ),
    ConsoleAction("client-detail", "right_square_bracket", "next_tab", "Next tab", "Next tab.", key_display="]"),
    ConsoleAction("client-detail", "left_square_bracket", "previous_tab", "Prev tab", "Previous tab.", key_display="["),
    ConsoleAction("client-detail", "right_curly_bracket", "next_sub_tab", "Sub-tab", "Panel tab: the next page your service's panel offers.", key_display="}"),
    ConsoleAction(
        "client-detail", "left_curly_bracket", "previous_sub_tab", "Prev sub-tab", "Panel tab: the previous page your service's panel offers.", key_display="{"
    ),
    ConsoleAction(
        "client-detail", "t", "new_ticket", "Ask", "Ask us a question about this service (a ticket); the Tickets tab lists them.", show=True, mutates=True
    ),
    ConsoleAction("client-detail", "v", "reveal_login", "Login", "Show or hide the login of your service's panel (username and password)."),
    ConsoleAction("client-detail", "ctrl+r", "reload", "Reload", "Read the service again.", key_display="^r"),
    ConsoleAction("client-detail", "escape,q", "back", "Back", "Back to the previous page.", show=True, key_display="esc/q"),
    ConsoleAction(
        "client-ticket", "ctrl+s", "send_reply", "Send", "Send your message (a closed ticket opens again).", show=True, mutates=True, key_display="^s"
    ),
    ConsoleAction(
        "client-ticket", "ctrl+l", "close_ticket", "Close ticket", "Close the ticket: your question is settled.", show=True, mutates=True, key_display="^l"
    ),
    ConsoleAction("client-ticket", "ctrl+r", "reload", "Reload", "Read the ticket again.", key_display="^r"),
    ConsoleAction("client-ticket", "escape", "back", "Back", "Back to the service.", show=True, key_display="esc"),
    *DIALOG_KEYS,
)


def client_bindings(scope: str) -> list[BindingType]:
    """The key bindings of a customer-area scope, built from the registry."""
    return [entry.binding() for entry in REGISTRY if entry.scope == scope]


def mutating(scope: str) -> frozenset[str]:
    """The actions of a scope that change something (off in an operator's preview)."""
    return frozenset(entry.action for entry in REGISTRY if entry.scope == scope and entry.mutates)
