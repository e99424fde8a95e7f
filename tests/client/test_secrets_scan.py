"""A planted credential reaches no CLI output (any format), log line, traceback, stored error or screen.

The module here echoes the credential in its errors, as a careless panel adapter might, and one
command fails with an internal error carrying it; everything svcconsole prints, logs, stores
or draws is scanned.
"""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from svcconsole.app import ConsoleApp
from svcconsole.client.app import ClientApp
from svcconsole.core import logs
from svcconsole.modules.base import ModuleError
from svcconsole.store.models import Activity, Job, Service
from tests.client.conftest import client_of
from tests.console.conftest import settle

PLANTED = "PLANTEDsecret-7f3c9a1e5b2d4c6e8a0b"
SMTP_PASSWORD = "SMTPplanted-0c1d2e3f4a5b"

pytestmark = pytest.mark.anyio


@pytest.fixture
def planted(cli, scripted, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The scripted server's credentials replaced by PLANTED, an SMTP password set, the log in tmp."""
    log_file = tmp_path / "operations.log"
    monkeypatch.setenv(logs.LOG_FILE_ENV, str(log_file))
    assert cli("servers", "edit", "panel-1", "--credentials", PLANTED).exit_code == 0
    assert cli("settings", "set", "smtp_password", SMTP_PASSWORD).exit_code == 0
    return log_file


class Outputs:
    """Runs CLI commands and keeps everything they printed."""

    def __init__(self, cli) -> None:  # type: ignore[no-untyped-def]
        self.cli = cli
        self.texts: list[str] = []

    def __call__(self, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        result = self.cli(*args, input=input)
        self.texts.append(f"$ {' '.join(args)}\n{result.stdout}{result.stderr}")
        return result

    @property
    def all(self) -> str:
        return "\n".join(self.texts)


def test_a_planted_credential_appears_in_no_output_log_or_stored_error(cli, db, scripted, planted, monkeypatch):
    run = Outputs(cli)
    created = run("services", "create", "--customer", "bruno@example.com", "--name", "scan", "--product", "Game 4GB", "--server", "panel-1", "--deliver", "-f", "json")
    service_id = json.loads(created.stdout)["id"]
    scripted.script.fail("suspend", service_id, ModuleError(f"panel refused key {PLANTED}", retryable=False))
    assert run("services", "suspend", str(service_id), "--yes").exit_code != 0
    scripted.script.fail("reinstall", service_id, RuntimeError(f"socket error while sending Authorization: Bearer {PLANTED}"))  # type: ignore[arg-type]
    run("services", "reinstall", str(service_id), "--yes")
    run("services", "unsuspend", str(service_id), "--yes")
    for fmt in ("table", "json", "csv", "ids"):
        run("services", "list", "-f", fmt)
        run("servers", "list", "-f", fmt)
        run("jobs", "list", "-f", fmt)
    for fmt in ("table", "json", "csv"):
        run("settings", "list", "-f", fmt)
        run("services", "history", str(service_id), "-f", fmt)
        run("notify", "list", "-f", fmt)
    for fmt in ("table", "json"):
        run("servers", "show", "panel-1", "-f", fmt)
        run("services", "show", str(service_id), "-f", fmt)
        run("services", "panel", str(service_id), "-f", fmt)
    run("settings", "get", "smtp_password")
    run("servers", "test", "panel-1")
    run("services", "bulk", "list")
    run("jobs", "run")
    run("automation", "run", "--dry-run")

    from svcconsole.cli import catalog as catalog_cli

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"driver said: cannot use {PLANTED}")

    monkeypatch.setattr(catalog_cli.delivery, "test_server", broken)
    crashed = run("servers", "test", "panel-1")
    assert crashed.exit_code == 1 and "internal error" in crashed.stderr

    printed = run.all
    assert PLANTED not in printed and SMTP_PASSWORD not in printed
    assert "has_credentials" in printed and "(set)" in printed

    with db.read() as session:
        stored = [
            *(job.last_error or "" for job in session.exec(select(Job)).all()),
            *(row.reason or "" for row in session.exec(select(Activity)).all()),
            *(json.dumps(row.details) for row in session.exec(select(Activity)).all()),
            *(service.last_error or "" for service in session.exec(select(Service)).all()),
        ]
    assert any("panel refused key" in text for text in stored)
    assert all(PLANTED not in text for text in stored)

    log = planted.read_text()
    assert PLANTED not in log and SMTP_PASSWORD not in log
    assert "Traceback" in log and "driver said" in log
    assert planted.stat().st_mode & 0o777 == 0o600


async def test_a_planted_credential_is_drawn_on_no_screen(cli, db, admin, scripted, planted, monkeypatch):
    from tests.support.scripted_module import ScriptedModule

    monkeypatch.setattr(ScriptedModule, "supports", ScriptedModule.supports - {"power", "reinstall"})
    created = cli("services", "create", "--customer", "bruno@example.com", "--name", "drawn", "--product", "Game 4GB", "--server", "panel-1", "--deliver", "-f", "json")
    service_id = json.loads(created.stdout)["id"]
    scripted.script.fail("suspend", service_id, ModuleError(f"panel refused key {PLANTED}", retryable=False))
    cli("services", "suspend", str(service_id), "--yes")
    screens = []
    console = ConsoleApp(db, admin, tz=ZoneInfo("UTC"), database_label="test.db")
    async with console.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screens.append(console.export_screenshot())
        console.open_service(service_id)
        await settle(pilot)
        for _ in range(7):
            screens.append(console.export_screenshot())
            await pilot.press("right_square_bracket")
            await settle(pilot, rounds=2)
    area = ClientApp(db, client_of(db, "svcclient", "bruno@example.com"), tz=ZoneInfo("UTC"))
    async with area.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screens.append(area.export_screenshot())
        area.open_service(service_id)
        await settle(pilot)
        for _ in range(5):
            screens.append(area.export_screenshot())
            await pilot.press("right_square_bracket")
            await settle(pilot, rounds=2)
    drawn = "\n".join(screens).replace("&#160;", " ")
    assert "panel refused key" in drawn
    assert PLANTED not in drawn and PLANTED[:12] not in drawn
