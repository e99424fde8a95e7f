"""What a status override (a status set through edit) leaves on the service record.

A suspension set by override is an admin suspension with the override's reason and time, as
if the suspend action had set it; a service leaving the suspended status by override loses
its suspension fields, as unsuspend would clear them. Nothing is asked of the module.
"""

from __future__ import annotations

from svcconsole.core import clock
from svcconsole.core.statuses import Status, SuspendKind
from svcconsole.store.models import Service


def keep_record_coherent(service: Service, old_status: str, reason: str | None) -> dict[str, list[str | None]]:
    """Set or clear the suspension fields after `service.status` was overridden from `old_status`;
    returns the fields changed as [old, new] (for the activity record)."""
    before = (service.suspend_kind, service.suspend_reason)
    if service.status == Status.SUSPENDED.value and old_status != Status.SUSPENDED.value:
        service.suspend_kind = SuspendKind.ADMIN.value
        service.suspend_reason = (reason or "").strip() or "status override"
        service.suspended_at = clock.now()
    elif old_status == Status.SUSPENDED.value and service.status != Status.SUSPENDED.value:
        service.suspend_kind = service.suspend_reason = None
        service.suspended_at = None
    after = (service.suspend_kind, service.suspend_reason)
    return {key: [old, new] for key, old, new in zip(("suspend_kind", "suspend_reason"), before, after, strict=True) if old != new}
