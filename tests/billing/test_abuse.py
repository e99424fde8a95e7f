"""Abuse reports (issue 16 item 9): `services abuse ID --note`; at the setting `abuse_limit` open
reports an active service is suspended at once with kind abuse (module call, customer notice);
0 = never; closed reports stop counting."""

from __future__ import annotations

import json

import pytest

from svcconsole.core import abuse
from svcconsole.core.errors import InvalidInput, PermissionDenied
from svcconsole.store.models import AbuseReport, Activity, Notification, Service
from tests.billing.conftest import RecordingPanel, count, rows, service, set_setting
from tests.conftest import make_actor, new_service


@pytest.fixture
def live(db, admin, catalog, panel, cli, frozen):
    invoice_id = int(cli("orders", "create", "--customer", "alice@example.com", "--product", "Panel S", "--name", "mc").stdout)
    assert cli("invoices", "pay", str(invoice_id)).exit_code == 0
    [served] = rows(db, Service)
    assert served.status == "active"
    RecordingPanel.calls.clear()
    return served.id


def test_reports_below_the_limit_only_count(db, live, cli):
    set_setting(db, "abuse_limit", "2")
    result = cli("services", "abuse", str(live), "--note", "phishing page", "--format", "json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert (record["open_reports"], record["abuse_limit"], record["suspended"], record["status"]) == (1, 2, False, "active")
    assert RecordingPanel.calls == []
    assert count(db, Activity, Activity.action == "abuse_report") == 1


def test_the_limit_suspends_for_abuse_with_the_module_and_a_notice(db, live, cli):
    set_setting(db, "abuse_limit", "2")
    cli("services", "abuse", str(live), "--note", "phishing page")
    result = cli("services", "abuse", str(live), "--note", "spam relay", "--format", "json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert (record["open_reports"], record["suspended"], record["status"]) == (2, True, "suspended")
    after = service(db, live)
    assert (after.status, after.suspend_kind) == ("suspended", "abuse") and "abuse limit reached" in after.suspend_reason
    assert [call[0] for call in RecordingPanel.calls] == ["suspend"]
    assert count(db, Notification, Notification.template == "suspended") == 1


def test_a_limit_of_zero_never_suspends_and_closed_reports_do_not_count(db, live, cli):
    for index in range(3):
        cli("services", "abuse", str(live), "--note", f"report {index}")
    assert service(db, live).status == "active"
    first = min(row.id for row in rows(db, AbuseReport))
    assert cli("services", "abuse", str(live), "--close", str(first)).exit_code == 0
    set_setting(db, "abuse_limit", "3")
    assert service(db, live).status == "active"
    cli("services", "abuse", str(live), "--note", "third open")
    assert service(db, live).status == "suspended"
    listed = json.loads(cli("services", "abuse", str(live), "--list", "--format", "json").stdout)
    assert len(listed) == 4 and sum(1 for row in listed if row["closed_at"]) == 1
    again = cli("services", "abuse", str(live), "--close", str(first))
    assert again.exit_code == 1 and "closed already" in again.stderr


def test_a_suspended_service_gets_reports_but_no_second_suspension(db, admin, catalog, frozen):
    set_setting(db, "abuse_limit", "1")
    service_id = new_service(db, admin, catalog, status="suspended")
    result = db.transaction(lambda session: abuse.report(session, admin, service_id, "still abusing"))
    assert result.open_reports == 1 and result.suspension is None
    assert service(db, service_id).suspend_kind != "abuse"


def test_bad_input_is_one_line_naming_the_field_and_writes_nothing(db, admin, catalog, cli, frozen):
    service_id = new_service(db, admin, catalog, status="active")
    empty = cli("services", "abuse", str(service_id), "--note", "  ")
    assert empty.exit_code == 2 and empty.stderr.strip().count("\n") == 0 and "--note" in empty.stderr
    both = cli("services", "abuse", str(service_id), "--note", "x", "--list")
    assert both.exit_code == 2 and "--note" in both.stderr
    missing = cli("services", "abuse", str(service_id), "--close", "99")
    assert missing.exit_code == 1 and "no abuse report 99" in missing.stderr
    assert count(db, AbuseReport) == 0
    with pytest.raises(InvalidInput):
        db.transaction(lambda session: abuse.report(session, admin, service_id, "x" * 2001))


def test_a_viewer_cannot_report(db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog, status="active")
    viewer = make_actor(db, "vera", "viewer")
    with pytest.raises(PermissionDenied):
        db.transaction(lambda session: abuse.report(session, viewer, service_id, "x"))
    assert count(db, AbuseReport) == 0


def test_the_customer_never_sees_the_notes_of_the_reports(db, live, cli):
    set_setting(db, "abuse_limit", "1")
    cli("services", "abuse", str(live), "--note", "reported by ops@isp.example: botnet C2")
    assert service(db, live).suspend_kind == "abuse"
    [notice] = rows(db, Notification, Notification.template == "suspended")
    assert "botnet" not in notice.body and "isp.example" not in notice.body and "abuse limit reached" in notice.body
