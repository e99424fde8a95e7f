"""Editing fields, status overrides, metadata and options; optimistic locking on `version`."""

from decimal import Decimal

import pytest
from sqlmodel import select

from svcconsole.core import actions, lookups, records
from svcconsole.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from svcconsole.store.models import Activity, Service
from tests.conftest import make_actor, new_service


def read(db, service_id):
    with db.read() as session:
        return session.get(Service, service_id)


def test_edit_changes_fields_and_logs_old_and_new(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog)
    changed = db.transaction(
        lambda session: records.edit_service(session, admin, service_id, {"name": "renamed", "price": "15.50", "expires_at": "2027-03-31"})
    )
    assert set(changed) == {"name", "price", "expires_at"}
    service = read(db, service_id)
    assert (service.name, service.price, service.anchor_day) == ("renamed", Decimal("15.50"), 31)
    with db.read() as session:
        row = session.exec(select(Activity).where(Activity.service_id == service_id, Activity.action == "edit")).one()
    assert row.details["name"] == ["svc", "renamed"] and row.details["price"] == ["12.00", "15.50"]


def test_two_sessions_saving_the_same_service_second_is_refused(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog)
    bob = make_actor(db, "bob", "operator")
    opened_version = read(db, service_id).version
    db.transaction(lambda session: records.edit_service(session, bob, service_id, {"notes": "bob's note"}, expected_version=opened_version))
    with pytest.raises(Conflict) as conflict:
        db.transaction(lambda session: records.edit_service(session, admin, service_id, {"notes": "admin's note"}, expected_version=opened_version))
    assert "changed by bob" in str(conflict.value)
    assert "nothing was saved" in str(conflict.value)
    assert read(db, service_id).notes == "bob's note"


def test_status_override_needs_a_reason_and_the_admin_role(db, admin, catalog):
    service_id = new_service(db, admin, catalog)
    with pytest.raises(InvalidInput, match="reason"):
        db.transaction(lambda session: records.edit_service(session, admin, service_id, {"status": "active"}))
    operator = make_actor(db, "olga", "operator")
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        db.transaction(lambda session: records.edit_service(session, operator, service_id, {"status": "active"}, reason="fixing"))
    db.transaction(lambda session: records.edit_service(session, admin, service_id, {"status": "active"}, reason="delivered by hand"))
    with db.read() as session:
        row = session.exec(select(Activity).where(Activity.service_id == service_id).order_by(Activity.id.desc())).first()
    assert (row.action, row.from_status, row.to_status, row.reason) == ("status_override", "pending", "active", "delivered by hand")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("price", "-1", "negative"),
        ("price", "abc", "not an amount"),
        ("expires_at", "2027-02-30", "not a valid date"),
        ("billing_cycle", "fortnightly", "not a billing cycle"),
        ("server", "nowhere", "no server"),
        ("max_renewals", "-2", "too small"),
        ("status", "sleeping", "not a status"),
        ("colour", "red", "not an editable field"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_written(db, admin, catalog, field, value, message):
    service_id = new_service(db, admin, catalog)
    before = read(db, service_id)
    with pytest.raises((InvalidInput, NotFound), match=message):
        db.transaction(lambda session: records.edit_service(session, admin, service_id, {"name": "partial", field: value}, reason="r"))
    after = read(db, service_id)
    assert (after.name, after.version) == (before.name, before.version)


def test_viewer_cannot_change_anything(db, admin, catalog):
    service_id = new_service(db, admin, catalog, status="active")
    viewer = make_actor(db, "vic", "viewer")
    with pytest.raises(PermissionDenied):
        db.transaction(lambda session: records.edit_service(session, viewer, service_id, {"name": "x"}))
    with pytest.raises(PermissionDenied):
        db.transaction(lambda session: actions.perform(session, viewer, "suspend", service_id, {}))
    with pytest.raises(PermissionDenied):
        db.transaction(lambda session: records.meta_set(session, viewer, service_id, "k", "v"))


def test_operator_cannot_terminate_or_delete(db, admin, catalog):
    service_id = new_service(db, admin, catalog, status="active")
    operator = make_actor(db, "olga", "operator")
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        db.transaction(lambda session: actions.perform(session, operator, "terminate", service_id, {}))
    db.transaction(lambda session: actions.perform(session, operator, "suspend", service_id, {}))


def test_metadata_set_get_unset(db, admin, catalog):
    service_id = new_service(db, admin, catalog)
    db.transaction(lambda session: records.meta_set(session, admin, service_id, "disable_notify_expiration", "yes"))
    with db.read() as session:
        assert lookups.meta_value(session, service_id, "disable_notify_expiration") == "true"
    db.transaction(lambda session: records.meta_unset(session, admin, service_id, "disable_notify_expiration"))
    with db.read() as session:
        assert lookups.meta_value(session, service_id, "disable_notify_expiration") is None
    with pytest.raises(NotFound):
        db.transaction(lambda session: records.meta_unset(session, admin, service_id, "disable_notify_expiration"))
    with pytest.raises(InvalidInput, match="key"):
        db.transaction(lambda session: records.meta_set(session, admin, service_id, "has space", "1"))


def test_options_add_edit_remove(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog)
    option = db.transaction(lambda session: records.option_add(session, admin, service_id, name="Backup", price="3.00"))
    assert option.expires_at == read(db, service_id).expires_at
    db.transaction(lambda session: records.option_edit(session, admin, service_id, option.id, price="4.00", quantity="2"))
    with db.read() as session:
        (stored,) = records.options_of(session, service_id)
    assert (stored.price, stored.quantity) == (Decimal("4.00"), 2)
    other = new_service(db, admin, catalog)
    with pytest.raises(NotFound):
        db.transaction(lambda session: records.option_remove(session, admin, other, option.id))
    db.transaction(lambda session: records.option_remove(session, admin, service_id, option.id))
    with db.read() as session:
        assert records.options_of(session, service_id) == []
        logged = [row.action for row in session.exec(select(Activity).where(Activity.service_id == service_id)).all()]
    assert logged[-3:] == ["option_add", "option_edit", "option_remove"]


@pytest.mark.parametrize(
    ("field", "value", "option"),
    [
        ("expires_at", "2027-02-30", "--expires"),
        ("billing_cycle", "bogus", "--cycle"),
        ("initial_price", "x", "--initial-price"),
        ("max_renewals", "x", "--max-renewals"),
    ],
)
def test_a_refused_field_is_named_by_the_option_that_sets_it(db, admin, catalog, field, value, option):
    service_id = new_service(db, admin, catalog)
    with pytest.raises(InvalidInput) as refused:
        db.transaction(lambda session: records.edit_service(session, admin, service_id, {field: value}))
    assert refused.value.field == option and refused.value.message.startswith(f"{option}: ")


@pytest.mark.parametrize("changes", [{"expires_at": "none"}, {"expires_at": ""}, {"expires_at": "none", "billing_cycle": "annually"}])
def test_a_recurring_service_keeps_its_expiry(db, admin, catalog, frozen, changes):
    service_id = new_service(db, admin, catalog, status="active")
    before = read(db, service_id)
    with pytest.raises(InvalidInput, match="needs an expiry date") as refused:
        db.transaction(lambda session: records.edit_service(session, admin, service_id, changes))
    assert refused.value.field == "--expires"
    assert (read(db, service_id).expires_at, read(db, service_id).version) == (before.expires_at, before.version)


def test_onetime_and_free_services_may_have_no_expiry_but_a_recurring_cycle_needs_one(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active")
    db.transaction(lambda session: records.edit_service(session, admin, service_id, {"billing_cycle": "onetime", "expires_at": "none"}))
    assert (read(db, service_id).billing_cycle, read(db, service_id).expires_at) == ("onetime", None)
    with pytest.raises(InvalidInput, match="needs an expiry date") as refused:
        db.transaction(lambda session: records.edit_service(session, admin, service_id, {"billing_cycle": "monthly"}))
    assert refused.value.field == "--cycle"
    db.transaction(lambda session: records.edit_service(session, admin, service_id, {"billing_cycle": "free"}))
    db.transaction(lambda session: records.edit_service(session, admin, service_id, {"billing_cycle": "monthly", "expires_at": "2027-05-01"}))
    assert read(db, service_id).billing_cycle == "monthly"
