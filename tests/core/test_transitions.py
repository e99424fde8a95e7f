"""Every action of the status table, from every status: allowed or refused, as the table says.

Runs on whichever database the suite targets (SQLite, or PostgreSQL with
SVCCONSOLE_TEST_DATABASE_URL), so each backend is covered by its own run.
"""

from datetime import timedelta

import pytest
from sqlmodel import func, select

from svcconsole.core import clock, services
from svcconsole.core.errors import TransitionRefused
from svcconsole.core.statuses import ACTIONS, Status
from svcconsole.store.models import Activity, Service
from tests.conftest import new_service

PARAMS = {
    "deliver": {},
    "suspend": {"kind": "admin", "reason": "test"},
    "unsuspend": {},
    "renew": {"cycles": 1},
    "cancel-end-of-cycle": {"reason": "test"},
    "cancel-immediately": {"reason": "test"},
    "uncancel": {},
    "expire": {},
    "terminate": {},
    "redeliver": {},
    "add-days": {"days": 3},
    "subtract-days": {"days": 3},
    "delete": {},
}
MATRIX = [(action, status) for action in PARAMS for status in Status]


def prepare(db, admin, catalog, status):
    service_id = new_service(db, admin, catalog, status=status.value)
    if status is Status.SUSPENDED:
        db.transaction(lambda session: _set(session, service_id, suspend_kind="admin"))
    return service_id


def _set(session, service_id, **fields):
    service = session.get(Service, service_id)
    for key, value in fields.items():
        setattr(service, key, value)
    session.add(service)


def activity_count(db, service_id):
    with db.read() as session:
        return session.exec(select(func.count()).select_from(Activity).where(Activity.service_id == service_id)).one()


@pytest.mark.parametrize(("action", "status"), MATRIX, ids=[f"{a}-from-{s.value}" for a, s in MATRIX])
def test_action_from_status(db, admin, catalog, frozen, action, status):
    rule = ACTIONS[action]
    service_id = prepare(db, admin, catalog, status)
    if action == "uncancel" and rule.allows(status.value):
        db.transaction(lambda session: _set(session, service_id, cancel_mode="end-of-cycle", cancel_at=clock.now() + timedelta(days=30)))
    with db.read() as session:
        before = session.get(Service, service_id)
    rows_before = activity_count(db, service_id)

    if not rule.allows_now(status.value, "admin"):
        with pytest.raises(TransitionRefused) as refused:
            db.transaction(lambda session: services.perform(session, admin, action, service_id, PARAMS[action]))
        text = str(refused.value)
        assert f"service {service_id}" in text and status.value in text and rule.title.lower() in text
        with db.read() as session:
            after = session.get(Service, service_id)
        assert (after.status, after.version, after.expires_at) == (before.status, before.version, before.expires_at)
        assert activity_count(db, service_id) == rows_before
        return

    outcome = db.transaction(lambda session: services.perform(session, admin, action, service_id, PARAMS[action]))
    assert outcome.result == "ok"
    with db.read() as session:
        after = session.get(Service, service_id)
    expected = rule.to.value if rule.to else status.value
    assert after.status == expected
    assert after.version == before.version + 1
    assert activity_count(db, service_id) == rows_before + 1
    with db.read() as session:
        last = session.exec(select(Activity).where(Activity.service_id == service_id).order_by(Activity.id.desc())).first()
    assert last.actor == admin.name and last.actor_kind == "admin"
    assert (last.from_status, last.to_status) == (status.value, expected)


def test_the_table_covers_every_cli_action():
    assert set(PARAMS) | {"reinstall", "upgrade", "set-status", "renew-invoice"} >= set(ACTIONS)


def test_cancel_end_of_cycle_sets_cancel_at_to_the_expiry(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active")
    db.transaction(lambda session: services.perform(session, admin, "cancel-end-of-cycle", service_id, {"reason": "moving"}))
    with db.read() as session:
        service = session.get(Service, service_id)
    assert service.cancel_at == service.expires_at
    assert (service.status, service.cancel_mode, service.cancel_reason) == ("active", "end-of-cycle", "moving")
    with pytest.raises(TransitionRefused, match="already cancelling"):
        db.transaction(lambda session: services.perform(session, admin, "cancel-end-of-cycle", service_id, {}))
    db.transaction(lambda session: services.perform(session, admin, "uncancel", service_id, {}))
    with db.read() as session:
        service = session.get(Service, service_id)
    assert (service.cancel_at, service.cancel_mode) == (None, None)


def test_uncancel_refuses_a_past_cancellation_date(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active")
    db.transaction(lambda session: _set(session, service_id, cancel_mode="end-of-cycle", cancel_at=clock.now() - timedelta(days=1)))
    with pytest.raises(TransitionRefused, match="has passed"):
        db.transaction(lambda session: services.perform(session, admin, "uncancel", service_id, {}))


def test_renew_refuses_a_suspended_service_past_the_grace_window(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="suspended")
    db.transaction(lambda session: _set(session, service_id, expires_at=clock.now() - timedelta(days=8)))
    with pytest.raises(TransitionRefused, match="renewal window closed"):
        db.transaction(lambda session: services.perform(session, admin, "renew", service_id, {"cycles": 1}))
    db.transaction(lambda session: _set(session, service_id, expires_at=clock.now() - timedelta(days=6)))
    outcome = db.transaction(lambda session: services.perform(session, admin, "renew", service_id, {"cycles": 1}))
    assert outcome.result == "ok"


def test_renewing_an_overdue_suspension_past_today_lifts_it(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="suspended", expires="2026-11-15")
    db.transaction(lambda session: _set(session, service_id, suspend_kind="overdue"))
    db.transaction(lambda session: services.perform(session, admin, "renew", service_id, {"cycles": 1}))
    with db.read() as session:
        service = session.get(Service, service_id)
    assert service.status == "active" and service.suspend_kind is None
    assert service.expires_at.date().isoformat() == "2026-12-15"


def test_renewing_an_admin_suspension_keeps_it(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="suspended", expires="2026-11-15")
    db.transaction(lambda session: services.perform(session, admin, "renew", service_id, {"cycles": 1}))
    with db.read() as session:
        assert session.get(Service, service_id).status == "suspended"


def test_onetime_and_free_services_are_never_renewed(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active", cycle="weekly")
    db.transaction(lambda session: services.edit_service(session, admin, service_id, {"billing_cycle": "onetime"}))
    with pytest.raises(TransitionRefused, match="never renewed"):
        db.transaction(lambda session: services.perform(session, admin, "renew", service_id, {"cycles": 1}))


def test_deliver_sets_the_first_expiry_when_none_was_given(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog)
    db.transaction(lambda session: _set(session, service_id, expires_at=None))
    db.transaction(lambda session: services.perform(session, admin, "deliver", service_id, {}))
    with db.read() as session:
        service = session.get(Service, service_id)
    assert service.status == "active"
    assert service.expires_at.date().isoformat() == "2026-12-21"


def test_add_days_moves_the_anchor_and_a_pending_cancellation(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active", expires="2027-01-31")
    db.transaction(lambda session: services.perform(session, admin, "cancel-end-of-cycle", service_id, {}))
    db.transaction(lambda session: services.perform(session, admin, "add-days", service_id, {"days": 5}))
    with db.read() as session:
        service = session.get(Service, service_id)
    assert service.expires_at.date().isoformat() == "2027-02-05"
    assert service.anchor_day == 5 and service.cancel_at == service.expires_at
