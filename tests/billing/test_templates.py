"""The body of every customer and admin mail: the service, its dates (local to the configured
time zone) and its amounts (options included), as the customer reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from svcconsole.core import automation, automation_report, clock, customer, customer_actions, health, mail_templates, orders, records, tickets
from svcconsole.modules.base import ModuleError
from svcconsole.store.models import Invoice, Notification
from tests.billing.conftest import NOW, RecordingPanel, act, active_service, iso, rows, set_setting
from tests.conftest import new_service

EXPIRY = datetime(2026, 12, 10, 23, 30, tzinfo=UTC)
DUE = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
HELLO = "Hello Alice Martin,\n\n"


@pytest.fixture
def paris(db):  # type: ignore[no-untyped-def]
    """Dates in mails are local: 23:30 UTC is the next day in Paris."""
    set_setting(db, "timezone", "Europe/Paris")


def mail(db, template: str, service_id: int | None = None) -> Notification:  # type: ignore[no-untyped-def]
    conditions = [Notification.template == template]
    if service_id is not None:
        conditions.append(Notification.service_id == service_id)
    return rows(db, Notification, *conditions)[-1]


def run_at(db, admin, moment: datetime) -> automation_report.AutomationReport:  # type: ignore[no-untyped-def]
    with clock.frozen_at(moment):
        return automation.run(db, admin)


def test_every_template_has_its_body_asserted_here():
    assert set(mail_templates.template_names()) == {
        "delivered",
        "suspended",
        "unsuspended",
        "renewal_invoice",
        "expiry_notice",
        "cancelled",
        "terminated",
        "expired",
        "manual_delivery",
        "delivery_failed",
        "health_alert",
        "reconcile_drift",
        "credentials_reset",
        "ticket_opened",
        "ticket_reply",
        "ticket_customer_message",
    }


def test_ticket_mails_quote_the_message_and_name_the_ticket(db, admin, catalog, frozen):
    set_setting(db, "admin_email", "support@hosting.example")
    service_id = new_service(db, admin, catalog, name="alice web", status="active")
    with db.read() as session:
        alice = customer.open_area(session, "alice", "alice@example.com")
    opened = db.transaction(lambda session: tickets.open_ticket(session, admin, service_id, "Maintenance", "Friday {at} 22:00."))
    db.transaction(lambda session: customer_actions.reply_ticket(session, alice, opened.ticket_id, "Fine.\nThanks"))
    db.transaction(lambda session: tickets.reply(session, admin, opened.ticket_id, "Done."))
    first, answer, staff = mail(db, "ticket_opened"), mail(db, "ticket_reply"), mail(db, "ticket_customer_message")
    assert (first.subject, answer.subject) == ("[Ticket #1] Maintenance", "[Ticket #1] Maintenance")
    assert first.body == (
        HELLO + 'Support opened ticket #1 "Maintenance" about your service #1 "alice web":\n\nFriday {at} 22:00.\n\nRead it and answer in your customer area.\n'
    )
    assert (
        answer.body
        == HELLO + 'Support answered your ticket #1 "Maintenance" about service #1 "alice web":\n\nDone.\n\nRead it and answer in your customer area.\n'
    )
    assert (staff.subject, staff.to_address) == ("Ticket #1 from Alice Martin: Maintenance", "support@hosting.example")
    assert staff.body == (
        'Alice Martin <alice@example.com> wrote in ticket #1 "Maintenance" (open) about service #1 "alice web":\n\nFine.\nThanks\n\n'
        "Answer with `svcconsole tickets reply 1 --message TEXT`, or in the console (T).\n"
    )


def test_credentials_reset_names_the_login_and_never_the_password(db, admin, scripted, cli, frozen):
    created = cli("services", "create", "--customer", "bruno@example.com", "--name", "mc", "--product", "Game 4GB", "--server", "panel-1", "--deliver")
    assert created.exit_code == 0, created.stderr
    assert cli("services", "credentials", "1", "--reset").exit_code == 0
    notice = mail(db, "credentials_reset", 1)
    assert notice.subject == "A new password for mc"
    assert notice.body == (
        'Hello Bruno Rossi,\n\nThe password of your login "user1" for service #1 "mc" was reset on 2026-11-21.\n'
        "See the new one on the service's page in your customer area.\n"
    )


def test_reconcile_drift_lists_the_new_drift_by_kind(db, admin, frozen):
    from svcconsole.core import reconcile
    from svcconsole.store.models import Drift

    def found(session):  # type: ignore[no-untyped-def]
        for kind, external in (("orphan", "7"), ("orphan", "8"), ("status", "9")):
            session.add(Drift(kind=kind, external=external, fix="by hand", first_seen=clock.now(), last_seen=clock.now()))

    db.transaction(found)
    assert reconcile.mail_new_drift(db, clock.now())
    notice = mail(db, "reconcile_drift")
    assert notice.subject == "svcconsole: 3 new drift between billing and the panels"
    assert notice.body == (
        "Reconcile found 3 new drift:\n\n- orphan: 2\n- status: 1\n\nRun `svcconsole reconcile` for the report, `svcconsole reconcile --apply` to fix it.\n"
    )
    assert not reconcile.mail_new_drift(db, clock.now() + timedelta(seconds=1)), "nothing new since then: no mail"


def test_delivered_bills_the_options_too(db, admin, catalog, paris, frozen):
    service_id = new_service(db, admin, catalog, name="shop", expires=iso(EXPIRY))
    db.transaction(lambda session: records.option_add(session, admin, service_id, name="backup", price="3.00"))
    act(db, admin, "deliver", service_id)
    notice = mail(db, "delivered", service_id)
    assert notice.subject == "Your service shop is ready"
    assert notice.body == HELLO + 'Your service #1 "shop" was delivered on 2026-11-21 and is active.\nIt renews on 2026-12-11 for 15.00 EUR (monthly).\n'


@pytest.mark.parametrize(
    ("fields", "renewal"),
    [
        ({"cycle": "onetime", "price": "30.00"}, "It was billed once (30.00 EUR) and is never renewed. It runs until 2026-12-11."),
        ({"cycle": "free", "price": "0.00", "expires": None}, "It is free and is never renewed."),
        ({"cycle": "monthly"}, "It runs until 2026-12-11; renew it for 12.00 EUR (monthly) to keep it."),
    ],
    ids=["onetime", "free", "no auto-renew"],
)
def test_delivered_says_what_happens_at_the_end_of_a_service_that_does_not_renew_itself(db, admin, catalog, cli, paris, frozen, fields, renewal):
    values = {"name": "shop", "expires": iso(EXPIRY), **fields}
    service_id = new_service(db, admin, catalog, **values)
    if fields["cycle"] == "monthly":
        assert cli("services", "edit", str(service_id), "--auto-renew", "false").exit_code == 0
    act(db, admin, "deliver", service_id)
    assert mail(db, "delivered", service_id).body == HELLO + f'Your service #1 "shop" was delivered on 2026-11-21 and is active.\n{renewal}\n'


def test_suspended_by_an_admin_names_the_reason_and_no_payment(db, admin, catalog, paris, frozen):
    service_id = active_service(db, admin, catalog, expires=EXPIRY, name="shop")
    act(db, admin, "suspend", service_id, {"kind": "abuse", "reason": "spam complaint #12", "notify": True})
    notice = mail(db, "suspended", service_id)
    assert notice.subject == "Your service shop is suspended"
    assert notice.body == HELLO + 'Your service #1 "shop" was suspended on 2026-11-21.\nReason: spam complaint #12\n'


def test_overdue_suspension_names_the_invoice_to_pay_and_the_deadlines_then_payment_reactivates(db, admin, catalog, paris, frozen):
    service_id = active_service(db, admin, catalog, expires=DUE, name="shop", at=NOW - timedelta(days=20))
    run_at(db, admin, NOW)
    invoice = mail(db, "renewal_invoice", service_id)
    assert invoice.subject == "Invoice #1 for shop"
    assert invoice.body == HELLO + 'Invoice #1 of 12.00 EUR for the renewal of service #1 "shop" (2026-11-26 to 2026-12-26) is due on 2026-11-26.\n'

    run_at(db, admin, DUE + timedelta(hours=1))

    assert mail(db, "suspended", service_id).body == HELLO + (
        'Your service #1 "shop" was suspended on 2026-11-26.\n'
        "Reason: overdue: expired 2026-11-26 00:30\n"
        "It fell due on 2026-11-26. To reactivate it, pay invoice #1 (12.00 EUR).\n"
        "It can be renewed until 2026-12-03; unless it is renewed, it is removed from its server after 2026-12-03.\n"
    )
    with clock.frozen_at(DUE + timedelta(days=1)):
        db.transaction(lambda session: orders.pay_invoice(session, admin, 1))
    notice = mail(db, "unsuspended", service_id)
    assert notice.subject == "Your service shop is active again"
    assert notice.body == HELLO + 'Your service #1 "shop" is active again since 2026-11-27.\nIt renews on 2026-12-26 for 12.00 EUR (monthly).\n'


def test_overdue_suspension_without_an_invoice_says_none_is_open(db, admin, catalog, cli, paris, frozen):
    service_id = active_service(db, admin, catalog, expires=DUE, name="shop", at=NOW - timedelta(days=20))
    assert cli("services", "edit", str(service_id), "--auto-renew", "false").exit_code == 0
    run_at(db, admin, DUE + timedelta(hours=1))
    assert "It fell due on 2026-11-26. No invoice is open for it: renew it for 12.00 EUR to reactivate it.\n" in mail(db, "suspended", service_id).body


def test_expiry_notice(db, admin, catalog, paris, frozen):
    service_id = active_service(db, admin, catalog, expires=DUE, name="shop")
    run_at(db, admin, NOW)
    notice = mail(db, "expiry_notice", service_id)
    assert notice.subject == "Your service shop expires on 2026-11-26"
    assert notice.body == HELLO + 'Your service #1 "shop" expires on 2026-11-26, in 5 days. Renew it for 12.00 EUR to keep it running.\n'


def test_cancelled_at_once_says_until_when_it_was_paid(db, admin, catalog, paris, frozen):
    service_id = active_service(db, admin, catalog, expires=EXPIRY, name="shop")
    act(db, admin, "cancel-immediately", service_id, {"reason": "moving"})
    notice = mail(db, "cancelled", service_id)
    assert notice.subject == "Your service shop is cancelled"
    assert (
        notice.body
        == HELLO
        + 'Your service #1 "shop" was cancelled on 2026-11-21. It was paid until 2026-12-11.\nIt is no longer available and will not be billed again.\n'
    )


def test_cancelled_at_the_end_of_the_cycle_says_the_period_ended(db, admin, catalog, paris, frozen):
    service_id = active_service(db, admin, catalog, expires=EXPIRY, name="shop")
    act(db, admin, "cancel-end-of-cycle", service_id)
    run_at(db, admin, EXPIRY + timedelta(hours=1))
    assert mail(db, "cancelled", service_id).body == HELLO + (
        'Your service #1 "shop" was cancelled on 2026-12-11. Its last paid period ended on 2026-12-11.\nIt is no longer available and will not be billed again.\n'
    )


def test_terminated(db, admin, catalog, paris, frozen):
    service_id = active_service(db, admin, catalog, expires=EXPIRY, name="shop")
    act(db, admin, "terminate", service_id, {"reason": "fraud"})
    notice = mail(db, "terminated", service_id)
    assert notice.subject == "Your service shop is terminated"
    assert (
        notice.body
        == HELLO
        + 'Your service #1 "shop" was terminated on 2026-11-21; its data has been removed. It was paid until 2026-12-11.\nIt will not be billed again.\n'
    )


def test_expired_by_the_automation_tells_the_customer(db, admin, catalog, panel, paris, frozen):
    draft = records.ServiceDraft(customer="alice@example.com", name="mc", product=str(panel.small), expires=iso(DUE))
    with clock.frozen_at(NOW - timedelta(days=20)):
        service_id = db.transaction(lambda session: records.create_service(session, admin, draft)).id
    act(db, admin, "deliver", service_id, at=NOW - timedelta(days=20))
    from svcconsole.core import jobs

    jobs.run_jobs(db, jobs.due_job_ids(db))
    run_at(db, admin, DUE + timedelta(hours=1))
    assert rows(db, Notification, Notification.template == "expired") == []

    report = run_at(db, admin, DUE + timedelta(days=7, hours=2))

    assert [item.service_id for step in report.steps if step.number == 4 for item in step.items] == [service_id]
    assert ("terminate", service_id, None) in RecordingPanel.calls
    notice = mail(db, "expired", service_id)
    assert notice.subject == "Your service mc has expired"
    assert notice.body == HELLO + (
        'Your service #1 "mc" expired on 2026-12-03: it fell due on 2026-11-26, was suspended as unpaid on 2026-11-26 and was not renewed. '
        "It has been removed from its server and can no longer be renewed.\n"
    )


def test_manual_delivery_tells_the_admin_what_to_do(db, admin, catalog, cli, frozen):
    set_setting(db, "admin_email", "ops@hosting.example")
    invoice_id = int(cli("orders", "create", "--customer", "alice@example.com", "--product", "Web Pro", "--name", "shop").stdout)
    assert cli("invoices", "pay", str(invoice_id)).exit_code == 0
    notice = mail(db, "manual_delivery")
    assert (notice.to_address, notice.subject) == ("ops@hosting.example", "Service #1 is paid and waits for delivery")
    assert notice.body == (
        'Invoice #1 of Alice Martin <alice@example.com> was paid. Service #1 "shop" (Web Pro) was created pending; '
        "its module delivers by hand: set it up, then run `svcconsole services deliver 1`.\n"
    )


def test_delivery_failed_tells_the_admin_the_error(db, admin, catalog, panel, cli, frozen):
    set_setting(db, "admin_email", "ops@hosting.example")
    RecordingPanel.failures["create"] = ModuleError("panel refused: no allocation left", retryable=False)
    invoice_id = int(cli("orders", "create", "--customer", "alice@example.com", "--product", "Panel S", "--name", "mc").stdout)
    cli("invoices", "pay", str(invoice_id))
    notice = mail(db, "delivery_failed")
    assert (notice.to_address, notice.subject) == ("ops@hosting.example", "Delivery of service #1 failed")
    assert notice.body == 'Service #1 "mc" of Alice Martin <alice@example.com> could not be delivered (attempt 1).\nError: panel refused: no allocation left\n'
    assert rows(db, Invoice)[0].status == "paid"


def test_health_alert_names_the_problem_and_every_other(db, admin, frozen):
    set_setting(db, "admin_email", "ops@hosting.example")
    problems = [
        health.Problem("automation", "automation: run 7 failed: RuntimeError: disk full", "run-failed:7"),
        health.Problem("mail", "mail: 2 failed mails older than a day (`svcconsole notify list --status failed`)", "failed-mails:3"),
    ]
    assert health.alert(db, problems) == 2
    notice = rows(db, Notification, Notification.dedupe_key == "health:run-failed:7")[0]
    assert (notice.to_address, notice.subject) == ("ops@hosting.example", "svcconsole: automation: run 7 failed: RuntimeError: disk full")
    assert notice.body == (
        "svcconsole needs an admin:\n\n"
        "- automation: run 7 failed: RuntimeError: disk full\n"
        "- mail: 2 failed mails older than a day (`svcconsole notify list --status failed`)\n\n"
        "Run `svcconsole health` for the figures.\n"
    )
    assert health.alert(db, problems) == 0, "an incident already mailed is not mailed again"
