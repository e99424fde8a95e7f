"""Statuses and the status machine of SPEC.md section 3, as one table of data.

The action functions check transitions against `ACTIONS`; the CLI help, the console's modals and
its help screen describe actions from the same table, so a rule cannot differ between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any


class Status(StrEnum):
    ORDERED = "ordered"
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    TERMINATED = "terminated"
    DELETED = "deleted"


LISTED_STATUSES: tuple[Status, ...] = (
    Status.PENDING,
    Status.ACTIVE,
    Status.SUSPENDED,
    Status.EXPIRED,
    Status.CANCELLED,
    Status.TERMINATED,
    Status.ORDERED,
)
"""The list's status tabs (`ordered` last, so the tabs people use keep their places)."""


class SuspendKind(StrEnum):
    ADMIN = "admin"
    CLIENT = "client"
    ABUSE = "abuse"
    OVERDUE = "overdue"
    TEMPORARY = "temporary"


class CancelMode(StrEnum):
    END_OF_CYCLE = "end-of-cycle"
    IMMEDIATE = "immediate"


class Role(Enum):
    """Operator roles, each allowed everything the one before it is."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Role:
        return cls[label.upper()]

    def allows(self, needed: Role) -> bool:
        return self.value >= needed.value


ANY_LIVE = (
    Status.ORDERED,
    Status.PENDING,
    Status.ACTIVE,
    Status.SUSPENDED,
    Status.EXPIRED,
    Status.CANCELLED,
)


@dataclass(frozen=True)
class ActionRule:
    """One row of the status table: where an action may start, where it leads, what it calls."""

    name: str
    title: str
    allowed_from: tuple[Status, ...]
    to: Status | None
    module_call: str | None
    operation: str | None
    role: Role
    destructive: bool
    summary: str
    condition: str = ""
    suspend_kinds: tuple[SuspendKind, ...] | None = None
    """From `suspended`, only these suspension kinds (None: any kind)."""

    def allows(self, status: str, suspend_kind: str | None = None) -> bool:
        """True when the action may start from `status` (and, when suspended, from `suspend_kind`)."""
        if status not in self.allowed_from:
            return False
        if status == Status.SUSPENDED.value and self.suspend_kinds is not None:
            return suspend_kind in self.suspend_kinds
        return True

    @property
    def allowed_from_text(self) -> str:
        if set(self.allowed_from) == set(Status):
            return "any status"
        kinds = "/".join(kind.value for kind in self.suspend_kinds) if self.suspend_kinds else None
        return ", ".join(f"{status.value} ({kinds})" if kinds and status is Status.SUSPENDED else status.value for status in self.allowed_from)

    def describe(self) -> str:
        """One paragraph of help text built from the rule itself."""
        becomes = self.to.value if self.to else "status unchanged"
        parts = [self.summary, f"Allowed from: {self.allowed_from_text}.", f"Becomes: {becomes}."]
        if self.condition:
            parts.append(self.condition)
        if self.module_call:
            parts.append(f"Module call: {self.module_call}.")
        if self.role is not Role.OPERATOR:
            parts.append(f"Role: {self.role.label}.")
        return " ".join(parts)


def _rule(*args: Any, **kwargs: Any) -> ActionRule:
    return ActionRule(*args, **kwargs)


ACTIONS: dict[str, ActionRule] = {
    rule.name: rule
    for rule in (
        _rule(
            "deliver",
            "Deliver",
            (Status.PENDING,),
            Status.ACTIVE,
            "create",
            "activation",
            Role.OPERATOR,
            False,
            "Create the service on its panel and mark it active.",
            "On a module failure it stays pending with the error and the attempt count.",
        ),
        _rule(
            "suspend",
            "Suspend",
            (Status.ACTIVE,),
            Status.SUSPENDED,
            "suspend",
            "suspension",
            Role.OPERATOR,
            False,
            "Suspend the service (kind, reason, optionally notify the customer).",
        ),
        _rule(
            "unsuspend",
            "Unsuspend",
            (Status.SUSPENDED,),
            Status.ACTIVE,
            "unsuspend",
            "resume",
            Role.OPERATOR,
            False,
            "Reactivate a suspended service.",
        ),
        _rule(
            "renew",
            "Renew",
            (Status.ACTIVE, Status.SUSPENDED),
            None,
            "renew",
            "renewal",
            Role.OPERATOR,
            False,
            "Extend the expiry by N cycles from the old expiry.",
            "Suspended services only until renewal_grace_days after expiry; an overdue suspension is "
            "lifted when the new expiry is in the future; renewal limits apply.",
        ),
        _rule(
            "renew-invoice",
            "Renew by invoice",
            (Status.ACTIVE, Status.SUSPENDED),
            None,
            None,
            None,
            Role.OPERATOR,
            False,
            "Bill N cycles on an invoice (a new one, or a line on an unpaid invoice of the same customer).",
            "The expiry moves when the invoice is paid; the renewal rules and limits are checked now and again then.",
        ),
        _rule(
            "cancel-end-of-cycle",
            "Cancel at end of cycle",
            (Status.PENDING, Status.ACTIVE, Status.SUSPENDED),
            None,
            None,
            None,
            Role.OPERATOR,
            False,
            "Set cancel_at to the expiry; the automation run cancels the service then.",
        ),
        _rule(
            "cancel-immediately",
            "Cancel immediately",
            (Status.PENDING, Status.ACTIVE, Status.SUSPENDED, Status.EXPIRED),
            Status.CANCELLED,
            "terminate",
            "deletion",
            Role.OPERATOR,
            True,
            "Cancel now and remove the service from its panel.",
        ),
        _rule(
            "uncancel",
            "Uncancel",
            (Status.PENDING, Status.ACTIVE, Status.SUSPENDED),
            None,
            None,
            None,
            Role.OPERATOR,
            False,
            "Withdraw an end-of-cycle cancellation.",
            "Only for a service with a future cancel_at.",
        ),
        _rule(
            "expire",
            "Expire",
            (Status.SUSPENDED,),
            Status.EXPIRED,
            "terminate",
            "deletion",
            Role.OPERATOR,
            True,
            "Expire a service suspended as overdue past the grace limits (the automation run does this).",
            suspend_kinds=(SuspendKind.OVERDUE,),
        ),
        _rule(
            "terminate",
            "Terminate",
            (Status.ACTIVE, Status.SUSPENDED, Status.EXPIRED),
            Status.TERMINATED,
            "terminate",
            "deletion",
            Role.ADMIN,
            True,
            "Delete the service from its panel and mark it terminated.",
        ),
        _rule(
            "redeliver",
            "Redeliver",
            (Status.PENDING,),
            Status.ACTIVE,
            "create",
            "activation",
            Role.OPERATOR,
            False,
            "Force-delete the service on its panel, then create it again.",
        ),
        _rule(
            "reinstall",
            "Reinstall",
            (Status.ACTIVE,),
            None,
            "reinstall",
            "reinstall",
            Role.OPERATOR,
            True,
            "Reinstall the service on its panel: the data stored on it is lost.",
        ),
        _rule(
            "power",
            "Power",
            (Status.ACTIVE,),
            None,
            "power",
            "power",
            Role.OPERATOR,
            False,
            "Start, stop or restart the service on its panel (the module's own power signals), through the job queue.",
            "The customer area's power action; the admin's Panel tab sends signals directly.",
        ),
        _rule(
            "upgrade",
            "Upgrade",
            (Status.ACTIVE,),
            None,
            "change_package",
            "upgrade",
            Role.OPERATOR,
            False,
            "Move the service to another product (by invoice or without billing).",
        ),
        _rule(
            "add-option",
            "Add an option",
            (Status.PENDING, Status.ACTIVE, Status.SUSPENDED),
            None,
            "add_option",
            "upgrade",
            Role.OPERATOR,
            False,
            "Add an option from the product's catalogue: billed with each renewal, applied on the panel when the module applies it.",
            "Pending: applied by the delivery; a billing record only when the module does not apply it.",
        ),
        _rule(
            "transfer",
            "Transfer",
            (Status.PENDING, Status.ACTIVE, Status.SUSPENDED),
            None,
            "transfer",
            "transfer",
            Role.OPERATOR,
            False,
            "Give the service to another customer: the owner in billing and on the panel (its panel user made if needed).",
            "Not while suspended for abuse. The old owner's unpaid lines for it are cancelled (an invoice of only those lines is cancelled).",
            suspend_kinds=(SuspendKind.ADMIN, SuspendKind.CLIENT, SuspendKind.OVERDUE, SuspendKind.TEMPORARY),
        ),
        _rule(
            "add-days",
            "Add days",
            ANY_LIVE,
            None,
            None,
            None,
            Role.OPERATOR,
            False,
            "Move the expiry later by N days.",
        ),
        _rule(
            "subtract-days",
            "Subtract days",
            ANY_LIVE,
            None,
            None,
            None,
            Role.OPERATOR,
            False,
            "Move the expiry earlier by N days.",
        ),
        _rule(
            "delete",
            "Delete",
            (Status.CANCELLED, Status.TERMINATED, Status.EXPIRED),
            Status.DELETED,
            "terminate",
            "deletion",
            Role.ADMIN,
            True,
            "Hide the service from lists and the customer; it stays in the audit trail.",
            "The module terminates it first if the panel still holds it.",
        ),
        _rule(
            "set-status",
            "Set status",
            tuple(Status),
            None,
            None,
            None,
            Role.ADMIN,
            True,
            "Override the status by hand (requires a reason, logged as an override).",
        ),
        _rule(
            "pay-order",
            "Pay order",
            (Status.ORDERED,),
            Status.PENDING,
            None,
            None,
            Role.OPERATOR,
            False,
            "The order's invoice was paid: the service waits for delivery, which is queued at once.",
            "Done by paying the invoice (`invoices pay`); with the setting order_approval on, it waits marked awaiting approval "
            "until `orders approve` (or `orders reject`).",
        ),
        _rule(
            "cancel-order",
            "Cancel order",
            (Status.ORDERED,),
            Status.CANCELLED,
            None,
            None,
            Role.OPERATOR,
            False,
            "The order's invoice was cancelled: the service, never on a panel, is cancelled.",
            "Done by cancelling the invoice (`invoices cancel`).",
        ),
        # reconcile's fixes: bring the panel back in line with billing; the billing status stays
        _rule(
            "panel-suspend",
            "Suspend on the panel",
            (Status.SUSPENDED,),
            None,
            "suspend",
            "suspension",
            Role.OPERATOR,
            False,
            "Suspend the service on its panel again: billing says suspended, the panel does not.",
        ),
        _rule(
            "panel-unsuspend",
            "Unsuspend on the panel",
            (Status.ACTIVE,),
            None,
            "unsuspend",
            "resume",
            Role.OPERATOR,
            False,
            "Lift the suspension on the panel: billing says active, the panel says suspended.",
        ),
        _rule(
            "rebuild",
            "Re-apply the build",
            (Status.ACTIVE, Status.SUSPENDED),
            None,
            "change_package",
            "upgrade",
            Role.OPERATOR,
            False,
            "Apply the service's product (limits) on its panel again, over a change made on the panel.",
        ),
        _rule(
            "panel-owner",
            "Give to the customer on the panel",
            (Status.ACTIVE, Status.SUSPENDED),
            None,
            "transfer",
            "transfer",
            Role.OPERATOR,
            False,
            "Make the service's customer the owner of its resource on the panel (the panel names someone else).",
        ),
        _rule(
            "redeliver-missing",
            "Deliver again",
            (Status.ACTIVE, Status.SUSPENDED),
            None,
            "create",
            "activation",
            Role.OPERATOR,
            False,
            "Create the service on its panel again: its resource is gone from the panel.",
        ),
    )
}

MULTI_SERVICE_ACTIONS = (
    "suspend",
    "unsuspend",
    "cancel",
    "uncancel",
    "renew",
    "terminate",
    "delete",
    "redeliver",
    "deliver",
    "add-days",
    "subtract-days",
)

OPERATION_LABELS = ("activation", "suspension", "resume", "renewal", "upgrade", "reinstall", "deletion", "transfer")

NON_TRANSITION_ROLES: dict[str, Role] = {
    "read": Role.VIEWER,
    "edit": Role.OPERATOR,
    "metadata": Role.OPERATOR,
    "options": Role.OPERATOR,
    "create": Role.OPERATOR,
    "import": Role.OPERATOR,
    "catalog": Role.OPERATOR,
    "jobs": Role.OPERATOR,
    "invoices": Role.OPERATOR,
    "settings": Role.ADMIN,
    "operators": Role.ADMIN,
    "automation": Role.ADMIN,
    "automation-dry-run": Role.OPERATOR,
    "notify": Role.OPERATOR,
    "approve-order": Role.OPERATOR,
    "abuse": Role.OPERATOR,
    "tickets": Role.OPERATOR,
}


def automation_role(dry_run: bool) -> Role:
    """The role an automation run needs: it expires and hides services (admin work); a dry run changes nothing."""
    return NON_TRANSITION_ROLES["automation-dry-run" if dry_run else "automation"]


def rule(action: str) -> ActionRule:
    return ACTIONS[action]


def status_table_text() -> str:
    """The status table as plain text, for help screens."""
    lines = []
    for action in ACTIONS.values():
        becomes = action.to.value if action.to else "-"
        call = action.module_call or "-"
        lines.append(f"{action.name:<20} {action.allowed_from_text:<45} -> {becomes:<11} call: {call}")
    return "\n".join(lines)
