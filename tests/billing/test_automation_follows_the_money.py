"""The nightly run follows the money (issue 12): overdue time counts from the expiry, and a service
paid past the run's day is never expired, cancelled or hidden by it, whatever its suspension kind."""

from datetime import timedelta

import pytest
from sqlmodel import select

from svcconsole.core import automation, clock
from svcconsole.store.models import Service
from tests.conftest import new_service


def _set(db, service_id, **fields):
    def work(session):
        service = session.get(Service, service_id)
        for key, value in fields.items():
            setattr(service, key, value)
        session.add(service)

    db.transaction(work)


def _status(db, service_id):
    with db.read() as session:
        return session.exec(select(Service.status).where(Service.id == service_id)).one()


def _items(report, step):
    return [item for step_report in report.steps if step_report.number == step for item in step_report.items]


def test_cli_run_never_expires_a_paid_up_service_an_admin_suspended_as_overdue(db, admin, catalog, cli, frozen):
    service_id = new_service(db, admin, catalog, status="active", expires="2028-06-01")
    assert cli("services", "suspend", str(service_id), "--kind", "overdue", "--reason", "by hand").exit_code == 0

    dry = cli("automation", "run", "--at", "2027-01-20", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert f"service {service_id}" in dry.stdout and "paid until 2028-06-01" in dry.stdout

    result = cli("automation", "run", "--at", "2027-01-20")
    assert result.exit_code == 0, result.stderr
    assert _status(db, service_id) == "suspended"
    assert "paid until 2028-06-01" in result.stdout


@pytest.mark.parametrize("kind", ["overdue", "admin", "abuse"])
def test_expiry_counts_from_the_expiry_not_from_the_suspension(db, admin, catalog, frozen, kind):
    recently_due = new_service(db, admin, catalog, status="suspended", expires="2026-11-18")
    long_due = new_service(db, admin, catalog, status="suspended", expires="2026-11-01")
    for service_id in (recently_due, long_due):
        _set(db, service_id, suspend_kind=kind, suspended_at=clock.now() - timedelta(days=60))

    automation.run(db, admin)

    assert _status(db, recently_due) == "suspended", "3 days past its expiry: not yet terminate_after_days=7"
    assert _status(db, long_due) == ("expired" if kind == "overdue" else "suspended")


def test_a_paid_up_cancelled_service_is_not_hidden_and_the_dry_run_says_why(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="cancelled", expires="2027-06-01")
    _set(db, service_id, cancelled_at=clock.now() - timedelta(days=200))

    dry = automation.run(db, admin, dry_run=True)
    [item] = _items(dry, 6)
    assert (item.service_id, item.outcome) == (service_id, "skipped") and "paid until 2027-06-01" in item.message

    automation.run(db, admin)
    assert _status(db, service_id) == "cancelled"


def test_an_end_of_cycle_cancellation_left_behind_a_paid_period_is_not_carried_out(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active", expires="2027-03-01")
    _set(db, service_id, cancel_mode="end-of-cycle", cancel_at=clock.now() - timedelta(days=1))

    report = automation.run(db, admin)

    [item] = _items(report, 5)
    assert item.outcome == "skipped" and "paid until 2027-03-01" in item.message
    assert _status(db, service_id) == "active"
