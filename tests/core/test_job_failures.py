"""Nothing swallowed, nothing looped (issue 12, item 4): a job outcome that cannot be saved fails
the job visibly, a job whose workers keep dying ends, and a SQLite worker that lost the queue stops."""

import json
import os
import socket
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from svcconsole.core import actions, clock, job_claims, jobs, leases, records, worker
from svcconsole.core.errors import SvcError
from svcconsole.store.models import Activity, Job, Lease, Service


def scripted_service(db, admin, scripted, name="game"):
    draft = records.ServiceDraft(
        customer=str(scripted.customer_id), name=name, product=str(scripted.product_id), server=str(scripted.server_id), expires="2027-01-31"
    )
    return db.transaction(lambda session: records.create_service(session, admin, draft)).id


def deliver(db, admin, service_id):
    return db.transaction(lambda session: actions.perform(session, admin, "deliver", service_id, {})).job_id


def read(db, model, row_id):
    with db.read() as session:
        return session.get(model, row_id)


BLOCKED = "activation blocked by a test trigger"


def block_activation(db, service_id):
    """A real database failure: a trigger that refuses to make this service active."""
    with db.engine.begin() as connection:
        if db.is_sqlite:
            connection.execute(
                text(
                    f"CREATE TRIGGER block_activation BEFORE UPDATE OF status ON service "
                    f"WHEN NEW.status = 'active' AND NEW.id = {int(service_id)} BEGIN SELECT RAISE(ABORT, '{BLOCKED}'); END"
                )
            )
        else:
            connection.execute(
                text(
                    f"CREATE FUNCTION block_activation() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF NEW.status = 'active' AND NEW.id = {int(service_id)} THEN RAISE EXCEPTION '{BLOCKED}'; END IF; RETURN NEW; END $$"
                )
            )
            connection.execute(text("CREATE TRIGGER block_activation BEFORE UPDATE ON service FOR EACH ROW EXECUTE FUNCTION block_activation()"))


def test_an_outcome_that_cannot_be_saved_fails_its_job_and_spoils_no_other(db, admin, scripted, cli, frozen):
    blocked = scripted_service(db, admin, scripted, name="blocked")
    fine = scripted_service(db, admin, scripted, name="fine")
    block_activation(db, blocked)
    job_ids = [deliver(db, admin, blocked), deliver(db, admin, fine)]

    outcomes = {outcome.job_id: outcome for outcome in jobs.run_jobs(db, job_ids)}
    assert outcomes[job_ids[1]].status == "succeeded"
    assert read(db, Service, fine).status == "active"
    failed = read(db, Job, job_ids[0])
    assert (failed.status, failed.lease_until) == ("failed", None)
    assert failed.last_error.startswith("its create call succeeded, but saving the outcome failed: ")
    assert BLOCKED in failed.last_error and "[SQL" not in failed.last_error
    assert outcomes[job_ids[0]].message == failed.last_error
    assert read(db, Service, blocked).status == "pending"

    listed = json.loads(cli("jobs", "list", "--status", "failed", "--format", "json").stdout)
    assert [(row["id"], row["last_error"]) for row in listed] == [(job_ids[0], failed.last_error)]
    clock.freeze(clock.now() + job_claims.LEASE + timedelta(seconds=1))
    assert jobs.due_job_ids(db) == []
    assert scripted.script.count("create", blocked) == 1


def test_a_save_that_fails_once_is_written_in_a_transaction_of_its_own(db, admin, scripted, frozen, monkeypatch):
    service_id = scripted_service(db, admin, scripted)
    job_id = deliver(db, admin, service_id)
    real_apply = actions.apply_after_module
    tries = []

    def fails_the_first_time(session, job, result):
        tries.append(job.id)
        if len(tries) == 1:
            session.execute(text("SELECT * FROM no_such_table"))
        return real_apply(session, job, result)

    monkeypatch.setattr(actions, "apply_after_module", fails_the_first_time)
    [outcome] = jobs.run_jobs(db, [job_id])
    assert outcome.status == "succeeded" and tries == [job_id, job_id]
    assert (read(db, Job, job_id).status, read(db, Service, service_id).status) == ("succeeded", "active")
    with db.read() as session:
        delivered = session.exec(select(Activity).where(Activity.service_id == service_id, Activity.action == "deliver")).all()
    assert len(delivered) == 1
    assert scripted.script.count("create", service_id) == 1


def test_a_job_whose_workers_keep_dying_fails_for_good(db, admin, scripted, frozen):
    service_id = scripted_service(db, admin, scripted)
    job_id = deliver(db, admin, service_id)
    maximum = read(db, Job, job_id).max_attempts
    for number in range(maximum):
        assert jobs.claim_due(db, f"doomed-host:{number}:1", limit=10) == [job_id]
        clock.freeze(clock.now() + job_claims.LEASE + timedelta(seconds=1))

    assert jobs.claim_due(db, "last-host:1:1", limit=10) == []
    job = read(db, Job, job_id)
    message = f"worker lost {maximum} times (attempt {maximum} of {maximum}); not run again"
    assert (job.status, job.attempts, job.last_error, job.lease_until) == ("failed", maximum, message, None)
    assert jobs.due_job_ids(db) == []
    service = read(db, Service, service_id)
    assert (service.status, service.operation, service.last_error) == ("pending", None, message)
    with db.read() as session:
        [row] = session.exec(select(Activity).where(Activity.service_id == service_id, Activity.action == "deliver_failed")).all()
    assert (row.reason, row.details["final"]) == (message, True)
    assert scripted.script.count("create") == 0


def test_a_reclaim_by_a_single_run_counts_the_lost_worker_too(db, admin, scripted, frozen):
    service_id = scripted_service(db, admin, scripted)
    job_id = deliver(db, admin, service_id)

    def last_attempt_lost(session):
        job = session.get(Job, job_id)
        job.status, job.attempts, job.worker, job.lease_until = "running", job.max_attempts, "dead-host:1:1", clock.now() - timedelta(seconds=1)
        session.add(job)

    db.transaction(last_attempt_lost)
    outcome = jobs.execute(db, job_id)
    assert (outcome.status, outcome.message) == ("failed", "worker lost 1 times (attempt 5 of 5); not run again")
    assert scripted.script.count("create") == 0
    assert read(db, Service, service_id).operation is None


def _expire_queue_lease(db):
    def work(session):
        lease = session.get(Lease, worker.SQLITE_QUEUE_LEASE)
        lease.expires_at = leases.wall_clock() - timedelta(seconds=1)
        session.add(lease)

    db.transaction(work)


def _wait_for(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _queue_holder(db):
    with db.read() as session:
        lease = session.get(Lease, worker.SQLITE_QUEUE_LEASE)
        return lease.holder if lease else None


def test_a_sqlite_worker_whose_queue_lease_was_taken_over_stops_claiming(db, admin, scripted):
    if not db.is_sqlite:
        pytest.skip("the queue lease is SQLite's one-worker rule; PostgreSQL workers share the queue with SKIP LOCKED")
    first = scripted_service(db, admin, scripted, name="first")
    second = scripted_service(db, admin, scripted, name="second")
    first_job = deliver(db, admin, first)
    a_holder = leases.holder()
    stop_b = threading.Event()
    b_done = []

    def worker_b():
        b_done.append(worker.run_worker(db, stop=stop_b, interval=0.1))

    b_thread = threading.Thread(target=worker_b)

    def long_batch_outlasts_the_lease():
        _expire_queue_lease(db)
        b_thread.start()
        assert _wait_for(lambda: _queue_holder(db) not in (None, a_holder))

    scripted.script.during("create", first, long_batch_outlasts_the_lease)
    try:
        with pytest.raises(SvcError, match=r"lost this SQLite database's queue to .* after 1 jobs; stopped claiming work"):
            worker.run_worker(db, stop=threading.Event(), once=True, interval=0.1)
        assert read(db, Job, first_job).status == "succeeded"
        second_job = deliver(db, admin, second)
        assert _wait_for(lambda: read(db, Job, second_job).status == "succeeded")
        assert read(db, Job, second_job).worker == _queue_holder(db) != a_holder
    finally:
        stop_b.set()
        if b_thread.is_alive():
            b_thread.join(timeout=10)
    assert b_done == [1]


def test_the_worker_command_says_it_lost_the_queue_and_exits_non_zero(db, admin, scripted, cli):
    if not db.is_sqlite:
        pytest.skip("the queue lease is SQLite's one-worker rule; PostgreSQL workers share the queue with SKIP LOCKED")
    service_id = scripted_service(db, admin, scripted)
    deliver(db, admin, service_id)
    other = f"{socket.gethostname()}:{os.getpid()}:424242"

    def another_worker_takes_the_queue():
        _expire_queue_lease(db)
        assert db.transaction(lambda session: leases.take(session, worker.SQLITE_QUEUE_LEASE, owner=other))

    scripted.script.during("create", service_id, another_worker_takes_the_queue)
    result = cli("worker", "--once")
    assert result.exit_code == 1
    outcome_line, error_line = result.stderr.strip().splitlines()
    assert outcome_line == f"job 1 (service {service_id}): succeeded: pending -> active"
    assert error_line.startswith(f"error: worker: lost this SQLite database's queue to {other} since ")
    assert error_line.endswith(" after 1 jobs; stopped claiming work (one worker at a time on SQLite)")
    assert result.stdout == ""
    assert _queue_holder(db) == other
