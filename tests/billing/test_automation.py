"""The automation run: each step's rule at its boundaries, re-runs, dry runs, --at, jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from svcconsole.core import automation, automation_report, clock
from svcconsole.modules.base import ModuleError
from svcconsole.store.models import Activity, Invoice, InvoiceLine, Job, Notification, Renewal, Service
from tests.billing.conftest import NOW, RecordingPanel, act, active_service, count, rows, service, set_setting

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def run(db, admin, moment: datetime = NOW, **options) -> automation_report.AutomationReport:  # type: ignore[no-untyped-def]
    with clock.frozen_at(moment):
        return automation.run(db, admin, **options)


def step(report: automation_report.AutomationReport, number: int) -> automation_report.StepReport:
    return next(item for item in report.steps if item.number == number)


def touched(report: automation_report.AutomationReport, number: int) -> list[int | None]:
    return [item.service_id for item in step(report, number).items]


# ----------------------------------------------------------------------------- 1. renewal invoices


BEFORE_AND_AFTER = {"the day before": DAY, "a second before": SECOND, "the moment of": timedelta(0), "the day after": -DAY}
PAST_THE_LIMIT = {"the day before": DAY, "at the limit": timedelta(0), "a second past": -SECOND, "the day after": -DAY}


def test_step1_invoices_at_invoice_generation_days_before_expiry(db, admin, catalog, frozen):
    expiries = {label: NOW + timedelta(days=7) + offset for label, offset in BEFORE_AND_AFTER.items()}
    ids = {label: active_service(db, admin, catalog, expires=expiry, name=label) for label, expiry in expiries.items()}
    report = run(db, admin)
    invoiced = {label for label, service_id in ids.items() if service_id in touched(report, 1)}
    assert invoiced == {"the moment of", "the day after"}
    lines = {line.service_id: line for line in rows(db, InvoiceLine)}
    invoices = {invoice.id: invoice for invoice in rows(db, Invoice)}
    for label in invoiced:
        line = lines[ids[label]]
        assert (line.period_start, line.amount) == (expiries[label], Decimal("12.00"))
        assert (invoices[line.invoice_id].due_at, invoices[line.invoice_id].status) == (expiries[label], "unpaid")
    mails = rows(db, Notification, Notification.template == "renewal_invoice")
    assert len(mails) == 2 and all("12.00 EUR" in mail.body for mail in mails)
    assert {row.actor_kind for row in rows(db, Activity, Activity.action == "renewal_invoiced")} == {"system"}


def test_step1_follows_the_setting(db, admin, catalog, frozen):
    set_setting(db, "invoice_generation_days", "14")
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=14))
    later = active_service(db, admin, catalog, expires=NOW + timedelta(days=14) + SECOND)
    report = run(db, admin)
    assert touched(report, 1) == [service_id]
    assert "invoice_generation_days=14" in step(report, 1).rule
    assert later not in touched(report, 1)


def test_step1_skips_services_that_must_not_be_invoiced(db, admin, catalog, cli, frozen):
    expiry = NOW + timedelta(days=3)
    cancelling = active_service(db, admin, catalog, expires=expiry, name="cancelling")
    assert cli("services", "cancel", str(cancelling), "--mode", "end-of-cycle").exit_code == 0
    manual_renewal = active_service(db, admin, catalog, expires=expiry, name="no auto renew")
    assert cli("services", "edit", str(manual_renewal), "--auto-renew", "false").exit_code == 0
    suspended = active_service(db, admin, catalog, expires=expiry, name="suspended")
    act(db, admin, "suspend", suspended, {"kind": "admin"})
    one_time = active_service(db, admin, catalog, expires=expiry, name="one time", cycle="monthly")
    assert cli("services", "edit", str(one_time), "--cycle", "onetime").exit_code == 0
    billed = active_service(db, admin, catalog, expires=expiry, name="billed")
    report = run(db, admin)
    assert touched(report, 1) == [billed]


def test_step1_never_bills_a_period_twice_even_after_the_invoice_was_cancelled(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=5))
    run(db, admin)
    run(db, admin)
    [invoice] = rows(db, Invoice)
    assert cli("invoices", "cancel", str(invoice.id)).exit_code == 0
    third = run(db, admin, NOW + timedelta(hours=3))
    assert touched(third, 1) == []
    assert count(db, Invoice) == 1
    assert cli("invoices", "list", "--service", str(service_id), "--format", "ids").lines == [str(invoice.id)]


def test_a_period_whose_invoice_an_admin_cancelled_is_suspended_saying_no_invoice_is_open(db, admin, catalog, cli, frozen):
    expiry = NOW + timedelta(days=5)
    service_id = active_service(db, admin, catalog, expires=expiry)
    unpaid = active_service(db, admin, catalog, expires=expiry, name="unpaid")
    run(db, admin)
    cancelled_invoice = rows(db, Invoice)[0].id
    assert cli("invoices", "cancel", str(cancelled_invoice)).exit_code == 0
    with clock.frozen_at(expiry + timedelta(hours=1)):
        dry = cli("automation", "run", "--dry-run")
    note = f"invoice {cancelled_invoice} for this period was cancelled and none is open (bill it again: services renew {service_id} --invoice new)"
    [line] = [line for line in dry.lines if line.startswith(f"step 3  service {service_id} ")]
    assert "would: ok" in line and note in line
    assert any(line.startswith(f"step 3  service {unpaid} ") and "invoice 2 is unpaid" in line for line in dry.lines)

    report = run(db, admin, expiry + timedelta(hours=1))

    assert touched(report, 1) == []
    [item] = [item for item in step(report, 3).items if item.service_id == service_id]
    assert note in item.message
    assert service(db, service_id).suspend_kind == "overdue"
    [mail] = rows(db, Notification, Notification.template == "suspended", Notification.service_id == service_id)
    assert f"Invoice #{cancelled_invoice} for this period was cancelled and no invoice is open: contact us to renew it for 12.00 EUR." in mail.body
    with clock.frozen_at(expiry + timedelta(days=1)):
        assert cli("services", "renew", str(service_id), "--invoice", "new").exit_code == 0
        rebilled = rows(db, Invoice)[-1].id
        assert cli("invoices", "pay", str(rebilled)).exit_code == 0
    assert (service(db, service_id).status, service(db, service_id).expires_at) == ("active", expiry + timedelta(days=30))


def test_step1_bills_the_next_period_once_the_invoice_is_paid(db, admin, catalog, cli, frozen):
    expiry = NOW + timedelta(days=5)
    service_id = active_service(db, admin, catalog, expires=expiry, cycle="weekly")
    run(db, admin)
    [invoice] = rows(db, Invoice)
    assert cli("invoices", "pay", str(invoice.id)).exit_code == 0
    assert service(db, service_id).expires_at == expiry + timedelta(days=7)
    assert touched(run(db, admin), 1) == []
    report = run(db, admin, expiry)
    assert touched(report, 1) == [service_id]
    assert [line.period_start for line in rows(db, InvoiceLine)] == [expiry, expiry + timedelta(days=7)]


def test_step1_renews_a_free_service_at_once(db, admin, catalog, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=2), price="0.00")
    report = run(db, admin)
    assert "nothing to pay, renewed at once" in step(report, 1).items[0].message
    assert rows(db, Invoice)[0].status == "paid"
    assert service(db, service_id).expires_at == NOW + timedelta(days=2 + 30)
    assert count(db, Renewal) == 1


def test_step1_reports_a_renewal_limit_as_skipped(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=2))
    assert cli("services", "meta", str(service_id), "set", "max_renewals", "0").exit_code == 0
    report = run(db, admin)
    [item] = step(report, 1).items
    assert (item.service_id, item.outcome) == (service_id, "skipped")
    assert "max_renewals=0" in item.message
    assert count(db, Invoice) == 0
    assert report.exit_code == 0


# ----------------------------------------------------------------------------- 2. expiry notices


def test_step2_expiry_notices_through_time(db, admin, catalog, frozen):
    expiry = NOW + timedelta(days=8)
    service_id = active_service(db, admin, catalog, expires=expiry)
    sent_days = []
    for moment in (
        expiry - 8 * DAY,
        expiry - 7 * DAY - SECOND,
        expiry - 7 * DAY,
        expiry - 6 * DAY,
        expiry - 3 * DAY,
        expiry - 2 * DAY,
        expiry - DAY,
        expiry - SECOND,
        expiry,
        expiry + DAY,
    ):
        report = run(db, admin, moment)
        if service_id in touched(report, 2):
            sent_days.append((moment, rows(db, Notification, Notification.template == "expiry_notice")[-1].dedupe_key))
    assert [moment for moment, _ in sent_days] == [expiry - 7 * DAY, expiry - 3 * DAY, expiry - DAY]
    assert [key.rsplit(":", 1)[1] for _, key in sent_days] == ["7", "3", "1"]
    notices = rows(db, Notification, Notification.template == "expiry_notice")
    assert len(notices) == 3
    assert "expires on 2026-11-29, in 7 days." in notices[0].body
    assert "expires on 2026-11-29, in 3 days." in notices[1].body
    assert "expires on 2026-11-29, tomorrow." in notices[2].body
    assert "12.00 EUR" in notices[1].body


def test_step2_says_the_local_calendar_days_left_not_the_threshold(db, admin, catalog, frozen):
    set_setting(db, "timezone", "Europe/Paris")
    midnight_paris = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    service_id = active_service(db, admin, catalog, expires=midnight_paris, at=datetime(2026, 10, 1, tzinfo=UTC))
    report = run(db, admin, datetime(2026, 10, 30, 8, 0, tzinfo=UTC))
    assert touched(report, 2) == [service_id]
    [notice] = rows(db, Notification, Notification.template == "expiry_notice")
    assert notice.dedupe_key.endswith(":3")
    assert notice.subject == "Your service svc expires on 2026-11-01"
    assert "expires on 2026-11-01, in 2 days. Renew it for 12.00 EUR" in notice.body
    run(db, admin, datetime(2026, 10, 31, 22, 30, tzinfo=UTC))
    assert "expires on 2026-11-01, tomorrow." in rows(db, Notification, Notification.template == "expiry_notice")[-1].body


def test_step2_a_late_first_run_sends_only_the_tightest_notice(db, admin, catalog, frozen):
    active_service(db, admin, catalog, expires=NOW + timedelta(hours=30))
    run(db, admin)
    [notice] = rows(db, Notification, Notification.template == "expiry_notice")
    assert notice.dedupe_key.endswith(":3")


def test_step2_honours_disable_notify_expiration_and_the_setting(db, admin, catalog, cli, frozen):
    set_setting(db, "expiry_notice_days", "5")
    quiet = active_service(db, admin, catalog, expires=NOW + timedelta(days=4), name="quiet")
    assert cli("services", "meta", str(quiet), "set", "disable_notify_expiration", "true").exit_code == 0
    loud = active_service(db, admin, catalog, expires=NOW + timedelta(days=4), name="loud")
    too_early = active_service(db, admin, catalog, expires=NOW + timedelta(days=6), name="early")
    report = run(db, admin)
    assert touched(report, 2) == [loud]
    assert "expiry_notice_days=5" in step(report, 2).rule
    assert too_early not in touched(report, 2)
    assert cli("services", "meta", str(quiet), "set", "disable_notify_expiration", "false").exit_code == 0
    assert touched(run(db, admin), 2) == [quiet]


# ----------------------------------------------------------------------------- 3. suspend overdue


def test_step3_suspends_active_services_expired_for_more_than_suspend_after_days(db, admin, catalog, frozen):
    set_setting(db, "suspend_after_days", "2")
    ids = {
        label: active_service(db, admin, catalog, expires=NOW - timedelta(days=2) + offset, at=NOW - timedelta(days=40), name=label)
        for label, offset in PAST_THE_LIMIT.items()
    }
    report = run(db, admin)
    suspended = {label for label, service_id in ids.items() if service(db, service_id).status == "suspended"}
    assert suspended == {"a second past", "the day after"}
    for label in suspended:
        after = service(db, ids[label])
        assert after.suspend_kind == "overdue" and after.suspend_reason.startswith("overdue: expired")
    assert all("suspend_after_days=2" in item.message for item in step(report, 3).items)
    assert count(db, Notification, Notification.template == "suspended") == 2
    assert {row.actor for row in rows(db, Activity, Activity.action == "suspend")} == {"automation"}


def test_step3_default_suspends_on_the_day_of_expiry(db, admin, catalog, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW - timedelta(hours=12), at=NOW - timedelta(days=40))
    tomorrow = active_service(db, admin, catalog, expires=NOW + timedelta(hours=12), at=NOW - timedelta(days=40))
    run(db, admin)
    assert service(db, service_id).status == "suspended"
    assert service(db, tomorrow).status == "active"


# ----------------------------------------------------------------------------- 4. expire


def test_step4_expires_services_suspended_as_overdue_for_more_than_terminate_after_days(db, admin, catalog, frozen):
    ids = {}
    for label, offset in PAST_THE_LIMIT.items():
        expiry = NOW - timedelta(days=7) + offset
        ids[label] = active_service(db, admin, catalog, expires=expiry, at=NOW - timedelta(days=60), name=label)
        act(db, admin, "suspend", ids[label], {"kind": "overdue"}, at=expiry + timedelta(hours=1))
    report = run(db, admin)
    expired = {label for label, service_id in ids.items() if service(db, service_id).status == "expired"}
    assert expired == {"a second past", "the day after"}
    assert all("terminate_after_days=7" in item.message for item in step(report, 4).items)


def test_paying_a_renewal_that_still_ends_in_the_past_keeps_the_overdue_suspension(db, admin, catalog, cli, frozen):
    set_setting(db, "renewal_grace_days", "90")
    set_setting(db, "terminate_after_days", "90")
    expiry = NOW - timedelta(days=45)
    service_id = active_service(db, admin, catalog, expires=expiry, at=NOW - timedelta(days=60))
    report = run(db, admin, expiry + timedelta(hours=1))
    assert (touched(report, 1), touched(report, 3)) == ([service_id], [service_id])
    assert service(db, service_id).suspend_kind == "overdue"

    paid = cli("invoices", "pay", str(rows(db, Invoice)[0].id))

    assert paid.exit_code == 0, paid.stderr
    after = service(db, service_id)
    assert after.expires_at == datetime(2026, 11, 7, 12, tzinfo=UTC) < NOW
    assert (after.status, after.suspend_kind) == ("suspended", "overdue")
    assert count(db, Renewal) == 1
    assert count(db, Notification, Notification.template == "unsuspended") == 0
    assert touched(run(db, admin), 3) == []

    assert cli("services", "renew", str(service_id), "--invoice", "new").exit_code == 0
    assert cli("invoices", "pay", str(rows(db, Invoice)[-1].id)).exit_code == 0
    after = service(db, service_id)
    assert (after.status, after.suspend_kind, after.expires_at) == ("active", None, datetime(2026, 12, 7, 12, tzinfo=UTC))


def test_step4_leaves_other_suspensions_alone(db, admin, catalog, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW - timedelta(days=30), at=NOW - timedelta(days=60))
    act(db, admin, "suspend", service_id, {"kind": "abuse"}, at=NOW - timedelta(days=29))
    run(db, admin)
    assert service(db, service_id).status == "suspended"


def test_overdue_suspension_then_expiry_over_the_days(db, admin, catalog, frozen):
    expiry = NOW + timedelta(hours=6)
    service_id = active_service(db, admin, catalog, expires=expiry, at=NOW - timedelta(days=20))
    statuses = []
    for moment in (NOW, expiry + timedelta(minutes=5), expiry + 7 * DAY, expiry + 7 * DAY + timedelta(minutes=10)):
        run(db, admin, moment)
        statuses.append(service(db, service_id).status)
    assert statuses == ["active", "suspended", "suspended", "expired"]


# ----------------------------------------------------------------------------- onetime and free services


NEVER_RENEWED = ("onetime", "free")
AROUND = {"the day before": DAY, "the day of": timedelta(0), "a second after": -SECOND, "the day after": -DAY}


def test_step2_sends_no_expiry_notice_to_onetime_or_free_services(db, admin, catalog, frozen):
    expiries = {"7 days": NOW + 7 * DAY, "3 days": NOW + 3 * DAY, "1 day": NOW + DAY, "a second past 7 days": NOW + 7 * DAY + SECOND}
    ids = {}
    for cycle in (*NEVER_RENEWED, "monthly"):
        for label, expiry in expiries.items():
            ids[(cycle, label)] = active_service(
                db, admin, catalog, expires=expiry, cycle=cycle, price="0.00" if cycle == "free" else "12.00", name=f"{cycle} {label}"
            )
    report = run(db, admin)
    warned = {key for key, service_id in ids.items() if service_id in touched(report, 2)}
    assert warned == {("monthly", "7 days"), ("monthly", "3 days"), ("monthly", "1 day")}
    assert [row.service_id for row in rows(db, Notification, Notification.template == "expiry_notice")] == sorted(ids[key] for key in warned)
    assert "active recurring services" in step(report, 2).rule


def test_step3_never_suspends_onetime_or_free_services_as_overdue(db, admin, catalog, frozen):
    ids = {}
    for cycle in (*NEVER_RENEWED, "monthly"):
        for label, offset in AROUND.items():
            ids[(cycle, label)] = active_service(
                db,
                admin,
                catalog,
                expires=NOW + offset,
                at=NOW - timedelta(days=40),
                cycle=cycle,
                price="0.00" if cycle == "free" else "12.00",
                name=f"{cycle} {label}",
            )
    report = run(db, admin)
    suspended = {key for key, service_id in ids.items() if service(db, service_id).status == "suspended"}
    assert suspended == {("monthly", "a second after"), ("monthly", "the day after")}
    assert sorted(touched(report, 3)) == sorted(ids[key] for key in suspended)
    assert "active recurring services" in step(report, 3).rule


def test_step4_never_expires_onetime_or_free_services(db, admin, catalog, frozen):
    ids = {}
    for cycle in (*NEVER_RENEWED, "monthly"):
        for label, offset in PAST_THE_LIMIT.items():
            expiry = NOW - timedelta(days=7) + offset
            ids[(cycle, label)] = active_service(
                db,
                admin,
                catalog,
                expires=expiry,
                at=NOW - timedelta(days=60),
                cycle=cycle,
                price="0.00" if cycle == "free" else "12.00",
                name=f"{cycle} {label}",
            )
            act(db, admin, "suspend", ids[(cycle, label)], {"kind": "overdue"}, at=expiry + timedelta(hours=1))
    report = run(db, admin)
    expired = {key for key, service_id in ids.items() if service(db, service_id).status == "expired"}
    assert expired == {("monthly", "a second past"), ("monthly", "the day after")}
    assert sorted(touched(report, 4)) == sorted(ids[key] for key in expired)


def test_a_free_service_with_an_expiry_is_left_alone_unless_cancelled_at_the_end_of_its_cycle(db, admin, catalog, cli):
    with clock.frozen_at(datetime(2026, 10, 20, 12, tzinfo=UTC)):
        created = cli(
            "services",
            "create",
            "--customer",
            "alice@example.com",
            "--name",
            "trial",
            "--type",
            "manual",
            "--cycle",
            "free",
            "--price",
            "0",
            "--expires",
            "2026-11-01",
            "--deliver",
        )
        assert created.exit_code == 0, created.stderr
        ending = cli(
            "services",
            "create",
            "--customer",
            "alice@example.com",
            "--name",
            "ending",
            "--type",
            "manual",
            "--cycle",
            "onetime",
            "--price",
            "30",
            "--expires",
            "2026-11-01",
            "--deliver",
        )
        assert cli("services", "cancel", ending.stdout.strip(), "--mode", "end-of-cycle").exit_code == 0
    trial, ending_id = int(created.stdout), int(ending.stdout)
    for moment in ("2026-10-25", "2026-10-31", "2026-11-01", "2026-11-03", "2026-11-20"):
        with clock.frozen_at(datetime.fromisoformat(moment).replace(tzinfo=UTC)):
            dry = cli("automation", "run", "--dry-run")
        assert dry.exit_code == 0, dry.stderr
        assert not any(f"service {trial} " in line for line in dry.lines), (moment, dry.stdout)
    with clock.frozen_at(datetime(2026, 11, 3, tzinfo=UTC)):
        real = cli("automation", "run")
    assert real.exit_code == 0, real.stderr
    assert (service(db, trial).status, service(db, ending_id).status) == ("active", "cancelled")
    assert any(line.startswith(f"step 5  service {ending_id} ") for line in real.lines)
    assert count(db, Invoice) == 0


# ----------------------------------------------------------------------------- 5. end-of-cycle cancellations


def test_step5_cancels_when_cancel_at_has_come(db, admin, catalog, frozen):
    ids = {}
    for label, offset in BEFORE_AND_AFTER.items():
        ids[label] = active_service(db, admin, catalog, expires=NOW + offset, at=NOW - timedelta(days=20), name=label)
        act(db, admin, "cancel-end-of-cycle", ids[label], {"reason": "moving away"}, at=NOW - timedelta(days=10))
    report = run(db, admin)
    statuses = {label: service(db, service_id).status for label, service_id in ids.items()}
    assert statuses == {"the day before": "active", "a second before": "active", "the moment of": "cancelled", "the day after": "cancelled"}
    assert service(db, ids["the day after"]).cancel_reason == "end of cycle: moving away"
    assert touched(report, 3) == []
    assert count(db, Notification, Notification.template == "cancelled") == 2


# ----------------------------------------------------------------------------- 6. hide old services


def test_step6_hides_cancelled_services_after_delete_after_days(db, admin, catalog, frozen):
    ids = {}
    for label, offset in PAST_THE_LIMIT.items():
        ids[label] = active_service(db, admin, catalog, expires=NOW - timedelta(days=120), at=NOW - timedelta(days=200), name=label)
        act(db, admin, "cancel-immediately", ids[label], {"reason": "left"}, at=NOW - timedelta(days=90) + offset)
    report = run(db, admin)
    hidden = {label for label, service_id in ids.items() if service(db, service_id).status == "deleted"}
    assert hidden == {"a second past", "the day after"}
    assert all(service(db, ids[label]).deleted_at == NOW for label in hidden)
    assert all("delete_after_days=90" in item.message for item in step(report, 6).items)


def test_step6_hides_an_expired_service_only_once_its_90th_day_has_passed(db, admin, catalog, frozen):
    ids = {}
    for label, offset in PAST_THE_LIMIT.items():
        expiry = NOW - timedelta(days=90) + offset
        ids[label] = active_service(db, admin, catalog, expires=expiry, at=expiry - timedelta(days=30), name=label)
        act(db, admin, "suspend", ids[label], {"kind": "overdue"}, at=expiry + timedelta(hours=1))
        act(db, admin, "expire", ids[label], at=expiry + timedelta(days=8))
    report = run(db, admin)
    hidden = {label for label, service_id in ids.items() if service(db, service_id).status == "deleted"}
    assert hidden == {"a second past", "the day after"}
    assert service(db, ids["at the limit"]).status == "expired"
    assert sorted(touched(report, 6)) == sorted(ids[label] for label in hidden)
    assert all("expired since" in item.message and "delete_after_days=90" in item.message for item in step(report, 6).items)
    assert touched(run(db, admin, NOW + SECOND), 6) == [ids["at the limit"]]


def test_step6_hides_expired_services_by_their_expiry_and_never_with_zero(db, admin, catalog, frozen):
    old = active_service(db, admin, catalog, expires=NOW - timedelta(days=91), at=NOW - timedelta(days=200), name="old")
    recent = active_service(db, admin, catalog, expires=NOW - timedelta(days=89), at=NOW - timedelta(days=200), name="recent")
    for service_id in (old, recent):
        act(db, admin, "suspend", service_id, {"kind": "overdue"}, at=NOW - timedelta(days=88))
        act(db, admin, "expire", service_id, at=NOW - timedelta(days=80))
    set_setting(db, "delete_after_days", "0")
    report = run(db, admin)
    assert touched(report, 6) == [] and "never" in step(report, 6).rule
    set_setting(db, "delete_after_days", "90")
    report = run(db, admin)
    assert touched(report, 6) == [old]
    assert (service(db, old).status, service(db, recent).status) == ("deleted", "expired")


# ----------------------------------------------------------------------------- the whole run


def snapshot(db) -> dict[str, object]:  # type: ignore[no-untyped-def]
    state: dict[str, object] = {}
    for model in (Invoice, InvoiceLine, Notification, Renewal, Activity, Job):
        state[model.__tablename__] = count(db, model)
    state["services"] = [(row.id, row.status, row.expires_at, row.suspend_kind, row.operation, row.version) for row in rows(db, Service)]
    return state


def busy_day(db, admin, catalog, cli) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """One service due for each of the six service steps."""
    ids = {
        "invoice": active_service(db, admin, catalog, expires=NOW + timedelta(days=6), name="invoice", at=NOW - timedelta(days=10)),
        "notice": active_service(db, admin, catalog, expires=NOW + timedelta(days=2, hours=12), name="notice", at=NOW - timedelta(days=10)),
        "suspend": active_service(db, admin, catalog, expires=NOW - timedelta(hours=1), name="suspend", at=NOW - timedelta(days=40)),
        "expire": active_service(db, admin, catalog, expires=NOW - timedelta(days=10), name="expire", at=NOW - timedelta(days=40)),
        "cancel": active_service(db, admin, catalog, expires=NOW - timedelta(minutes=1), name="cancel", at=NOW - timedelta(days=40)),
        "hide": active_service(db, admin, catalog, expires=NOW - timedelta(days=120), name="hide", at=NOW - timedelta(days=200)),
    }
    act(db, admin, "suspend", ids["expire"], {"kind": "overdue"}, at=NOW - timedelta(days=9))
    act(db, admin, "cancel-end-of-cycle", ids["cancel"], at=NOW - timedelta(days=3))
    act(db, admin, "cancel-immediately", ids["hide"], at=NOW - timedelta(days=100))
    return ids


def test_dry_run_lists_every_service_it_would_touch_and_changes_nothing(db, admin, catalog, cli, frozen):
    ids = busy_day(db, admin, catalog, cli)
    before = snapshot(db)

    dry = cli("automation", "run", "--dry-run")

    assert dry.exit_code == 0, dry.stderr
    assert snapshot(db) == before
    assert (
        "settings in force: invoice_generation_days=7 expiry_notice_days=7,3,1 suspend_after_days=0 terminate_after_days=7 delete_after_days=90" in dry.stderr
    )
    expected = {1: ids["invoice"], 2: ids["notice"], 3: ids["suspend"], 4: ids["expire"], 5: ids["cancel"], 6: ids["hide"]}
    for number, service_id in expected.items():
        assert any(line.startswith(f"step {number}  service {service_id} ") and "would: ok" in line for line in dry.lines), (number, dry.stdout)
    assert "step 3 suspend overdue: would touch 1" in dry.stderr

    real = cli("automation", "run")

    assert real.exit_code == 0, real.stderr
    done = {(int(line.split()[1]), int(line.split()[3])) for line in real.lines if line.split()[2] == "service" and int(line.split()[1]) <= 6}
    would = {(int(line.split()[1]), int(line.split()[3])) for line in dry.lines if line.split()[2] == "service" and int(line.split()[1]) <= 6}
    assert done == would
    statuses = {name: service(db, service_id).status for name, service_id in ids.items()}
    assert statuses == {"invoice": "active", "notice": "active", "suspend": "suspended", "expire": "expired", "cancel": "cancelled", "hide": "deleted"}


def test_a_second_run_does_nothing_again(db, admin, catalog, cli, frozen):
    busy_day(db, admin, catalog, cli)
    run(db, admin)
    after_first = snapshot(db)
    second = run(db, admin)
    assert all(not item.items for item in second.steps if item.number <= 6)
    assert snapshot(db) == after_first


def test_at_runs_as_if_the_clock_were_then(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=datetime(2026, 12, 5, tzinfo=UTC))
    now_run = cli("automation", "run")
    assert count(db, Invoice) == 0 and now_run.exit_code == 0
    later = cli("automation", "run", "--at", "2026-11-29")
    assert later.exit_code == 0, later.stderr
    assert "at 2026-11-29T00:00:00+00:00" in later.stderr
    [line] = rows(db, InvoiceLine)
    assert line.service_id == service_id
    assert rows(db, Invoice)[0].created_at == datetime(2026, 11, 29, tzinfo=UTC)
    assert cli("automation", "run", "--at", "soon").exit_code == 2


def test_a_viewer_cannot_run_the_automation(db, admin, catalog, cli, frozen):
    from tests.conftest import make_actor

    active_service(db, admin, catalog, expires=NOW + DAY)
    make_actor(db, "vera", "viewer")
    denied = cli("--as", "vera", "automation", "run")
    assert denied.exit_code == 4
    assert count(db, Invoice) == 0


def test_json_report(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + DAY)
    result = cli("automation", "run", "--format", "json")
    import json

    report = json.loads(result.stdout)
    assert [item["step"] for item in report["steps"]] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "step 8 reconciles the panels, step 9 reads usage (none here)"
    assert report["settings"]["suspend_after_days"] == "0"
    assert report["steps"][1]["items"][0]["service_id"] == service_id


# ----------------------------------------------------------------------------- step 7: module jobs


def panel_service(db, admin, panel, expires: datetime) -> int:  # type: ignore[no-untyped-def]
    from svcconsole.core import actions, jobs, records

    draft = records.ServiceDraft(customer="alice@example.com", name="mc", product=str(panel.small), expires=expires.isoformat())
    with clock.frozen_at(NOW - timedelta(days=40)):
        service_id = db.transaction(lambda session: records.create_service(session, admin, draft)).id
        db.transaction(lambda session: actions.perform(session, admin, "deliver", service_id, {}))
        jobs.run_jobs(db, jobs.due_job_ids(db))
    return service_id


def test_step7_runs_the_module_jobs_the_steps_queued(db, admin, catalog, panel, frozen):
    service_id = panel_service(db, admin, panel, NOW - timedelta(hours=2))
    assert service(db, service_id).status == "active"
    report = run(db, admin)
    assert step(report, 3).items[0].outcome == "queued"
    assert [item.outcome for item in step(report, 7).items if item.service_id == service_id] == ["ok"]
    after = service(db, service_id)
    assert (after.status, after.suspend_kind, after.operation) == ("suspended", "overdue", None)
    assert ("suspend", service_id, None) in RecordingPanel.calls


def test_step7_a_failing_job_is_reported_and_retried_by_a_later_run(db, admin, catalog, panel, frozen):
    service_id = panel_service(db, admin, panel, NOW - timedelta(hours=2))
    RecordingPanel.failures["suspend"] = ModuleError("panel down", retryable=True)
    first = run(db, admin)
    assert [item.outcome for item in step(first, 7).items if item.service_id == service_id] == ["retry"]
    assert service(db, service_id).operation == "suspension"
    RecordingPanel.failures.clear()
    second = run(db, admin, NOW + timedelta(hours=1))
    assert [item.outcome for item in step(second, 7).items if item.service_id == service_id] == ["ok"]
    assert service(db, service_id).status == "suspended"
    RecordingPanel.failures["terminate"] = ModuleError("panel refused", retryable=False)
    third = run(db, admin, NOW + timedelta(days=8))
    assert third.exit_code == 3
    assert [item.outcome for item in step(third, 7).items if item.service_id == service_id] == ["failed"]
