"""Expiries stay within the dates svcconsole accepts (parse.FIRST_YEAR to parse.LAST_YEAR) however
they are moved: add / subtract days, renew, renew by invoice; a service already outside them
(written by SQL) is refused one line, never an OverflowError."""

import pytest
from sqlalchemy import text
from sqlmodel import func, select

from svcconsole.core import actions
from svcconsole.core.errors import TransitionRefused
from svcconsole.store.models import BulkRun, Invoice, Service
from tests.conftest import new_service


def expiry(db, service_id):
    with db.read() as session:
        return session.get(Service, service_id).expires_at


def perform(db, admin, action, service_id, params):
    return db.transaction(lambda session: actions.perform(session, admin, action, service_id, params))


@pytest.mark.parametrize(
    ("expires", "action", "params"),
    [
        ("2999-12-01", "add-days", {"days": 31}),
        ("1900-01-20", "subtract-days", {"days": 20}),
        ("2999-06-01", "renew", {"cycles": 7}),
        ("2999-06-01", "renew-invoice", {"cycles": 12, "invoice": "new"}),
    ],
)
def test_a_move_past_the_date_limits_is_refused_and_changes_nothing(db, admin, catalog, frozen, expires, action, params):
    service_id = new_service(db, admin, catalog, status="active", expires=expires)
    before = expiry(db, service_id)
    with pytest.raises(TransitionRefused, match="the new expiry would be outside 1900-01-01 to 2999-12-31"):
        perform(db, admin, action, service_id, params)
    assert expiry(db, service_id) == before
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(Invoice)).one() == 0


def test_moves_up_to_the_limits_are_done(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active", expires="2999-12-01")
    perform(db, admin, "add-days", service_id, {"days": 30})
    assert expiry(db, service_id).date().isoformat() == "2999-12-31"
    other = new_service(db, admin, catalog, status="active", expires="2999-06-01")
    perform(db, admin, "renew", other, {"cycles": 6})
    assert expiry(db, other).date().isoformat() == "2999-12-01"


def test_a_service_whose_expiry_sql_put_out_of_range_is_skipped_and_its_siblings_done(cli, db, admin, catalog, frozen):
    a, b = new_service(db, admin, catalog, status="active"), new_service(db, admin, catalog, status="active")
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE service SET expires_at = :when WHERE id = :id"), {"when": "9999-12-25 00:00:00.000000", "id": b})
    result = cli("services", "add-days", str(a), str(b), "--days", "30", "--yes")
    assert result.exit_code == 3, result.stderr
    assert "internal error" not in result.stderr + result.stdout
    assert f"service {b} is active: cannot add-days: the new expiry would be outside" in result.stdout
    assert expiry(db, a).date().isoformat() == "2027-03-02"
    with db.read() as session:
        assert session.exec(select(BulkRun.finished_at)).one() is not None
    alone = cli("services", "renew", str(b))
    assert alone.exit_code == 1 and alone.stderr.startswith(f"error: service {b} is active: cannot renew: the new expiry would be outside")
