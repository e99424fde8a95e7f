"""The operations log: every automation step, every job outcome and every module call, in a
0600 rotating file in the user log dir, with no secret in it.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from datetime import timedelta

from svcconsole.core import logs
from tests.conftest import FROZEN_NOW
from tests.integration.conftest import Panels, panels  # noqa: F401 - the fixture is used by name
from tests.reliability.support import run_cli

SMTP_PASSWORD = "smtp-PLANTED-password-0451"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_automation_run_logs_each_step_job_and_module_call_and_no_secret(db, cli, panels, tmp_path):
    for key, value in (("smtp_host", "127.0.0.1"), ("smtp_port", str(closed_port())), ("smtp_user", "mailer"), ("smtp_password", SMTP_PASSWORD)):
        assert cli("settings", "set", key, value).exit_code == 0
    at = FROZEN_NOW.isoformat()
    due = cli(
        "services",
        "create",
        "--customer",
        "greta@example.com",
        "--name",
        "due-soon",
        "--type",
        "manual",
        "--price",
        "3.00",
        "--expires",
        (FROZEN_NOW + timedelta(days=2)).isoformat(),
    )
    overdue = cli(
        "services",
        "create",
        "--customer",
        "greta@example.com",
        "--name",
        "game-overdue",
        "--product",
        "Paper 4GB",
        "--server",
        "ptero-1",
        "--deliver",
        "-f",
        "json",
    )
    assert due.exit_code == 0 and overdue.exit_code == 0, (due.stderr, overdue.stderr)
    overdue_id = json.loads(overdue.stdout)["id"]
    assert cli("services", "deliver", due.stdout.strip()).exit_code == 0
    assert cli("services", "edit", str(overdue_id), "--expires", (FROZEN_NOW - timedelta(days=3)).isoformat()).exit_code == 0
    panels.ptero.fail_next("POST /api/application/servers/*/suspend", "500")

    log_file = tmp_path / "logs" / "operations.log"
    result = run_cli(db.url, "automation", "run", "--at", at, env={logs.LOG_FILE_ENV: str(log_file)})
    assert result.returncode == 0, result.stderr  # the refused suspension and the mails wait for their retry

    text = log_file.read_text()
    assert log_file.stat().st_mode & 0o777 == 0o600
    assert re.search(r"automation: run at 2026-11-21T12:00:00\+00:00 by \S+; settings in force: invoice_generation_days=7", text)
    for number, title in (
        (1, "renewal invoices"),
        (2, "expiry notices"),
        (3, "suspend overdue"),
        (4, "expire"),
        (5, "end-of-cycle cancellations"),
        (6, "hide old services"),
        (7, "jobs and mail"),
    ):
        assert f"automation: step {number} {title}: " in text, (number, text)
    due_id = due.stdout.strip()
    assert re.search(rf"automation: step 1: service {due_id}: ok: invoice \d+", text)
    assert re.search(rf"automation: step 2: service {due_id}: ok: expiry notice to greta@example.com", text)
    assert re.search(rf"automation: step 3: service {overdue_id}: queued: suspension queued", text)
    assert re.search(rf"job \d+: suspend pterodactyl for service {overdue_id} \(attempt 1\)", text)
    assert re.search(r"Pterodactyl POST /api/application/servers/\d+/suspend -> 500", text)
    assert re.search(r"job \d+: queued: Pterodactyl suspend: panel error \(HTTP 500\)", text)
    assert re.search(r"automation: step 7: service \d+: retry: .*127\.0\.0\.1", text), "the mail step's outcome"
    for secret in (SMTP_PASSWORD, panels.ptero.application_key, panels.ptero.client_key, *_key_material(db)):
        assert secret not in text, "a secret reached the operations log"


def _key_material(db) -> list[str]:  # type: ignore[no-untyped-def]
    """The secrets key (the file beside the SQLite database, or in the user data dir)."""
    from svcconsole.core.context import key_file_for

    path = key_file_for(db)
    return [path.read_text().strip()] if path.exists() else []


def test_the_log_is_in_the_user_log_dir_by_default_and_says_when_a_run_is_locked_out(db, cli, tmp_path):
    from svcconsole.core import automation, leases

    state = tmp_path / "state"
    holder = leases.NamedLock(db, automation.LOCK_NAME)
    assert holder.acquire()
    try:
        result = run_cli(db.url, "automation", "run", env={"XDG_STATE_HOME": str(state)})
    finally:
        holder.release()
    assert result.returncode == 0 and "another run holds the lock" in result.stderr
    found = list(state.rglob("operations.log"))
    assert found == [state / "svcconsole" / "log" / "operations.log"], found  # platformdirs' user log dir under XDG_STATE_HOME
    assert found[0].stat().st_mode & 0o777 == 0o600 and found[0].parent.stat().st_mode & 0o777 == 0o700
    assert "another run holds the lock" in found[0].read_text() and "nothing done" in found[0].read_text()


def test_the_log_rotates_and_every_file_is_private_and_masked(tmp_path, monkeypatch):
    monkeypatch.setattr(logs, "MAX_BYTES", 4000)
    path = logs.configure(tmp_path / "rotating.log")
    logs.register_secret("rotating-SECRET-token-99")
    logger = logging.getLogger("svcconsole.test.rotation")
    try:
        for number in range(400):
            logger.info("call %s with rotating-SECRET-token-99 and some padding to fill the file", number)
    finally:
        for handler in logging.getLogger("svcconsole").handlers:
            handler.flush()
        logs.configure(tmp_path / "after.log")
    files = sorted(tmp_path.glob("rotating.log*"))
    assert len(files) == logs.BACKUPS + 1, files
    for file in files:
        assert file.stat().st_mode & 0o777 == 0o600, file
        content = file.read_text()
        assert "rotating-SECRET-token-99" not in content and logs.MASK in content
    assert "call 399 with ********" in path.read_text()
