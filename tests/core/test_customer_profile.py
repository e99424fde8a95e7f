"""The customer's profile (issue 16, item 7) in core and the CLI: `customers edit` with notes and
JSON, the profile's counts, invoices and changes, and the palette's look-up by email."""

import json

import pytest

from svcconsole.core import actions, invoices, profiles
from svcconsole.core import catalog as catalog_core
from svcconsole.core.errors import NotFound
from svcconsole.store.models import Service
from tests.conftest import make_actor, new_service


def test_customers_edit_sets_and_clears_notes_and_answers_json(db, admin, catalog, cli):
    result = cli("customers", "edit", "alice@example.com", "--notes", "VIP; call before suspending", "--company", "Martin SA", "-f", "json")
    assert result.exit_code == 0, result.stderr
    saved = json.loads(result.stdout)
    assert (saved["id"], saved["notes"], saved["company"]) == (catalog.customer_id, "VIP; call before suspending", "Martin SA")
    shown = json.loads(cli("customers", "show", str(catalog.customer_id), "-f", "json").stdout)
    assert shown["notes"] == "VIP; call before suspending"
    assert shown["history"][0]["action"] == "customer_edit"

    assert cli("customers", "edit", str(catalog.customer_id), "--notes", "").exit_code == 0
    assert json.loads(cli("customers", "show", str(catalog.customer_id), "-f", "json").stdout)["notes"] is None


def test_customers_edit_refuses_bad_input_in_one_line_naming_the_field(db, admin, catalog, cli):
    for args, field in ((["--notes", "x" * 10_001], "--notes"), (["--email", "nobody"], "--email"), (["--format", "yaml"], "--format")):
        result = cli("customers", "edit", str(catalog.customer_id), *args)
        assert result.exit_code == 2, (args, result.stderr)
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: ") and field in line
    assert json.loads(cli("customers", "show", "1", "-f", "json").stdout)["notes"] is None


def test_a_viewer_may_read_a_profile_but_not_edit_notes(db, admin, catalog, cli):
    viewer = make_actor(db, "vera", "viewer")
    with db.read() as session:
        assert profiles.customer_profile(session, viewer, "alice@example.com").customer.id == catalog.customer_id
    with pytest.raises(Exception, match="operator"):
        db.transaction(lambda session: catalog_core.edit_customer(session, viewer, "1", notes="x"))


def test_the_profile_counts_services_lists_invoices_and_both_kinds_of_changes(db, admin, catalog, frozen):
    bruno = db.transaction(lambda session: catalog_core.add_customer(session, admin, name="Bruno Rossi", email="bruno@example.com")).id
    active = new_service(db, admin, catalog, status="active")
    new_service(db, admin, catalog, status="suspended")
    moved = new_service(db, admin, catalog, status="active")

    def bill(session):
        service = session.get(Service, active)
        invoices.add_renewal_line(session, admin, service, 1, invoices.new_invoice(session, service.customer_id, service.currency))

    db.transaction(bill)
    db.transaction(lambda session: actions.perform(session, admin, "transfer", moved, {"to": str(bruno)}))
    with db.read() as session:
        alice = profiles.customer_profile(session, admin, catalog.customer_id)
        theirs = profiles.customer_profile(session, admin, "bruno@example.com")
    assert alice.services_by_status == {"active": 1, "suspended": 1} and alice.service_count == 2
    assert [summary.line_count for summary in alice.invoices] == [1]
    actions_seen = [row.action for row in alice.changes]
    assert "customer_transfer_out" in actions_seen and "customer_add" in actions_seen
    assert any(row.service_id == active for row in alice.changes), "the activity of their services shows too"
    assert [row.id for row in alice.changes] == sorted((row.id for row in alice.changes), reverse=True)
    assert theirs.services_by_status == {"active": 1} and "customer_transfer_in" in [row.action for row in theirs.changes]
    with pytest.raises(NotFound), db.read() as session:
        profiles.customer_profile(session, admin, "nobody@example.com")


def test_customers_by_email_finds_by_prefix_the_exact_one_first(db, admin, catalog):
    for name, email in (("Bob", "bob@example.com"), ("Bobby", "bob@example.co"), ("Rob", "rob@example.com"), ("Under", "bob_x@example.com")):
        db.transaction(lambda session, name=name, email=email: catalog_core.add_customer(session, admin, name=name, email=email))
    with db.read() as session:
        assert [c.email for c in profiles.customers_by_email(session, admin, "BOB@example.co")] == ["bob@example.co", "bob@example.com"]
        assert [c.email for c in profiles.customers_by_email(session, admin, "bob@")] == ["bob@example.co", "bob@example.com"]
        assert [c.email for c in profiles.customers_by_email(session, admin, "bob_")] == ["bob_x@example.com"]
        assert profiles.customers_by_email(session, admin, "  ") == []
        assert len(profiles.customers_by_email(session, admin, "b", limit=1)) == 1
