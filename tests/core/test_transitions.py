"""Every action of the status table, from every status and suspension kind, through `core` and the CLI.

The expected results come from `tests/support/status_table.py`, SPEC.md section 3 transcribed by
hand, never from the code's own `ACTIONS`: a wrong row in the code fails here. Runs on whichever
database the suite targets (SQLite, or PostgreSQL with SVCCONSOLE_TEST_DATABASE_URL).
"""

from datetime import timedelta

import pytest
from sqlmodel import func, select

from svcconsole.core import actions, clock, records
from svcconsole.core import catalog as catalog_module
from svcconsole.core.errors import TransitionRefused
from svcconsole.core.statuses import ACTIONS, Role
from svcconsole.store.models import Activity, Service
from tests.conftest import new_service
from tests.support.status_table import ADMIN_ONLY, STATUSES, SUSPEND_KINDS, TABLE

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
    "transfer": {"to": "bruno@example.com"},
}
STARTS = [(status, kind) for status in STATUSES for kind in (SUSPEND_KINDS if status == "suspended" else (None,))]
MATRIX = [(action, status, kind) for action in PARAMS for status, kind in STARTS]


def _start_id(status, kind):
    return f"{status}({kind})" if kind else status


def prepare(db, admin, catalog, status, kind=None):
    db.transaction(lambda session: catalog_module.add_customer(session, admin, name="Bruno Rossi", email="bruno@example.com"))  # transfer's new owner
    service_id = new_service(db, admin, catalog, status=status)
    if status == "suspended":
        db.transaction(lambda session: _set(session, service_id, suspend_kind=kind or "admin"))
    return service_id


def _set(session, service_id, **fields):
    service = session.get(Service, service_id)
    for key, value in fields.items():
        setattr(service, key, value)
    session.add(service)


def activity_count(db, service_id):
    with db.read() as session:
        return session.exec(select(func.count()).select_from(Activity).where(Activity.service_id == service_id)).one()


def expected_status(action, status, kind):
    """Where SPEC.md section 3 says the action leads (renew lifts an overdue suspension, the expiry being in the future)."""
    row = TABLE[action]
    if row.to is not None:
        return row.to
    if action == "renew" and status == "suspended" and kind == "overdue":
        return "active"
    return status


def test_the_codes_table_is_spec_section_3():
    for action, row in TABLE.items():
        rule = ACTIONS[action]
        allowed = set(rule.allowed_from)
        assert allowed == set(row.allowed_from), action
        assert (rule.to.value if rule.to else None) == row.to, action
        assert rule.module_call == row.module_call, action
        assert (rule.role is Role.ADMIN) == (action in ADMIN_ONLY), action


@pytest.mark.parametrize(("action", "status", "kind"), MATRIX, ids=[f"{a}-from-{_start_id(s, k)}" for a, s, k in MATRIX])
def test_action_from_status(db, admin, catalog, frozen, action, status, kind):
    row = TABLE[action]
    service_id = prepare(db, admin, catalog, status, kind)
    if action == "uncancel" and row.allows(status, kind):
        db.transaction(lambda session: _set(session, service_id, cancel_mode="end-of-cycle", cancel_at=clock.now() + timedelta(days=30)))
    with db.read() as session:
        before = session.get(Service, service_id)
    rows_before = activity_count(db, service_id)

    if not row.allows(status, kind):
        with pytest.raises(TransitionRefused) as refused:
            db.transaction(lambda session: actions.perform(session, admin, action, service_id, PARAMS[action]))
        text = str(refused.value)
        assert f"service {service_id}" in text and status in text and ACTIONS[action].title.lower() in text
        with db.read() as session:
            after = session.get(Service, service_id)
        assert (after.status, after.version, after.expires_at) == (before.status, before.version, before.expires_at)
        assert activity_count(db, service_id) == rows_before
        return

    outcome = db.transaction(lambda session: actions.perform(session, admin, action, service_id, PARAMS[action]))
    assert outcome.result == "ok"
    with db.read() as session:
        after = session.get(Service, service_id)
    expected = expected_status(action, status, kind)
    assert after.status == expected
    assert activity_count(db, service_id) == rows_before + 1, "one action writes one activity row"
    with db.read() as session:
        last = session.exec(select(Activity).where(Activity.service_id == service_id).order_by(Activity.id.desc())).first()
    assert last.actor == admin.name and last.actor_kind == "admin"
    assert (last.from_status, last.to_status) == (status, expected)


CLI_COMMANDS = {
    "deliver": ["deliver"],
    "suspend": ["suspend", "--reason", "test", "--kind", "admin"],
    "unsuspend": ["unsuspend"],
    "renew": ["renew", "--cycles", "1"],
    "cancel-end-of-cycle": ["cancel", "--mode", "end-of-cycle"],
    "cancel-immediately": ["cancel", "--mode", "immediate", "--yes"],
    "uncancel": ["uncancel"],
    "terminate": ["terminate", "--yes"],
    "redeliver": ["redeliver"],
    "add-days": ["add-days", "--days", "3"],
    "subtract-days": ["subtract-days", "--days", "3"],
    "delete": ["delete", "--yes"],
    "transfer": ["transfer", "--to", "bruno@example.com"],
}
CLI_STARTS = [(status, kind) for status in STATUSES for kind in (("admin", "overdue") if status == "suspended" else (None,))]
CLI_MATRIX = [(action, status, kind) for action in CLI_COMMANDS for status, kind in CLI_STARTS]


@pytest.mark.parametrize(("action", "status", "kind"), CLI_MATRIX, ids=[f"{a}-from-{_start_id(s, k)}" for a, s, k in CLI_MATRIX])
def test_cli_action_from_status(db, admin, catalog, cli, frozen, action, status, kind):
    row = TABLE[action]
    service_id = prepare(db, admin, catalog, status, kind)
    if action == "uncancel" and row.allows(status, kind):
        db.transaction(lambda session: _set(session, service_id, cancel_mode="end-of-cycle", cancel_at=clock.now() + timedelta(days=30)))
    rows_before = activity_count(db, service_id)
    result = cli("services", *CLI_COMMANDS[action][:1], str(service_id), *CLI_COMMANDS[action][1:])
    with db.read() as session:
        after = session.get(Service, service_id)
    if not row.allows(status, kind):
        assert result.exit_code == 1, (result.stdout, result.stderr)
        assert f"service {service_id}" in result.stderr and status in result.stderr
        assert after.status == status and activity_count(db, service_id) == rows_before
        return
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert after.status == expected_status(action, status, kind)
    assert activity_count(db, service_id) == rows_before + 1


def test_the_table_covers_every_cli_action():
    reconcile_fixes = {"panel-suspend", "panel-unsuspend", "panel-owner", "rebuild", "redeliver-missing"}  # tests/integration/test_reconcile.py
    order_rows = {"pay-order", "cancel-order"}  # run by paying / cancelling an invoice: tests/billing/test_order_flow.py
    customer_queue = {"power"}  # the customer area's power action through the queue: tests/client/test_self_service_area.py
    assert set(PARAMS) | {"reinstall", "upgrade", "set-status", "renew-invoice", "add-option"} | reconcile_fixes | order_rows | customer_queue >= set(ACTIONS)


def test_cancel_end_of_cycle_sets_cancel_at_to_the_expiry(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active")
    db.transaction(lambda session: actions.perform(session, admin, "cancel-end-of-cycle", service_id, {"reason": "moving"}))
    with db.read() as session:
        service = session.get(Service, service_id)
    assert service.cancel_at == service.expires_at
    assert (service.status, service.cancel_mode, service.cancel_reason) == ("active", "end-of-cycle", "moving")
    with pytest.raises(TransitionRefused, match="already cancelling"):
        db.transaction(lambda session: actions.perform(session, admin, "cancel-end-of-cycle", service_id, {}))
    db.transaction(lambda session: actions.perform(session, admin, "uncancel", service_id, {}))
    with db.read() as session:
        service = session.get(Service, service_id)
    assert (service.cancel_at, service.cancel_mode) == (None, None)


def test_uncancel_refuses_a_past_cancellation_date(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active")
    db.transaction(lambda session: _set(session, service_id, cancel_mode="end-of-cycle", cancel_at=clock.now() - timedelta(days=1)))
    with pytest.raises(TransitionRefused, match="has passed"):
        db.transaction(lambda session: actions.perform(session, admin, "uncancel", service_id, {}))


def test_renew_refuses_a_suspended_service_past_the_grace_window(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="suspended")
    db.transaction(lambda session: _set(session, service_id, expires_at=clock.now() - timedelta(days=8)))
    with pytest.raises(TransitionRefused, match="renewal window closed"):
        db.transaction(lambda session: actions.perform(session, admin, "renew", service_id, {"cycles": 1}))
    db.transaction(lambda session: _set(session, service_id, expires_at=clock.now() - timedelta(days=6)))
    outcome = db.transaction(lambda session: actions.perform(session, admin, "renew", service_id, {"cycles": 1}))
    assert outcome.result == "ok"


def test_renewing_an_overdue_suspension_past_today_lifts_it(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="suspended", expires="2026-11-15")
    db.transaction(lambda session: _set(session, service_id, suspend_kind="overdue"))
    db.transaction(lambda session: actions.perform(session, admin, "renew", service_id, {"cycles": 1}))
    with db.read() as session:
        service = session.get(Service, service_id)
    assert service.status == "active" and service.suspend_kind is None
    assert service.expires_at.date().isoformat() == "2026-12-15"


def test_renewing_an_admin_suspension_keeps_it(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="suspended", expires="2026-11-15")
    db.transaction(lambda session: actions.perform(session, admin, "renew", service_id, {"cycles": 1}))
    with db.read() as session:
        assert session.get(Service, service_id).status == "suspended"


def test_onetime_and_free_services_are_never_renewed(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active", cycle="weekly")
    db.transaction(lambda session: records.edit_service(session, admin, service_id, {"billing_cycle": "onetime"}))
    with pytest.raises(TransitionRefused, match="never renewed"):
        db.transaction(lambda session: actions.perform(session, admin, "renew", service_id, {"cycles": 1}))


def test_deliver_sets_the_first_expiry_when_none_was_given(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog)
    db.transaction(lambda session: _set(session, service_id, expires_at=None))
    db.transaction(lambda session: actions.perform(session, admin, "deliver", service_id, {}))
    with db.read() as session:
        service = session.get(Service, service_id)
    assert service.status == "active"
    assert service.expires_at.date().isoformat() == "2026-12-21"


def test_add_days_moves_the_anchor_and_a_pending_cancellation(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active", expires="2027-01-31")
    db.transaction(lambda session: actions.perform(session, admin, "cancel-end-of-cycle", service_id, {}))
    db.transaction(lambda session: actions.perform(session, admin, "add-days", service_id, {"days": 5}))
    with db.read() as session:
        service = session.get(Service, service_id)
    assert service.expires_at.date().isoformat() == "2027-02-05"
    assert service.anchor_day == 5 and service.cancel_at == service.expires_at
