"""The customer's action dialogs: renew (how many periods), cancel (when, and why), the
self-service ones (a choice, an option, a typed confirmation), the renewal's payment and a new ticket.

They are the admin console's dialog frame (`DialogFrame`) with the customer's fields; yes/no
questions use its `ConfirmDialog`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Select, Static

from svcconsole.core import customer_actions, parse
from svcconsole.core.errors import InvalidInput
from svcconsole.core.i18n import N_, Translate
from svcconsole.core.statuses import CancelMode
from svcconsole.widgets import render
from svcconsole.widgets.dialog_frame import DialogFrame
from svcconsole.widgets.inputs import InertInput as Input
from svcconsole.widgets.keys import translate_bindings

MAX_CYCLES = 36
REASON_LENGTH = 2000


@dataclass(frozen=True)
class CancelRequest:
    """When to cancel and the customer's reason."""

    mode: str
    reason: str | None


class _CustomerDialog(DialogFrame[object]):
    """The shared dialog frame with the customer's wording, in their language (`tr`): "Back" backs out, its button confirms."""

    FRAME_ID = "customer-dialog"
    BACK_LABEL = N_("Back")

    def __init__(self, question: str, consequence: str, tr: Translate) -> None:
        super().__init__()
        self.question = question
        self.consequence = consequence
        self.tr = tr
        translate_bindings(self, tr)

    def back_label(self) -> str:
        return self.tr(self.BACK_LABEL)

    def confirm_label(self) -> str:
        return self.tr(self.CONFIRM_LABEL)

    def question_text(self) -> Text:
        return Text(render.plain(self.question), style="bold")

    def consequence_text(self) -> Text:
        return Text(render.plain(self.consequence), style="dim")


class RenewDialog(_CustomerDialog):
    """How many billing periods to renew; the answer is the number."""

    CONFIRM_LABEL = N_("Renew")

    def fields(self) -> ComposeResult:
        yield Label(self.tr("Billing periods to renew"))
        yield Input("1", id="cycles", restrict=r"\d*")

    def initial_focus(self) -> str:
        return "#cycles"

    def answer(self) -> int:
        try:
            return parse.parse_int("cycles", self.query_one("#cycles", Input).value, minimum=1, maximum=MAX_CYCLES)
        except InvalidInput:
            raise InvalidInput(self.tr("periods"), self.tr("a whole number from 1 to {most}").format(most=MAX_CYCLES)) from None


class CancelDialog(_CustomerDialog):
    """End of cycle or now (only the modes the service allows), and an optional reason."""

    BACK_LABEL = N_("Keep the service")
    CONFIRM_LABEL = N_("Cancel the service")
    CONFIRM_VARIANT = "error"

    def __init__(self, question: str, modes: list[str], tr: Translate) -> None:
        super().__init__(
            question,
            tr(
                "At the end of the cycle: the service runs until its expiry, then stops. "
                "Now: the service stops at once and is removed from its server; this cannot be undone."
            ),
            tr,
        )
        self.modes = modes

    def fields(self) -> ComposeResult:
        tr = self.tr
        labels = {CancelMode.END_OF_CYCLE.value: tr("at the end of the cycle"), CancelMode.IMMEDIATE.value: tr("now")}
        yield Label(tr("When"))
        yield Select([(labels[mode], mode) for mode in self.modes], value=self.modes[0], allow_blank=False, compact=True, id="mode")
        yield Label(tr("Why are you leaving? (optional)"))
        yield Input("", id="reason", placeholder=tr("optional"))

    def answer(self) -> CancelRequest:
        try:
            reason = parse.parse_text("reason", self.query_one("#reason", Input).value, max_length=REASON_LENGTH)
        except InvalidInput:
            raise InvalidInput(self.tr("reason"), self.tr("at most {most} characters").format(most=REASON_LENGTH)) from None
        return CancelRequest(str(self.query_one("#mode", Select).value), reason)


class ChoiceDialog(_CustomerDialog):
    """One choice from a list (a power action, a billing cycle); the answer is the chosen value."""

    def __init__(self, question: str, consequence: str, label: str, choices: list[tuple[str, str]], confirm: str, tr: Translate) -> None:
        super().__init__(question, consequence, tr)
        self.label = label
        self.choices = choices
        self.confirm = confirm

    def confirm_label(self) -> str:
        return self.confirm

    def fields(self) -> ComposeResult:
        yield Label(self.label)
        yield Select([(text, value) for value, text in self.choices], value=self.choices[0][0], allow_blank=False, compact=True, id="choice")

    def initial_focus(self) -> str:
        return "#choice"

    def answer(self) -> str:
        return str(self.query_one("#choice", Select).value)


class OptionDialog(_CustomerDialog):
    """An option of the product's catalogue and its value: the answer is `NAME=VALUE`."""

    CONFIRM_LABEL = N_("Order")

    def __init__(self, question: str, consequence: str, offers: list[tuple[str, str]], tr: Translate) -> None:
        super().__init__(question, consequence, tr)
        self.offers = offers

    def fields(self) -> ComposeResult:
        yield Label(self.tr("Option"))
        yield Select([(f"{name}: {accepts}", name) for name, accepts in self.offers], value=self.offers[0][0], allow_blank=False, compact=True, id="option")
        yield Label(self.tr("Value or quantity"))
        yield Input("", id="value", placeholder="2048")

    def initial_focus(self) -> str:
        return "#option"

    def answer(self) -> str:
        value = parse.parse_text("value", self.query_one("#value", Input).value, required=True, max_length=100)
        return f"{self.query_one('#option', Select).value}={value}"


class TypedConfirmDialog(_CustomerDialog):
    """A destructive action confirmed by typing the service's name; the answer is what was typed."""

    CONFIRM_VARIANT = "error"

    def __init__(self, question: str, consequence: str, expected: str, confirm: str, tr: Translate) -> None:
        super().__init__(question, consequence, tr)
        self.expected = expected
        self.confirm = confirm

    def confirm_label(self) -> str:
        return self.confirm

    def fields(self) -> ComposeResult:
        yield Label(self.tr("Type the service's name to confirm"))
        yield Input("", id="typed", placeholder=render.plain(self.expected))

    def initial_focus(self) -> str:
        return "#typed"

    def answer(self) -> str:
        typed = self.query_one("#typed", Input).value
        if typed.strip() != self.expected.strip():
            raise InvalidInput("confirmation", self.tr("type the service's name exactly to confirm"))
        return typed


@dataclass(frozen=True)
class PaymentDue:
    """The invoice a renewal went on, as the payment dialog shows it."""

    invoice_id: int
    total: str
    due: str
    lines: tuple[str, ...]


class PaymentDialog(ModalScreen[None]):
    """Pay the renewal: the invoice it is on (made or reused), its amount and due day, and its lines."""

    BINDINGS = [("escape", "dismiss_dialog", "Close"), ("enter", "dismiss_dialog", "Close")]

    def __init__(self, payment: PaymentDue) -> None:
        super().__init__(classes="dialog-screen")
        self.payment = payment

    def compose(self) -> ComposeResult:
        tr = getattr(self.app, "tr", lambda text: text)
        payment = self.payment
        with Vertical(classes="dialog", id="payment-dialog"):
            yield Static(Text(tr("Invoice #{number} to pay").format(number=payment.invoice_id), style="bold"), id="payment-title")
            yield Static(Text(tr("Amount: {amount}").format(amount=payment.total), style="bold"), id="payment-amount")
            yield Static(Text(tr("Due: {date}").format(date=payment.due)), id="payment-due")
            yield Static(Text("\n".join(f"· {render.plain(line)}" for line in payment.lines)), id="payment-lines")
            yield Static(Text(tr("The service is extended as soon as this invoice is paid."), style="dim"), id="payment-note")
            with Horizontal(classes="buttons"):
                yield Button(tr("Close"), id="payment-close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#payment-close", Button).focus()

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#payment-close")
    def _close(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class TicketRequest:
    """A new ticket's subject and first message, as typed."""

    subject: str
    message: str


class TicketDialog(_CustomerDialog):
    """A question about a service: a subject and a message (the thread takes longer answers)."""

    def __init__(self, question: str, consequence: str, labels: tuple[str, str, str], tr: Translate) -> None:
        super().__init__(question, consequence, tr)
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
        customer_actions.check_ticket(subject, message, self.tr)
        return TicketRequest(subject, message)
