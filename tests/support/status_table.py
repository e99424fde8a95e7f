"""SPEC.md section 3's status table, transcribed by hand: the independent statement tests hold
the code's own table (`svcconsole.core.statuses.ACTIONS`) and its behaviour against.

Do not build this from the code: a wrong row in the code must fail a test, not pass its own.
"""

from __future__ import annotations

from dataclasses import dataclass

STATUSES = ("ordered", "pending", "active", "suspended", "expired", "cancelled", "terminated", "deleted")
SUSPEND_KINDS = ("admin", "client", "abuse", "overdue", "temporary")
LIVE_FOR_DAYS = ("ordered", "pending", "active", "suspended", "expired", "cancelled")
"""SPEC: add / subtract days from "any but terminated, deleted"."""


@dataclass(frozen=True)
class Row:
    """One row of SPEC.md section 3: where the action may start, where it leads, what it calls."""

    action: str
    allowed_from: tuple[str, ...]
    to: str | None
    module_call: str | None
    suspend_kinds: tuple[str, ...] = SUSPEND_KINDS
    """For a start from `suspended`: the suspension kinds it is allowed from."""

    def allows(self, status: str, suspend_kind: str | None = None) -> bool:
        if status not in self.allowed_from:
            return False
        if status == "suspended":
            return (suspend_kind or "admin") in self.suspend_kinds
        return True


TABLE: dict[str, Row] = {
    row.action: row
    for row in (
        Row("deliver", ("pending",), "active", "create"),
        Row("suspend", ("active",), "suspended", "suspend"),
        Row("unsuspend", ("suspended",), "active", "unsuspend"),
        Row("renew", ("active", "suspended"), None, "renew"),
        Row("cancel-end-of-cycle", ("pending", "active", "suspended"), None, None),
        Row("cancel-immediately", ("pending", "active", "suspended", "expired"), "cancelled", "terminate"),
        Row("uncancel", ("pending", "active", "suspended"), None, None),
        Row("expire", ("suspended",), "expired", "terminate", suspend_kinds=("overdue",)),
        Row("terminate", ("active", "suspended", "expired"), "terminated", "terminate"),
        Row("redeliver", ("pending",), "active", "create"),
        Row("reinstall", ("active",), None, "reinstall"),
        Row("power", ("active",), None, "power"),
        Row("upgrade", ("active",), None, "change_package"),
        Row("add-option", ("pending", "active", "suspended"), None, "add_option"),
        Row("add-days", LIVE_FOR_DAYS, None, None),
        Row("subtract-days", LIVE_FOR_DAYS, None, None),
        Row("delete", ("cancelled", "terminated", "expired"), "deleted", "terminate"),
        Row("set-status", STATUSES, None, None),
        Row("transfer", ("pending", "active", "suspended"), None, "transfer", suspend_kinds=("admin", "client", "overdue", "temporary")),
        Row("pay-order", ("ordered",), "pending", None),
        Row("cancel-order", ("ordered",), "cancelled", None),
    )
}
"""`to` None means the status is unchanged (renew may lift an overdue suspension: tested apart)."""

ADMIN_ONLY = frozenset({"terminate", "delete", "set-status"})
"""SPEC.md section 11: an operator may do every action but these (and settings, the automation)."""
