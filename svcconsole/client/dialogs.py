"""The customer's action dialogs: renew (how many periods), cancel (when, and why), and a new ticket.

They are the admin console's dialog frame (`DialogFrame`) with the customer's fields; yes/no
questions use its `ConfirmDialog`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Label, Select

from svcconsole.core import customer_actions, parse
from svcconsole.core.statuses import CancelMode
from svcconsole.widgets import render
from svcconsole.widgets.dialog_frame import DialogFrame
from svcconsole.widgets.inputs import InertInput as Input

MAX_CYCLES = 36


@dataclass(frozen=True)
class CancelRequest:
    """When to cancel and the customer's reason."""

    mode: str
    reason: str | None


class _CustomerDialog(DialogFrame[object]):
    """The shared dialog frame with the customer's wording: "Back" backs out, its button confirms."""

    FRAME_ID = "customer-dialog"
    BACK_LABEL = "Back"

    def __init__(self, question: str, consequence: str) -> None:
        super().__init__()
        self.question = question
        self.consequence = consequence

    def question_text(self) -> Text:
        return Text(render.plain(self.question), style="bold")

    def consequence_text(self) -> Text:
        return Text(render.plain(self.consequence), style="dim")


class RenewDialog(_CustomerDialog):
    """How many billing periods to renew; the answer is the number."""

    CONFIRM_LABEL = "Renew"

    def fields(self) -> ComposeResult:
        yield Label("Billing periods to renew")
        yield Input("1", id="cycles", restrict=r"\d*")

    def initial_focus(self) -> str:
        return "#cycles"

    def answer(self) -> int:
        return parse.parse_int("cycles", self.query_one("#cycles", Input).value, minimum=1, maximum=MAX_CYCLES)


class CancelDialog(_CustomerDialog):
    """End of cycle or now (only the modes the service allows), and an optional reason."""

    BACK_LABEL = "Keep the service"
    CONFIRM_LABEL = "Cancel the service"
    CONFIRM_VARIANT = "error"

    def __init__(self, question: str, modes: list[str]) -> None:
        super().__init__(
            question,
            "At the end of the cycle: the service runs until its expiry, then stops. "
            "Now: the service stops at once and is removed from its server; this cannot be undone.",
        )
        self.modes = modes

    def fields(self) -> ComposeResult:
        labels = {CancelMode.END_OF_CYCLE.value: "at the end of the cycle", CancelMode.IMMEDIATE.value: "now"}
        yield Label("When")
        yield Select([(labels[mode], mode) for mode in self.modes], value=self.modes[0], allow_blank=False, compact=True, id="mode")
        yield Label("Why are you leaving? (optional)")
        yield Input("", id="reason", placeholder="optional")

    def answer(self) -> CancelRequest:
        reason = parse.parse_text("reason", self.query_one("#reason", Input).value, max_length=2000)
        return CancelRequest(str(self.query_one("#mode", Select).value), reason)


@dataclass(frozen=True)
class TicketRequest:
    """A new ticket's subject and first message, as typed."""

    subject: str
    message: str


class TicketDialog(_CustomerDialog):
    """A question about a service: a subject and a message (the thread takes longer answers)."""

    def __init__(self, question: str, consequence: str, labels: tuple[str, str, str]) -> None:
        super().__init__(question, consequence)
        self.labels = labels

    def confirm_label(self) -> str:
        return self.labels[2]

    def fields(self) -> ComposeResult:
        yield Label(self.labels[0])
        yield Input("", id="ticket-subject")
        yield Label(self.labels[1])
        yield Input("", id="ticket-message")

    def initial_focus(self) -> str:
        return "#ticket-subject"

    def answer(self) -> TicketRequest:
        subject, message = self.query_one("#ticket-subject", Input).value, self.query_one("#ticket-message", Input).value
        customer_actions.check_ticket(subject, message)
        return TicketRequest(subject, message)
