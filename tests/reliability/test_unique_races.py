"""Two sessions saving the same unique value at the same moment: the second gets the usual one-line
input error naming the field (exit 2), never "internal error: IntegrityError", and one row exists.

Session A adds the value and holds its transaction open; the CLI then adds the same value and
blocks (SQLite: on the write lock, then sees A's row; PostgreSQL: on the unique index, after its
own check saw nothing); A commits, and the CLI's answer is read.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from sqlmodel import func, select

from svcconsole.core import catalog, operators
from svcconsole.store.models import Customer, Operator, Product, Server
from tests.reliability.support import wait_until

CASES = [
    (
        "customer email",
        lambda session, actor: catalog.add_customer(session, actor, name="First", email="race@example.com"),
        ["customers", "add", "--name", "Second", "--email", "RACE@example.com"],
        "--email",
        Customer,
    ),
    (
        "product name",
        lambda session, actor: catalog.add_product(session, actor, name="Race", type="manual", prices=["monthly=1.00"]),
        ["products", "add", "--name", "Race", "--type", "manual", "--price", "monthly=2.00"],
        "--name",
        Product,
    ),
    (
        "server name",
        lambda session, actor: catalog.add_server(session, actor, name="race-1", module="manual", url="https://a.example.net"),
        ["servers", "add", "--name", "race-1", "--module", "manual", "--url", "https://b.example.net"],
        "--name",
        Server,
    ),
]


def _blocked_on_a_lock(db) -> bool:  # type: ignore[no-untyped-def]
    with db.engine.connect() as connection:
        waiting = connection.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).scalar_one()
    return waiting > 0


def race(db, admin, cli, first, args):  # type: ignore[no-untyped-def]
    """Hold `first` uncommitted while the CLI runs `args`; commit it once the CLI waits. The CLI's result."""
    holding, release = threading.Event(), threading.Event()
    answers: list = []

    def session_a(session):  # type: ignore[no-untyped-def]
        first(session, admin)
        session.flush()
        holding.set()
        assert release.wait(30), "the test never let session A commit"

    writer = threading.Thread(target=lambda: db.transaction(session_a))
    writer.start()
    try:
        assert holding.wait(30)
        second = threading.Thread(target=lambda: answers.append(cli(*args)))
        second.start()
        if db.is_postgresql:
            wait_until(lambda: _blocked_on_a_lock(db), timeout=30, what="the CLI waiting on session A's row")
        else:
            time.sleep(0.5)
    finally:
        release.set()
        writer.join(30)
    second.join(60)
    assert answers, "the CLI did not finish"
    return answers[0]


@pytest.mark.parametrize(("label", "first", "args", "option", "model"), CASES, ids=[case[0] for case in CASES])
def test_the_second_of_two_sessions_saving_a_unique_value_gets_one_line_naming_the_field(db, admin, cli, label, first, args, option, model):
    result = race(db, admin, cli, first, args)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stderr.startswith(f"error: {option}: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "internal error" not in result.stderr and "Integrity" not in result.stderr
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(model)).one() == 1


def test_an_operator_added_twice_at_once_is_added_once(db, admin, cli):
    result = race(
        db, admin, cli, lambda session, actor: operators.add_operator(session, actor, "racer", "viewer"), ["operators", "add", "racer", "--role", "viewer"]
    )
    assert result.exit_code in (0, 2), result.stderr
    if result.exit_code == 2:
        assert result.stderr == "error: LOGIN: this operator exists already (another session saved it at the same moment); nothing was changed\n"
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(Operator).where(Operator.login == "racer")).one() == 1


def test_a_duplicate_past_the_checks_names_its_table_and_columns(db, admin):
    from svcconsole.core import clock
    from svcconsole.store.engine import DuplicateValue
    from svcconsole.store.models import ProductPrice

    product = db.transaction(lambda session: catalog.add_product(session, admin, name="Dup", type="manual", prices=["monthly=1.00"]))
    db.transaction(lambda session: catalog.add_customer(session, admin, name="First", email="dup@example.com"))
    writes = {
        ("customer", ("email",)): lambda session: session.add(Customer(name="Second", email="dup@example.com", created_at=clock.now())),
        ("product_price", ("product_id", "billing_cycle")): lambda session: session.add(
            ProductPrice(product_id=product.id, billing_cycle="monthly", price=2, currency="EUR")
        ),
    }
    for constraint, write in writes.items():
        with pytest.raises(DuplicateValue) as raised:
            db.transaction(write)
        assert (raised.value.table, raised.value.columns) == constraint
