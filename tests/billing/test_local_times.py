"""Times are stored in UTC and shown in the configured time zone; JSON and CSV keep ISO 8601 UTC."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from svcconsole.cli import output
from svcconsole.core import clock
from svcconsole.modules.base import ModuleError
from svcconsole.store.models import Invoice
from tests.billing.conftest import NOW, RecordingPanel, act, active_service, rows, set_setting

PARIS_MIDNIGHT = datetime(2026, 12, 4, 23, 0, tzinfo=UTC)


@pytest.fixture
def paris(db):  # type: ignore[no-untyped-def]
    set_setting(db, "timezone", "Europe/Paris")


def column(result, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The values of one column of a plain-text table (cells hold no double spaces here)."""
    header, *body = result.stdout.splitlines()
    titles = header.split()
    start = header.index(name.upper())
    end = header.index(titles[titles.index(name.upper()) + 1]) if titles.index(name.upper()) + 1 < len(titles) else None
    return [line[start:end].strip() for line in body if line.strip()]


def test_local_time_converts_moments_and_leaves_other_text_alone():
    paris = ZoneInfo("Europe/Paris")
    assert output.local_time("2026-12-04T23:00:00Z", paris) == "2026-12-05 00:00"
    assert output.local_time(datetime(2026, 7, 1, 22, 30, tzinfo=UTC), paris) == "2026-07-02 00:30"
    assert output.local_time("soon", paris) == "soon"
    assert output.local_time(None, paris) is None
    assert output.localized({"due_at": "2026-12-04T23:00:00Z", "description": "2026-12-04T23:00:00Z"}, paris) == {
        "due_at": "2026-12-05 00:00",
        "description": "2026-12-04T23:00:00Z",
    }


def test_invoices_list_shows_local_times_and_json_and_csv_keep_utc(db, admin, catalog, cli, paris, frozen):
    service_id = active_service(db, admin, catalog, expires=PARIS_MIDNIGHT)
    assert cli("services", "renew", str(service_id), "--invoice", "new").exit_code == 0

    table = cli("invoices", "list")
    as_json = json.loads(cli("invoices", "list", "--format", "json").stdout)
    as_csv = list(csv.DictReader(io.StringIO(cli("invoices", "list", "--format", "csv").stdout)))

    assert column(table, "due_at") == ["2026-12-05 00:00"]
    assert column(table, "created_at") == ["2026-11-21 13:00"]
    assert as_json[0]["due_at"] == as_csv[0]["due_at"] == "2026-12-04T23:00:00Z"
    assert as_json[0]["created_at"] == "2026-11-21T12:00:00Z"
    listed = cli("services", "list")
    assert "2026-12-05" in listed.stdout


def test_invoices_show_shows_the_invoice_and_its_lines_in_local_time(db, admin, catalog, cli, paris, frozen):
    service_id = active_service(db, admin, catalog, expires=PARIS_MIDNIGHT)
    assert cli("services", "renew", str(service_id), "--invoice", "new").exit_code == 0
    with clock.frozen_at(datetime(2026, 11, 30, 23, 15, tzinfo=UTC)):
        assert cli("invoices", "pay", "1").exit_code == 0
    shown = cli("invoices", "show", "1")
    fields = dict(line.split(None, 1) for line in shown.stdout.split("\nlines:")[0].splitlines() if line.strip())
    assert (fields["due_at"], fields["paid_at"], fields["created_at"]) == ("2026-12-05 00:00", "2026-12-01 00:15", "2026-11-21 13:00")
    assert "2026-12-01 00:15" in shown.stdout.split("\nlines:")[1]
    assert json.loads(cli("invoices", "show", "1", "--format", "json").stdout)["paid_at"] == "2026-11-30T23:15:00Z"


def test_upgrades_notifications_and_jobs_show_local_times(db, admin, catalog, panel, cli, paris):
    with clock.frozen_at(datetime(2026, 11, 21, 23, 30, tzinfo=UTC)):
        created = cli("services", "create", "--customer", "alice@example.com", "--name", "mc", "--product", "Panel S", "--expires", "2026-12-20", "--deliver")
        assert created.exit_code == 0, created.stderr
        service_id = int(created.stdout)
        assert cli("services", "upgrade", str(service_id), "--to", "Panel L", "--billing", "invoice").exit_code == 0
        upgrades = cli("services", "upgrade", str(service_id), "--list")
        RecordingPanel.failures["suspend"] = ModuleError("panel down", retryable=True)
        cli("services", "suspend", str(service_id), "--reason", "x")
        notices = cli("notify", "list")
        queued = cli("jobs", "list", "--status", "queued")
    assert "2026-11-22 00:30" in upgrades.stdout.split("\nupgrades:")[1]
    assert column(notices, "created_at") == ["2026-11-22 00:30"]
    [next_attempt] = column(queued, "next_attempt_at")
    assert next_attempt.startswith("2026-11-22 00:")
    [job] = json.loads(cli("jobs", "list", "--status", "queued", "--format", "json").stdout)
    assert job["next_attempt_at"].startswith("2026-11-21T23:")


def test_a_closed_renewal_window_is_dated_in_local_time(db, admin, catalog, cli, paris, frozen):
    expiry = datetime(2026, 11, 10, 23, 30, tzinfo=UTC)
    service_id = active_service(db, admin, catalog, expires=expiry, at=NOW - timedelta(days=30))
    act(db, admin, "suspend", service_id, {"kind": "overdue"}, at=expiry + timedelta(hours=1))
    refused = cli("services", "renew", str(service_id), "--invoice", "new")
    assert refused.exit_code == 1
    assert "renewal window closed on 2026-11-18 (renewal_grace_days=7)" in refused.stderr
    assert rows(db, Invoice) == []


def test_the_automation_says_when_it_acts_in_local_time(db, admin, catalog, cli, paris, frozen):
    result = cli("automation", "run", "--at", "2026-11-29", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "dry run: at 2026-11-29T00:00:00+01:00" in result.stderr
