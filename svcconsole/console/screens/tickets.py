"""Tickets: the list (the `T` screen, and a tab of a service and of a customer) and a ticket's thread.

The list shows the most recently updated tickets first, with the customer's messages no one on
the staff has read (`unread`); `f` steps through open, answered, closed and all. Enter posts
`TicketOpened`, and the app shows the thread: every message, internal notes marked, each body
drawn inert. Reading it marks it read. Below the thread, a reply (the customer is mailed), an
internal note (no one is mailed, the customer never sees it) or closing the ticket.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DataTable, Label, Static, TextArea

from svcconsole.console.actions import bindings, mutating_actions
from svcconsole.console.host import ConsoleHost
from svcconsole.console.messages import ActionFailed, TicketChanged, TicketOpened, TicketsLoaded, TicketThreadLoaded
from svcconsole.core import tickets
from svcconsole.core.errors import SvcError
from svcconsole.widgets import render
from svcconsole.widgets.dialog_frame import DialogFrame
from svcconsole.widgets.footer import ContextFooter
from svcconsole.widgets.inputs import InertInput as Input
from svcconsole.widgets.messages import ErrorRaised, ReadOnlyRefused

TICKET_PAGE = 200
"""The tickets a list shows (most recently updated first); `svcconsole tickets list --all` has every one."""
STATUS_FILTERS: tuple[str | None, ...] = ("open", "answered", "closed", None)
STATUS_STYLES = {"open": f"bold {render.ORANGE}", "answered": render.GREEN, "closed": render.GREY}
SUBJECT_WIDTH = 48


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def unread_text(unread: int) -> Text:
    return Text(f"{unread} new", style=f"bold {render.ORANGE}") if unread else Text("-", style="dim")


def thread_text(thread: tickets.Thread, tz: Any) -> Text:
    """The messages, oldest first: who (an internal note marked), when, then the body as written."""
    text = Text()
    if thread.earlier:
        text.append(f"({render.plural(thread.earlier, 'earlier message')} not shown: svcconsole tickets show {thread.ticket.id})\n\n", "dim")
    for item in thread.messages:
        who = "support" if item.author_kind == tickets.ADMIN else "customer"
        if item.internal:
            text.append(" internal note ", f"bold reverse {render.VIOLET}")
            text.append(" ")
        text.append(render.plain(item.author), "bold cyan" if item.author_kind == tickets.CUSTOMER else "bold")
        text.append(f" ({who}) · {render.moment_text(item.at, tz)}\n", "dim")
        text.append_text(render.body_text(item.body, style=render.VIOLET if item.internal else ""))
        text.append("\n\n")
    if not thread.messages:
        text.append("no messages", "dim")
    return text


def ticket_header(line: tickets.TicketLine, tz: Any) -> Text:
    header = Text(no_wrap=True, overflow="ellipsis")
    header.append(f"Ticket #{line.id} ", "bold")
    header.append(render.plain(line.subject), "bold")
    header.append("  ")
    header.append_text(status_text(line.status))
    header.append(f"\nservice #{line.service_id} {render.plain(line.service_name)} · ")
    header.append(render.plain(line.customer), "cyan")
    header.append(f" · opened {render.moment_text(line.created_at, tz)}, updated {render.moment_text(line.updated_at, tz)}", "dim")
    return header


class TicketList(Vertical):
    """A list of tickets, all or one service's or one customer's; Enter posts `TicketOpened`."""

    DEFAULT_CSS = """
    TicketList { height: 1fr; }
    TicketList > DataTable { height: 1fr; }
    """

    def __init__(self, *, service_id: int | None = None, customer_id: int | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.service_id = service_id
        self.customer_id = customer_id
        self.status_filter: str | None = None
        self.generation = 0
        self.unread_total = 0

    @property
    def console_app(self) -> ConsoleHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this widget runs in the admin console

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one(DataTable)

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")

    def on_mount(self) -> None:
        self.table.add_columns("ticket", "status", "unread", "service", "customer", "subject", "updated")
        self.reload()

    def reload(self) -> None:
        self.generation += 1
        self._load(self.status_filter, self.generation)

    def step_status(self) -> None:
        index = STATUS_FILTERS.index(self.status_filter)
        self.status_filter = STATUS_FILTERS[(index + 1) % len(STATUS_FILTERS)]
        self.reload()

    @work(thread=True, exclusive=True, group="tickets-load")
    def _load(self, status: str | None, generation: int) -> None:
        app = self.console_app
        try:
            with app.db.read() as session:
                lines = tickets.list_tickets(session, app.actor, status=status, service_id=self.service_id, customer_id=self.customer_id, limit=TICKET_PAGE)
                unread = tickets.unread_total(session, app.actor)
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        self.post_message(TicketsLoaded(lines, unread, generation))

    @on(TicketsLoaded)
    def _loaded(self, message: TicketsLoaded) -> None:
        message.stop()
        if message.generation != self.generation:
            return
        self.unread_total = message.unread_total
        table = self.table
        cursor = table.cursor_row
        table.clear()
        tz = self.console_app.tz
        for line in message.lines:
            table.add_row(
                f"#{line.id}",
                status_text(line.status),
                unread_text(line.unread),
                render.text(f"#{line.service_id} {line.service_name}"),
                render.text(line.customer),
                render.text(line.subject if len(line.subject) <= SUBJECT_WIDTH else line.subject[: SUBJECT_WIDTH - 1] + "…"),
                render.moment_text(line.updated_at, tz),
                key=str(line.id),
            )
        if not message.lines:
            table.add_row("", "", "", Text(f"no {self.status_filter or ''} tickets".replace("  ", " "), style="dim"), "", "", "")
        table.move_cursor(row=min(cursor, max(table.row_count - 1, 0)))
        self.post_message(self.Shown(self.status_filter, len(message.lines), message.unread_total))

    class Shown(Message):
        """The list shows `count` tickets of `status` (None: all)."""

        def __init__(self, status: str | None, count: int, unread_total: int) -> None:
            super().__init__()
            self.status = status
            self.count = count
            self.unread_total = unread_total

    def selected(self) -> int | None:
        table = self.table
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key and key.isdigit() else None

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        ticket_id = self.selected()
        if ticket_id is not None:
            self.post_message(TicketOpened(ticket_id))


class TicketsScreen(Screen[None]):
    """Every ticket, most recently updated first, filtered by status (open first)."""

    SCOPE = "tickets"
    BINDINGS = bindings("tickets")

    def compose(self) -> ComposeResult:
        yield Static(id="tickets-title")
        yield TicketList(id="tickets-list")
        yield ContextFooter()

    @property
    def ticket_list(self) -> TicketList:
        return self.query_one(TicketList)

    def on_mount(self) -> None:
        self.ticket_list.status_filter = "open"
        self.ticket_list.table.focus()
        self._title(None)

    def _title(self, shown: TicketList.Shown | None) -> None:
        title = Text(" Tickets ", style="bold reverse")
        title.append(f" showing {self.ticket_list.status_filter or 'all'} (f to change)", "dim")
        if shown is not None:
            title.append(f" · {render.plural(shown.count, 'ticket')}")
            if shown.unread_total:
                title.append(f" · {render.plural(shown.unread_total, 'ticket')} with unread messages", f"bold {render.ORANGE}")
        self.query_one("#tickets-title", Static).update(title)

    @on(TicketList.Shown)
    def _shown(self, message: TicketList.Shown) -> None:
        self._title(message)

    def action_cycle_ticket_status(self) -> None:
        self.ticket_list.step_status()
        self._title(None)

    def action_open_ticket(self) -> None:
        ticket_id = self.ticket_list.selected()
        if ticket_id is not None:
            self.post_message(TicketOpened(ticket_id))

    def action_reload(self) -> None:
        self.ticket_list.reload()

    def on_screen_resume(self) -> None:
        self.ticket_list.reload()

    @on(ActionFailed)
    def _failed(self, message: ActionFailed) -> None:
        message.stop()
        self.post_message(ErrorRaised(message.error))

    def action_back(self) -> None:
        self.dismiss(None)


class NewTicketDialog(DialogFrame[tuple[str, str]]):
    """Open a ticket to a service's customer: a subject and a first message (the customer is mailed)."""

    FRAME_ID = "ticket-dialog"
    BINDINGS = bindings("dialog")
    CONFIRM_LABEL = "Open ticket"

    def __init__(self, service_id: int, service_name: str) -> None:
        super().__init__()
        self.service_id = service_id
        self.service_name = service_name

    def question_text(self) -> Text:
        return Text(f"New ticket about service #{self.service_id} {render.plain(self.service_name)}", style="bold")

    def consequence_text(self) -> Text:
        return Text("The customer is mailed the message and reads the ticket in their customer area; it waits for their answer.", style="dim")

    def fields(self) -> ComposeResult:
        yield Label("Subject")
        yield Input(id="ticket-subject")
        yield Label("Message (the thread takes longer replies)")
        yield Input(id="ticket-message")

    def initial_focus(self) -> str:
        return "#ticket-subject"

    def answer(self) -> tuple[str, str]:
        subject, body = self.query_one("#ticket-subject", Input).value, self.query_one("#ticket-message", Input).value
        tickets.check_subject(subject)
        tickets.check_body("--message", body)
        return subject, body


def open_ticket(app: ConsoleHost, service_id: int, subject: str, body: str) -> TicketChanged:
    """Open the ticket (in a worker's thread); what to say once done."""
    result = app.db.transaction(lambda session: tickets.open_ticket(session, app.actor, service_id, subject, body))
    return TicketChanged(result.text, result.ticket_id)


class TicketThreadScreen(Screen[None]):
    """One ticket: its messages, then a reply, an internal note or closing it."""

    SCOPE = "ticket"
    BINDINGS = bindings("ticket")
    MUTATING = mutating_actions(["ticket"])

    def __init__(self, ticket_id: int) -> None:
        super().__init__()
        self.ticket_id = ticket_id
        self.thread: tickets.Thread | None = None

    @property
    def console_app(self) -> ConsoleHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in the admin console

    def compose(self) -> ComposeResult:
        yield Static(Text(f"ticket #{self.ticket_id}: loading…", style="dim"), id="ticket-header")
        with VerticalScroll(id="ticket-thread"):
            yield Static(id="ticket-messages")
        yield TextArea(id="ticket-reply", soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        with Horizontal(classes="pane-buttons", id="ticket-buttons"):
            yield Button("Reply (^s)", id="ticket-send", variant="primary")
            yield Button("Internal note (^n)", id="ticket-note")
            yield Button("Close ticket (^l)", id="ticket-close")
        yield ContextFooter()

    def on_mount(self) -> None:
        area = self.query_one("#ticket-reply", TextArea)
        area.border_title = "reply to the customer, or an internal note"
        if self.console_app.can_act:
            area.focus()
        else:
            area.disabled = True
            for button in self.query("#ticket-buttons Button").results(Button):
                button.disabled = True
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action not in self.MUTATING or self.console_app.can_act

    def reload(self) -> None:
        self._load()

    def action_reload(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="ticket-load")
    def _load(self) -> None:
        app = self.console_app
        try:
            thread = app.db.transaction(lambda session: tickets.thread(session, app.actor, self.ticket_id))
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        self.post_message(TicketThreadLoaded(thread))

    @on(TicketThreadLoaded)
    def _loaded(self, message: TicketThreadLoaded) -> None:
        thread: tickets.Thread = message.thread
        self.thread = thread
        tz = self.console_app.tz
        self.query_one("#ticket-header", Static).update(ticket_header(thread.ticket, tz))
        self.query_one("#ticket-messages", Static).update(thread_text(thread, tz))
        self.query_one("#ticket-thread", VerticalScroll).scroll_end(animate=False)
        self.sub_title = thread.ticket.subject

    # ------------------------------------------------------------------ changes

    def _refused(self) -> bool:
        if not self.console_app.can_act:
            self.post_message(ReadOnlyRefused())
            return True
        return False

    def action_send_reply(self) -> None:
        self._send(internal=False)

    def action_add_note(self) -> None:
        self._send(internal=True)

    def _send(self, *, internal: bool) -> None:
        if self._refused():
            return
        body = self.query_one("#ticket-reply", TextArea).text
        self._write(lambda session: tickets.reply(session, self.console_app.actor, self.ticket_id, body, internal=internal))

    def action_close_ticket(self) -> None:
        if self._refused():
            return
        self._write(lambda session: tickets.close(session, self.console_app.actor, self.ticket_id))

    @work(thread=True, group="ticket-write")
    def _write(self, change: Any) -> None:
        try:
            result = self.console_app.db.transaction(change)
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        self.post_message(TicketChanged(result.text, result.ticket_id))

    @on(TicketChanged)
    def _changed(self, message: TicketChanged) -> None:
        if message.text.startswith(("reply", "internal")):
            self.query_one("#ticket-reply", TextArea).clear()
        self.notify(render.plain(message.text), markup=False, timeout=4)
        self.reload()

    @on(Button.Pressed, "#ticket-send")
    def _send_pressed(self) -> None:
        self.action_send_reply()

    @on(Button.Pressed, "#ticket-note")
    def _note_pressed(self) -> None:
        self.action_add_note()

    @on(Button.Pressed, "#ticket-close")
    def _close_pressed(self) -> None:
        self.action_close_ticket()

    @on(ActionFailed)
    def _failed(self, message: ActionFailed) -> None:
        message.stop()
        self.post_message(ErrorRaised(message.error))

    def action_back(self) -> None:
        self.dismiss(None)
