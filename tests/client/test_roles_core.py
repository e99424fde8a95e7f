"""Roles are decided in core, so the CLI, the console and the customer area cannot differ.

Every status-table action and every other mutation refuses an actor whose role is too low
before it looks at anything else, and changes nothing.
"""

from __future__ import annotations

import pytest

from svcconsole.core import actions, bulk, catalog, delivery, job_queue, lookups, operators, orders, records
from svcconsole.core import settings as settings_module
from svcconsole.core.errors import PermissionDenied, SvcError
from svcconsole.core.statuses import ACTIONS, NON_TRANSITION_ROLES, Role
from tests.conftest import make_actor, new_service

ROLES = (Role.VIEWER, Role.OPERATOR, Role.ADMIN)


@pytest.fixture
def actors(db, admin):  # type: ignore[no-untyped-def]
    return {role: make_actor(db, f"login-{role.label}", role.label) for role in ROLES}


def refused(call) -> bool:  # type: ignore[no-untyped-def]
    try:
        call()
    except PermissionDenied:
        return True
    except SvcError:
        return False
    return False


@pytest.mark.parametrize("action", sorted(set(ACTIONS) - {"set-status"}))
def test_every_status_table_action_checks_the_role_first(db, admin, catalog, actors, action):
    service_id = new_service(db, admin, catalog, name="target", status="active")
    for role, actor in actors.items():
        denied = refused(lambda: db.transaction(lambda session: actions.perform(session, actor, action, service_id, {"days": 1})))
        assert denied == (not role.allows(ACTIONS[action].role)), (action, role)
        bulk_denied = refused(lambda: bulk.start(db, actor, action, {}, [service_id], selection={"ids": [service_id], "role": role.label}))
        assert bulk_denied == (not role.allows(ACTIONS[action].role)), (action, role)
    read_only = operators.Actor(kind="admin", name=admin.name, role=Role.ADMIN, read_only=True)
    assert refused(lambda: db.transaction(lambda session: actions.perform(session, read_only, action, service_id, {"days": 1})))


def mutations(service_id: int, job_id: int, invoice_id: int):  # type: ignore[no-untyped-def]
    """Every mutation outside the status table, with the role section 11 gives it."""
    return {
        "edit": (NON_TRANSITION_ROLES["edit"], lambda s, a: records.edit_service(s, a, service_id, {"name": "x"})),
        "status override": (Role.ADMIN, lambda s, a: records.edit_service(s, a, service_id, {"status": "suspended"}, reason="r")),
        "metadata": (NON_TRANSITION_ROLES["metadata"], lambda s, a: records.meta_set(s, a, service_id, "max_renewals", "2")),
        "options": (NON_TRANSITION_ROLES["options"], lambda s, a: records.option_add(s, a, service_id, name="o")),
        "create": (
            NON_TRANSITION_ROLES["create"],
            lambda s, a: records.create_service(s, a, records.ServiceDraft(customer="alice@example.com", name="n", product="Web Pro")),
        ),
        "customer": (NON_TRANSITION_ROLES["catalog"], lambda s, a: catalog.add_customer(s, a, name="C", email=f"c-{a.name}@example.com")),
        "product": (NON_TRANSITION_ROLES["catalog"], lambda s, a: catalog.add_product(s, a, name=f"P {a.name}", type="manual", prices=["monthly=1.00"])),
        "server": (NON_TRANSITION_ROLES["catalog"], lambda s, a: catalog.edit_server(s, a, "shared-1", credentials="new-secret-value")),
        "job resolve": (NON_TRANSITION_ROLES["jobs"], lambda s, a: job_queue.resolve(s, a, job_id)),
        "invoice": (NON_TRANSITION_ROLES["invoices"], lambda s, a: orders.pay_invoice(s, a, invoice_id)),
        "settings": (NON_TRANSITION_ROLES["settings"], lambda s, a: settings_module.set_value(s, a, "renewal_grace_days", "3")),
        "settings unset": (NON_TRANSITION_ROLES["settings"], lambda s, a: settings_module.unset_value(s, a, "renewal_grace_days")),
        "operators": (NON_TRANSITION_ROLES["operators"], lambda s, a: operators.add_operator(s, a, "newbie", "viewer")),
    }


def test_every_other_mutation_checks_the_role(db, admin, catalog, actors):
    service_id = new_service(db, admin, catalog, name="target", status="active")
    invoice = db.transaction(lambda session: orders.create_invoice(session, admin, "alice@example.com", orders.LineRequest(renew=[service_id])))
    pending = new_service(db, admin, catalog, name="queued")
    job = db.transaction(lambda session: actions.queue_job(session, admin, lookups.get_service(session, pending), "create", "deliver", {}))
    for name, (needed, change) in mutations(service_id, job.id, invoice.id).items():
        for role, actor in actors.items():
            denied = refused(lambda: db.transaction(lambda session: change(session, actor)))
            assert denied == (not role.allows(needed)), (name, role)


def test_power_and_the_automation_run_check_the_role(db, admin, catalog, actors):
    from svcconsole.core import automation

    service_id = new_service(db, admin, catalog, name="target", status="active")
    assert refused(lambda: delivery.power(db, actors[Role.VIEWER], service_id, "start"))
    assert not refused(lambda: delivery.power(db, actors[Role.OPERATOR], service_id, "start"))
    assert refused(lambda: automation.run(db, actors[Role.VIEWER], dry_run=True))
    assert not refused(lambda: automation.run(db, actors[Role.OPERATOR], dry_run=True))
    assert refused(lambda: automation.run(db, actors[Role.OPERATOR])), "the run expires and hides services: admin work (SPEC.md section 11)"
    assert not refused(lambda: automation.run(db, actors[Role.ADMIN]))
