"""A job's outcome is checked against the service's status when it is applied (issue 12, item 1):
first runs, retries and reclaims make no panel call once the status no longer allows the action."""

from datetime import timedelta

from sqlmodel import select

from svcconsole.core import actions, clock, job_claims, job_queue, jobs, records
from svcconsole.modules import ModuleError
from svcconsole.store.models import Activity, BulkItem, Job, Service


def scripted_service(db, admin, scripted):
    draft = records.ServiceDraft(
        customer=str(scripted.customer_id), name="game", product=str(scripted.product_id), server=str(scripted.server_id), expires="2027-01-31"
    )
    return db.transaction(lambda session: records.create_service(session, admin, draft)).id


def perform(db, actor, action, service_id, params=None):
    return db.transaction(lambda session: actions.perform(session, actor, action, service_id, params or {}))


def override(db, admin, service_id, status):
    db.transaction(lambda session: records.edit_service(session, admin, service_id, {"status": status}, reason="moved on by hand"))


def read(db, model, row_id):
    with db.read() as session:
        return session.get(model, row_id)


def activity_of(db, service_id):
    with db.read() as session:
        return list(session.exec(select(Activity).where(Activity.service_id == service_id).order_by(Activity.id)).all())


def transitions(db, service_id):
    return [f"{row.action} {row.from_status} -> {row.to_status}" for row in activity_of(db, service_id)]


def test_retrying_an_old_failed_delivery_of_a_deleted_service_makes_no_panel_create(db, admin, scripted, cli, frozen):
    """The issue's scenario through the CLI: a delivery fails for good, the admin fixes it and
    redelivers, cancels immediately and deletes; `jobs retry` of the old job creates nothing."""
    service_id = scripted_service(db, admin, scripted)
    scripted.script.fail("create", service_id, ModuleError("egg 99 does not exist", retryable=False))
    assert cli("services", "deliver", str(service_id)).exit_code != 0
    with db.read() as session:
        [old_job] = session.exec(select(Job).where(Job.service_id == service_id)).all()
    assert (old_job.status, old_job.last_error) == ("failed", "egg 99 does not exist")

    redelivered = cli("services", "redeliver", str(service_id))
    assert redelivered.exit_code == 0, redelivered.stderr
    with db.read() as session:
        redeliver_job = session.exec(select(Job).where(Job.service_id == service_id, Job.action == "redeliver")).one()
    assert read(db, Service, service_id).status == "active"
    assert cli("services", "cancel", str(service_id), "--mode", "immediate", "--yes").exit_code == 0
    assert cli("services", "delete", str(service_id), "--yes").exit_code == 0
    assert read(db, Service, service_id).status == "deleted"
    creates = scripted.script.count("create", service_id)

    retried = cli("jobs", "retry", str(old_job.id))
    assert retried.exit_code == 1
    assert scripted.script.count("create", service_id) == creates == 2
    service = read(db, Service, service_id)
    assert (service.status, service.operation, service.external) == ("deleted", None, {})
    assert "deliver deleted -> active" not in transitions(db, service_id)
    job = read(db, Job, old_job.id)
    assert (job.status, job.last_error) == ("resolved", f"superseded: job {redeliver_job.id} (redeliver) succeeded")


def test_retrying_a_failed_delivery_after_the_service_was_deleted_resolves_it_without_a_call(db, admin, scripted, cli, frozen):
    service_id = scripted_service(db, admin, scripted)
    scripted.script.fail("create", service_id, ModuleError("node is unreachable", retryable=False))
    assert cli("services", "deliver", str(service_id)).exit_code != 0
    with db.read() as session:
        [old_job] = session.exec(select(Job).where(Job.service_id == service_id)).all()
    assert cli("services", "cancel", str(service_id), "--mode", "immediate", "--yes").exit_code == 0
    assert cli("services", "delete", str(service_id), "--yes").exit_code == 0
    calls_before = list(scripted.script.calls)
    rows_before = len(activity_of(db, service_id))

    retried = cli("jobs", "retry", str(old_job.id))
    assert retried.exit_code == 1
    said = retried.stdout + retried.stderr
    expected = f"service {service_id} is deleted now: deliver is allowed from pending; not run"
    assert expected in said
    assert scripted.script.calls == calls_before
    job = read(db, Job, old_job.id)
    assert (job.status, job.last_error) == ("resolved", expected)
    rows = activity_of(db, service_id)
    assert len(rows) == rows_before + 1
    assert (rows[-1].action, rows[-1].from_status, rows[-1].to_status, rows[-1].reason) == ("job_resolved", "deleted", "deleted", expected)
    assert read(db, Service, service_id).operation is None
    with db.read() as session:
        item = session.exec(select(BulkItem).where(BulkItem.run_id == old_job.bulk_run_id)).one()
    assert (item.outcome, item.message) == ("skipped", expected)
    listed = cli("jobs", "list", "--status", "resolved", "--format", "json")
    assert expected in listed.stdout


def test_a_service_moved_on_during_the_call_is_not_brought_back(db, admin, scripted, frozen):
    service_id = scripted_service(db, admin, scripted)
    job_id = perform(db, admin, "deliver", service_id).job_id
    scripted.script.during("create", service_id, lambda: override(db, admin, service_id, "cancelled"))

    outcome = jobs.execute(db, job_id)
    assert outcome.status == "resolved"
    reason = f"service {service_id} is cancelled now: deliver is allowed from pending; its create call was made and its outcome not applied"
    assert outcome.message == reason
    service = read(db, Service, service_id)
    assert service.status == "cancelled" and service.operation is None
    assert "ref" not in (service.external or {})
    last = activity_of(db, service_id)[-1]
    assert (last.action, last.reason, last.details["external"]) == ("job_resolved", reason, {"ref": f"srv-{service_id}"})
    assert not [row for row in activity_of(db, service_id) if row.action == "deliver"]


def test_a_reclaimed_job_checks_the_status_before_its_call(db, admin, scripted, frozen):
    service_id = scripted_service(db, admin, scripted)
    job_id = perform(db, admin, "deliver", service_id).job_id
    assert jobs.claim_due(db, "dead-host:1:1", limit=10) == [job_id]
    override(db, admin, service_id, "terminated")
    clock.freeze(clock.now() + job_claims.LEASE + timedelta(seconds=1))

    [outcome] = jobs.run_jobs(db, jobs.due_job_ids(db))
    assert outcome.status == "resolved"
    assert outcome.message == f"service {service_id} is terminated now: deliver is allowed from pending; not run"
    assert scripted.script.count("create") == 0
    assert read(db, Service, service_id).operation is None


def test_expire_runs_only_from_an_overdue_suspension(db, admin, scripted, frozen):
    service_id = scripted_service(db, admin, scripted)
    jobs.execute(db, perform(db, admin, "deliver", service_id).job_id)
    jobs.execute(db, perform(db, admin, "suspend", service_id, {"kind": "overdue"}).job_id)
    job_id = perform(db, admin, "expire", service_id).job_id

    def admin_suspension(session):
        service = session.get(Service, service_id)
        service.suspend_kind = "admin"
        session.add(service)

    db.transaction(admin_suspension)
    outcome = jobs.execute(db, job_id)
    assert outcome.message == f"service {service_id} is suspended (admin) now: expire is allowed from suspended (overdue); not run"
    assert scripted.script.count("terminate", service_id) == 0
    assert read(db, Service, service_id).status == "suspended"


def test_resolving_a_stale_job_leaves_another_jobs_operation_alone(db, admin, scripted, frozen):
    service_id = scripted_service(db, admin, scripted)
    scripted.script.fail("create", service_id, ModuleError("egg 99 does not exist", retryable=False))
    old_job = perform(db, admin, "deliver", service_id).job_id
    assert jobs.execute(db, old_job).status == "failed"
    override(db, admin, service_id, "active")
    reinstall = perform(db, admin, "reinstall", service_id).job_id
    assert read(db, Service, service_id).operation == "reinstall"

    db.transaction(lambda session: job_queue.retry(session, admin, old_job))
    assert jobs.execute(db, old_job).status == "resolved"
    assert read(db, Service, service_id).operation == "reinstall"
    assert scripted.script.count("create", service_id) == 1
    assert jobs.execute(db, reinstall).status == "succeeded"
    assert read(db, Service, service_id).operation is None


def test_a_successful_redelivery_resolves_the_older_failed_and_queued_deliveries(db, admin, scripted, frozen):
    service_id = scripted_service(db, admin, scripted)
    scripted.script.fail("create", service_id, ModuleError("egg 99 does not exist", retryable=False))
    failed = perform(db, admin, "deliver", service_id).job_id
    assert jobs.execute(db, failed).status == "failed"
    scripted.script.fail("create", service_id, ModuleError("egg 99 does not exist", retryable=False))
    queued = perform(db, admin, "deliver", service_id).job_id
    assert jobs.execute(db, queued).status == "failed"
    db.transaction(lambda session: job_queue.retry(session, admin, queued))
    db.transaction(lambda session: _clear_operation(session, service_id))

    redeliver = perform(db, admin, "redeliver", service_id).job_id
    outcome = jobs.execute(db, redeliver)
    assert outcome.status == "succeeded"
    assert f"older jobs resolved: {failed}, {queued}" in outcome.message
    for job_id in (failed, queued):
        job = read(db, Job, job_id)
        assert (job.status, job.last_error) == ("resolved", f"superseded: job {redeliver} (redeliver) succeeded")


def _clear_operation(session, service_id):
    service = session.get(Service, service_id)
    service.operation = None
    session.add(service)
