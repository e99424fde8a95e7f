"""A chunk of the automation runs without a savepoint per service, and again with them only when
one of its services raises: the statements sent, and the outcome either way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event

from svcconsole.core import invoices
from svcconsole.store.engine import Database
from svcconsole.store.models import Invoice, InvoiceLine, Notification
from tests.billing.conftest import NOW, active_service, count
from tests.billing.test_automation import run, step

DAY = timedelta(days=1)


@contextmanager
def savepoints_sent(db: Database) -> Iterator[list[str]]:
    """The SAVEPOINT statements sent to the database while inside."""
    sent: list[str] = []

    def note(connection, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SAVEPOINT"):
            sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def due(db, admin, catalog, how_many: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Services due a renewal invoice and an expiry notice."""
    return [active_service(db, admin, catalog, expires=NOW + 2 * DAY + timedelta(minutes=index), name=f"due-{index}") for index in range(how_many)]


def test_a_chunk_where_no_service_raises_sends_no_savepoint(db, admin, catalog, frozen):
    ids = due(db, admin, catalog, 3)
    with savepoints_sent(db) as sent:
        report = run(db, admin)
    assert [item.outcome for item in step(report, 1).items] == ["ok"] * 3
    assert [item.outcome for item in step(report, 2).items] == ["ok"] * 3
    assert sent == []
    assert count(db, InvoiceLine, InvoiceLine.service_id.in_(ids)) == 3  # type: ignore[attr-defined]


def test_a_service_that_raises_sends_its_chunk_again_in_savepoints_and_the_others_are_done_once(db, admin, catalog, frozen, monkeypatch):
    ids = due(db, admin, catalog, 3)
    broken = ids[2]
    real = invoices.invoice_renewal

    def breaks_on_the_last(session, actor, target, *args, **kwargs):  # type: ignore[no-untyped-def]
        if target.id == broken:
            raise KeyError("anchor_day")
        return real(session, actor, target, *args, **kwargs)

    monkeypatch.setattr(invoices, "invoice_renewal", breaks_on_the_last)
    with savepoints_sent(db) as sent:
        report = run(db, admin)
    outcomes = {item.service_id: item.outcome for item in step(report, 1).items}
    assert outcomes == {ids[0]: "ok", ids[1]: "ok", broken: "failed"}
    assert len(sent) == 3, "the chunk of step 1 again, one savepoint per service; step 2 without"
    assert count(db, Invoice) == 2
    assert count(db, InvoiceLine, InvoiceLine.service_id == broken) == 0
    assert count(db, Notification, Notification.template == "expiry_notice") == 3
