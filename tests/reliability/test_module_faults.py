"""Panels that fail: timeouts, resets, refused connections, 5xx, 429 storms, nodes down and
async task failures leave the store consistent and the job in the queue with its error; once
the panel is back, the queued job finishes the action exactly once.

Everything runs through the CLI against the sandbox panels over HTTP on loopback.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlmodel import select

from svcconsole.core import clock
from svcconsole.store.models import Activity, BulkItem, Job, Service
from tests.integration.conftest import FAST, Panels, panels  # noqa: F401 - the fixture is used by name


def closed_port_url() -> str:
    """A loopback URL on which nothing listens (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def deliver(cli, product: str, name: str) -> dict:  # type: ignore[no-untyped-def]
    server = "ptero-1" if product == "Paper 4GB" else "pve-1"
    result = cli("services", "create", "--customer", "greta@example.com", "--name", name, "--product", product, "--server", server, "--deliver", "-f", "json")
    assert result.exit_code == 0, result.stderr
    service = json.loads(result.stdout)
    assert service["status"] == "active"
    return service


@dataclass
class Fault:
    """How to break the panel, how to mend it, and what the error must say."""

    panel: str
    breaks: Callable[[Panels, object], None]
    mends: Callable[[Panels, object], None]
    error: str
    retryable: bool = True
    reaches_panel: bool = False
    min_wait: timedelta = timedelta(seconds=30)


def _nothing(panels: Panels, cli: object) -> None:
    return None


def _fail(panel: str, match: str, kind: str, **options: object) -> Callable[[Panels, object], None]:
    def breaks(panels: Panels, cli: object) -> None:
        getattr(panels, panel).fail_next(match, kind, **options)

    return breaks


def _refuse(server: str) -> Callable[[Panels, object], None]:
    def breaks(panels: Panels, cli) -> None:  # type: ignore[no-untyped-def]
        assert cli("servers", "edit", server, "--url", closed_port_url()).exit_code == 0

    return breaks


def _restore(server: str, panel: str) -> Callable[[Panels, object], None]:
    def mends(panels: Panels, cli) -> None:  # type: ignore[no-untyped-def]
        assert cli("servers", "edit", server, "--url", getattr(panels, panel).url).exit_code == 0

    return mends


PTERO_SUSPEND = "POST /api/application/servers/*/suspend"
PVE_SUSPEND = "POST /api2/json/nodes/*/qemu/*/status/suspend"

FAULTS = {
    "ptero-timeout": Fault("ptero", _fail("ptero", PTERO_SUSPEND, "timeout", delay=1.0), _nothing, "timeout", reaches_panel=True),
    "ptero-reset": Fault("ptero", _fail("ptero", PTERO_SUSPEND, "reset"), _nothing, "connection reset"),
    "ptero-refused": Fault("ptero", _refuse("ptero-1"), _restore("ptero-1", "ptero"), "cannot connect"),
    "ptero-500": Fault("ptero", _fail("ptero", PTERO_SUSPEND, "500"), _nothing, "HTTP 500"),
    "ptero-503": Fault("ptero", _fail("ptero", PTERO_SUSPEND, "503"), _nothing, "HTTP 503"),
    "ptero-node-down": Fault(
        "ptero", lambda panels, cli: panels.ptero.set_node_online(1, False), lambda panels, cli: panels.ptero.set_node_online(1, True), "HTTP 504"
    ),
    "pve-timeout": Fault("pve", _fail("pve", "GET /api2/json/nodes/*/qemu/*/status/current", "timeout", delay=1.0), _nothing, "timeout"),
    "pve-refused": Fault("pve", _refuse("pve-1"), _restore("pve-1", "pve"), "cannot connect"),
    "pve-500": Fault("pve", _fail("pve", PVE_SUSPEND, "500"), _nothing, "HTTP 500"),
    "pve-node-down": Fault(
        "pve", lambda panels, cli: panels.pve.set_node_online("pve1", False), lambda panels, cli: panels.pve.set_node_online("pve1", True), "595"
    ),
    "pve-task-error": Fault("pve", _fail("pve", PVE_SUSPEND, "task_error"), _nothing, "failed", retryable=False, reaches_panel=True),
}


def on_panel_suspended(panels: Panels, panel: str, service: dict) -> bool:  # type: ignore[type-arg]
    if panel == "ptero":
        return panels.ptero.servers[service["external"]["server_id"]].status == "suspended"
    return panels.pve.vms[service["external"]["vmid"]].qmpstatus == "paused"


def store_state(db, service_id: int):  # type: ignore[no-untyped-def]
    with db.read() as session:
        service = session.get(Service, service_id)
        job = session.exec(select(Job).where(Job.service_id == service_id, Job.operation == "suspend")).one()
        item = session.exec(select(BulkItem).where(BulkItem.service_id == service_id).order_by(BulkItem.id.desc())).first()
        actions = [row.action for row in session.exec(select(Activity).where(Activity.service_id == service_id).order_by(Activity.id)).all()]
    return service, job, item, actions


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_failing_panel_leaves_the_store_consistent_and_the_job_queued_with_its_error(name, db, cli, panels, frozen):
    fault = FAULTS[name]
    service = deliver(cli, "Paper 4GB" if fault.panel == "ptero" else "VPS M", f"fault-{name}")
    service_id = service["id"]
    fault.breaks(panels, cli)

    result = cli("services", "suspend", str(service_id), "--reason", "unpaid")

    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = result.lines
    assert line.split()[:2] == [str(service_id), "failed"] and fault.error in line, line
    stored, job, item, actions = store_state(db, service_id)
    assert stored.status == "active" and stored.suspended_at is None
    assert fault.error in (stored.last_error or "")
    assert "suspend" not in actions and actions[-1] == "suspend_failed"
    assert item.outcome == "failed" and fault.error in item.message
    assert job.attempts == 1 and fault.error in (job.last_error or "") and job.lease_until is None
    if fault.retryable:
        assert job.status == "queued" and stored.operation == "suspension"
        assert job.next_attempt_at >= clock.now() + fault.min_wait
    else:
        assert job.status == "failed" and stored.operation is None
    if not fault.reaches_panel:
        assert not on_panel_suspended(panels, fault.panel, service)
    listed = json.loads(cli("jobs", "list", "--service", str(service_id), "-f", "json").stdout)
    assert [(row["status"], row["last_error"]) for row in listed if row["operation"] == "suspend"] == [(job.status, job.last_error)]

    fault.mends(panels, cli)
    if fault.retryable:
        clock.freeze(job.next_attempt_at + timedelta(seconds=1))
        ran = cli("jobs", "run")
    else:
        ran = cli("jobs", "retry", str(job.id))
    assert ran.exit_code == 0, ran.stdout + ran.stderr

    stored, job, item, actions = store_state(db, service_id)
    assert (stored.status, stored.operation, stored.last_error) == ("suspended", None, None)
    assert job.status == "succeeded" and item.outcome == "ok"
    assert actions.count("suspend") == 1
    assert on_panel_suspended(panels, fault.panel, service)


# ----------------------------------------------------------------------------- the console while a panel hangs

HANG = 2.5
CLIENT_TIMEOUT = 2.0
SNAPPY = 1.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _until(pilot, predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


async def _timed_press(pilot, key: str, predicate, what: str) -> float:  # type: ignore[no-untyped-def]
    """Press `key` and wait (at most SNAPPY seconds) until `predicate` holds; the seconds it took."""
    import time

    started = time.monotonic()
    await pilot.press(key)
    await _until(pilot, predicate, SNAPPY, what)
    return time.monotonic() - started


@pytest.mark.anyio
async def test_the_console_answers_keys_while_a_panel_hangs(db, admin, cli, panels, frozen):
    from svcconsole.console.screens.detail import DetailScreen
    from svcconsole.console.screens.jobs import JobsScreen
    from svcconsole.console.screens.services import ServicesScreen
    from tests.console.conftest import make_app, notifications, settle

    service = deliver(cli, "Paper 4GB", "hangs")
    assert cli("servers", "edit", "ptero-1", "--config", f"timeout={CLIENT_TIMEOUT}").exit_code == 0
    app = make_app(db, admin)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        faults_before = panels.ptero.stats["faults"]
        panels.ptero.fail_next("GET /api/application/servers/*", "timeout", count=2, delay=HANG)
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        tabs = detail.query_one("#tabs")
        await _timed_press(pilot, "right_square_bracket", lambda: tabs.active == "panel", "the Panel tab")
        await _until(pilot, lambda: panels.ptero.stats["faults"] > faults_before, 5, "the panel request to hang")
        assert "asking the panel" in str(detail.query_one("#panel-state").render()), "the panel must still be hanging"
        await _timed_press(pilot, "right_square_bracket", lambda: tabs.active == "renewals", "the Renewals tab")
        await _timed_press(pilot, "escape", lambda: isinstance(app.screen, ServicesScreen), "back to the list")
        panels.ptero.clear_faults()

        faults_before = panels.ptero.stats["faults"]
        panels.ptero.fail_next(PTERO_SUSPEND, "timeout", count=1, delay=HANG)
        await pilot.press("s")
        await settle(pilot)
        app.screen.query_one("#reason").value = "hang test"
        await pilot.click("#confirm-button")
        await _until(pilot, lambda: panels.ptero.stats["faults"] > faults_before, 5, "the suspend request to hang")
        await _timed_press(pilot, "J", lambda: isinstance(app.screen, JobsScreen), "the Jobs screen")
        await _timed_press(pilot, "escape", lambda: isinstance(app.screen, ServicesScreen), "back to the list")
        await _timed_press(pilot, "question_mark", lambda: type(app.screen).__name__ == "HelpScreen", "the help screen")
        await _timed_press(pilot, "escape", lambda: isinstance(app.screen, ServicesScreen), "back to the list")
        await _until(pilot, lambda: any("timeout" in text for severity, text in notifications(app) if severity == "error"), HANG + 3, "the suspend's failure")

    stored, job, item, _actions = store_state(db, service["id"])
    assert (stored.status, stored.operation) == ("active", "suspension")
    assert job.status == "queued" and "timeout" in job.last_error and item.outcome == "failed"
