"""Messages the customer area's workers post back, named as past-tense events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from svcconsole.core.customer import CustomerDetail, Dashboard, InvoiceSummary, PanelView
from svcconsole.modules import Credentials


@dataclass
class DashboardLoaded(Message):
    """The dashboard (active services, unpaid invoices) was read."""

    dashboard: Dashboard


@dataclass
class DetailLoaded(Message):
    """One of the customer's services was read (a new screen, or the open screen's `generation`-th read)."""

    detail: CustomerDetail
    generation: int = 0


@dataclass
class CustomerPanelLoaded(Message):
    """The module answered for the Panel tab (or the one line saying why it could not)."""

    service_id: int
    view: PanelView


@dataclass
class ChangeDone(Message):
    """A customer action was carried out; `message` says what it did."""

    service_id: int
    message: str


@dataclass
class ChangeRefused(Message):
    """A customer action or a read was refused or failed; `error` is the one line to show."""

    error: str


@dataclass
class LoginRevealed(Message):
    """The login of a service was read for its customer (None: none was provisioned), or refused: `error`."""

    service_id: int
    login: Credentials | None
    error: str | None = None


@dataclass
class PaymentReady(Message):
    """A renewal went on an invoice (made or reused): the invoice to pay."""

    invoice: InvoiceSummary


@dataclass
class TicketsRead(Message):
    """The customer's tickets about one service were read."""

    service_id: int
    lines: list[Any]


@dataclass
class TicketThreadRead(Message):
    """One of the customer's tickets was read, with its public messages (and marked read)."""

    thread: Any


@dataclass
class TicketWritten(Message):
    """The customer's message or close was saved; `text` says what it did (`sent`: a message was)."""

    text: str
    ticket_id: int
    sent: bool = False
