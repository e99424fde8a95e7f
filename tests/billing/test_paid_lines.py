"""Paid lines not applied at payment time: step 0 applies them, steps 3 and 4 wait, a module renewal counts once done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from svcconsole.core import clock, invoices, lookups, orders
from svcconsole.modules.base import ModuleError
from svcconsole.store.models import Invoice, InvoiceLine, Job, Renewal
from tests.billing.conftest import NOW, RecordingPanel, act, active_service, count, rows, service
from tests.billing.test_automation import panel_service, run, step

HOUR = timedelta(hours=1)


def renewal_invoice(db, admin, service_id: int, *, at: datetime = NOW) -> int:  # type: ignore[no-untyped-def]
    """A new invoice billing one cycle of the service; its id."""
    with clock.frozen_at(at):
        return db.transaction(lambda session: invoices.invoice_renewal(session, admin, lookups.get_service(session, service_id), 1, "new").invoice_id)


def pay(db, admin, invoice_id: int, *, at: datetime = NOW) -> orders.PayResult:  # type: ignore[no-untyped-def]
    with clock.frozen_at(at):
        return db.transaction(lambda session: orders.pay_invoice(session, admin, invoice_id))


def outcomes(report, number: int) -> list[tuple[int | None, str]]:  # type: ignore[no-untyped-def]
    return [(item.service_id, item.outcome) for item in step(report, number).items]


# ----------------------------------------------------------------------------- finding 1


def test_a_renewal_paid_while_the_suspension_job_retries_is_applied_and_the_service_never_expires(db, admin, catalog, panel, cli, frozen):
    expiry = NOW - 2 * HOUR
    service_id = panel_service(db, admin, panel, expiry)
    invoice_id = renewal_invoice(db, admin, service_id)
    RecordingPanel.failures["suspend"] = ModuleError("panel down", retryable=True)
    run(db, admin)
    assert service(db, service_id).operation == "suspension"

    paid = cli("invoices", "pay", str(invoice_id))

    assert paid.exit_code == 3 and "an operation is in progress: suspension" in paid.stdout
    RecordingPanel.failures.clear()
    finishing = run(db, admin, NOW + HOUR)
    assert outcomes(finishing, 0) == [(service_id, "skipped")]
    assert service(db, service_id).status == "suspended"

    applying = run(db, admin, NOW + 2 * HOUR)

    assert outcomes(applying, 0) == [(service_id, "queued")]
    assert "unsuspend" in step(applying, 0).items[0].message
    [line] = rows(db, InvoiceLine)
    assert line.applied_at == NOW + 2 * HOUR and "error" not in line.details
    after = service(db, service_id)
    assert (after.status, after.operation, after.expires_at) == ("active", None, datetime(2026, 12, 21, 10, 0, tzinfo=UTC))
    assert [call[0] for call in RecordingPanel.calls if call[1] == service_id][-2:] == ["suspend", "unsuspend"]
    for days in (9, 20):
        run(db, admin, NOW + timedelta(days=days))
        assert service(db, service_id).status == "active"
    assert count(db, Renewal) == 1


def test_step4_leaves_a_service_alone_while_its_paid_renewal_waits(db, admin, catalog, frozen):
    expiry = NOW - timedelta(days=20)
    service_id = active_service(db, admin, catalog, expires=expiry, at=NOW - timedelta(days=60))
    act(db, admin, "suspend", service_id, {"kind": "overdue"}, at=expiry + HOUR)
    invoice_id = renewal_invoice(db, admin, service_id, at=expiry + 2 * HOUR)
    paid = pay(db, admin, invoice_id, at=NOW - HOUR)
    assert "renewal window closed" in paid.failed[0].message

    report = run(db, admin)

    [waiting] = step(report, 4).items
    assert (waiting.service_id, waiting.outcome) == (service_id, "skipped")
    assert f"invoice {invoice_id} is paid but its renewal" in waiting.message and "renewal window closed" in waiting.message
    assert outcomes(report, 0) == [(service_id, "skipped")]
    assert service(db, service_id).status == "suspended"
    assert report.exit_code == 0


def test_step3_leaves_a_service_alone_while_its_paid_renewal_waits(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW - HOUR, at=NOW - timedelta(days=40))
    invoice_id = renewal_invoice(db, admin, service_id, at=NOW - timedelta(days=3))
    assert cli("services", "meta", str(service_id), "set", "max_renewals", "0").exit_code == 0
    assert "max_renewals=0" in pay(db, admin, invoice_id).failed[0].message

    report = run(db, admin)

    [waiting] = step(report, 3).items
    assert waiting.outcome == "skipped" and "max_renewals=0" in waiting.message
    assert service(db, service_id).status == "active"
    assert cli("services", "meta", str(service_id), "unset", "max_renewals").exit_code == 0
    later = run(db, admin, NOW + HOUR)
    assert outcomes(later, 0) == [(service_id, "ok")] and outcomes(later, 3) == []
    assert service(db, service_id).expires_at > NOW
    again = cli("invoices", "pay", str(invoice_id))
    assert again.exit_code == 0 and "every line is applied" in again.stderr
    assert count(db, Renewal) == 1


def test_the_dry_run_shows_the_paid_line_it_would_apply_and_applies_nothing(db, admin, catalog, cli, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=20))
    invoice_id = renewal_invoice(db, admin, service_id)
    assert cli("services", "meta", str(service_id), "set", "max_renewals", "0").exit_code == 0
    pay(db, admin, invoice_id)
    assert cli("services", "meta", str(service_id), "unset", "max_renewals").exit_code == 0

    dry = cli("automation", "run", "--dry-run")

    assert dry.exit_code == 0
    assert any(line.startswith(f"step 0  service {service_id} ") and "would: ok" in line for line in dry.lines), dry.stdout
    assert "step 0 paid lines: would touch 1" in dry.stderr
    assert rows(db, InvoiceLine)[0].applied_at is None and count(db, Renewal) == 0


def test_lines_of_unpaid_invoices_and_of_ended_services_are_left_alone(db, admin, catalog, cli, frozen):
    unpaid = active_service(db, admin, catalog, expires=NOW + timedelta(days=20), name="unpaid")
    renewal_invoice(db, admin, unpaid)
    ended = active_service(db, admin, catalog, expires=NOW + timedelta(days=20), name="ended")
    invoice_id = renewal_invoice(db, admin, ended)
    assert cli("services", "terminate", str(ended), "--yes").exit_code == 0
    assert pay(db, admin, invoice_id).failed
    report = run(db, admin)
    assert step(report, 0).items == []
    assert count(db, Invoice, Invoice.status == "paid") == 1


# ----------------------------------------------------------------------------- finding 7


@pytest.fixture
def renewing_panel(panel, monkeypatch):  # type: ignore[no-untyped-def]
    """The recording panel, also carrying out renewals."""
    monkeypatch.setattr(RecordingPanel, "supports", RecordingPanel.supports | {"renew"})
    monkeypatch.setattr(RecordingPanel, "renew", lambda self, ref: self._call("renew", ref), raising=False)
    return panel


def test_a_module_renewal_counts_as_applied_only_once_its_job_succeeded(db, admin, catalog, renewing_panel, cli, frozen):
    expiry = NOW + timedelta(days=3)
    service_id = panel_service(db, admin, renewing_panel, expiry)
    invoice_id = renewal_invoice(db, admin, service_id)
    RecordingPanel.failures["renew"] = ModuleError("panel refused the renewal", retryable=False)

    paid = cli("invoices", "pay", str(invoice_id))

    assert "failed" in paid.stdout
    [line] = rows(db, InvoiceLine)
    [job] = rows(db, Job, Job.action == "renew")
    assert line.applied_at is None
    assert line.details["error"] == f"renewal job {job.id} failed: panel refused the renewal"
    assert (job.status, service(db, service_id).expires_at) == ("failed", expiry)
    report = run(db, admin)
    [waiting] = step(report, 0).items
    assert waiting.outcome == "skipped" and f"renewal job {job.id} failed: retry or resolve it" in waiting.message
    assert count(db, Job, Job.action == "renew") == 1
    assert [call[0] for call in RecordingPanel.calls].count("renew") == 1

    RecordingPanel.failures.clear()
    assert cli("jobs", "retry", str(job.id)).exit_code == 0

    [line] = rows(db, InvoiceLine)
    assert line.applied_at == NOW and "error" not in line.details
    assert service(db, service_id).expires_at == expiry + timedelta(days=30)
    assert step(run(db, admin), 0).items == []
    assert "every line is applied" in cli("invoices", "pay", str(invoice_id)).stderr


def test_a_queued_module_renewal_is_not_queued_twice_by_a_second_pay(db, admin, catalog, renewing_panel, frozen):
    service_id = panel_service(db, admin, renewing_panel, NOW + timedelta(days=3))
    invoice_id = renewal_invoice(db, admin, service_id)
    first = pay(db, admin, invoice_id)
    assert [outcome.applied for outcome in first.outcomes] == [True] and first.job_ids
    second = pay(db, admin, invoice_id)
    assert [outcome.applied for outcome in second.outcomes] == [False]
    assert "is queued" in second.outcomes[0].message
    assert count(db, Job, Job.action == "renew") == 1
