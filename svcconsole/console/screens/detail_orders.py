"""The detail screen's order review: approve or reject a paid order awaiting approval (`a`).

The dialog asks; `core.order_approval` decides and records; a delivery it queues is run at once,
as `orders approve` does in the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Label, Select

from svcconsole.console.actions import bindings
from svcconsole.core import jobs, order_approval, parse
from svcconsole.core.errors import InvalidInput
from svcconsole.core.operators import Actor
from svcconsole.core.order_actions import OrderSummary
from svcconsole.store.engine import Database
from svcconsole.widgets import render
from svcconsole.widgets.dialog_frame import DialogFrame
from svcconsole.widgets.inputs import InertInput as Input

DECISIONS = (("Approve: deliver it", "approve"), ("Reject: cancel it", "reject"))


@dataclass(frozen=True)
class OrderDecision:
    """What the admin chose for an order awaiting approval."""

    decision: str
    reason: str | None


class OrderReviewDialog(DialogFrame[OrderDecision]):
    """Approve (delivery starts) or reject (the service is cancelled) a paid order."""

    FRAME_ID = "order-review-dialog"
    BINDINGS = bindings("dialog")
    CONFIRM_LABEL = "Decide"

    def __init__(self, service_id: int, label: str) -> None:
        super().__init__()
        self.service_id = service_id
        self.label = label

    def question_text(self) -> Text:
        return Text(f"Approve the order of service {self.service_id} ({self.label})?", style="bold")

    def consequence_text(self) -> Text:
        return Text("Approving starts its delivery; rejecting cancels it (any refund is yours to make).", style="dim")

    def fields(self) -> ComposeResult:
        yield Label("Decision")
        yield Select(DECISIONS, value="approve", allow_blank=False, compact=True, id="decision")
        yield Label("Reason (kept in the activity log)")
        yield Input("", id="reason", placeholder="optional")

    def initial_focus(self) -> str:
        return "#decision"

    def answer(self) -> OrderDecision:
        decision = str(self.query_one("#decision", Select).value)
        if decision not in {value for _, value in DECISIONS}:
            raise InvalidInput("decision", "approve or reject")
        reason = parse.parse_text("reason", self.query_one("#reason", Input).value, max_length=2000)
        return OrderDecision(decision, reason)


def decide(db: Database, actor: Actor, service_id: int, choice: OrderDecision) -> str:
    """Apply the decision; run the delivery job approving queued. Returns the line to show."""
    if choice.decision == "approve":
        result = db.transaction(lambda session: order_approval.approve(session, actor, service_id))
    else:
        result = db.transaction(lambda session: order_approval.reject(session, actor, service_id, reason=choice.reason))
    if result.job_id is None:
        return f"service {service_id}: {result.message}"
    [ran] = jobs.run_jobs(db, [result.job_id])
    return f"service {service_id}: {result.message}; job {ran.job_id} {ran.status}: {ran.message}"


def order_text(order: OrderSummary | None, tz: ZoneInfo) -> Text:
    """The Metadata tab's account of the order that created the service (empty without one)."""
    if order is None:
        return Text("")
    text = Text(f"Order (invoice {order.invoice_id}, {order.invoice_status})\n", style="bold")
    text.append(f"  ordered {render.day(order.ordered_at, tz)}", "")
    if order.paid_at is not None:
        text.append(f", paid {render.day(order.paid_at, tz)}")
    text.append("\n")
    for description, amount in order.lines:
        text.append(f"  {render.plain(description)}  ", "")
        text.append(f"{render.money(amount, order.currency)}\n", "dim")
    if order.chosen:
        text.append("  chosen: ", "dim")
        text.append(", ".join(f"{key} {render.plain(str(value))}" for key, value in order.chosen.items()) + "\n")
    return text
