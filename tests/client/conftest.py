"""Customer-area fixtures: two customers with services in every status, and their actors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from svcconsole.core import actions, customer, records
from svcconsole.core import catalog as catalog_module
from svcconsole.core.operators import Actor
from svcconsole.store.engine import Database
from tests.conftest import Fixtures, new_service
from tests.console.conftest import _snapshots_at_top_level, anyio_backend  # noqa: F401

NOTE = "ADMIN-ONLY-NOTE: customer threatened chargeback"
INTERNAL_REASON = "INTERNAL-REASON: abuse report of the kestrel botnet"


@dataclass
class Shop:
    """Alice's and Bob's services by name, and the customer-area actor of each."""

    alice_id: int
    bob_id: int
    alice: dict[str, int]
    bob: dict[str, int]
    alice_actor: Actor
    bob_actor: Actor
    product_id: int
    fixed_product_id: int


def client_of(db: Database, login: str, ref: str) -> Actor:
    """The customer-area actor `svcconsole client --customer REF` gets when run by `login`."""
    with db.read() as session:
        return customer.open_area(session, login, ref)


@pytest.fixture
def shop(db: Database, admin: Actor, catalog: Fixtures, frozen) -> Shop:  # type: ignore[no-untyped-def]
    def work(session):  # type: ignore[no-untyped-def]
        bob = catalog_module.add_customer(session, admin, name="Bob Stone", email="bob@example.com")
        fixed = catalog_module.add_product(session, admin, name="Fixed Term", type="manual", prices=["annually=100.00"], allow_customer_cancel=False)
        return bob.id, fixed.id

    bob_id, fixed_id = db.transaction(work)
    alice = {
        "web": new_service(db, admin, catalog, name="alice web", status="active", expires="2027-08-07", notes=NOTE),
        "late": new_service(db, admin, catalog, name="alice late", status="active", expires="2026-11-01"),
        "paused": new_service(db, admin, catalog, name="alice paused", status="active", expires="2026-12-15"),
        "fixed": new_service(db, admin, catalog, name="alice fixed", status="active", product=str(fixed_id), cycle="annually"),
        "pending": new_service(db, admin, catalog, name="alice pending"),
        "old": new_service(db, admin, catalog, name="alice old", status="cancelled"),
        "gone": new_service(db, admin, catalog, name="alice gone", status="deleted"),
    }
    db.transaction(lambda session: records.edit_service(session, admin, alice["paused"], {"auto_renew": "false"}))
    db.transaction(lambda session: actions.perform(session, admin, "suspend", alice["paused"], {"kind": "abuse", "reason": INTERNAL_REASON}))
    bob = {
        "web": new_service(db, admin, catalog, customer=str(bob_id), name="bob web", status="active", notes=NOTE),
        "gone": new_service(db, admin, catalog, customer=str(bob_id), name="bob gone", status="deleted"),
    }
    return Shop(
        catalog.customer_id,
        bob_id,
        alice,
        bob,
        client_of(db, "svcclient", "alice@example.com"),
        client_of(db, "svcclient", "bob@example.com"),
        catalog.product_id,
        fixed_id,
    )
