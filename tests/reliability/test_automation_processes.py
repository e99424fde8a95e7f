"""The cron job in real processes: two `svcconsole automation run` at once, and one killed
with SIGKILL half-way then run again.

A prelude, run in the process before the real CLI, makes the runs' timing deterministic: the
automation works in chunks of 10 services, and at a chosen chunk of step 1 the process writes
a marker file and waits until the test releases it (or kills it): between two chunks, for the
runs at once (a run holds its lock, not a transaction, between chunks), or inside the chunk's
transaction, for the kill. The code under test is the real CLI, core and database.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from sqlmodel import func, select

from svcconsole.core import actions, clock, records
from svcconsole.store.models import Invoice, InvoiceLine, Notification
from tests.conftest import FROZEN_NOW
from tests.reliability.support import finish, kill9, spawn_cli, stop, wait_until

AT = FROZEN_NOW.isoformat()
HOLD = """
import os, time
from svcconsole.core import automation
automation.CHUNK = 10
_calls = [0]
def _wait():
    open({marker!r}, "w").close()
    deadline = time.monotonic() + 60
    while not os.path.exists({release!r}) and time.monotonic() < deadline:
        time.sleep(0.01)
_apply_chunk = automation._apply_chunk
def _chunk_then_hold(session, ctx, step, chunk):
    items = _apply_chunk(session, ctx, step, chunk)
    if step.number == 1:
        _calls[0] += 1
        if {inside} and _calls[0] == {hold_at}:
            _wait()
    return items
automation._apply_chunk = _chunk_then_hold
_report = automation._report
def _report_then_hold(step_report, items, progress, **options):
    _report(step_report, items, progress, **options)
    if not {inside} and step_report.number == 1 and _calls[0] == {hold_at}:
        _wait()
automation._report = _report_then_hold
"""


def hold(tmp_path: Path, at_chunk: int, *, inside: bool) -> tuple[str, Path, Path]:
    """A prelude that stops step 1 at its `at_chunk`-th chunk, inside the chunk's transaction
    or just after it committed; its marker and release files."""
    marker, release = tmp_path / "holding", tmp_path / "release"
    return HOLD.format(hold_at=at_chunk, inside=inside, marker=str(marker), release=str(release)), marker, release


def due_services(db, admin, catalog, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    """`count` active services expiring in two days: each is due a renewal invoice and a notice."""
    from datetime import timedelta

    def work(session):  # type: ignore[no-untyped-def]
        ids = []
        for index in range(count):
            expires = (FROZEN_NOW + timedelta(days=2, minutes=index)).isoformat()
            draft = records.ServiceDraft(
                customer=str(catalog.customer_id), name=f"due-{index}", product=str(catalog.product_id), server=str(catalog.server_id), expires=expires
            )
            service = records.create_service(session, admin, draft)
            actions.perform(session, admin, "deliver", service.id, {})
            ids.append(service.id)
        return ids

    with clock.frozen_at(FROZEN_NOW):
        return db.transaction(work)


def invoices(db) -> int:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return session.exec(select(func.count()).select_from(Invoice)).one()


def assert_billed_and_noticed_once(db, service_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    with db.read() as session:
        lines = session.exec(select(InvoiceLine.service_id, InvoiceLine.invoice_id).where(InvoiceLine.kind == "renewal")).all()
        notices = session.exec(select(Notification.service_id, Notification.dedupe_key).where(Notification.template == "expiry_notice")).all()
        invoice_count = session.exec(select(func.count()).select_from(Invoice)).one()
    assert Counter(service_id for service_id, _ in lines) == Counter(service_ids), "one renewal line per service"
    assert len({invoice_id for _, invoice_id in lines}) == invoice_count == len(service_ids), "one invoice per service, none empty"
    assert Counter(service_id for service_id, _ in notices) == Counter(service_ids), "one expiry notice per service"
    assert len({key for _, key in notices}) == len(notices)


def test_two_automation_processes_at_once_bill_and_notify_each_service_once(db, admin, catalog, tmp_path):
    service_ids = due_services(db, admin, catalog, 40)
    prelude, marker, release = hold(tmp_path, 2, inside=False)
    first = spawn_cli(db.url, "automation", "run", "--at", AT, prelude=prelude)
    second = None
    try:
        wait_until(lambda: marker.exists() or first.poll() is not None, timeout=60, what="the first run to be mid-step")
        assert first.poll() is None, first.communicate()
        second = spawn_cli(db.url, "automation", "run", "--at", AT)
        code, _, stderr = finish(second, timeout=60)
        assert code == 0 and "another run holds the lock" in stderr and "nothing done" in stderr, stderr
        assert first.poll() is None, "the first run was still going while the second ran"
        release.touch()
        code, _, stderr = finish(first, timeout=60)
        assert code == 0 and "another run holds the lock" not in stderr, stderr
    finally:
        stop(first)
        stop(second)
    assert_billed_and_noticed_once(db, service_ids)


def test_an_automation_run_killed_half_way_is_finished_by_the_next_run_without_repeats(db, admin, catalog, tmp_path):
    service_ids = due_services(db, admin, catalog, 80)
    prelude, marker, _ = hold(tmp_path, 4, inside=True)
    process = spawn_cli(db.url, "automation", "run", "--at", AT, prelude=prelude)
    try:
        wait_until(lambda: marker.exists() or process.poll() is not None, timeout=60, what="the run to reach its 4th chunk")
        assert process.poll() is None, process.communicate()
        kill9(process)
    finally:
        stop(process)
    before = invoices(db)
    assert before == 30, "three chunks committed; the fourth, killed inside its transaction, left nothing"
    with db.read() as session:
        per_invoice = Counter(session.exec(select(InvoiceLine.invoice_id)).all())
    assert len(per_invoice) == before and set(per_invoice.values()) == {1}, "no invoice without its line, none with two"

    again = spawn_cli(db.url, "automation", "run", "--at", AT, "-f", "json")
    try:
        code, stdout, stderr = finish(again, timeout=90)
    finally:
        stop(again)
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["locked_by"] is None, "a lock left by a killed run must not block the next one"
    step1 = next(step for step in report["steps"] if step["step"] == 1)
    assert len(step1["items"]) == len(service_ids) - before
    assert {item["service_id"] for item in step1["items"]}.isdisjoint(_invoiced_before(db, before))
    assert_billed_and_noticed_once(db, service_ids)


def _invoiced_before(db, count: int) -> set[int]:  # type: ignore[no-untyped-def]
    """The services of the first `count` invoices (those the killed run made)."""
    with db.read() as session:
        first = session.exec(select(Invoice.id).order_by(Invoice.id).limit(count)).all()
        return set(session.exec(select(InvoiceLine.service_id).where(InvoiceLine.invoice_id.in_(first))).all())  # type: ignore[union-attr]
