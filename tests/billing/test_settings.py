"""Settings: the keys and defaults of SPEC.md section 7, validated, and read by the automation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from svcconsole.core import automation, clock
from svcconsole.core import settings as settings_module
from svcconsole.store.models import Invoice, Setting
from tests.billing.conftest import NOW, active_service, count, rows
from tests.conftest import make_actor

DEFAULTS = {
    "invoice_generation_days": "7",
    "expiry_notice_days": "7,3,1",
    "suspend_after_days": "0",
    "terminate_after_days": "7",
    "delete_after_days": "90",
    "renewal_grace_days": "7",
    "timezone": "UTC",
    "currency": "EUR",
    "smtp_host": "",
    "smtp_port": "25",
    "smtp_user": "",
    "smtp_password": "(not set)",
    "smtp_from": "billing@localhost",
    "smtp_starttls": "false",
}


def test_settings_list_shows_every_key_with_its_default(db, admin, cli):
    result = cli("settings", "list", "--format", "json")
    assert result.exit_code == 0
    values = {item["key"]: item["value"] for item in json.loads(result.stdout)}
    assert {key: values[key] for key in DEFAULTS} == DEFAULTS
    assert "admin_email" in values


def test_set_get_and_unset(db, admin, cli):
    assert cli("settings", "set", "invoice_generation_days", "14").exit_code == 0
    assert cli("settings", "get", "invoice_generation_days").stdout.strip() == "14"
    assert cli("settings", "set", "expiry_notice_days", "1, 14,3").exit_code == 0
    assert cli("settings", "get", "expiry_notice_days").stdout.strip() == "14,3,1"
    assert cli("settings", "unset", "invoice_generation_days").exit_code == 0
    assert cli("settings", "get", "invoice_generation_days").stdout.strip() == "7"


def test_invalid_values_are_refused_with_the_field_named(db, admin, cli):
    cases = {
        ("suspend_after_days", "-1"): "too small (at least 0)",
        ("expiry_notice_days", "7,-3"): "too small (at least 0)",
        ("delete_after_days", "soon"): "is not a whole number",
        ("timezone", "Mars/Olympus"): "is not a time zone",
        ("currency", "EURO"): "is not a currency code",
        ("smtp_port", "70000"): "too large",
        ("smtp_starttls", "maybe"): "is not a yes/no value",
        ("admin_email", "ops at example"): "is not an email address",
    }
    for (key, value), expected in cases.items():
        result = cli("settings", "set", key, value)
        assert result.exit_code == 2, (key, value, result.stderr)
        assert f"setting {key}:" in result.stderr and expected in result.stderr, (key, result.stderr)
    unknown = cli("settings", "set", "grace", "3")
    assert unknown.exit_code == 1 and "unknown key 'grace'" in unknown.stderr
    assert count(db, Setting) == 0


def test_only_an_admin_changes_settings(db, admin, cli):
    make_actor(db, "otto", "operator")
    assert cli("--as", "otto", "settings", "get", "currency").exit_code == 0
    denied = cli("--as", "otto", "settings", "set", "currency", "USD")
    assert denied.exit_code == 4
    assert cli("settings", "get", "currency").stdout.strip() == "EUR"


def test_the_smtp_password_is_stored_encrypted_and_never_shown(db, admin, cli):
    assert cli("settings", "set", "smtp_password", "hunter2").exit_code == 0
    listed = cli("settings", "list", "--format", "json").stdout
    assert "hunter2" not in listed and "(set)" in listed
    [row] = rows(db, Setting, Setting.key == "smtp_password")
    assert "hunter2" not in row.value


def test_the_currency_is_the_default_of_custom_services(db, admin, catalog, cli):
    assert cli("settings", "set", "currency", "chf").exit_code == 0
    created = cli("services", "create", "--customer", "alice@example.com", "--name", "custom", "--type", "manual", "--price", "5.00", "--format", "json")
    assert json.loads(created.stdout)["currency"] == "CHF"


def test_the_time_zone_places_typed_dates_and_the_run_shows_it(db, admin, catalog, cli, frozen):
    assert cli("settings", "set", "timezone", "Europe/Paris").exit_code == 0
    service_id = active_service(db, admin, catalog, expires=datetime(2026, 11, 27, 23, 0, tzinfo=UTC))
    result = cli("automation", "run", "--at", "2026-11-21")
    assert "at 2026-11-21T00:00:00+01:00" in result.stderr
    assert "timezone=Europe/Paris" in result.stderr
    assert count(db, Invoice) == 1
    assert f"service {service_id}" in result.stdout and "expires 2026-11-28 00:00" in result.stdout


def test_the_dry_run_reads_the_settings_in_force(db, admin, catalog, cli, frozen):
    assert cli("settings", "set", "suspend_after_days", "3").exit_code == 0
    active_service(db, admin, catalog, expires=NOW - timedelta(days=2), at=NOW - timedelta(days=40))
    with clock.frozen_at(NOW):
        report = automation.run(db, admin, dry_run=True)
    assert report.settings["suspend_after_days"] == "3"
    suspend = next(step for step in report.steps if step.number == 3)
    assert suspend.items == []
    assert "suspend_after_days=3" in suspend.rule


AUTOMATION_SOURCES = ("automation", "mailer", "notifications")


def test_the_run_shows_every_setting_a_step_reads_from_the_registry(db, admin, catalog, cli, frozen):
    assert cli("settings", "set", "smtp_password", "hunter2-secret").exit_code == 0
    assert cli("settings", "set", "smtp_host", "mail.example.net").exit_code == 0
    dry = cli("automation", "run", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    [line] = [line for line in dry.stderr.splitlines() if line.startswith("settings in force: ")]
    shown = dict(item.split("=", 1) for item in line.removeprefix("settings in force: ").split(" "))
    assert list(shown) == [key for key, spec in settings_module.REGISTRY.items() if spec.steps]
    assert {
        "invoice_generation_days",
        "expiry_notice_days",
        "suspend_after_days",
        "terminate_after_days",
        "delete_after_days",
        "renewal_grace_days",
        "timezone",
        "smtp_host",
        "smtp_port",
        "smtp_from",
        "admin_email",
    } <= set(shown)
    assert (shown["smtp_host"], shown["smtp_password"]) == ("mail.example.net", "(set)")
    assert "hunter2" not in dry.stderr + dry.stdout
    assert "currency" not in shown


def test_every_setting_the_run_reads_is_declared_with_its_steps():
    import importlib
    import inspect
    import re

    read = set()
    for name in AUTOMATION_SOURCES:
        source = inspect.getsource(importlib.import_module(f"svcconsole.core.{name}"))
        read |= set(re.findall(r"""settings\[["']([a-z_]+)["']\]""", source))
    assert read, "no setting read found: the pattern no longer matches the code"
    undeclared = sorted(key for key in read if not settings_module.REGISTRY[key].steps)
    assert undeclared == []


def test_a_new_setting_declared_for_a_step_is_shown_by_the_dry_run(db, admin, catalog, frozen, monkeypatch):
    extra = settings_module.SettingSpec("grace_hours", "12", settings_module._day_count, "A setting added later.", steps=(3,))
    monkeypatch.setitem(settings_module.REGISTRY, "grace_hours", extra)
    report = automation.run(db, admin, dry_run=True)
    assert report.settings["grace_hours"] == "12"
    assert "grace_hours=12" in report.settings_line()
