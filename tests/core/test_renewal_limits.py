"""Renewal limits from the max_renewals field and from each metadata key (SPEC.md section 4)."""

import re
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from svcconsole.core import actions, clock, records
from svcconsole.core.errors import InvalidInput, TransitionRefused
from svcconsole.store.models import Renewal, Service
from tests.conftest import new_service


def renew(db, actor, service_id, cycles=1):
    return db.transaction(lambda session: actions.perform(session, actor, "renew", service_id, {"cycles": cycles}))


def renewal_cycles(db, service_id):
    with db.read() as session:
        return [row.cycles for row in session.exec(select(Renewal).where(Renewal.service_id == service_id)).all()]


def test_max_renewals_field(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active", max_renewals="2")
    renew(db, admin, service_id)
    renew(db, admin, service_id)
    with pytest.raises(TransitionRefused, match="limit max_renewals=2 reached \\(2 renewals so far\\)"):
        renew(db, admin, service_id)
    assert renewal_cycles(db, service_id) == [1, 1]


def test_max_renewals_field_counts_cycles(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active", max_renewals="2")
    with pytest.raises(TransitionRefused, match="max_renewals=2"):
        renew(db, admin, service_id, cycles=3)
    renew(db, admin, service_id, cycles=2)
    assert renewal_cycles(db, service_id) == [2]


def test_max_renewals_is_copied_from_the_product(db, admin, catalog, frozen):
    from svcconsole.core import catalog as catalog_module

    db.transaction(lambda session: catalog_module.edit_product(session, admin, str(catalog.product_id), max_renewals="1"))
    service_id = new_service(db, admin, catalog, status="active")
    with db.read() as session:
        assert session.get(Service, service_id).max_renewals == 1


def test_metadata_max_renewals(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active")
    db.transaction(lambda session: records.meta_set(session, admin, service_id, "max_renewals", "1"))
    renew(db, admin, service_id)
    with pytest.raises(TransitionRefused, match="limit metadata max_renewals=1"):
        renew(db, admin, service_id)


def test_metadata_max_renewals_in_current_month(db, admin, catalog):
    service_id = new_service(db, admin, catalog, status="active", expires="2027-06-30")
    db.transaction(lambda session: records.meta_set(session, admin, service_id, "max_renewals_in_current_month", "1"))
    clock.freeze(datetime(2026, 11, 30, 10, tzinfo=UTC))
    renew(db, admin, service_id)
    with pytest.raises(TransitionRefused, match="max_renewals_in_current_month=1 reached \\(1 renewals this month\\)"):
        renew(db, admin, service_id)
    clock.freeze(datetime(2026, 12, 1, 10, tzinfo=UTC))
    renew(db, admin, service_id)
    assert renewal_cycles(db, service_id) == [1, 1]


def test_metadata_max_renewals_in_current_week(db, admin, catalog):
    service_id = new_service(db, admin, catalog, status="active", expires="2027-06-30")
    db.transaction(lambda session: records.meta_set(session, admin, service_id, "max_renewals_in_current_week", "2"))
    clock.freeze(datetime(2026, 11, 23, 9, tzinfo=UTC))
    renew(db, admin, service_id)
    clock.freeze(datetime(2026, 11, 29, 22, tzinfo=UTC))
    renew(db, admin, service_id)
    with pytest.raises(TransitionRefused, match="max_renewals_in_current_week=2 reached \\(2 renewals this week\\)"):
        renew(db, admin, service_id)
    clock.freeze(datetime(2026, 11, 30, 0, 30, tzinfo=UTC))
    renew(db, admin, service_id)


def test_renewal_limit_metadata_must_be_a_number(db, admin, catalog):
    service_id = new_service(db, admin, catalog, status="active")
    with pytest.raises(InvalidInput, match="metadata max_renewals: 'lots' is not a whole number"):
        db.transaction(lambda session: records.meta_set(session, admin, service_id, "max_renewals", "lots"))


def test_renewal_extends_from_the_old_expiry_not_from_today(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active", expires="2027-01-31")
    renew(db, admin, service_id, cycles=2)
    with db.read() as session:
        service = session.get(Service, service_id)
        row = session.exec(select(Renewal).where(Renewal.service_id == service_id)).one()
    assert service.expires_at.date().isoformat() == "2027-03-31"
    assert service.renewals == 2
    assert (row.period_start.date().isoformat(), row.period_end.date().isoformat(), str(row.amount)) == ("2027-01-31", "2027-03-31", "24.00")


def test_options_count_in_the_renewal_amount(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active")
    db.transaction(lambda session: records.option_add(session, admin, service_id, name="Extra IP", price="2.50", quantity=2))
    renew(db, admin, service_id)
    with db.read() as session:
        row = session.exec(select(Renewal).where(Renewal.service_id == service_id)).one()
        options = records.options_of(session, service_id)
        service = session.get(Service, service_id)
    assert str(row.amount) == "17.00"
    assert options[0].expires_at == service.expires_at


def test_free_renewal_records_amount_zero(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active")
    db.transaction(lambda session: actions.perform(session, admin, "renew", service_id, {"cycles": 1, "free": True}))
    with db.read() as session:
        assert str(session.exec(select(Renewal.amount).where(Renewal.service_id == service_id)).one()) == "0.00"


def test_a_renewal_costing_more_than_the_largest_amount_is_refused_not_overflowed(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active", price="9999999999.99")
    for action, params in (("renew", {"cycles": 2}), ("renew-invoice", {"cycles": 2, "invoice": "new"})):
        with pytest.raises(TransitionRefused, match=re.escape("2 cycles with the options cost 19999999999.98, more than the largest amount")):
            db.transaction(lambda session: actions.perform(session, admin, action, service_id, params))
    assert renewal_cycles(db, service_id) == []
    renew(db, admin, service_id, cycles=1)
    db.transaction(lambda session: actions.perform(session, admin, "renew", service_id, {"cycles": 2, "free": True}))
    assert renewal_cycles(db, service_id) == [1, 2]
