"""Abuse reports (BILLmanager: "suspended due to abuse" once the abuse limit is reached).

`report` records a report on a service; when its open reports reach the setting `abuse_limit`
(0 = never) and it is active, it is suspended at once with kind `abuse` (the status table's
`suspend`: the module call, and a notice to the customer, which names the limit, never the
reports' notes: those stay with the staff). A report is closed when dealt with;
closed reports no longer count.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from svcconsole.core import activity, clock, parse
from svcconsole.core.actions import perform
from svcconsole.core.errors import NotFound
from svcconsole.core.lookups import get_service, refuse, settings_of
from svcconsole.core.operators import Actor, require
from svcconsole.core.statuses import ACTIONS, NON_TRANSITION_ROLES, Status, SuspendKind
from svcconsole.store.models import AbuseReport


@dataclass
class ReportResult:
    """What a report did: the report, the open count against the limit, and a suspension if one started."""

    report_id: int
    service_id: int
    open_reports: int
    limit: int
    suspension: str | None = None
    job_id: int | None = None

    @property
    def message(self) -> str:
        limit = f" of {self.limit}" if self.limit else " (no abuse limit)"
        text = f"abuse report {self.report_id} on service {self.service_id}: {self.open_reports} open{limit}"
        return f"{text}; {self.suspension}" if self.suspension else text


def open_count(session: Session, service_id: int) -> int:
    """How many of the service's abuse reports are open."""
    query = select(func.count()).select_from(AbuseReport).where(col(AbuseReport.service_id) == service_id, col(AbuseReport.closed_at).is_(None))
    return int(session.exec(query).one())


def reports_of(session: Session, service_id: int, *, limit: int = 50) -> list[AbuseReport]:
    """The service's abuse reports, newest first."""
    query = select(AbuseReport).where(col(AbuseReport.service_id) == service_id).order_by(col(AbuseReport.id).desc()).limit(limit)
    return list(session.exec(query).all())


def report(session: Session, actor: Actor, service_id: int, note: str) -> ReportResult:
    """Record an abuse report; suspend the service (kind abuse) when its open reports reach the limit."""
    require(actor, NON_TRANSITION_ROLES["abuse"], "recording an abuse report")
    text = parse.parse_text("--note", note, required=True, max_length=2000) or ""
    service = get_service(session, service_id, for_update=True)
    if service.status == Status.DELETED.value:
        raise refuse(service, "abuse report", "a deleted service takes no reports")
    row = AbuseReport(service_id=service_id, note=text, reported_by=actor.name, created_at=clock.now())
    session.add(row)
    session.flush()
    count = open_count(session, service_id)
    limit = int(settings_of(session)["abuse_limit"])
    activity.record(
        session, service, actor, "abuse_report", from_status=service.status, to_status=service.status, reason=text, details={"report": row.id, "open": count}
    )
    result = ReportResult(row.id or 0, service_id, count, limit)
    if limit and count >= limit and ACTIONS["suspend"].allows(service.status):
        reason = f"abuse limit reached ({count} open reports, limit {limit})"
        outcome = perform(session, actor, "suspend", service_id, {"kind": SuspendKind.ABUSE.value, "reason": reason, "notify": True})
        result.suspension, result.job_id = f"suspended for abuse: {outcome.message}", outcome.job_id
    return result


def close(session: Session, actor: Actor, service_id: int, report_id: int, *, note: str | None = None) -> AbuseReport:
    """Close an open report of the service (it stops counting towards the limit)."""
    require(actor, NON_TRANSITION_ROLES["abuse"], "closing an abuse report")
    text = parse.parse_text("--note", note, max_length=2000)
    service = get_service(session, service_id, for_update=True)
    row = session.get(AbuseReport, report_id)
    if row is None or row.service_id != service_id:
        raise NotFound(f"--close: service {service_id} has no abuse report {report_id}")
    if row.closed_at is not None:
        raise refuse(service, "close abuse report", f"report {report_id} is closed already")
    row.closed_at, row.closed_by = clock.now(), actor.name
    session.add(row)
    activity.record(session, service, actor, "abuse_closed", from_status=service.status, to_status=service.status, reason=text, details={"report": report_id})
    session.flush()
    return row
