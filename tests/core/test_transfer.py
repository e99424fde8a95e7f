"""Transfer to another customer (issue 16, item 6): the owner in billing and on the panel, the old
owner's unpaid lines cancelled, both sides in the activity log, refused while suspended for abuse
or busy, and re-checked when its panel call comes back."""

import json
from decimal import Decimal

import pytest
from sqlmodel import col, select

from svcconsole.core import actions, activity, clock, invoices, jobs, orders, records
from svcconsole.core import catalog as catalog_core
from svcconsole.core.errors import InvalidInput, TransitionRefused
from svcconsole.store.models import Activity, Customer, Invoice, InvoiceLine, Job, Service
from tests.conftest import new_service


@pytest.fixture
def bruno(db, admin):
    return db.transaction(lambda session: catalog_core.add_customer(session, admin, name="Bruno Rossi", email="bruno@example.com")).id


def read(db, model, row_id):
    with db.read() as session:
        return session.get(model, row_id)


def customer_rows(db, customer_id):
    with db.read() as session:
        return [(row.action, row.details) for row in activity.changes_of(session, "customer", customer_id)]


def set_fields(db, service_id, **fields):
    def work(session):
        service = session.get(Service, service_id)
        for key, value in fields.items():
            setattr(service, key, value)
        session.add(service)

    db.transaction(work)


def renewal_invoice(db, admin, service_id, *, extra_service_id=None):
    """An unpaid invoice of the service's owner with a renewal line for it (and one for another service)."""

    def work(session):
        service = session.get(Service, service_id)
        invoice = invoices.new_invoice(session, service.customer_id, service.currency)
        invoices.add_renewal_line(session, admin, service, 1, invoice)
        if extra_service_id is not None:
            invoices.add_renewal_line(session, admin, session.get(Service, extra_service_id), 1, invoice)
        return invoice.id

    return db.transaction(work)


def test_transfer_moves_the_owner_and_logs_both_sides(db, admin, catalog, bruno, cli, frozen):
    service_id = new_service(db, admin, catalog, status="active", name="shop")
    result = cli("services", "transfer", str(service_id), "--to", "bruno@example.com", "--reason", "company sold", "-f", "json")
    assert result.exit_code == 0, result.stderr
    [line] = [json.loads(text) for text in result.lines]
    assert line["outcome"] == "ok" and "bruno@example.com" in line["message"]

    service = read(db, Service, service_id)
    assert (service.customer_id, service.customer_name, service.status) == (bruno, "Bruno Rossi", "active")
    assert "bruno@example.com" in service.search_text and "alice@example.com" not in service.search_text
    with db.read() as session:
        [row] = session.exec(select(Activity).where(Activity.service_id == service_id, Activity.action == "transfer")).all()
    assert row.reason == "company sold"
    assert row.details["from"]["email"] == "alice@example.com" and row.details["to"]["email"] == "bruno@example.com"
    assert ("customer_transfer_out", {"customer": catalog.customer_id, "service": service_id, "to": "bruno@example.com"}) in customer_rows(
        db, catalog.customer_id
    )
    assert ("customer_transfer_in", {"customer": bruno, "service": service_id, "from": "alice@example.com"}) in customer_rows(db, bruno)
    listed = cli("services", "list", "--customer", "bruno@example.com", "-f", "ids")
    assert listed.lines == [str(service_id)]


def test_the_old_owners_unpaid_lines_for_it_are_cancelled(db, admin, catalog, bruno, frozen):
    service_id = new_service(db, admin, catalog, status="active", name="shop")
    other_id = new_service(db, admin, catalog, status="active", name="blog")
    only_its = renewal_invoice(db, admin, service_id)
    mixed = renewal_invoice(db, admin, service_id, extra_service_id=other_id)
    paid = renewal_invoice(db, admin, other_id)
    db.transaction(lambda session: orders.pay_invoice(session, admin, paid))

    outcome = db.transaction(lambda session: actions.perform(session, admin, "transfer", service_id, {"to": "bruno@example.com"}))
    assert "2 unpaid line(s)" in outcome.message

    assert read(db, Invoice, only_its).status == "cancelled"
    assert read(db, Invoice, mixed).status == "unpaid"
    with db.read() as session:
        mixed_lines = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == mixed)).all()
        [row] = session.exec(select(Activity).where(Activity.service_id == service_id, Activity.action == "transfer")).all()
    assert [line.service_id for line in mixed_lines] == [other_id]
    assert {entry["invoice"] for entry in row.details["cancelled"]} == {only_its, mixed}
    assert all(Decimal(entry["amount"]) == Decimal("12.00") for entry in row.details["cancelled"])
    assert read(db, Invoice, paid).status == "paid"


def test_transfer_refuses_abuse_a_busy_service_itself_and_a_bad_target(db, admin, catalog, bruno, cli, frozen):
    service_id = new_service(db, admin, catalog, status="suspended")
    set_fields(db, service_id, suspend_kind="abuse")
    with pytest.raises(TransitionRefused, match="suspended as abuse"):
        db.transaction(lambda session: actions.perform(session, admin, "transfer", service_id, {"to": str(bruno)}))

    set_fields(db, service_id, suspend_kind="admin", operation="renewal")
    result = cli("services", "transfer", str(service_id), "--to", str(bruno))
    assert result.exit_code == 1 and "an operation is in progress: renewal" in result.stderr

    set_fields(db, service_id, operation=None)
    with pytest.raises(TransitionRefused, match=r"belongs to alice@example\.com already"):
        db.transaction(lambda session: actions.perform(session, admin, "transfer", service_id, {"to": "alice@example.com"}))

    for bad in ("nobody@example.com", ""):
        result = cli("services", "transfer", str(service_id), "--to", bad)
        assert result.exit_code == 2, result.stderr
        [line] = [text for text in result.stderr.splitlines() if text.strip()]
        assert "--to" in line and "Traceback" not in result.stderr
    with pytest.raises(InvalidInput, match="--to"):
        actions.validate_params("transfer", {"to": "  "})
    assert read(db, Service, service_id).customer_id == catalog.customer_id


def test_a_viewer_may_not_transfer(db, admin, catalog, bruno, cli, frozen):
    from tests.conftest import make_actor

    service_id = new_service(db, admin, catalog, status="active")
    viewer = make_actor(db, "vera", "viewer")
    with pytest.raises(Exception, match="operator"):
        db.transaction(lambda session: actions.perform(session, viewer, "transfer", service_id, {"to": str(bruno)}))
    assert read(db, Service, service_id).customer_id == catalog.customer_id


def delivered_scripted(db, admin, scripted):
    draft = records.ServiceDraft(
        customer=str(scripted.customer_id), name="game", product=str(scripted.product_id), server=str(scripted.server_id), expires="2027-01-31"
    )
    service_id = db.transaction(lambda session: records.create_service(session, admin, draft)).id
    db.transaction(lambda session: actions.perform(session, admin, "deliver", service_id, {}))
    jobs.run_jobs(db, jobs.due_job_ids(db))
    assert read(db, Service, service_id).status == "active"
    return service_id


def test_a_held_service_changes_owner_on_its_panel_through_the_queue(db, admin, scripted, frozen):
    service_id = delivered_scripted(db, admin, scripted)
    greta = db.transaction(lambda session: catalog_core.add_customer(session, admin, name="Greta Keller", email="greta@example.com")).id
    outcome = db.transaction(lambda session: actions.perform(session, admin, "transfer", service_id, {"to": "greta@example.com"}))
    assert outcome.result == "queued"
    assert read(db, Service, service_id).operation == "transfer"
    with pytest.raises(TransitionRefused, match="in progress: transfer"):
        db.transaction(lambda session: actions.perform(session, admin, "suspend", service_id, {"kind": "admin"}))

    [done] = jobs.run_jobs(db, jobs.due_job_ids(db))
    assert done.status == "succeeded", done.message
    service = read(db, Service, service_id)
    assert (service.customer_id, service.operation, service.external.get("owner")) == (greta, None, "greta@example.com")
    assert scripted.script.count("transfer", service_id) == 1


def test_the_queued_transfer_is_rechecked_when_it_runs(db, admin, scripted, frozen):
    """Suspended for abuse between the queueing and the run: no panel call, the owner stays."""
    service_id = delivered_scripted(db, admin, scripted)
    db.transaction(lambda session: catalog_core.add_customer(session, admin, name="Greta Keller", email="greta@example.com"))
    db.transaction(lambda session: actions.perform(session, admin, "transfer", service_id, {"to": "greta@example.com"}))
    set_fields(db, service_id, status="suspended", suspend_kind="abuse", suspended_at=clock.now())

    [ended] = jobs.run_jobs(db, jobs.due_job_ids(db))
    assert ended.status == "resolved"
    assert "suspended (abuse)" in ended.message
    assert scripted.script.count("transfer", service_id) == 0
    service = read(db, Service, service_id)
    assert (service.customer_id, service.operation) == (scripted.customer_id, None)
    with db.read() as session:
        assert session.exec(select(Job.status).where(Job.service_id == service_id, Job.action == "transfer")).one() == "resolved"
        assert session.exec(select(Customer).where(col(Customer.email) == "greta@example.com")).one() is not None
