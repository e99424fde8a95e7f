"""Add / subtract days done in a batch (`actions.perform_many`, what a bulk run uses) and one service
at a time (`actions.perform`) give the dates of a hand-written table, and the same refusals.

The table's times are wall-clock times in Europe/Paris (the time zone setting), so month ends,
a leap day and both daylight-saving changes are covered.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, update
from sqlmodel import select

from svcconsole.core import actions, bulk
from svcconsole.core import settings as settings_module
from svcconsole.core.errors import SvcError, TransitionRefused
from svcconsole.core.operators import SYSTEM
from svcconsole.store.models import Activity, Service
from tests.conftest import new_service

PARIS = ZoneInfo("Europe/Paris")
ALLOWED = "allowed from ordered, pending, active, suspended, expired, cancelled"
OUTSIDE = "the new expiry would be outside 1900-01-01 to 2999-12-31 (set a date with services edit --expires)"
"""The end of a refusal, after "service ID is STATUS: cannot ACTION: " (the status check names the action by its title)."""


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


@dataclass(frozen=True)
class Case:
    """A service as it stands, a move, and what it must give: the new expiry (Paris time), anchor
    day and cancellation date, or the refusal (after "service ID is STATUS: ")."""

    name: str
    action: str
    days: int
    expires: str | None
    expected: str | None = None
    anchor: int | None = None
    cycle: str = "monthly"
    status: str = "active"
    suspend_kind: str | None = None
    operation: str | None = None
    cancel_mode: str | None = None
    cancel_at: str | None = None
    expected_cancel_at: str | None = None
    refused: str | None = None


CASES = [
    Case("monthly, from Jan 31", "add-days", 1, "2027-01-31 12:00", "2027-02-01 12:00", 1),
    Case("monthly, from Feb 28 of a common year", "add-days", 1, "2027-02-28 12:00", "2027-03-01 12:00", 1),
    Case("annually, onto a leap day", "add-days", 1, "2028-02-28 12:00", "2028-02-29 12:00", 29, cycle="annually"),
    Case("quarterly, back over a month end", "subtract-days", 1, "2027-03-01 12:00", "2027-02-28 12:00", 28, cycle="quarterly"),
    Case("annually, over the year end", "add-days", 1, "2026-12-31 12:00", "2027-01-01 12:00", 1, cycle="annually"),
    Case("weekly, 30 days", "add-days", 30, "2027-01-10 12:00", "2027-02-09 12:00", 9, cycle="weekly"),
    Case("over the spring DST change, same wall clock", "add-days", 2, "2027-03-27 12:00", "2027-03-29 12:00", 29),
    Case("back over the autumn DST change, same wall clock", "subtract-days", 7, "2027-11-01 00:30", "2027-10-25 00:30", 25),
    Case(
        "an end-of-cycle cancellation moves with the expiry",
        "add-days",
        5,
        "2027-01-31 12:00",
        "2027-02-05 12:00",
        5,
        cancel_mode="end-of-cycle",
        cancel_at="2027-01-31 12:00",
        expected_cancel_at="2027-02-05 12:00",
    ),
    Case(
        "an immediate cancellation keeps its date",
        "add-days",
        3,
        "2027-01-10 12:00",
        "2027-01-13 12:00",
        13,
        status="cancelled",
        cancel_mode="immediate",
        cancel_at="2026-11-01 09:00",
        expected_cancel_at="2026-11-01 09:00",
    ),
    Case("suspended as overdue", "add-days", 10, "2027-01-15 12:00", "2027-01-25 12:00", 25, status="suspended", suspend_kind="overdue"),
    Case("expired", "subtract-days", 15, "2027-01-15 12:00", "2026-12-31 12:00", 31, status="expired"),
    Case("terminated", "add-days", 1, "2027-01-15 12:00", refused=f"cannot add days: {ALLOWED}", status="terminated"),
    Case("deleted", "subtract-days", 1, "2027-01-15 12:00", refused=f"cannot subtract days: {ALLOWED}", status="deleted"),
    Case(
        "an operation in progress",
        "add-days",
        1,
        "2027-01-15 12:00",
        refused="cannot add days: an operation is in progress: suspension",
        operation="suspension",
    ),
    Case("no expiry", "add-days", 1, None, refused="cannot add-days: it has no expiry date", cycle="onetime"),
    Case("past the last date", "add-days", 30, "2999-12-20 12:00", refused=f"cannot add-days: {OUTSIDE}"),
    Case("before the first date", "subtract-days", 30, "1900-01-20 12:00", refused=f"cannot subtract-days: {OUTSIDE}"),
]


def make(db, admin, catalog, case: Case) -> int:
    service_id = new_service(db, admin, catalog)
    with db.write() as session:
        service = session.get(Service, service_id)
        service.billing_cycle = case.cycle
        service.status = case.status
        service.suspend_kind = case.suspend_kind
        service.operation = case.operation
        service.expires_at = paris(case.expires) if case.expires else None
        service.anchor_day = paris(case.expires).day if case.expires else None
        service.cancel_mode = case.cancel_mode
        service.cancel_at = paris(case.cancel_at) if case.cancel_at else None
        session.add(service)
    return service_id


def state(db, service_id: int) -> tuple[str | None, int | None, str | None, int, str | None]:
    """The service's expiry and cancellation date as Paris wall-clock times, its anchor day, version and last editor."""
    with db.read() as session:
        service = session.get(Service, service_id)
        local = [moment.astimezone(PARIS).strftime("%Y-%m-%d %H:%M") if moment else None for moment in (service.expires_at, service.cancel_at)]
        return local[0], service.anchor_day, local[1], service.version, service.updated_by


def logged(db, service_id: int) -> list[tuple]:
    with db.read() as session:
        rows = session.exec(select(Activity).where(Activity.service_id == service_id, Activity.action.in_(("add-days", "subtract-days")))).all()
        return [(row.action, row.actor, row.from_status, row.to_status, row.reason, row.details) for row in rows]


def one_by_one(db, admin, case: Case, service_id: int) -> str:
    try:
        outcome = db.transaction(lambda session: actions.perform(session, admin, case.action, service_id, {"days": case.days, "reason": "outage"}))
    except TransitionRefused as error:
        return error.message
    return outcome.message


def in_batches(db, admin, cases: list[Case], ids: list[int]) -> list[str]:
    """Each action's services in one `perform_many` call (the batched path itself, not its fallback)."""
    messages: dict[int, str] = {}
    for action in ("add-days", "subtract-days"):
        for days in sorted({case.days for case in cases if case.action == action}):
            chosen = [service_id for case, service_id in zip(cases, ids, strict=True) if (case.action, case.days) == (action, days)]
            outcomes = db.transaction(lambda session: actions.perform_many(session, admin, action, chosen, {"days": days, "reason": "outage"}))
            messages.update({service_id: outcome.message for service_id, outcome in outcomes.items()})
    return [messages[service_id] for service_id in ids]


def test_batched_and_one_by_one_give_the_dates_of_the_table(db, admin, catalog, frozen, monkeypatch):
    db.transaction(lambda session: settings_module.set_value(session, SYSTEM, "timezone", "Europe/Paris"))
    single_ids = [make(db, admin, catalog, case) for case in CASES]
    batched_ids = [make(db, admin, catalog, case) for case in CASES]
    before = {service_id: state(db, service_id) for service_id in single_ids + batched_ids}
    single = [one_by_one(db, admin, case, service_id) for case, service_id in zip(CASES, single_ids, strict=True)]
    redone: list[int] = []
    perform = actions.perform
    monkeypatch.setattr(
        actions,
        "perform",
        lambda session, actor, action, service_id, params, **options: (
            redone.append(service_id) or perform(session, actor, action, service_id, params, **options)
        ),
    )
    batched = in_batches(db, admin, CASES, batched_ids)
    assert redone == [], "nothing moved, so no service is done again one by one"
    for case, single_id, batched_id, single_message, batched_message in zip(CASES, single_ids, batched_ids, single, batched, strict=True):
        assert single_message.replace(f"service {single_id} ", "service ID ") == batched_message.replace(f"service {batched_id} ", "service ID "), case.name
        if case.refused:
            assert single_message == f"service {single_id} is {case.status}: {case.refused}", case.name
            assert state(db, single_id) == before[single_id] and state(db, batched_id) == before[batched_id], case.name
            assert logged(db, single_id) == logged(db, batched_id) == [], case.name
            continue
        version = before[single_id][3] + 1
        expected = (case.expected, case.anchor, case.expected_cancel_at, version, admin.name)
        assert state(db, single_id) == expected, case.name
        assert state(db, batched_id) == (*expected[:3], before[batched_id][3] + 1, admin.name), case.name
        single_log, batched_log = logged(db, single_id), logged(db, batched_id)
        assert len(single_log) == 1 and single_log == batched_log, case.name
        signed = case.days if case.action == "add-days" else -case.days
        assert single_log[0][5]["days"] == signed and single_log[0][4] == "outage", case.name


def terminate(session_or_connection, service_id: int) -> None:
    session_or_connection.execute(update(Service).where(Service.id == service_id).values(status="terminated"))


def test_a_service_terminated_between_the_read_and_the_update_is_refused_and_left_alone(db, admin, catalog, frozen, monkeypatch):
    """The change lands in the same transaction, between the batch's read and its UPDATE (on
    SQLite no other writer can: the chunk's transaction holds the write lock from its start)."""
    ids = [new_service(db, admin, catalog, status="active") for _ in range(3)]
    before = {service_id: state(db, service_id) for service_id in ids}
    write_rows = actions._write_rows

    def terminated_meanwhile(session, changes):
        terminate(session, ids[1])
        return write_rows(session, changes)

    monkeypatch.setattr(actions, "_write_rows", terminated_meanwhile)
    report = bulk.run(db, admin, "add-days", {"days": 2}, ids, selection={"ids": ids})
    by_id = {item.service_id: item for item in report.items}
    assert [by_id[service_id].outcome for service_id in ids] == ["ok", "skipped", "ok"]
    assert by_id[ids[1]].message == f"service {ids[1]} is terminated: cannot add days: {ALLOWED}"
    assert state(db, ids[1]) == before[ids[1]]
    assert [state(db, service_id)[3] for service_id in ids] == [before[ids[0]][3] + 1, before[ids[1]][3], before[ids[2]][3] + 1]
    assert logged(db, ids[1]) == [] and len(logged(db, ids[0])) == len(logged(db, ids[2])) == 1


def test_a_service_changed_by_another_transaction_after_the_read_is_checked_again(db, admin, catalog, frozen, monkeypatch):
    """PostgreSQL: the batch reads without locking, so another connection can commit a change
    before the UPDATE; the UPDATE then finds the row no longer as read."""
    if db.is_sqlite:
        pytest.skip("SQLite: no other writer can commit while the chunk's transaction holds the write lock")
    ids = [new_service(db, admin, catalog, status="active") for _ in range(3)]
    before = {service_id: state(db, service_id) for service_id in ids}
    other = create_engine(db.engine.url)
    write_rows = actions._write_rows

    def terminated_elsewhere(session, changes):
        with other.begin() as connection:
            terminate(connection, ids[1])
        return write_rows(session, changes)

    monkeypatch.setattr(actions, "_write_rows", terminated_elsewhere)
    try:
        outcomes = db.transaction(lambda session: actions.perform_many(session, admin, "add-days", ids, {"days": 2}))
    finally:
        other.dispose()
    assert isinstance(outcomes[ids[1]], SvcError) and outcomes[ids[1]].message == f"service {ids[1]} is terminated: cannot add days: {ALLOWED}"
    assert [outcomes[service_id].result for service_id in (ids[0], ids[2])] == ["ok", "ok"]
    assert state(db, ids[1])[:4] == before[ids[1]][:4] and logged(db, ids[1]) == []
