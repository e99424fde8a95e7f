"""The module queue: jobs queued by actions, run outside transactions, retried, resumed."""

from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlmodel import col, select

from svcconsole.core import actions, clock, job_claims, job_queue, jobs, records
from svcconsole.modules import ModuleError
from svcconsole.store.models import Activity, Job, Notification, Service
from tests.conftest import new_service


def scripted_service(db, admin, scripted, **fields):
    values = {
        "customer": str(scripted.customer_id),
        "name": "game",
        "product": str(scripted.product_id),
        "server": str(scripted.server_id),
        "expires": "2027-01-31",
    }
    values.update(fields)
    draft = records.ServiceDraft(**values)
    return db.transaction(lambda session: records.create_service(session, admin, draft)).id


def perform(db, actor, action, service_id, params=None):
    return db.transaction(lambda session: actions.perform(session, actor, action, service_id, params or {}))


def read(db, service_id):
    with db.read() as session:
        return session.get(Service, service_id)


def job_of(db, job_id):
    with db.read() as session:
        return session.get(Job, job_id)


def test_deliver_queues_a_job_then_the_job_makes_it_active(db, admin, scripted, frozen):
    service_id = scripted_service(db, admin, scripted)
    outcome = perform(db, admin, "deliver", service_id)
    assert outcome.result == "queued" and outcome.job_id
    pending = read(db, service_id)
    assert (pending.status, pending.operation) == ("pending", "activation")
    assert job_of(db, outcome.job_id).server_id == scripted.server_id

    result = jobs.execute(db, outcome.job_id)
    assert result.status == "succeeded"
    delivered = read(db, service_id)
    assert (delivered.status, delivered.operation, delivered.external) == ("active", None, {"reserved": f"slot-{service_id}", "ref": f"srv-{service_id}"})
    assert delivered.delivery_attempts == 1
    assert scripted.script.count("create", service_id) == 1
    job = job_of(db, outcome.job_id)
    assert (job.status, job.attempts) == ("succeeded", 1)


def test_retryable_failure_goes_back_to_the_queue_with_backoff(db, admin, scripted, frozen):
    service_id = scripted_service(db, admin, scripted)
    scripted.script.fail("create", service_id, ModuleError("panel timed out", retryable=True))
    job_id = perform(db, admin, "deliver", service_id).job_id

    result = jobs.execute(db, job_id)
    assert result.status == "queued"
    job = job_of(db, job_id)
    assert job.last_error == "panel timed out" and job.attempts == 1
    assert job.next_attempt_at == clock.now() + timedelta(seconds=jobs.BACKOFF_BASE_SECONDS)
    service = read(db, service_id)
    assert (service.status, service.operation, service.last_error, service.delivery_attempts) == ("pending", "activation", "panel timed out", 1)
    assert jobs.due_job_ids(db) == []

    clock.freeze(clock.now() + timedelta(seconds=31))
    assert jobs.due_job_ids(db) == [job_id]
    assert jobs.execute(db, job_id).status == "succeeded"
    service = read(db, service_id)
    assert (service.status, service.last_error, service.delivery_attempts) == ("active", None, 2)


def test_final_failure_leaves_the_service_pending_and_notifies_the_admins(db, admin, scripted, frozen):
    service_id = scripted_service(db, admin, scripted)
    scripted.script.fail("create", service_id, ModuleError("egg 99 does not exist", retryable=False, external={"server_id": 7}))
    job_id = perform(db, admin, "deliver", service_id).job_id
    assert jobs.execute(db, job_id).status == "failed"
    service = read(db, service_id)
    assert (service.status, service.operation, service.last_error) == ("pending", None, "egg 99 does not exist")
    assert service.external == {"reserved": f"slot-{service_id}", "server_id": 7}
    with db.read() as session:
        notice = session.exec(select(Notification).where(Notification.template == "delivery_failed")).one()
        failed = session.exec(select(Activity).where(Activity.service_id == service_id, Activity.action == "deliver_failed")).one()
    assert "egg 99 does not exist" in notice.body and f"#{service_id}" in notice.subject
    assert failed.reason == "egg 99 does not exist"


def test_a_job_left_running_by_a_dead_worker_is_picked_up_again(db, admin, scripted, frozen):
    service_id = scripted_service(db, admin, scripted)
    job_id = perform(db, admin, "deliver", service_id).job_id

    def crash_mid_call(session):
        job = session.get(Job, job_id)
        job.status, job.attempts, job.worker, job.lease_until = "running", 1, "dead-host:1:1", clock.now() + job_claims.LEASE
        session.add(job)

    db.transaction(crash_mid_call)
    assert jobs.due_job_ids(db) == []
    assert jobs.execute(db, job_id) is None
    clock.freeze(clock.now() + job_claims.LEASE + timedelta(seconds=1))
    assert jobs.due_job_ids(db) == [job_id]
    assert jobs.run_jobs(db, jobs.due_job_ids(db))[0].status == "succeeded"
    assert read(db, service_id).status == "active"
    assert job_of(db, job_id).attempts == 2


def test_admin_retries_a_failed_job(db, admin, scripted, frozen):
    service_id = scripted_service(
        db,
        admin,
        scripted,
    )
    perform(db, admin, "deliver", service_id)
    jobs.run_jobs(db, jobs.due_job_ids(db))
    scripted.script.fail("suspend", service_id, ModuleError("node offline", retryable=False))
    job_id = perform(db, admin, "suspend", service_id, {"kind": "abuse"}).job_id
    jobs.execute(db, job_id)
    assert (job_of(db, job_id).status, read(db, service_id).status) == ("failed", "active")

    db.transaction(lambda session: job_queue.retry(session, admin, job_id))
    assert read(db, service_id).operation == "suspension"
    assert jobs.execute(db, job_id).status == "succeeded"
    service = read(db, service_id)
    assert (service.status, service.suspend_kind, service.operation) == ("suspended", "abuse", None)


def test_resolving_a_job_clears_the_operation_and_logs_it(db, admin, scripted, frozen):
    service_id = scripted_service(db, admin, scripted)
    job_id = perform(db, admin, "deliver", service_id).job_id
    db.transaction(lambda session: job_queue.resolve(session, admin, job_id, "created by hand"))
    service = read(db, service_id)
    assert (service.status, service.operation) == ("pending", None)
    assert job_of(db, job_id).status == "resolved"
    with db.read() as session:
        row = session.exec(select(Activity).where(Activity.action == "job_resolved")).one()
    assert row.reason == "created by hand"


def test_an_operation_in_progress_blocks_other_actions(db, admin, scripted, frozen):
    service_id = scripted_service(db, admin, scripted)
    perform(db, admin, "deliver", service_id)

    from svcconsole.core.errors import TransitionRefused

    with pytest.raises(TransitionRefused, match="in progress: activation"):
        perform(db, admin, "cancel-immediately", service_id)


def test_terminate_calls_the_module_only_when_it_holds_the_service(db, admin, scripted, catalog, frozen):
    service_id = scripted_service(db, admin, scripted)
    perform(db, admin, "deliver", service_id)
    jobs.run_jobs(db, jobs.due_job_ids(db))
    outcome = perform(db, admin, "terminate", service_id)
    assert outcome.result == "queued"
    jobs.run_jobs(db, [outcome.job_id])
    service = read(db, service_id)
    assert (service.status, service.external) == ("terminated", {})
    assert scripted.script.count("terminate", service_id) == 1
    delete = perform(db, admin, "delete", service_id)
    assert delete.result == "ok" and read(db, service_id).status == "deleted"
    manual_id = new_service(db, admin, catalog, status="active")
    assert perform(db, admin, "terminate", manual_id).result == "ok"


def test_redeliver_force_deletes_then_creates(db, admin, scripted, frozen):
    service_id = scripted_service(db, admin, scripted)
    db.transaction(lambda session: _hold(session, service_id))
    outcome = perform(db, admin, "redeliver", service_id)
    jobs.run_jobs(db, [outcome.job_id])
    assert [call for call in scripted.script.calls if call[1] == service_id] == [("terminate", service_id), ("create", service_id)]
    assert read(db, service_id).status == "active"


def _hold(session, service_id):
    service = session.get(Service, service_id)
    service.external = {"ref": "half-made"}
    session.add(service)


def test_a_worker_that_lost_its_claim_does_not_apply_its_outcome(db, admin, scripted, frozen):
    service_id = scripted_service(db, admin, scripted)
    perform(db, admin, "deliver", service_id)
    jobs.run_jobs(db, jobs.due_job_ids(db))
    job_id = perform(db, admin, "suspend", service_id, {"kind": "abuse"}).job_id
    taken_over = []

    def lease_runs_out_and_another_worker_takes_over():
        clock.freeze(clock.now() + job_claims.LEASE + timedelta(seconds=1))
        assert jobs.claim_due(db, "worker-b", limit=10) == [job_id]
        taken_over.append(jobs.run_jobs(db, [job_id], worker="worker-b"))

    scripted.script.during("suspend", service_id, lease_runs_out_and_another_worker_takes_over)
    assert jobs.execute(db, job_id, worker="worker-a") is None

    assert [outcome.status for outcome in taken_over[0]] == ["succeeded"]
    job = job_of(db, job_id)
    assert (job.status, job.worker, job.attempts) == ("succeeded", "worker-b", 2)
    assert read(db, service_id).status == "suspended"
    with db.read() as session:
        suspends = session.exec(select(Activity).where(Activity.service_id == service_id, Activity.action == "suspend")).all()
    assert len(suspends) == 1


def test_a_long_module_call_keeps_its_lease(db, admin, scripted, frozen, monkeypatch):
    import time

    monkeypatch.setattr(job_claims, "RENEW_EVERY_SECONDS", 0.02)
    service_id = scripted_service(db, admin, scripted)
    job_id = perform(db, admin, "deliver", service_id).job_id
    seen = {}

    def slow_call():
        clock.freeze(clock.now() + job_claims.LEASE + timedelta(seconds=1))
        deadline = time.monotonic() + 2
        while job_of(db, job_id).lease_until <= clock.now() and time.monotonic() < deadline:
            time.sleep(0.01)
        seen["due"] = jobs.due_job_ids(db)
        seen["claimed"] = jobs.claim_due(db, "worker-b", limit=10)

    scripted.script.during("create", service_id, slow_call)
    outcomes = jobs.run_jobs(db, [job_id], worker="worker-a")

    assert seen == {"due": [], "claimed": []}
    assert [outcome.status for outcome in outcomes] == ["succeeded"]
    assert job_of(db, job_id).worker == "worker-a" and scripted.script.count("create", service_id) == 1


@pytest.mark.parametrize(("concurrency", "per_server", "overall"), [(5, 2, 4), (3, 2, 3)])
def test_run_jobs_bounds_calls_in_flight_overall_and_per_server(db, admin, scripted, frozen, concurrency, per_server, overall):
    import threading
    import time

    from svcconsole.core import catalog as catalog_module

    other = db.transaction(lambda session: catalog_module.add_server(session, admin, name="panel-2", module="scripted", url="https://panel-2.example.net").id)
    servers = {}
    for index in range(12):
        server_id = scripted.server_id if index % 2 else other
        service_id = scripted_service(db, admin, scripted, name=f"game-{index}", server=str(server_id))
        servers[service_id] = server_id
    lock = threading.Lock()
    running = {"all": 0, scripted.server_id: 0, other: 0}
    most = dict.fromkeys(running, 0)
    bound_reached = threading.Event()

    def busy(server_id):
        def call():
            with lock:
                for key in ("all", server_id):
                    running[key] += 1
                    most[key] = max(most[key], running[key])
                if most["all"] >= overall:
                    bound_reached.set()
            # Hold the call until the runner has started as many as it may (or 2 s pass), so the
            # overlap does not depend on how fast a loaded machine starts threads.
            bound_reached.wait(timeout=2)
            time.sleep(0.02)
            with lock:
                running["all"] -= 1
                running[server_id] -= 1

        return call

    job_ids = []
    for service_id, server_id in servers.items():
        scripted.script.during("create", service_id, busy(server_id))
        job_ids.append(perform(db, admin, "deliver", service_id).job_id)
    outcomes = jobs.run_jobs(db, job_ids, concurrency=concurrency, per_server=per_server)

    assert sorted(outcome.status for outcome in outcomes) == ["succeeded"] * 12
    assert most["all"] == overall
    assert max(most[scripted.server_id], most[other]) == per_server


def test_the_running_jobs_of_a_worker_process_that_died_on_this_host_are_taken_over_without_waiting_for_the_lease(db, admin, scripted, frozen):
    import os
    import socket
    import subprocess
    import sys

    elsewhere = perform(db, admin, "deliver", scripted_service(db, admin, scripted, name="other")).job_id
    assert jobs.claim_due(db, "another-host:1:1", limit=10) == [elsewhere]
    job_id = perform(db, admin, "deliver", scripted_service(db, admin, scripted)).job_id
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead = f"{socket.gethostname()}:{gone.stdout.strip()}:1"
    living = f"{socket.gethostname()}:{os.getpid()}:1"
    assert jobs.claim_due(db, dead, limit=10) == [job_id]

    assert jobs.claim_due(db, living, limit=10) == [job_id], "the dead process's job is due at once; the other host's waits for its lease"
    job = job_of(db, job_id)
    assert (job.status, job.worker, job.attempts) == ("running", living, 2)
    assert jobs.claim_due(db, "third:1:1", limit=10) == []


def test_a_batch_of_outcomes_takes_as_many_round_trips_for_twelve_jobs_as_for_three(db, admin, scripted, frozen):
    def statements_to_record(count):
        service_ids = [scripted_service(db, admin, scripted, name=f"game-{count}-{number}") for number in range(count)]
        for service_id in service_ids:
            perform(db, admin, "deliver", service_id)
        jobs.run_jobs(db, jobs.due_job_ids(db))
        job_ids = [perform(db, admin, "suspend", service_id).job_id for service_id in service_ids]
        keeper = job_claims.LeaseKeeper(db, "worker-a")
        called = [jobs._call(db, job_id, "worker-a", keeper) for job_id in job_ids]
        statements = []

        def seen(connection, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            outcomes = jobs._record_batch(db, called)
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
        assert sorted((outcome.job_id, outcome.status) for outcome in outcomes) == [(job_id, "succeeded") for job_id in job_ids]
        assert [read(db, service_id).status for service_id in service_ids] == ["suspended"] * count
        with db.read() as session:
            logged = session.exec(select(Activity.service_id).where(Activity.action == "suspend", col(Activity.service_id).in_(service_ids))).all()
        assert sorted(logged) == sorted(service_ids)
        activity_rows = [statement for statement in statements if statement.startswith("INSERT INTO activity")]
        return len(statements) - len(activity_rows), len(activity_rows)

    (many, many_logs), (few, few_logs) = statements_to_record(12), statements_to_record(3)
    assert many == few
    # PostgreSQL inserts the activity rows in one statement; SQLite (in process, no round trip) one by one
    assert (many_logs, few_logs) == ((1, 1) if db.is_postgresql else (12, 3))
