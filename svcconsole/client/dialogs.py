"""The customer's action dialogs: renew (how many periods) and cancel (when, and why).

They are the admin console's dialog frame (`DialogFrame`) with the customer's fields; yes/no
questions use its `ConfirmDialog`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Label, Select

from svcconsole.core import parse
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
