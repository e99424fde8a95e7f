"""The one registry of user-facing actions: bindings, the footer, help and the palette read it.

Each entry names its key, where it applies (the scope), what the footer and help say, and
whether it changes the store (those are off in read-only mode and for viewers). A few entries
describe keys that a widget handles itself (tab between fields, enter in a field): they are
listed in help but bound by no one here (`bound=False`).
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import BindingType

from svcconsole.core.statuses import ACTIONS, ActionRule
from svcconsole.widgets.dialogs import DIALOG_KEYS
from svcconsole.widgets.help import HELP_KEYS
from svcconsole.widgets.keys import ConsoleAction, Remap, remap
from svcconsole.widgets.service_table import TABLE_ACTIONS

SCOPES = {
    "app": "Everywhere",
    "table": "Service list: moving",
    "services": "Service list",
    "detail": "Service detail",
    "customer": "Customer profile",
    "credentials": "Login (provisioned credentials)",
    "edit": "Edit form",
    "wizard": "New service wizard",
    "jobs": "Jobs (module queue)",
    "tickets": "Tickets",
    "ticket": "A ticket's thread",
    "health": "Health",
    "drift": "Drift (reconcile)",
    "bulk": "Bulk run",
    "export": "Export",
    "dialog": "Dialogs",
    "help": "This help",
}


def rules_of(name: str) -> tuple[ActionRule, ...]:
    """The status-table rules behind a console action (cancel is both of its modes)."""
    if name == "cancel":
        return (ACTIONS["cancel-end-of-cycle"], ACTIONS["cancel-immediately"])
    return (ACTIONS[name],)


def applies(name: str, status: str) -> bool:
    """Whether the action can start from `status` (the footer shows only those)."""
    return any(rule.allows(status) for rule in rules_of(name))


def _service_action(scope: str, key: str, name: str, description: str, display: str | None = None) -> ConsoleAction:
    summary = "Cancel at the end of the cycle or immediately." if name == "cancel" else rules_of(name)[0].summary
    return ConsoleAction(scope, key, f"service_action('{name}')", description, summary, show=True, mutates=True, key_display=display)


def _service_actions(scope: str) -> tuple[ConsoleAction, ...]:
    target = "the marked services (or the row under the cursor)" if scope == "services" else "this service"
    return (
        _service_action(scope, "s", "suspend", "Suspend"),
        _service_action(scope, "u", "unsuspend", "Unsuspend"),
        _service_action(scope, "c", "cancel", "Cancel"),
        _service_action(scope, "r", "renew", "Renew"),
        _service_action(scope, "t", "terminate", "Terminate"),
        _service_action(scope, "x", "delete", "Delete"),
        _service_action(scope, "plus", "add-days", "Add days", "+"),
        _service_action(scope, "minus", "subtract-days", "Sub days", "-"),
        ConsoleAction(scope, "b", "bulk_menu", "More", f"A menu of every action, applied to {target}.", show=True, mutates=True),
        ConsoleAction(
            scope,
            "ctrl+t",
            "service_action('transfer')",
            "Transfer",
            f"Give {target} to another customer (billing and panel owner).",
            mutates=True,
            key_display="^t",
        ),
        ConsoleAction(scope, "p", "open_customer", "Customer", "The customer's profile: their services, invoices and activity; edit them there."),
    )


REGISTRY: tuple[ConsoleAction, ...] = (
    ConsoleAction("app", "question_mark", "app.help", "Help", "Every key and what it does.", show=True, key_display="?", command="go: help"),
    ConsoleAction(
        "app",
        "colon,ctrl+p",
        "app.command_palette",
        "Commands",
        "The command palette (also ctrl+p): go to a screen, open a service by id or a customer by email, run an action.",
        key_display=":",
    ),
    ConsoleAction("app", "J", "app.jobs", "Jobs", "The module queue: failed and queued jobs, retry or resolve.", key_display="J", command="go: jobs"),
    ConsoleAction(
        "app",
        "T",
        "app.tickets",
        "Tickets",
        "Tickets about services: the open ones first, with the customer's unread messages; read, reply, add an internal note, close.",
        key_display="T",
        command="go: tickets",
    ),
    ConsoleAction(
        "app",
        "D",
        "app.drift",
        "Drift",
        "Drift: where billing and the panels disagree (the last reconcile), with its fixes.",
        key_display="D",
        command="go: drift",
    ),
    ConsoleAction(
        "app",
        "H",
        "app.health",
        "Health",
        "Health: the last automation run and what it did, workers, the module queue, the outbox.",
        key_display="H",
        command="go: health",
    ),
    ConsoleAction(
        "app",
        "B",
        "app.last_bulk_run",
        "Last run",
        "The last bulk run: its progress while it goes on, then its results and retry failed.",
        key_display="B",
        command="bulk: last run",
    ),
    ConsoleAction("app", "ctrl+q", "app.quit", "Quit", "Leave the console.", key_display="^q"),
    *TABLE_ACTIONS,
    ConsoleAction("services", "enter", "open_service", "Open", "Open the service under the cursor (detail screen).", show=True, key_display="⏎"),
    ConsoleAction(
        "services",
        "slash",
        "focus_filter",
        "Filter",
        "Filter: free text and status: product: server: customer: cycle: type: id: expires<7d.",
        show=True,
        key_display="/",
    ),
    ConsoleAction("services", "escape", "clear", "Clear", "Clear the marks, else the filter.", show=True, key_display="esc"),
    ConsoleAction("services", "space", "toggle_mark", "Mark", "Mark or unmark the row under the cursor.", show=True, key_display="spc"),
    ConsoleAction("services", "ctrl+a", "mark_all", "Mark all", "Mark every row that matches the filter, rows out of view included.", key_display="^a"),
    ConsoleAction("services", "o", "next_sort", "Sort", "Sort by the next column.", key_display="o"),
    ConsoleAction("services", "O", "reverse_sort", "Reverse", "Flip the sort direction.", key_display="O"),
    ConsoleAction("services", "right_square_bracket", "next_tab", "Next tab", "Next status tab.", key_display="]"),
    ConsoleAction("services", "left_square_bracket", "previous_tab", "Prev tab", "Previous status tab.", key_display="["),
    *_service_actions("services"),
    ConsoleAction("services", "n", "new_service", "New", "Create or import a service (two-step wizard).", mutates=True),
    ConsoleAction("services", "e", "edit_service", "Edit", "Edit the fields of the service under the cursor.", mutates=True),
    ConsoleAction("services", "ctrl+r", "reload", "Reload", "Read the list and the counts again.", key_display="^r"),
    ConsoleAction(
        "services",
        "ctrl+e",
        "export",
        "Export",
        "Every row of the list as filtered and sorted (not just the page shown) to a CSV or JSON file you name, with a progress bar.",
        key_display="^e",
    ),
    ConsoleAction("services", "q", "app.quit", "Quit", "Leave the console.", palette=False),
    *_service_actions("detail"),
    ConsoleAction("detail", "e", "edit_service", "Edit", "Edit the fields (a status change asks for a reason).", show=True, mutates=True),
    ConsoleAction(
        "detail",
        "a",
        "review_order",
        "Approve order",
        "A paid order awaiting approval: approve it (delivery starts) or reject it (cancelled).",
        show=True,
        mutates=True,
    ),
    ConsoleAction(
        "detail",
        "exclamation_mark",
        "report_abuse",
        "Abuse",
        "Record an abuse report; at the setting abuse_limit an active service is suspended (kind abuse).",
        mutates=True,
        key_display="!",
    ),
    ConsoleAction("detail", "right_square_bracket", "next_tab", "Next tab", "Next tab.", key_display="]"),
    ConsoleAction("detail", "left_square_bracket", "previous_tab", "Prev tab", "Previous tab.", key_display="["),
    ConsoleAction(
        "detail", "right_curly_bracket", "next_sub_tab", "Sub-tab", "Panel tab: the module's next sub-tab (Allocation, Limits...).", show=True, key_display="}"
    ),
    ConsoleAction("detail", "left_curly_bracket", "previous_sub_tab", "Prev sub-tab", "Panel tab: the module's previous sub-tab.", key_display="{"),
    ConsoleAction(
        "detail", "L", "show_credentials", "Login", "The login the module provisioned (admins; each view is logged): reveal it, or reset it.", key_display="L"
    ),
    ConsoleAction("detail", "ctrl+r", "reload", "Reload", "Read the service again.", key_display="^r"),
    ConsoleAction(
        "detail", "R", "ask_panel", "Ask panel", "Panel tab: ask the panel again (its live state; retry after an error).", show=True, key_display="R"
    ),
    ConsoleAction("detail", "escape,q", "back", "Back", "Back to the list.", show=True, key_display="esc/q"),
    ConsoleAction("customer", "enter", "open_service", "Open", "Open the service under the cursor (detail screen).", show=True, key_display="⏎"),
    ConsoleAction("customer", "slash", "focus_filter", "Filter", "Filter their services (the list's terms).", show=True, key_display="/"),
    ConsoleAction("customer", "right_square_bracket", "next_tab", "Next tab", "Next status tab of their services.", key_display="]"),
    ConsoleAction("customer", "left_square_bracket", "previous_tab", "Prev tab", "Previous status tab of their services.", key_display="["),
    ConsoleAction("customer", "right_curly_bracket", "next_section", "Section", "Services, invoices, activity, tickets in turn.", show=True, key_display="}"),
    ConsoleAction("customer", "left_curly_bracket", "previous_section", "Prev section", "The section before.", key_display="{"),
    ConsoleAction("customer", "o", "next_sort", "Sort", "Sort their services by the next column.", key_display="o"),
    ConsoleAction("customer", "O", "reverse_sort", "Reverse", "Flip the sort direction.", key_display="O"),
    ConsoleAction("customer", "e", "edit_customer", "Edit", "Edit the customer: name, email, company, notes.", show=True, mutates=True),
    ConsoleAction("customer", "ctrl+r", "reload", "Reload", "Read the customer and their services again.", key_display="^r"),
    ConsoleAction("customer", "escape,q", "back", "Back", "Clear the filter, else back to where you came from.", show=True, key_display="esc/q"),
    ConsoleAction("credentials", "v", "reveal", "Reveal", "Show or mask the password.", show=True),
    ConsoleAction("credentials", "R", "reset", "Reset", "Set a new password on the panel (asks first; the customer is mailed).", show=True, mutates=True),
    ConsoleAction("credentials", "escape,q", "cancel", "Back", "Close the login.", show=True, key_display="esc/q"),
    ConsoleAction(
        "tickets", "enter", "open_ticket", "Open", "Open the ticket under the cursor: its thread, to reply.", show=True, key_display="⏎", bound=False
    ),
    ConsoleAction("tickets", "f", "cycle_ticket_status", "Status", "Show open, answered, closed, all tickets in turn.", show=True),
    ConsoleAction("tickets", "ctrl+r", "reload", "Reload", "Read the tickets again.", key_display="^r"),
    ConsoleAction("tickets", "escape,q", "back", "Back", "Back to where you came from.", show=True, key_display="esc/q"),
    ConsoleAction(
        "ticket",
        "ctrl+s",
        "send_reply",
        "Reply",
        "Send the text as a reply: the customer is mailed; a closed ticket reopens.",
        show=True,
        mutates=True,
        key_display="^s",
    ),
    ConsoleAction(
        "ticket",
        "ctrl+n",
        "add_note",
        "Note",
        "Save the text as an internal note: the customer never sees it, no one is mailed.",
        show=True,
        mutates=True,
        key_display="^n",
    ),
    ConsoleAction(
        "ticket", "ctrl+l", "close_ticket", "Close ticket", "Close the ticket (a later message reopens it).", show=True, mutates=True, key_display="^l"
    ),
    ConsoleAction("ticket", "ctrl+r", "reload", "Reload", "Read the thread again.", key_display="^r"),
    ConsoleAction("ticket", "escape", "back", "Back", "Back to the list.", show=True, key_display="esc"),
    ConsoleAction("jobs", "down,j", "cursor_down", "Down", "Move to the next job.", key_display="↓/j", palette=False),
    ConsoleAction("jobs", "up,k", "cursor_up", "Up", "Move to the job before.", key_display="↑/k", palette=False),
    ConsoleAction(
        "jobs",
        "enter",
        "open_job",
        "Open",
        "Open the job under the cursor: its whole error, its attempts and its service.",
        show=True,
        key_display="⏎",
        bound=False,
    ),
    ConsoleAction("jobs", "space", "toggle_mark", "Mark", "Mark or unmark the job under the cursor.", show=True, key_display="spc"),
    ConsoleAction("jobs", "ctrl+a", "mark_all", "Mark all", "Mark every job listed.", key_display="^a"),
    ConsoleAction(
        "jobs",
        "r",
        "retry_job",
        "Retry",
        "Run the marked jobs (or the one under the cursor) again now: failed ones, and queued ones waiting for a later attempt.",
        show=True,
        mutates=True,
    ),
    ConsoleAction("jobs", "v", "resolve_job", "Resolve", "Mark the marked jobs (or the one under the cursor) handled by hand.", show=True, mutates=True),
    ConsoleAction("jobs", "f", "cycle_job_status", "Status", "Show failed, queued, running, all jobs in turn.", show=True),
    ConsoleAction("jobs", "ctrl+r", "reload", "Reload", "Read the queue again.", key_display="^r"),
    ConsoleAction("jobs", "escape,q", "back", "Back", "Clear the marks, else back to the list.", show=True, key_display="esc/q"),
    ConsoleAction(
        "drift", "n", "reconcile_now", "Reconcile", "Read every panel again and compare it with billing (a progress bar per server as it reads).", show=True
    ),
    ConsoleAction("drift", "f", "cycle_kind", "Kind", "Show every kind of drift, then each kind in turn.", show=True),
    ConsoleAction(
        "drift",
        "a",
        "apply_fixes",
        "Apply",
        "Apply the proposed fixes of the kind shown (every kind but owner and duplicate), after a confirmation.",
        show=True,
        mutates=True,
    ),
    ConsoleAction("drift", "t", "retry_failed", "Retry failed", "Run the fixes that failed in the last apply again now.", show=True, mutates=True),
    ConsoleAction("drift", "ctrl+r", "reload", "Reload", "Read the report again.", key_display="^r"),
    ConsoleAction("drift", "escape,q", "back", "Back", "Back to the list.", show=True, key_display="esc/q"),
    ConsoleAction("health", "enter", "open_run", "Steps", "The steps of the run under the cursor, with their counts.", show=True, key_display="⏎"),
    ConsoleAction("health", "ctrl+r", "reload", "Reload", "Read health again.", show=True, key_display="^r"),
    ConsoleAction("health", "escape,q", "back", "Back", "Back to the list.", show=True, key_display="esc/q"),
    ConsoleAction(
        "edit",
        "ctrl+s",
        "save",
        "Save",
        "Save the changed fields (refused, and reloaded, when someone else changed the service meanwhile).",
        show=True,
        mutates=True,
        key_display="^s",
    ),
    ConsoleAction("edit", "escape", "back", "Back", "Leave the form without saving.", show=True, key_display="esc"),
    ConsoleAction("wizard", "escape", "back", "Back", "Step 2: back to step 1; step 1: leave the wizard.", show=True, key_display="esc"),
    ConsoleAction("wizard", "enter", "next", "Next", "In a field: check step 1 and go on, or create (import) the service.", key_display="⏎", bound=False),
    ConsoleAction(
        "bulk",
        "escape",
        "close",
        "Close",
        "Close the run's screen; a run still going goes on in the background (the status line shows it).",
        show=True,
        key_display="esc",
    ),
    ConsoleAction("export", "escape", "close", "Close", "Close the export; one under way is stopped and writes no file.", show=True, key_display="esc"),
    *DIALOG_KEYS,
    *HELP_KEYS,
)


SCREEN_SCOPES = ("services", "detail", "customer", "credentials", "edit", "wizard", "jobs", "health", "drift", "bulk", "export", "dialog", "help")
TOGETHER: dict[str, tuple[str, ...]] = {
    "app": ("table", *SCREEN_SCOPES),
    "table": ("app", "services", "customer"),
    "services": ("app", "table"),
    "customer": ("app", "table"),
    **{scope: ("app",) for scope in SCREEN_SCOPES if scope not in ("services", "customer")},
}
"""The scopes whose keys are active at the same time as a scope's: a remapped key must be free in all of them."""


def remapped(keys: dict[str, str]) -> Remap:
    """The registry with config.toml's `[keys]` applied (a key already taken is refused, its default kept)."""
    return remap(REGISTRY, keys, TOGETHER)


def in_scope(scope: str) -> tuple[ConsoleAction, ...]:
    return tuple(entry for entry in REGISTRY if entry.scope == scope)


def bindings(scope: str) -> list[BindingType]:
    """The key bindings of a scope, built from the registry."""
    return [entry.binding() for entry in in_scope(scope) if entry.bound]


def mutating_actions(scopes: Iterable[str]) -> frozenset[str]:
    """The action names (without parameters) that change the store, for `check_action`."""
    names = set()
    for entry in REGISTRY:
        if entry.scope in scopes and entry.mutates:
            names.add(entry.action.split("(")[0])
    return frozenset(names)


def applicable_counts(counts: dict[tuple[str, bool], int]) -> dict[str, int]:
    """How many of the selected services, counted by (status, has a cancellation date), each
    menu action can start from (uncancel only those with a cancellation date)."""
    return {
        name: sum(number for (status, has_cancel_at), number in counts.items() if applies(name, status) and (has_cancel_at or name != "uncancel"))
        for name, _ in BULK_MENU
    }


BULK_MENU: tuple[tuple[str, str], ...] = (
    ("suspend", "Suspend"),
    ("unsuspend", "Unsuspend"),
    ("cancel", "Cancel (end of cycle or immediately)"),
    ("uncancel", "Uncancel"),
    ("renew", "Renew"),
    ("add-days", "Add days"),
    ("subtract-days", "Subtract days"),
    ("deliver", "Deliver"),
    ("redeliver", "Redeliver"),
    ("terminate", "Terminate"),
    ("delete", "Delete"),
    ("transfer", "Transfer to another customer"),
)
