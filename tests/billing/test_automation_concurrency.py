"""Two runs at once, a held lock, a run killed half-way: nothing is ever done twice."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from svcconsole.core import automation, automation_report, clock, invoices, leases
from svcconsole.store.models import Invoice, InvoiceLine, Lease, Notification
from tests.billing.conftest import NOW, active_service, count, rows

SERVICES = 24


def due_services(db, admin, catalog) -> list[int]:  # type: ignore[no-untyped-def]
    return [active_service(db, admin, catalog, expires=NOW + timedelta(days=2, minutes=index), name=f"svc-{index}") for index in range(SERVICES)]


def run_together(db, admin, *, use_lock: bool) -> list[automation_report.AutomationReport]:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(2)
    reports: list[automation_report.AutomationReport] = []
    errors: list[BaseException] = []

    def worker() -> None:
        clock.freeze(NOW)
        barrier.wait()
        try:
            reports.append(automation.run(db, admin, use_lock=use_lock))
        except BaseException as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return reports


def assert_billed_once(db, service_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    per_service = Counter(line.service_id for line in rows(db, InvoiceLine, InvoiceLine.kind == "renewal"))
    assert per_service == Counter({service_id: 1 for service_id in service_ids})
    assert count(db, Invoice) == len(service_ids)
    keys = [row.dedupe_key for row in rows(db, Notification) if row.dedupe_key]
    assert len(keys) == len(set(keys))
    assert count(db, Notification, Notification.template == "expiry_notice") == len(service_ids)


def test_two_runs_at_once_create_one_invoice_per_service(db, admin, catalog, frozen):
    service_ids = due_services(db, admin, catalog)
    reports = run_together(db, admin, use_lock=True)
    assert_billed_once(db, service_ids)
    invoiced = sum(len(report.steps[1].items) for report in reports if not report.locked_out)
    assert invoiced == SERVICES


def hold_step_one(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Make the first run that reaches step 1 wait there (holding the lock) until released; later runs pass."""
    entered, release = threading.Event(), threading.Event()
    real = next(item for item in automation.SERVICE_STEPS if item.number == 1)
    calls = {"count": 0}

    def held_select(session, ctx):  # type: ignore[no-untyped-def]
        calls["count"] += 1
        if calls["count"] == 1:
            entered.set()
            assert release.wait(60), "the test never released the first run"
        return real.select(session, ctx)

    steps = tuple(dataclasses.replace(item, select=held_select) if item.number == 1 else item for item in automation.SERVICE_STEPS)
    monkeypatch.setattr(automation, "SERVICE_STEPS", steps)
    return entered, release


def test_a_run_started_while_another_is_inside_a_step_does_nothing_and_names_the_holder(db, admin, catalog, cli, frozen, monkeypatch: pytest.MonkeyPatch):
    service_ids = due_services(db, admin, catalog)
    entered, release = hold_step_one(monkeypatch)
    first: list[automation_report.AutomationReport] = []

    def first_run() -> None:
        clock.freeze(NOW)
        first.append(automation.run(db, admin))

    holder = threading.Thread(target=first_run)
    holder.start()
    try:
        assert entered.wait(60), "the first run never reached step 1"
        second = automation.run(db, admin)
        from_cli = cli("automation", "run")
        assert count(db, Invoice) == 0
    finally:
        release.set()
        holder.join(60)
    assert not holder.is_alive()

    assert second.locked_out and second.steps == []
    assert second.locked_by
    assert from_cli.exit_code == 0 and f"another run holds the lock ({second.locked_by}); nothing done" in from_cli.stderr
    assert from_cli.stdout == ""
    [report] = first
    assert not report.locked_out
    assert len(report.steps[1].items) == SERVICES
    assert_billed_once(db, service_ids)


def test_two_runs_without_the_lock_still_bill_each_period_once(db, admin, catalog, frozen):
    service_ids = due_services(db, admin, catalog)
    reports = run_together(db, admin, use_lock=False)
    assert_billed_once(db, service_ids)
    assert sum(len(report.steps[1].items) for report in reports) == SERVICES


def test_a_held_lock_makes_a_second_run_do_nothing(db, admin, catalog, cli, frozen):
    due_services(db, admin, catalog)
    holder = leases.NamedLock(db, automation.LOCK_NAME)
    assert holder.acquire()
    try:
        report = automation.run(db, admin)
        assert report.locked_out and report.steps == []
        result = cli("automation", "run")
        assert result.exit_code == 0
        assert "another run holds the lock" in result.stderr and "nothing done" in result.stderr
        assert count(db, Invoice) == 0
    finally:
        holder.release()
    assert not automation.run(db, admin).locked_out
    assert count(db, Invoice) == SERVICES


def test_the_lock_is_released_after_a_run(db, admin, catalog, frozen):
    automation.run(db, admin)
    lock = leases.NamedLock(db, automation.LOCK_NAME)
    assert lock.acquire()
    lock.release()
    if db.is_sqlite:
        assert count(db, Lease) == 0


def test_a_lease_left_by_a_dead_process_does_not_block_the_run(db, admin, catalog, frozen):
    service_ids = due_services(db, admin, catalog)
    process = subprocess.Popen(["true"])
    process.wait()
    dead_pid = process.pid
    now = datetime.now(UTC)
    db.transaction(
        lambda session: session.add(
            Lease(name="automation", holder=f"{socket.gethostname()}:{dead_pid}:gone", acquired_at=now, expires_at=now + timedelta(minutes=10))
        )
    )
    report = automation.run(db, admin)
    assert not report.locked_out
    assert_billed_once(db, service_ids)


class Killed(BaseException):
    """Stands for the process being killed (not an error a step catches)."""


def test_a_run_killed_half_way_finishes_the_rest_and_repeats_nothing(db, admin, catalog, frozen, monkeypatch: pytest.MonkeyPatch):
    service_ids = due_services(db, admin, catalog)
    monkeypatch.setattr(automation, "CHUNK", 5)
    real = invoices.invoice_renewal
    calls = {"count": 0}

    def dies_on_the_twelfth(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["count"] += 1
        if calls["count"] == 12:
            raise Killed("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(invoices, "invoice_renewal", dies_on_the_twelfth)
    with pytest.raises(Killed, match="killed"):
        automation.run(db, admin)
    assert count(db, Invoice) == 10
    monkeypatch.setattr(invoices, "invoice_renewal", real)

    report = automation.run(db, admin)

    assert not report.locked_out
    assert len(report.steps[1].items) == SERVICES - 10
    assert_billed_once(db, service_ids)
