"""The cron job in real processes: two `svcconsole automation run` at once, and one killed
with SIGKILL half-way then run again.

Each run is slowed (small chunks, a pause inside each chunk's transaction) by a prelude the
test runs in the process before the CLI, only to make sure the two runs overlap and the kill
lands mid-step; the code under test is the real CLI and core.
"""

from __future__ import annotations

import json
from collections import Counter

from sqlmodel import func, select

from svcconsole.core import clock, services
from svcconsole.store.models import Invoice, InvoiceLine, Notification
from tests.conftest import FROZEN_NOW
from tests.reliability.support import finish, kill9, spawn_cli, stop, wait_until

AT = FROZEN_NOW.isoformat()
SLOW = """
import time
from svcconsole.core import automation
automation.CHUNK = 10
_apply_chunk = automation._apply_chunk
def _slow_chunk(*args, **kwargs):
    time.sleep({pause})
    return _apply_chunk(*args, **kwargs)
automation._apply_chunk = _slow_chunk
"""


def due_services(db, admin, catalog, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    """`count` active services expiring in two days: each is due a renewal invoice and a notice."""
    from datetime import timedelta

    def work(session):  # type: ignore[no-untyped-def]
        ids = []
        for index in range(count):
            expires = (FROZEN_NOW + timedelta(days=2, minutes=index)).isoformat()
            draft = services.ServiceDraft(customer=str(catalog.customer_id), name=f"due-{index}", product=str(catalog.product_id), server=str(catalog.server_id), expires=expires)
            service = services.create_service(session, admin, draft)
            services.perform(session, admin, "deliver", service.id, {})
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


def test_two_automation_processes_at_once_bill_and_notify_each_service_once(db, admin, catalog):
    service_ids = due_services(db, admin, catalog, 40)
    prelude = SLOW.format(pause=0.3)
    processes = []
    try:
        processes = [spawn_cli(db.url, "automation", "run", "--at", AT, prelude=prelude) for _ in range(2)]
        outcomes = [finish(process, timeout=90) for process in processes]
    finally:
        for process in processes:
            stop(process)
    for code, stdout, stderr in outcomes:
        assert code == 0 and "Traceback" not in stderr, stderr
    locked_out = [stderr for _, _, stderr in outcomes if "another run holds the lock" in stderr]
    assert len(locked_out) == 1, [stderr for _, _, stderr in outcomes]
    assert "nothing done" in locked_out[0]
    assert_billed_and_noticed_once(db, service_ids)


def test_an_automation_run_killed_half_way_is_finished_by_the_next_run_without_repeats(db, admin, catalog):
    service_ids = due_services(db, admin, catalog, 80)
    process = spawn_cli(db.url, "automation", "run", "--at", AT, prelude=SLOW.format(pause=0.05))
    try:
        wait_until(lambda: invoices(db) >= 20 or process.poll() is not None, timeout=60, what="20 invoices")
        assert process.poll() is None, f"the run ended before it could be killed: {process.communicate()}"
        kill9(process)
    finally:
        stop(process)
    before = invoices(db)
    assert 20 <= before < len(service_ids)
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
