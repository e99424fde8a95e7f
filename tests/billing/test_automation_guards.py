"""The automation run's guards: failed jobs wait for an admin, --at keeps step 7 real, short dry-run
transactions, one bad service does not stop the run, leases live on the wall clock."""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import text

from svcconsole.core import actions, automation, automation_report, clock, invoices, job_claims, jobs, leases
from svcconsole.modules.base import ModuleError
from svcconsole.store.engine import sqlite_path
from svcconsole.store.models import Invoice, Job
from tests.billing.conftest import NOW, RecordingPanel, active_service, count, rows, service
from tests.billing.test_automation import panel_service, run, step
from tests.billing.test_mail_outage import FakeWallClock, queue_mails

DAY = timedelta(days=1)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


# ----------------------------------------------------------------------------- finding 3


def test_an_expiry_whose_terminate_failed_for_good_is_not_queued_again(db, admin, catalog, panel, cli, frozen):
    service_id = panel_service(db, admin, panel, NOW - 10 * DAY)
    run(db, admin, NOW - 9 * DAY)
    assert service(db, service_id).status == "suspended"
    RecordingPanel.failures["terminate"] = ModuleError("panel refused", retryable=False)
    first = run(db, admin)
    assert [item.outcome for item in step(first, 7).items if item.service_id == service_id] == ["failed"]
    [job] = rows(db, Job, Job.action == "expire")

    later = run(db, admin, NOW + timedelta(minutes=10))

    [held] = step(later, 4).items
    assert (held.service_id, held.outcome, held.message) == (service_id, "skipped", f"job {job.id} failed; retry or resolve it")
    assert count(db, Job, Job.action == "expire") == 1
    assert [call[0] for call in RecordingPanel.calls].count("terminate") == 1
    assert later.exit_code == 0
    RecordingPanel.failures.clear()
    assert cli("jobs", "retry", str(job.id)).exit_code == 0
    assert service(db, service_id).status == "expired"


def test_an_overdue_suspension_that_failed_for_good_waits_for_an_admin(db, admin, catalog, panel, cli, frozen):
    service_id = panel_service(db, admin, panel, NOW - 2 * DAY)
    RecordingPanel.failures["suspend"] = ModuleError("no such server on the panel", retryable=False)
    run(db, admin)
    [job] = rows(db, Job, Job.action == "suspend")
    assert job.status == "failed"
    second = run(db, admin, NOW + timedelta(minutes=5))
    assert [(item.service_id, item.outcome) for item in step(second, 3).items] == [(service_id, "skipped")]
    assert count(db, Job, Job.action == "suspend") == 1
    assert cli("jobs", "resolve", str(job.id), "--note", "removed by hand").exit_code == 0
    RecordingPanel.failures.clear()
    third = run(db, admin, NOW + timedelta(minutes=10))
    assert [(item.service_id, item.outcome) for item in step(third, 3).items] == [(service_id, "queued")]
    assert service(db, service_id).status == "suspended"


# ----------------------------------------------------------------------------- finding 4


def test_a_future_at_does_not_take_over_a_live_workers_job(db, admin, catalog, panel, cli, frozen):
    service_id = panel_service(db, admin, panel, NOW + 60 * DAY)
    outcome = db.transaction(lambda session: actions.perform(session, admin, "suspend", service_id, {"kind": "admin"}))
    live_worker = f"{socket.gethostname()}:{os.getpid()}:424242"

    def claimed_by_a_live_worker(session):  # type: ignore[no-untyped-def]
        job = session.get(Job, outcome.job_id)
        job_claims.mark_claimed(job, live_worker, NOW)
        session.add(job)

    db.transaction(claimed_by_a_live_worker)
    calls_before = list(RecordingPanel.calls)

    result = cli("automation", "run", "--at", "2026-12-25")

    assert result.exit_code == 0, result.stderr
    [job] = rows(db, Job, Job.id == outcome.job_id)
    assert (job.status, job.worker, job.attempts, job.lease_until) == ("running", live_worker, 1, NOW + job_claims.LEASE)
    assert RecordingPanel.calls == calls_before


def test_step7_runs_the_jobs_a_future_at_queued_and_dates_mail_on_the_real_clock(db, admin, catalog, panel, cli, smtp, frozen):
    service_id = panel_service(db, admin, panel, NOW + 5 * DAY)
    mailer_ready = cli("notify", "send")
    assert mailer_ready.exit_code == 0
    smtp.mailbox.messages.clear()

    result = cli("automation", "run", "--at", iso(NOW + 6 * DAY))

    assert result.exit_code == 0, result.stderr
    after = service(db, service_id)
    assert (after.status, after.operation) == ("suspended", None)
    assert {job.status for job in rows(db, Job, Job.action == "suspend")} == {"succeeded"}
    assert smtp.mailbox.messages
    assert {parsedate_to_datetime(message["date"]) for message in smtp.mailbox.messages} == {NOW}


def test_a_retry_after_a_past_at_is_planned_on_the_real_clock(db, admin, catalog, panel, cli, frozen):
    service_id = panel_service(db, admin, panel, NOW - 35 * DAY)
    RecordingPanel.failures["suspend"] = ModuleError("panel busy", retryable=True)

    result = cli("automation", "run", "--at", iso(NOW - 30 * DAY))

    assert result.exit_code == 0, result.stderr
    [job] = rows(db, Job, Job.action == "suspend")
    assert (job.status, job.next_attempt_at) == ("queued", NOW + jobs.backoff(1))
    assert service(db, service_id).operation == "suspension"


# ----------------------------------------------------------------------------- finding 6


def other_writer_can_write(db) -> bool:  # type: ignore[no-untyped-def]
    """True when another connection can take the write lock (SQLite) or lock every service row (PostgreSQL) at once."""
    if db.is_sqlite:
        connection = sqlite3.connect(str(sqlite_path(db.url)), timeout=0.2, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            connection.close()
    with db.engine.connect() as connection:
        try:
            connection.execute(text("SELECT id FROM service FOR UPDATE NOWAIT")).all()
            return True
        except Exception:  # noqa: BLE001 - a lock conflict is the answer
            return False
        finally:
            connection.rollback()


def test_the_dry_run_holds_no_lock_between_chunks(db, admin, catalog, frozen, monkeypatch):
    for index in range(3):
        active_service(db, admin, catalog, expires=NOW + 2 * DAY + timedelta(minutes=index), name=f"due-{index}")
    monkeypatch.setattr(automation, "CHUNK", 1)
    seen: list[bool] = []

    report = automation.run(db, admin, dry_run=True, progress=lambda item: seen.append(other_writer_can_write(db)) if item.step in (1, 2) else None)

    assert len(seen) == 6 and all(seen)
    assert [item.outcome for item in step(report, 1).items] == ["would: ok"] * 3
    assert count(db, Invoice) == 0


# ----------------------------------------------------------------------------- finding 8


def test_one_service_that_raises_is_reported_failed_and_the_run_goes_on(db, admin, catalog, cli, frozen, monkeypatch, caplog):
    ids = [active_service(db, admin, catalog, expires=NOW + 2 * DAY + timedelta(minutes=index), name=f"svc-{index}") for index in range(4)]
    broken = ids[1]
    real = invoices.invoice_renewal

    def breaks_on_one(session, actor, target, *args, **kwargs):  # type: ignore[no-untyped-def]
        if target.id == broken:
            raise KeyError("anchor_day")
        return real(session, actor, target, *args, **kwargs)

    monkeypatch.setattr(invoices, "invoice_renewal", breaks_on_one)
    with caplog.at_level(logging.ERROR, logger="svcconsole.automation"):
        report = run(db, admin)

    items = {item.service_id: item for item in step(report, 1).items}
    assert items[broken].outcome == "failed"
    assert "internal error: KeyError: 'anchor_day'" in items[broken].message and "operations log" in items[broken].message
    assert [items[service_id].outcome for service_id in ids if service_id != broken] == ["ok"] * 3
    assert [item.number for item in report.steps] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert report.exit_code == 3
    [record] = [record for record in caplog.records if record.name == "svcconsole.automation"]
    assert record.exc_info is not None and record.exc_info[0] is KeyError
    again = cli("automation", "run")
    assert again.exit_code == 3
    assert [line for line in again.lines if line.startswith("step 1 ")] == [
        f"step 1  service {broken:<8}  failed        internal error: KeyError: 'anchor_day' (the traceback is in the operations log)"
    ]
    assert count(db, Invoice) == 3


# ----------------------------------------------------------------------------- findings 5 and 10: leases


def test_a_lease_taken_on_the_real_clock_holds_under_a_frozen_future_clock(db):
    assert db.transaction(lambda session: leases.take(session, "bulk:1", owner="other-host:1:1"))
    clock.freeze(datetime.now(UTC) + DAY)
    assert not db.transaction(lambda session: leases.take(session, "bulk:1"))
    clock.freeze(datetime.now(UTC) - DAY)
    assert not db.transaction(lambda session: leases.take(session, "bulk:1"))


def test_a_long_run_keeps_its_lock_through_step7(db, admin, catalog, smtp, frozen, monkeypatch):
    if db.is_postgresql:
        pytest.skip("PostgreSQL holds the automation lock as an advisory lock that lives as long as the run's connection")
    queue_mails(db, 5)
    wall = FakeWallClock()
    monkeypatch.setattr(leases, "wall_clock", wall)
    second_run_got_in: list[bool] = []

    def four_minutes_per_mail(message) -> None:  # type: ignore[no-untyped-def]
        wall.now += timedelta(minutes=4)
        probe = leases.NamedLock(db, automation.LOCK_NAME)
        second_run_got_in.append(probe.acquire())
        if second_run_got_in[-1]:
            probe.release()

    smtp.mailbox.on_message = four_minutes_per_mail
    report = run(db, admin)
    assert report.exit_code == 0
    assert second_run_got_in == [False] * 5


def test_a_run_that_lost_its_lock_stops(db, admin, catalog, frozen, monkeypatch):
    if db.is_postgresql:
        pytest.skip("PostgreSQL holds the automation lock as an advisory lock that lives as long as the run's connection")
    for index in range(3):
        active_service(db, admin, catalog, expires=NOW + 2 * DAY + timedelta(minutes=index), name=f"due-{index}")
    monkeypatch.setattr(automation, "CHUNK", 1)
    wall = FakeWallClock()
    monkeypatch.setattr(leases, "wall_clock", wall)

    def taken_over(item: automation_report.StepItem) -> None:
        if item.step == 1 and item.outcome == "ok":
            wall.now += timedelta(minutes=11)
            thief = leases.NamedLock(db, automation.LOCK_NAME)
            thief.owner = "other-host:1:1:thief"
            assert thief.acquire()

    report = automation.run(db, admin, progress=taken_over)

    assert [item.outcome for item in step(report, 1).items] == ["ok", "failed"]
    assert "lost the automation lock to other-host:1:1:thief" in step(report, 1).items[-1].message
    assert [item.number for item in report.steps] == [0, 1]
    assert count(db, Invoice) == 1
