"""A planted credential reaches no CLI output (any format), log line, traceback, backup, stored error or screen.

The login a module provisioned for a service (PROVISIONED, its password) is planted too: it is
shown by `services credentials` alone (to an admin, who asked), and reaches no other output, log,
backup, stored row or mail, in the clear.

The module here echoes the credential in its errors, as a careless panel adapter might, and one
command fails with an internal error carrying it. The scan walks the CLI's command tree, so
every command (each of its formats, on the planted server and a service delivered to it) is
run except those that serve or open a screen; everything svcconsole prints, logs, stores, backs
up or draws is scanned.
"""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from svcconsole.client.app import ClientApp
from svcconsole.console.app import ConsoleApp
from svcconsole.core import logs
from svcconsole.modules.base import ModuleError
from svcconsole.store.models import Activity, Job, Notification, Service
from tests.client.conftest import client_of
from tests.console.conftest import settle

PLANTED = "PLANTEDsecret-7f3c9a1e5b2d4c6e8a0b"
SMTP_PASSWORD = "SMTPplanted-0c1d2e3f4a5b"
PROVISIONED = "PROVISIONEDlogin-3b9d1f7a2c4e"
SHOWS_CREDENTIALS = ("services", "credentials")

pytestmark = pytest.mark.anyio


@pytest.fixture
def planted(cli, scripted, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The scripted server's credentials replaced by PLANTED, an SMTP password set, the log in tmp."""
    log_file = tmp_path / "operations.log"
    monkeypatch.setenv(logs.LOG_FILE_ENV, str(log_file))
    assert cli("servers", "edit", "panel-1", "--credentials", PLANTED).exit_code == 0
    assert cli("settings", "set", "smtp_password", SMTP_PASSWORD).exit_code == 0
    scripted.script.password = PROVISIONED
    return log_file


class Outputs:
    """Runs CLI commands and keeps everything they printed."""

    def __init__(self, cli) -> None:  # type: ignore[no-untyped-def]
        self.cli = cli
        self.texts: list[str] = []
        self.credentials_shown: list[str] = []

    def __call__(self, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        result = self.cli(*args, input=input)
        text = f"$ {' '.join(args)}\n{result.stdout}{result.stderr}"
        (self.credentials_shown if tuple(args[:2]) == SHOWS_CREDENTIALS else self.texts).append(text)
        return result

    @property
    def all(self) -> str:
        return "\n".join(self.texts)


NOT_WALKED = {
    ("worker",): "runs until stopped (its job lines are in the log scanned here, through `jobs run`)",
    ("sandbox",): "serves a panel of its own until stopped",
    ("demo",): "opens the console on a throwaway database (the screens are scanned below)",
    ("client",): "opens the customer area (the screens are scanned below)",
    ("seed", "demo"): "writes demo data with demo credentials of its own, not the planted one",
}
FORMATS = ("table", "json", "csv", "ids")
REQUIRED: dict[str, str] = {
    "customer": "bruno@example.com",
    "customer_ref": "bruno@example.com",
    "days": "1",
    "email": "scan@example.com",
    "external": "srv-900",
    "invoice_id": "1",
    "job_id": "1",
    "key": "smtp_password",
    "login": "nobody-here",
    "module": "scripted",
    "name": "scan-extra",
    "option": "Backup slots=1",
    "product": "Game 4GB",
    "run_id": "1",
    "server": "panel-1",
    "signal": "restart",
    "ticket_id": "1",
    "type": "scripted",
    "url": "https://scan.example.net",
    "value": "EUR",
}
OVERRIDES: dict[tuple[str, ...], list[str]] = {
    ("notify", "preview"): ["credentials_reset", "--service", "{service}"],
    ("settings", "set"): ["currency", "EUR"],
    ("settings", "unset"): ["invoice_generation_days"],
    ("customers", "edit"): ["bruno@example.com", "--company", "Rossi SRL"],
    ("servers", "edit"): ["panel-1", "--node", "node-2"],
    ("products", "edit"): ["Game 4GB", "--max-renewals", "none"],
    ("services", "edit"): ["{service}", "--description", "scanned"],
    ("services", "meta"): ["{service}", "list"],
    ("services", "options"): ["{service}", "list"],
    ("products", "options"): ["Game 4GB", "list"],
    ("services", "upgrade"): ["{service}", "--to", "Game 4GB", "--billing", "none"],
    ("operators", "add"): ["scan-viewer", "--role", "viewer"],
    ("products", "add"): ["--name", "Scan Product", "--type", "scripted", "--price", "monthly=1.00"],
    ("services", "create"): ["--customer", "bruno@example.com", "--name", "scan-extra", "--product", "Game 4GB", "--server", "panel-1"],
    ("services", "import"): [
        "--customer",
        "bruno@example.com",
        "--name",
        "scan-found",
        "--product",
        "Game 4GB",
        "--server",
        "panel-1",
        "--external",
        "srv-900",
    ],
    ("invoices", "create"): ["--customer", "bruno@example.com", "--renew", "{service}"],
    ("invoices", "add-line"): ["1", "--renew", "{service}"],
}
TAKES_SERVICE_IDS = {
    "add-days",
    "add-option",
    "cancel",
    "delete",
    "deliver",
    "redeliver",
    "reinstall",
    "renew",
    "subtract-days",
    "suspend",
    "terminate",
    "uncancel",
    "unsuspend",
}
DRY_RUN = {"cancel", "delete", "redeliver", "terminate"}
"""Bulk actions that would take the scanned service off its panel are walked with --dry-run."""


def leaves(command, path: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    children = getattr(command, "commands", None)
    if not children:
        yield path, command
        return
    for name, child in sorted(children.items()):
        yield from leaves(child, (*path, name))


def formats_of(command) -> list[str]:  # type: ignore[no-untyped-def]
    """The --format values a command's help names (none when it has no --format)."""
    option = next((param for param in command.params if "--format" in getattr(param, "opts", ())), None)
    return [fmt for fmt in FORMATS if option is not None and fmt in (option.help or "")]


def invocations(path: tuple[str, ...], command, service_id: int, backup: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """The command with values for what it requires (the planted server and the scanned service), once per format."""
    if path in OVERRIDES:
        args = [value.replace("{service}", str(service_id)) for value in OVERRIDES[path]]
    else:
        args = []
        for param in command.params:
            if not param.required:
                continue
            value = backup if param.name == "path" else str(service_id) if param.name == "service_id" else REQUIRED[param.name]
            args += [value] if param.param_type_name == "argument" else [param.opts[0], value]
    if path[0] == "services" and path[-1] in TAKES_SERVICE_IDS:
        args = [str(service_id), *args, "--yes", *(["--dry-run"] if path[-1] in DRY_RUN else [])]
    return [[*path, *args, "-f", fmt] for fmt in formats_of(command)] or [[*path, *args]]


def cli_commands():  # type: ignore[no-untyped-def]
    from svcconsole.cli import app
    from svcconsole.cli.base import full_tree

    return list(leaves(full_tree(app)))


def test_the_walk_covers_every_cli_command_but_those_that_serve_or_open_a_screen():
    walked = {path for path, _ in cli_commands()} - set(NOT_WALKED)
    assert {
        ("servers", "list"),
        ("servers", "show"),
        ("servers", "edit"),
        ("servers", "test"),
        ("services", "show"),
        ("services", "panel"),
        ("services", "list"),
        ("jobs", "list"),
        ("db", "backup"),
        ("settings", "list"),
    } <= walked
    assert set(NOT_WALKED) <= {path for path, _ in cli_commands()}


def test_a_planted_credential_appears_in_no_output_log_backup_or_stored_error(cli, db, scripted, planted, tmp_path, monkeypatch):
    run = Outputs(cli)
    created = run(
        "services", "create", "--customer", "bruno@example.com", "--name", "scan", "--product", "Game 4GB", "--server", "panel-1", "--deliver", "-f", "json"
    )
    service_id = json.loads(created.stdout)["id"]
    scripted.script.fail("suspend", service_id, ModuleError(f"panel refused key {PLANTED}", retryable=False))
    assert run("services", "suspend", str(service_id), "--yes").exit_code != 0
    scripted.script.fail("reinstall", service_id, RuntimeError(f"socket error while sending Authorization: Bearer {PLANTED}"))  # type: ignore[arg-type]
    run("services", "reinstall", str(service_id), "--yes")
    run("services", "unsuspend", str(service_id), "--yes")
    assert run("invoices", "create", "--customer", "bruno@example.com", "--renew", str(service_id)).exit_code == 0
    backup = tmp_path / "backup.db"
    walked = 0
    for path, command in cli_commands():
        if path in NOT_WALKED:
            continue
        for args in invocations(path, command, service_id, str(backup)):
            run(*args)
            walked += 1
    assert walked > 100
    assert backup.exists()
    run("services", "history", str(service_id), "-f", "json")

    from svcconsole.cli import catalog as catalog_cli

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"driver said: cannot use {PLANTED}")

    monkeypatch.setattr(catalog_cli.delivery, "test_server", broken)
    crashed = run("servers", "test", "panel-1")
    assert crashed.exit_code == 1 and "internal error" in crashed.stderr

    run("services", "credentials", str(service_id), "--reset")
    printed = run.all
    assert PLANTED not in printed and SMTP_PASSWORD not in printed
    assert PROVISIONED not in printed, "the provisioned password shows in `services credentials` only"
    assert any(PROVISIONED in text for text in run.credentials_shown) and PLANTED not in "\n".join(run.credentials_shown)
    assert "has_credentials" in printed and "(set)" in printed and "panel refused key" in printed
    backup_bytes = backup.read_bytes()
    assert PLANTED.encode() not in backup_bytes and SMTP_PASSWORD.encode() not in backup_bytes and PROVISIONED.encode() not in backup_bytes

    with db.read() as session:
        stored = [
            *(job.last_error or "" for job in session.exec(select(Job)).all()),
            *(row.reason or "" for row in session.exec(select(Activity)).all()),
            *(json.dumps(row.details) for row in session.exec(select(Activity)).all()),
            *(service.last_error or "" for service in session.exec(select(Service)).all()),
            *(service.credentials or "" for service in session.exec(select(Service)).all()),
            *(f"{mail.subject}\n{mail.body}" for mail in session.exec(select(Notification)).all()),
        ]
    assert any("panel refused key" in text for text in stored)
    assert all(PLANTED not in text and PROVISIONED not in text for text in stored)
    assert any(text.startswith("fernet:") for text in stored), "the provisioned login is stored, encrypted"

    log = planted.read_text()
    assert PLANTED not in log and SMTP_PASSWORD not in log and PROVISIONED not in log
    assert "Traceback" in log and "driver said" in log
    assert planted.stat().st_mode & 0o777 == 0o600


async def test_a_planted_credential_is_drawn_on_no_screen(cli, db, admin, scripted, planted, monkeypatch):
    from tests.support.scripted_module import ScriptedModule

    monkeypatch.setattr(ScriptedModule, "supports", ScriptedModule.supports - {"power", "reinstall"})
    created = cli(
        "services", "create", "--customer", "bruno@example.com", "--name", "drawn", "--product", "Game 4GB", "--server", "panel-1", "--deliver", "-f", "json"
    )
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
    assert PROVISIONED not in drawn
