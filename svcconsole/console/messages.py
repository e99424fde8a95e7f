"""Messages of the admin console: what workers post back (past-tense events), and what screens ask of the app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from svcconsole.core.bulk import ItemResult, Matching, RunReport
from svcconsole.core.health import HealthReport


@dataclass
class SelectionResolved(Message):
    """The services an action applies to were resolved: listed `ids` (marks or the cursor row),
    or `matching`, every row of a filter (a mark-all), which is never listed."""

    action: str
    ids: list[int] | None
    count: int
    hidden: int
    marked: bool
    label: str
    matching: Matching | None = None


@dataclass
class MenuCounted(Message):
    """The selection the `b` menu acts on was counted by (status, has a cancellation date)."""

    label: str
    counts: dict[tuple[str, bool], int]


@dataclass
class ActionFailed(Message):
    """An action or a load was refused or failed; `error` is the one line to show."""

    error: str


@dataclass
class ActionFinished(Message):
    """A one-service action ended."""

    report: RunReport


@dataclass
class BulkRunStarted(Message):
    """The console's bulk run `key` was written as run `run_id` of `total` services."""

    key: int
    run_id: int
    total: int


@dataclass
class BulkProgressed(Message):
    """More items of bulk run `key` ended (coalesced: only the newest of a run matters)."""

    key: int
    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BulkProgressed) and message.key == self.key


@dataclass
class BulkRunFinished(Message):
    """Bulk run `key` ended: how many of its items ended each way."""

    key: int
    totals: dict[str, int]


@dataclass
class BulkRunFailed(Message):
    """Bulk run `key` was refused or stopped (`error`, one line)."""

    key: int
    error: str


@dataclass
class BulkResultsLoaded(Message):
    """A page of a finished run's items (failed first) and its outcome counts were read."""

    run_id: int
    totals: dict[str, int]
    items: list[ItemResult]
    job_states: dict[int, str] = field(default_factory=dict)
    """The state of the module job behind each failed item, in the Jobs screen's words."""


@dataclass
class BulkProgressNote(Message):
    """A line for a bulk run's screen while something it asked for goes on."""

    text: str


@dataclass
class RetryListed(Message):
    """Retry failed re-ran the run's failed jobs now; `ids` are the failed services with no job,
    to run the action on them again; `error` when the retry was refused."""

    ids: list[int]
    error: str | None = None


@dataclass
class ServiceLoaded(Message):
    """A service's detail was read (by the screen's `generation`-th read, when it counts them)."""

    detail: Any
    generation: int = 0


@dataclass
class PanelLoaded(Message):
    """The module answered for the Panel tab (state, its sub-tabs, or an error in one line).

    `generation` tells an answer from an older request apart; `note` is said instead of a
    state when the service has nothing on a panel.
    """

    service_id: int
    generation: int = 0
    state: Any = None
    tabs: list[Any] = field(default_factory=list)
    error: str | None = None
    note: str | None = None


@dataclass
class HistoryLoaded(Message):
    """The module answered for the Panel tab's history chart (or failed: `error`, one line)."""

    service_id: int
    generation: int = 0
    history: Any = None
    error: str | None = None


@dataclass
class PowerSent(Message):
    """A power signal reached the panel (or failed: `error`)."""

    signal: str
    message: str = ""
    error: str | None = None


@dataclass
class InvoicesLoaded(Message):
    """The unpaid invoices a renewal can be added to were read (or failed to be)."""

    invoices: list[Any]
    error: str | None = None


@dataclass
class UpgradeLaunched(Message):
    """An upgrade was started: applied, queued and run, or invoiced (or refused: `error`)."""

    message: str
    error: str | None = None


@dataclass
class ServiceSaved(Message):
    """An edit, option or metadata change was written (with a warning to show, if any)."""

    message: str
    warning: str | None = None


@dataclass
class JobsLoaded(Message):
    """The module queue was read."""

    jobs: list[Any]


@dataclass
class ImportablesLoaded(Message):
    """The module listed the existing resources of a server (or failed to)."""

    resources: list[Any]
    error: str | None = None
    linked_note: str = ""


@dataclass
class ServiceCreated(Message):
    """The wizard created or imported a service."""

    service_id: int
    imported: bool


@dataclass
class HealthChecked(Message):
    """Health was read: the last automation run, workers, the queue, the outbox and the problems."""

    report: HealthReport


# ------------------------------------------------------------------ what screens ask of the app
# Screens never import the app: they post these, and `ConsoleApp` handles them.


@dataclass
class CustomerOpened(Message):
    """A customer's profile was asked for (`p` on a service, the palette): the app shows the Customer screen."""

    customer_id: int


@dataclass
class EditRequested(Message):
    """The edit form of a service was asked for (refused in read-only mode)."""

    service_id: int


@dataclass
class NewServiceRequested(Message):
    """The new-service wizard was asked for (refused in read-only mode)."""


@dataclass
class ActionRequested(Message):
    """An action on the resolved selection was asked for: the app shows its dialog, then runs it.

    `on_done(True)` is called once a bulk run's screen is closed; `renew_mode` is the renew dialog's first mode."""

    selection: SelectionResolved
    on_done: Callable[[bool], None] | None = None
    renew_mode: str = "now"


@dataclass
class BulkMenuRequested(Message):
    """The `b` menu was asked for: the actions that apply to `counts` (by status, has a cancellation date); `chosen` gets the pick."""

    chosen: Callable[[str], None]
    label: str
    counts: dict[tuple[str, bool], int]


@dataclass
class TicketsLoaded(Message):
    """A page of tickets was read (`unread_total`: tickets with a customer message no one read)."""

    lines: list[Any]
    unread_total: int
    generation: int


@dataclass
class TicketThreadLoaded(Message):
    """A ticket's thread was read (and marked read for the staff)."""

    thread: Any


@dataclass
class TicketChanged(Message):
    """A reply, note, close or new ticket was saved; `text` says what it did."""

    text: str
    ticket_id: int


@dataclass
class TicketOpened(Message):
    """A screen asks the app to show a ticket's thread."""

    ticket_id: int
