"""The detail screen's order review (`a`: approve or reject a paid order awaiting approval), the
order on the Metadata tab, and abuse reports (`!` records one; the Overview lists them).

The dialog asks; `core.order_approval` decides and records; a delivery it queues is run at once,
as `orders approve` does in the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Label, Select

from svcconsole.console.actions import bindings
from svcconsole.core import abuse, jobs, order_approval, parse
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


class AbuseDialog(DialogFrame[str]):
    """Record an abuse report; at the setting abuse_limit the service is suspended (kind abuse)."""

    FRAME_ID = "abuse-dialog"
    BINDINGS = bindings("dialog")
    CONFIRM_LABEL = "Report"

    def __init__(self, service_id: int, label: str, open_reports: int, limit: int) -> None:
        super().__init__()
        self.service_id = service_id
        self.label = label
        self.open_reports = open_reports
        self.limit = limit

    def question_text(self) -> Text:
        return Text(f"Record an abuse report on service {self.service_id} ({self.label})?", style="bold")

    def consequence_text(self) -> Text:
        if not self.limit:
            return Text(f"{self.open_reports} open reports; abuse_limit is 0: no suspension.", style="dim")
        return Text(f"{self.open_reports} open of abuse_limit {self.limit}: at {self.limit} an active service is suspended (abuse).", style="dim")

    def fields(self) -> ComposeResult:
        yield Label("Note (what was reported, by whom)")
        yield Input("", id="note", placeholder="required")

    def initial_focus(self) -> str:
        return "#note"

    def answer(self) -> str:
        return parse.parse_text("note", self.query_one("#note", Input).value, required=True, max_length=2000) or ""


def report_abuse(db: Database, actor: Actor, service_id: int, note: str) -> str:
    """Record the report; run the suspension job it queued. Returns the line to show."""
    result = db.transaction(lambda session: abuse.report(session, actor, service_id, note))
    if result.job_id is None:
        return result.message
    [ran] = jobs.run_jobs(db, [result.job_id])
    return f"{result.message}; job {ran.job_id} {ran.status}"


def abuse_text(reports: list[Any], tz: ZoneInfo) -> Text:
    """The Overview's list of abuse reports (open first), empty without any."""
    if not reports:
        return Text("")
    text = Text("\nAbuse reports (!: report)\n", style="bold")
    for row in sorted(reports, key=lambda item: (item.closed_at is not None, -(item.id or 0))):
        state = f"closed {render.day(row.closed_at, tz)}" if row.closed_at else "open"
        text.append(f"  #{row.id} {render.day(row.created_at, tz)} {state:<17}", f"bold {render.ORANGE}" if not row.closed_at else "dim")
        text.append(f" {render.plain(row.reported_by)}: {render.plain(row.note)}\n")
    return text
