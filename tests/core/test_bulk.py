"""Bulk runs: items written first, outcomes as they end, resumable after a crash, dry runs."""

import dataclasses
import logging
import time

import pytest
from sqlmodel import func, select

from svcconsole.core import actions, bulk, jobs, records
from svcconsole.core.errors import PermissionDenied, TransitionRefused
from svcconsole.modules import ModuleError
from svcconsole.store.models import Activity, BulkItem, BulkRun, Service
from tests.conftest import make_actor, new_service


class Crash(Exception):
    """Stands in for the process dying between two chunks."""


def expiries(db, ids):
    with db.read() as session:
        return {row.id: row.expires_at for row in session.exec(select(Service).where(Service.id.in_(ids))).all()}


def test_a_run_records_every_item_and_reports_each_outcome(db, admin, catalog, frozen):
    active = [new_service(db, admin, catalog, status="active") for _ in range(3)]
    terminated = new_service(db, admin, catalog, status="terminated")
    report = bulk.run(db, admin, "suspend", {"kind": "admin"}, [*active, terminated], selection={"ids": [*active, terminated]})
    outcomes = {item.service_id: item.outcome for item in report.items}
    assert outcomes == {**{service_id: "ok" for service_id in active}, terminated: "skipped"}
    assert "is terminated: cannot suspend" in next(item.message for item in report.items if item.service_id == terminated)
    assert report.exit_code == 3
    with db.read() as session:
        run = session.get(BulkRun, report.run_id)
        assert run.finished_at is not None and run.total == 4


def test_exit_codes(db, admin, catalog, frozen):
    one, other = new_service(db, admin, catalog, status="terminated"), new_service(db, admin, catalog, status="terminated")
    assert bulk.run(db, admin, "suspend", {}, [one, other], selection={"ids": [one, other]}).exit_code == 1
    good = new_service(db, admin, catalog, status="active")
    assert bulk.run(db, admin, "suspend", {}, [good], selection={"ids": [good]}).exit_code == 0
    assert bulk.run(db, admin, "unsuspend", {}, [good, one], selection={"ids": [good, one]}).exit_code == 3


def test_exit_codes_of_a_run_read_without_its_items(db, admin, catalog, frozen):
    done, refused = new_service(db, admin, catalog, status="active"), new_service(db, admin, catalog, status="terminated")
    run_id, _ = bulk.start(db, admin, "suspend", {}, [done, refused], selection={"ids": [done, refused]})

    report = bulk.process(db, admin, run_id, items=False)

    assert report.items == [] and report.count("ok") == 1 and report.count("skipped") == 1
    assert report.exit_code == 3


def test_a_run_of_one_refused_service_raises_and_writes_nothing(db, admin, catalog, frozen):
    one = new_service(db, admin, catalog, status="terminated")
    with db.read() as session:
        activity_rows = session.exec(select(func.count()).select_from(Activity)).one()
    for attempt in (lambda: bulk.run(db, admin, "suspend", {}, [one], selection={"ids": [one]}), lambda: bulk.dry_run(db, admin, "suspend", {}, [one])):
        with pytest.raises(TransitionRefused, match=f"service {one} is terminated: cannot suspend"):
            attempt()
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(BulkRun)).one() == 0
        assert session.exec(select(func.count()).select_from(BulkItem)).one() == 0
        assert session.exec(select(func.count()).select_from(Activity)).one() == activity_rows


def test_a_run_of_one_done_service_is_recorded_with_its_change(db, admin, catalog, frozen):
    one = new_service(db, admin, catalog, status="active")
    report = bulk.run(db, admin, "suspend", {}, [one], selection={"ids": [one]})
    assert [(item.service_id, item.outcome) for item in report.items] == [(one, "ok")]
    with db.read() as session:
        run = session.get(BulkRun, report.run_id)
        assert run.finished_at is not None and session.get(Service, one).status == "suspended"


def test_a_crash_between_chunks_leaves_each_service_done_or_untouched_and_a_rerun_finishes(db, admin, catalog, frozen, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 2)
    monkeypatch.setattr(bulk, "BATCH_CHUNK", 2)
    ids = [new_service(db, admin, catalog, status="active") for _ in range(5)]
    before = expiries(db, ids)
    seen = []

    def crash_after_first_chunk(item):
        seen.append(item.service_id)
        if len(seen) == 2:
            raise Crash()

    with pytest.raises(Crash):
        bulk.run(db, admin, "add-days", {"days": 3}, ids, selection={"ids": ids}, progress=crash_after_first_chunk)
    with db.read() as session:
        items = {item.service_id: item.outcome for item in session.exec(select(BulkItem)).all()}
    assert items == {ids[0]: "ok", ids[1]: "ok", ids[2]: "pending", ids[3]: "pending", ids[4]: "pending"}
    moved = expiries(db, ids)
    assert [(moved[i] - before[i]).days for i in ids] == [3, 3, 0, 0, 0]

    report = bulk.run(db, admin, "add-days", {"days": 3}, ids, selection={"ids": ids})
    assert report.resumed is True
    assert [item.outcome for item in report.items] == ["ok"] * 5
    moved = expiries(db, ids)
    assert [(moved[i] - before[i]).days for i in ids] == [3, 3, 3, 3, 3]
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(BulkRun)).one() == 1
        rows = session.exec(select(func.count()).select_from(Activity).where(Activity.action == "add-days")).one()
    assert rows == 5


def test_the_same_command_after_a_finished_run_starts_a_new_run(db, admin, catalog, frozen):
    ids = [new_service(db, admin, catalog, status="active")]
    first = bulk.run(db, admin, "add-days", {"days": 1}, ids, selection={"ids": ids})
    second = bulk.run(db, admin, "add-days", {"days": 1}, ids, selection={"ids": ids})
    assert first.run_id != second.run_id and not second.resumed


def test_module_failures_are_reported_per_service(db, admin, scripted, frozen):
    ids = []
    for name in ("a", "b", "c"):
        draft = records.ServiceDraft(customer=str(scripted.customer_id), name=name, product=str(scripted.product_id), server=str(scripted.server_id))
        ids.append(db.transaction(lambda session: records.create_service(session, admin, draft)).id)
    scripted.script.fail("create", ids[1], ModuleError("no free allocation on node 1", retryable=False))
    report = bulk.run(db, admin, "deliver", {}, ids, selection={"ids": ids})
    by_id = {item.service_id: item for item in report.items}
    assert [by_id[i].outcome for i in ids] == ["ok", "failed", "ok"]
    assert by_id[ids[1]].message == "no free allocation on node 1"
    assert report.exit_code == 3


def test_dry_run_changes_nothing(db, admin, catalog, frozen):
    ids = [new_service(db, admin, catalog, status="active") for _ in range(2)] + [new_service(db, admin, catalog, status="terminated")]
    before = expiries(db, ids)
    report = bulk.dry_run(db, admin, "subtract-days", {"days": 2}, ids)
    assert [item.outcome for item in report.items] == ["ok", "ok", "skipped"]
    assert expiries(db, ids) == before
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(Activity).where(Activity.action == "subtract-days")).one() == 0
        assert session.exec(select(func.count()).select_from(BulkRun)).one() == 0


def test_a_run_refused_by_role_writes_nothing(db, admin, catalog):
    ids = [new_service(db, admin, catalog, status="active")]
    viewer = make_actor(db, "vic", "viewer")
    with pytest.raises(PermissionDenied):
        bulk.run(db, viewer, "suspend", {}, ids, selection={"ids": ids})
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(BulkRun)).one() == 0


def test_an_unexpected_error_fails_only_its_service_and_the_run_finishes(db, admin, catalog, frozen, monkeypatch, caplog):
    ids = [new_service(db, admin, catalog, status="active") for _ in range(3)]
    before = expiries(db, ids)
    real = actions.IMPLEMENTATIONS["add-days"]

    def apply_with_a_bug(ctx):
        message = real.apply(ctx)
        if ctx.service.id == ids[1]:
            ctx.service.name = "half-done"
            raise ZeroDivisionError("division by zero")
        return message

    monkeypatch.setitem(actions.IMPLEMENTATIONS, "add-days", dataclasses.replace(real, apply=apply_with_a_bug))
    with caplog.at_level(logging.ERROR, logger="svcconsole.bulk"):
        report = bulk.run(db, admin, "add-days", {"days": 3}, ids, selection={"ids": ids})
    by_id = {item.service_id: item for item in report.items}
    assert [by_id[i].outcome for i in ids] == ["ok", "failed", "ok"] and report.exit_code == 3
    assert by_id[ids[1]].message == "internal error: ZeroDivisionError: division by zero (the traceback is in the operations log)"
    assert any(record.exc_info and record.exc_info[0] is ZeroDivisionError for record in caplog.records)
    moved = expiries(db, ids)
    assert [(moved[i] - before[i]).days for i in ids] == [3, 0, 3]
    with db.read() as session:
        assert session.get(Service, ids[1]).name == "svc"
        assert session.get(BulkRun, report.run_id).finished_at is not None
        assert session.exec(select(BulkItem.outcome).where(BulkItem.service_id == ids[1])).one() == "failed"
        assert session.exec(select(func.count()).select_from(Activity).where(Activity.action == "add-days")).one() == 2


def test_an_unexpected_error_on_one_service_alone_raises_and_writes_nothing(db, admin, catalog, frozen, monkeypatch):
    one = new_service(db, admin, catalog, status="active")
    real = actions.IMPLEMENTATIONS["add-days"]

    def apply_with_a_bug(ctx):
        real.apply(ctx)
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(actions.IMPLEMENTATIONS, "add-days", dataclasses.replace(real, apply=apply_with_a_bug))
    before = expiries(db, [one])
    with pytest.raises(ZeroDivisionError):
        bulk.run(db, admin, "add-days", {"days": 3}, [one], selection={"ids": [one]})
    assert expiries(db, [one]) == before
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(BulkRun)).one() == 0


def test_module_calls_never_run_more_than_a_window_ahead_of_their_recorded_outcomes(db, admin, scripted, frozen, monkeypatch):
    from svcconsole.core import jobs

    window = bulk.job_window(jobs.DEFAULT_CONCURRENCY)

    def work(session):
        ids = []
        for number in range(3 * window):
            draft = records.ServiceDraft(
                customer=str(scripted.customer_id),
                name=f"s{number}",
                product=str(scripted.product_id),
                server=str(scripted.server_id),
                external=f"ext-{number}",
            )
            ids.append(records.import_service(session, admin, draft, external={"ref": f"ext-{number}"}).id)
        return ids

    ids = db.transaction(work)
    written = [0]
    most_ahead = [0]
    record_batch = jobs._record_batch

    def slow_database(db_, batch):
        time.sleep(0.05)
        most_ahead[0] = max(most_ahead[0], scripted.script.count("suspend") - written[0])
        outcomes = record_batch(db_, batch)
        written[0] += len(outcomes)
        return outcomes

    monkeypatch.setattr(jobs, "_record_batch", slow_database)
    report = bulk.run(db, admin, "suspend", {}, ids, selection={"ids": ids})
    assert report.exit_code == 0 and scripted.script.count("suspend") == len(ids) == written[0]
    assert 0 < most_ahead[0] <= window, (most_ahead[0], window)


def test_a_batched_chunk_gives_the_same_outcomes_and_activity_as_service_by_service(db, admin, catalog, frozen, monkeypatch):
    def one_of_each():
        ids = [new_service(db, admin, catalog, status=status) for status in ("active", "terminated", "active", "suspended")]
        with db.write() as session:
            busy = session.get(Service, ids[2])
            busy.operation = "suspend"
            session.add(busy)
        return ids

    def outcome_of(ids):
        report = bulk.run(db, admin, "add-days", {"days": 5, "reason": "outage"}, ids, selection={"ids": ids})
        by_id = {item.service_id: item for item in report.items}
        with db.read() as session:
            logged = session.exec(
                select(Activity.service_id, Activity.reason, Activity.details).where(Activity.service_id.in_(ids), Activity.action == "add-days")
            ).all()
        moved = expiries(db, ids)
        return (
            [(by_id[i].outcome, by_id[i].message.replace(f"service {i} ", "service ID ")) for i in ids],
            sorted((ids.index(service_id), reason, details.get("days", details)) for service_id, reason, details in logged),
            [(moved[i] - started[i]).days if started[i] else None for i in ids],
        )

    batched_ids = one_of_each()
    started = expiries(db, batched_ids)
    batched = outcome_of(batched_ids)
    monkeypatch.setattr(actions, "BATCHED_ACTIONS", frozenset())
    single_ids = one_of_each()
    started = expiries(db, single_ids)
    single = outcome_of(single_ids)
    assert batched == single
    assert [outcome for outcome, _ in batched[0]] == ["ok", "skipped", "skipped", "ok"]
    assert len(batched[1]) == 2


def test_a_bulk_suspend_checks_each_service_when_queued_and_when_applied(db, admin, scripted, frozen):
    def delivered(name):
        draft = records.ServiceDraft(customer=str(scripted.customer_id), name=name, product=str(scripted.product_id), server=str(scripted.server_id))
        service_id = db.transaction(lambda session: records.create_service(session, admin, draft)).id
        db.transaction(lambda session: actions.perform(session, admin, "deliver", service_id, {}))
        return service_id

    def cancel(service_id):
        db.transaction(lambda session: records.edit_service(session, admin, service_id, {"status": "cancelled"}, reason="moved on by hand"))

    ids = [delivered(name) for name in ("a", "b", "c", "d", "e")]
    jobs.run_jobs(db, jobs.due_job_ids(db))
    cancel(ids[1])
    scripted.script.during("suspend", ids[3], lambda: cancel(ids[3]))

    report = bulk.run(db, admin, "suspend", {}, ids, selection={"ids": ids})
    assert [item.outcome for item in sorted(report.items, key=lambda item: item.service_id)] == ["ok", "skipped", "ok", "skipped", "ok"]
    with db.read() as session:
        statuses = [session.get(Service, service_id).status for service_id in ids]
        suspended = session.exec(select(Activity.service_id).where(Activity.action == "suspend", Activity.service_id.in_(ids))).all()
    assert statuses == ["suspended", "cancelled", "suspended", "cancelled", "suspended"]
    assert sorted(suspended) == [ids[0], ids[2], ids[4]]
    assert [scripted.script.count("suspend", service_id) for service_id in ids] == [1, 0, 1, 1, 1]
