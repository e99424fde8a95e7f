"""Self-service in the customer area (issue 17 item 2): each action against a table written by
hand from the issue and SPEC.md section 3, never from the code's own rules.

A row is (action, product flag on?, service state) -> allowed or refused. A refused action is one
line and changes nothing; an allowed one names the customer as the actor in the activity log.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlmodel import select

from svcconsole.core import actions, customer, customer_actions, option_catalog, orders, records
from svcconsole.core import catalog as catalog_module
from svcconsole.core.errors import InvalidInput, SvcError, TransitionRefused
from svcconsole.core.operators import Actor
from svcconsole.store.engine import Database
from svcconsole.store.models import Activity, Invoice, InvoiceLine, Job, Product, Service, ServiceOption
from tests.conftest import Fixtures, new_service

FLAG_OF = {
    "buy-option": "customer_options",
    "change-cycle": "customer_cycle",
    "delete": "customer_delete",
    "power": "customer_power",
    "reinstall": "customer_power",
    "suspend": "customer_suspend",
    "unsuspend": "customer_suspend",
}
"""Transcribed from the issue: the flag each action needs."""


@dataclass(frozen=True)
class Case:
    action: str
    flag_on: bool
    state: str
    """A status, or `suspended:KIND`."""
    allowed: bool
    module: str = "manual"


def cases() -> list[Case]:
    rows = [
        # customer_options: an option bought for the rest of a running period
        Case("buy-option", True, "active", True),
        Case("buy-option", True, "suspended:client", False),
        Case("buy-option", True, "pending", False),
        Case("buy-option", True, "cancelled", False),
        Case("buy-option", True, "expired", False),
        # customer_cycle: from the next renewal, while the service is renewed
        Case("change-cycle", True, "active", True),
        Case("change-cycle", True, "pending", True),
        Case("change-cycle", True, "suspended:admin", True),
        Case("change-cycle", True, "cancelled", False),
        Case("change-cycle", True, "expired", False),
        # customer_delete: BILLmanager's rules: an ended service is deleted; a running one is cancelled now, then deleted
        Case("delete", True, "cancelled", True),
        Case("delete", True, "expired", True),
        Case("delete", True, "terminated", True),
        Case("delete", True, "active", True),
        Case("delete", True, "suspended:abuse", True),
        Case("delete", True, "pending", True),
        Case("delete", True, "ordered", False),
        # customer_power: an active service whose module has power signals (the manual module has none)
        Case("power", True, "active", True, "pterodactyl"),
        Case("power", True, "suspended:client", False, "pterodactyl"),
        Case("power", True, "cancelled", False, "pterodactyl"),
        Case("power", True, "active", False, "manual"),
        Case("reinstall", True, "active", True, "pterodactyl"),
        Case("reinstall", True, "suspended:client", False, "pterodactyl"),
        Case("reinstall", True, "active", False, "manual"),
        # customer_suspend: suspend kind client, lift only kind client
        Case("suspend", True, "active", True),
        Case("suspend", True, "suspended:client", False),
        Case("suspend", True, "pending", False),
        Case("unsuspend", True, "suspended:client", True),
        Case("unsuspend", True, "suspended:admin", False),
        Case("unsuspend", True, "suspended:abuse", False),
        Case("unsuspend", True, "suspended:overdue", False),
        Case("unsuspend", True, "suspended:temporary", False),
        Case("unsuspend", True, "active", False),
    ]
    # with the flag off, every action is refused, whatever state would allow it
    rows += [Case(row.action, False, row.state, False, row.module) for row in rows if row.allowed]
    return rows


@dataclass
class Setup:
    service_id: int
    product_id: int
    actor: Actor


GREETING = "Paper 4GB"


def make_service(db: Database, admin: Actor, catalog: Fixtures, case: Case) -> Setup:
    """A service of a product with the case's flag on or off, put in the case's state by an admin."""
    flags = {FLAG_OF[case.action]: case.flag_on}

    def product(session):  # type: ignore[no-untyped-def]
        if case.module == "pterodactyl":
            server = catalog_module.add_server(
                session, admin, name="ptero-1", module="pterodactyl", url="https://127.0.0.1:9", credentials="ptla_x:ptlc_y", node="1"
            )
            made = catalog_module.add_product(
                session,
                admin,
                name=GREETING,
                type="pterodactyl",
                prices=["monthly=12.00", "annually=120.00"],
                config=["nest=1", "egg=1", "memory=4096", "disk=20480"],
                customer_flags=flags,
            )
            return made.id, server.id
        made = catalog_module.add_product(session, admin, name="Self Web", type="manual", prices=["monthly=10.00", "annually=100.00"], customer_flags=flags)
        option_catalog.declare_option(session, admin, made.id, name="Backups", choices=["daily=3.00", "hourly=9.00"])
        return made.id, catalog.server_id

    product_id, server_id = db.transaction(product)
    status, _, kind = case.state.partition(":")
    service_id = new_service(db, admin, catalog, name="self svc", product=str(product_id), server=str(server_id), cycle="monthly", expires="2026-12-21")
    if status == "suspended":
        db.transaction(lambda session: records.edit_service(session, admin, service_id, {"status": "active"}, reason="test setup"))
        if case.module == "pterodactyl":
            db.transaction(lambda session: records.edit_service(session, admin, service_id, {"status": "suspended"}, reason="test setup"))
            db.transaction(lambda session: _set_kind(session, service_id, kind))
        else:
            db.transaction(lambda session: actions.perform(session, admin, "suspend", service_id, {"kind": kind}))
    elif status != "pending":
        db.transaction(lambda session: records.edit_service(session, admin, service_id, {"status": status}, reason="test setup"))
    with db.read() as session:
        actor = customer.open_area(session, "svcclient", "alice@example.com")
    return Setup(service_id, product_id, actor)


def _set_kind(session, service_id: int, kind: str) -> None:  # type: ignore[no-untyped-def]
    service = session.get(Service, service_id)
    service.suspend_kind = kind
    session.add(service)


def run(db: Database, setup: Setup, action: str) -> customer_actions.ActionResult:
    actor, service_id = setup.actor, setup.service_id
    change = {
        "buy-option": lambda session, worker: customer_actions.buy_option(session, actor, service_id, "Backups=daily"),
        "change-cycle": lambda session, worker: customer_actions.change_cycle(session, actor, service_id, "annually"),
        "delete": lambda session, worker: customer_actions.delete(session, actor, service_id, "leaving"),
        "power": lambda session, worker: customer_actions.power(session, actor, service_id, "restart"),
        "reinstall": lambda session, worker: customer_actions.reinstall(session, actor, service_id, "self svc"),
        "suspend": lambda session, worker: customer_actions.suspend(session, actor, service_id, "holiday"),
        "unsuspend": lambda session, worker: customer_actions.lift_suspension(session, actor, service_id),
    }[action]
    return db.transaction(lambda session: change(session, ""))


def snapshot(db: Database, service_id: int) -> tuple:  # type: ignore[type-arg]
    with db.read() as session:
        service = session.get(Service, service_id)
        rows = len(session.exec(select(Activity).where(Activity.service_id == service_id)).all())
        invoices = len(session.exec(select(Invoice)).all())
        queued = len(session.exec(select(Job).where(Job.service_id == service_id)).all())
        return (service.status, service.suspend_kind, service.billing_cycle, str(service.price), rows, invoices, queued)


@pytest.mark.parametrize("case", cases(), ids=lambda case: f"{case.action}-{'on' if case.flag_on else 'off'}-{case.state}-{case.module}")
def test_each_self_service_action_follows_the_flag_and_the_state(db, admin, catalog, frozen, case: Case):  # type: ignore[no-untyped-def]
    setup = make_service(db, admin, catalog, case)
    with db.read() as session:
        shown = customer.service_detail(session, setup.actor, setup.service_id) if case.state != "ordered" else None
    if shown is not None:
        assert shown.allowed(case.action) == case.allowed, shown.refusals[case.action]
        assert shown.offers(case.action) == case.flag_on
    before = snapshot(db, setup.service_id)
    if not case.allowed:
        with pytest.raises(SvcError) as refused:
            run(db, setup, case.action)
        text = refused.value.message
        assert "\n" not in text and f"service {setup.service_id}" in text
        if not case.flag_on:
            assert "this product does not let customers" in text
        assert snapshot(db, setup.service_id) == before
        return
    run(db, setup, case.action)
    with db.read() as session:
        rows = session.exec(select(Activity).where(Activity.service_id == setup.service_id).order_by(Activity.id)).all()
        new_rows = rows[before[4] :]
        queued = session.exec(select(Job).where(Job.service_id == setup.service_id)).all()
        assert new_rows or queued, "an allowed action is logged, or queued for the panel"
        assert all((row.actor_kind, row.actor) == ("client", "alice@example.com") for row in new_rows)
        assert all((job.actor_kind, job.actor) == ("client", "alice@example.com") for job in queued)
        service = session.get(Service, setup.service_id)
        expected = {
            "buy-option": lambda: session.exec(select(InvoiceLine).where(InvoiceLine.service_id == setup.service_id)).one().kind == "option",
            "change-cycle": lambda: (service.billing_cycle, str(service.price)) == ("annually", "100.00"),
            "delete": lambda: service.status in ("deleted", "cancelled"),
            "power": lambda: session.exec(select(Job).where(Job.service_id == setup.service_id)).one().params["signal"] == "restart",
            "reinstall": lambda: session.exec(select(Job).where(Job.service_id == setup.service_id)).one().operation == "reinstall",
            "suspend": lambda: (service.status, service.suspend_kind) == ("suspended", "client"),
            "unsuspend": lambda: (service.status, service.suspend_kind) == ("active", None),
        }[case.action]
        assert expected()


def test_a_manual_service_is_deleted_at_once_when_running_and_vanishes_from_the_customer(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    setup = make_service(db, admin, catalog, Case("delete", True, "active", True))
    result = run(db, setup, "delete")
    assert result.message == f"service {setup.service_id} is deleted"
    with db.read() as session:
        assert session.get(Service, setup.service_id).status == "deleted"
        with pytest.raises(SvcError, match=f"no service {setup.service_id}"):
            customer.service_detail(session, setup.actor, setup.service_id)


def test_the_option_is_added_when_its_invoice_is_paid_and_not_while_unpaid(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    setup = make_service(db, admin, catalog, Case("buy-option", True, "active", True))
    result = run(db, setup, "buy-option")
    # 2026-11-21 to 2026-12-21: a whole month left of the monthly period, so the whole 3.00
    assert "3.00 EUR" in result.message and result.invoice_id is not None
    with db.read() as session:
        assert session.exec(select(ServiceOption).where(ServiceOption.service_id == setup.service_id)).all() == []
    with pytest.raises(TransitionRefused, match="bills 'Backups' already"):
        run(db, setup, "buy-option")
    paid = db.transaction(lambda session: orders.pay_invoice(session, admin, result.invoice_id or 0))
    assert all(outcome.applied for outcome in paid.outcomes), paid.outcomes
    with db.read() as session:
        [option] = session.exec(select(ServiceOption).where(ServiceOption.service_id == setup.service_id)).all()
        assert (option.name, option.value, str(option.price)) == ("Backups", "daily", "3.00")
    again = db.transaction(lambda session: orders.pay_invoice(session, admin, result.invoice_id or 0))
    assert again.outcomes == []


def test_a_paid_option_is_not_applied_to_a_service_that_ended_meanwhile(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    setup = make_service(db, admin, catalog, Case("buy-option", True, "active", True))
    result = run(db, setup, "buy-option")
    db.transaction(lambda session: actions.perform(session, admin, "cancel-immediately", setup.service_id, {}))
    paid = db.transaction(lambda session: orders.pay_invoice(session, admin, result.invoice_id or 0))
    [outcome] = paid.outcomes
    assert not outcome.applied and "cancelled" in outcome.message
    with db.read() as session:
        assert session.exec(select(ServiceOption).where(ServiceOption.service_id == setup.service_id)).all() == []


def test_the_option_is_prorated_over_the_rest_of_the_period(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    setup = make_service(db, admin, catalog, Case("buy-option", True, "active", True))
    db.transaction(lambda session: records.edit_service(session, admin, setup.service_id, {"expires_at": "2026-12-06"}))
    result = db.transaction(lambda session: customer_actions.buy_option(session, setup.actor, setup.service_id, "Backups=hourly"))
    # 15 of the 30 days from 2026-11-06 to 2026-12-06 are left: half of 9.00
    with db.read() as session:
        line = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == result.invoice_id)).one()
    assert str(line.amount) == "4.50"


def test_a_cycle_the_product_has_no_price_for_is_refused_naming_what_is_accepted(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    setup = make_service(db, admin, catalog, Case("change-cycle", True, "active", True))
    with pytest.raises(InvalidInput) as refused:
        db.transaction(lambda session: customer_actions.change_cycle(session, setup.actor, setup.service_id, "weekly"))
    assert refused.value.message.startswith("cycle:") or "cycle" in str(refused.value)
    assert "annually" in str(refused.value)


def test_the_cycle_change_keeps_the_paid_period_and_the_next_renewal_bills_the_new_cycle(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    setup = make_service(db, admin, catalog, Case("change-cycle", True, "active", True))
    run(db, setup, "change-cycle")
    with db.read() as session:
        assert session.get(Service, setup.service_id).expires_at.date().isoformat() == "2026-12-21"
    renewed = db.transaction(lambda session: customer_actions.renew(session, setup.actor, setup.service_id))
    with db.read() as session:
        line = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == renewed.invoice_id)).one()
    assert (str(line.amount), line.period_end.date().isoformat()) == ("100.00", "2027-12-21")


def test_the_cycle_cannot_change_under_a_renewal_invoice_already_made(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    setup = make_service(db, admin, catalog, Case("change-cycle", True, "active", True))
    db.transaction(lambda session: customer_actions.renew(session, setup.actor, setup.service_id))
    with pytest.raises(TransitionRefused, match="bills the next renewal already"):
        run(db, setup, "change-cycle")


def test_the_flag_is_read_when_the_action_runs_not_when_the_screen_was_drawn(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    setup = make_service(db, admin, catalog, Case("suspend", True, "active", True))
    with db.read() as session:
        assert customer.service_detail(session, setup.actor, setup.service_id).allowed("suspend")
    db.transaction(lambda session: catalog_module.edit_product(session, admin, str(setup.product_id), customer_flags={"customer_suspend": False}))
    with pytest.raises(TransitionRefused, match="does not let customers suspend"):
        run(db, setup, "suspend")


def test_a_reinstall_needs_the_services_name_typed(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    setup = make_service(db, admin, catalog, Case("reinstall", True, "active", True, "pterodactyl"))
    with pytest.raises(InvalidInput, match="type the service's name"):
        db.transaction(lambda session: customer_actions.reinstall(session, setup.actor, setup.service_id, "self"))
    with db.read() as session:
        assert session.exec(select(Job)).all() == []


def test_a_power_verb_the_module_lacks_is_refused_in_one_line(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    setup = make_service(db, admin, catalog, Case("power", True, "active", True, "pterodactyl"))
    with pytest.raises(InvalidInput) as refused:
        db.transaction(lambda session: customer_actions.power(session, setup.actor, setup.service_id, "kill"))
    assert "accepted: start, stop, restart" in str(refused.value) and "\n" not in str(refused.value)


def test_products_show_the_flags_and_the_cli_sets_them(cli, db):  # type: ignore[no-untyped-def]
    added = cli("products", "add", "--name", "Flags", "--type", "manual", "--price", "monthly=1.00", "--customer-power", "--customer-delete", "-f", "json")
    assert added.exit_code == 0, added.stderr
    edited = cli("products", "edit", "Flags", "--no-customer-power", "--customer-cycle")
    assert edited.exit_code == 0, edited.stderr
    import json

    shown = json.loads(cli("products", "show", "Flags", "-f", "json").stdout)
    assert {flag: shown[flag] for flag in FLAG_OF.values()} == {
        "customer_options": False,
        "customer_cycle": True,
        "customer_delete": True,
        "customer_power": False,
        "customer_suspend": False,
    }
    with db.read() as session:
        product = session.exec(select(Product).where(Product.name == "Flags")).one()
        assert product.customer_cycle and not product.customer_power


FRENCH_OUTCOMES = {
    "delete": "le service {id} est supprimé",
    "suspend": "le service {id} est suspendu ; reprenez-le quand vous voulez",
    "unsuspend": "le service {id} est de nouveau actif",
    "change-cycle": "le service {id} se renouvelle à 100,00\u00a0€/an à partir du renouvellement du 21 déc. 2026",
    "buy-option": "option Backups=daily : la facture {invoice} facture 3,00\u00a0€ pour le reste de la période ; l'option est ajoutée au paiement, puis 3,00\u00a0€ à chaque renouvellement",
}
"""Written by hand: what a French customer reads once each action is done (Babel puts a no-break space before €)."""


@pytest.mark.parametrize(
    ("action", "state"),
    [("delete", "active"), ("suspend", "active"), ("unsuspend", "suspended:client"), ("change-cycle", "active"), ("buy-option", "active")],
)
def test_a_french_customer_reads_the_outcome_in_french(db, admin, catalog, frozen, action: str, state: str):  # type: ignore[no-untyped-def]
    import dataclasses

    setup = make_service(db, admin, catalog, Case(action, True, state, True))
    french = dataclasses.replace(setup, actor=dataclasses.replace(setup.actor, locale="fr"))
    result = run(db, french, action)
    assert result.message == FRENCH_OUTCOMES[action].format(id=setup.service_id, invoice=result.invoice_id)
