"""Every module-calling action as a queued job, run (or retried) after its service was moved to
each status and suspension kind: applied where SPEC.md section 3 allows it, else resolved with
no module call. The expectations come from the hand-written table in tests/support/status_table.py.
"""

import pytest
from sqlmodel import func, select

from svcconsole.core import actions, job_queue, jobs, records
from svcconsole.core.catalog import add_product, edit_product
from svcconsole.modules import ModuleError
from svcconsole.store.models import Activity, Job, Service
from tests.support.status_table import STATUSES, SUSPEND_KINDS, TABLE

JOB_ACTIONS = ("deliver", "suspend", "unsuspend", "cancel-immediately", "expire", "terminate", "redeliver", "reinstall", "upgrade", "delete")
TARGETS = [(status, kind) for status in STATUSES for kind in (SUSPEND_KINDS if status == "suspended" else (None,))]
CASES = [(action, how) for action in JOB_ACTIONS for how in ("run", "retry")]


def start_of(action):
    """The first status (and kind) the hand-written table allows the action from."""
    row = TABLE[action]
    status = row.allowed_from[0]
    return status, (row.suspend_kinds[0] if status == "suspended" else None)


def params_of(action, scripted_upgrade_id):
    if action == "suspend":
        return {"kind": "admin", "reason": "matrix"}
    if action == "upgrade":
        return {"to": str(scripted_upgrade_id)}
    return {}


def move(db, admin, service_id, status, kind):
    """Put the service in `status` by an override (and give a suspension its kind)."""
    db.transaction(lambda session: records.edit_service(session, admin, service_id, {"status": status}, reason="matrix move"))

    def set_kind(session):
        service = session.get(Service, service_id)
        service.suspend_kind = kind if status == "suspended" else None
        session.add(service)

    db.transaction(set_kind)


def held_on_panel(db, service_id):
    def work(session):
        service = session.get(Service, service_id)
        service.external = {"ref": f"srv-{service_id}"}
        session.add(service)

    db.transaction(work)


def activity_count(db, service_id):
    with db.read() as session:
        return session.exec(select(func.count()).select_from(Activity).where(Activity.service_id == service_id)).one()


@pytest.fixture
def bigger_product(db, admin, scripted):
    """A product the scripted one upgrades to."""
    bigger = db.transaction(lambda session: add_product(session, admin, name="Game 8GB", type="scripted", prices=["monthly=20.00"])).id
    db.transaction(lambda session: edit_product(session, admin, str(scripted.product_id), upgrade_to=[str(bigger)]))
    return bigger


@pytest.mark.parametrize(("action", "how"), CASES, ids=[f"{action}-{how}" for action, how in CASES])
def test_a_queued_job_meets_every_status(db, admin, scripted, bigger_product, frozen, action, how):
    row = TABLE[action]
    start_status, start_kind = start_of(action)
    wrong = []
    for status, kind in TARGETS:
        draft = records.ServiceDraft(
            customer=str(scripted.customer_id),
            name=f"{action}-{status}-{kind}",
            product=str(scripted.product_id),
            server=str(scripted.server_id),
            expires="2027-01-31",
        )
        service_id = db.transaction(lambda session: records.create_service(session, admin, draft)).id
        held_on_panel(db, service_id)
        if (start_status, start_kind) != ("pending", None):
            move(db, admin, service_id, start_status, start_kind)
        job_id = db.transaction(lambda session: actions.perform(session, admin, action, service_id, params_of(action, bigger_product))).job_id
        assert job_id is not None, f"{action} from {start_status} queued no job"
        if how == "retry":
            scripted.script.fail(row.module_call, service_id, ModuleError("panel is down", retryable=False))
            assert jobs.execute(db, job_id).status == "failed"
        move(db, admin, service_id, status, kind)
        if how == "retry":
            db.transaction(lambda session: job_queue.retry(session, admin, job_id))
        calls_before = [call for call in scripted.script.calls if call[1] == service_id]
        rows_before = activity_count(db, service_id)

        outcome = jobs.execute(db, job_id)

        with db.read() as session:
            service = session.get(Service, service_id)
            job = session.get(Job, job_id)
        calls = [call for call in scripted.script.calls if call[1] == service_id][len(calls_before) :]
        shown = f"{status}({kind})" if kind else status
        if row.allows(status, kind):
            expected = row.to or status
            made = (row.module_call, service_id) in calls
            if (outcome.status, job.status, service.status, made, service.operation) != ("succeeded", "succeeded", expected, True, None):
                wrong.append(
                    f"{shown}: allowed, expected {expected} with a {row.module_call} call; got job {job.status}, service {service.status}, calls {calls}, operation {service.operation}: {outcome.message}"
                )
            continue
        named = (
            f"service {service_id}" in outcome.message and status in outcome.message and action in outcome.message and (kind is None or kind in outcome.message)
        )
        added = activity_count(db, service_id) - rows_before
        if (outcome.status, job.status, service.status, calls, named, added) != ("resolved", "resolved", status, [], True, 1):
            wrong.append(
                f"{shown}: refused, expected resolved with no call and one activity row; got job {job.status}, service {service.status}, calls {calls}, {added} rows: {outcome.message}"
            )
    assert not wrong, f"{action} ({how}):\n" + "\n".join(wrong)
