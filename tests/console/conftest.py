"""Console test helpers: an app factory, settling workers, notifications, top-level snapshots."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_textual_snapshot
from textual.worker import WorkerCancelled, WorkerFailed

from svcconsole.console.app import ConsoleApp
from svcconsole.widgets.guard import CrashGuard

SNAPSHOTS = Path(__file__).resolve().parents[2] / "snapshots"


class TopLevelSVGExtension(pytest_textual_snapshot.SVGImageExtension):
    """SVG snapshots kept in the repository's top-level `snapshots/` folder."""

    @classmethod
    def dirname(cls, *, test_location) -> str:  # type: ignore[no-untyped-def, override]
        return str(SNAPSHOTS / test_location.basename)


@pytest.fixture(autouse=True)
def _snapshots_at_top_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", TopLevelSVGExtension)


@pytest.fixture(autouse=True)
def _internal_errors_fail_the_test(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The crash guard keeps the app alive, so an error it reports fails the test instead,
    unless the test asks for `internal_errors` (it provokes them on purpose)."""
    reported: list[BaseException] = []
    original = CrashGuard.report_unexpected

    def recording(self, error):  # type: ignore[no-untyped-def]
        reported.append(error)
        original(self, error)

    monkeypatch.setattr(CrashGuard, "report_unexpected", recording)
    yield reported
    if reported and "internal_errors" not in request.fixturenames:
        pytest.fail(f"the console reported an internal error: {reported[0]!r}")


@pytest.fixture
def internal_errors(_internal_errors_fail_the_test):  # type: ignore[no-untyped-def]
    """The errors the crash guard reported during the test."""
    return _internal_errors_fail_the_test


def make_app(db, actor, **options) -> ConsoleApp:  # type: ignore[no-untyped-def]
    """The console with a fixed time zone and database label, small pages to exercise paging, and
    no health badge (the tests of the badge turn the check on)."""
    options.setdefault("tz", ZoneInfo("UTC"))
    options.setdefault("database_label", "test.db")
    options.setdefault("page_size", 40)
    options.setdefault("health_check_seconds", None)
    return ConsoleApp(db, actor, **options)


async def settle(pilot, rounds: int = 6, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    """Let chained workers (filter, page, counts) and their messages finish.

    Waits for at least `rounds` passes and then until three passes in a row found no worker
    running, no typed filter waiting for its debounce and no button showing its press (a loaded machine stretches the chain),
    up to `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    passes = quiet = 0
    while (passes < rounds or quiet < 3) and time.monotonic() < deadline:
        with contextlib.suppress(WorkerCancelled, WorkerFailed):
            await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.005)
        passes += 1
        screen = pilot.app.screen
        busy = any(worker.is_running for worker in pilot.app.workers) or _filter_waiting(screen) or _button_still_pressed(screen)
        quiet = 0 if busy else quiet + 1


def _button_still_pressed(screen) -> bool:  # type: ignore[no-untyped-def]
    """Whether a clicked button still shows its press (0.2 s), during which Textual ignores a
    second click on it, as a person clicking again would not be that quick."""
    return bool(screen.query("Button.-active"))


def _filter_waiting(screen) -> bool:  # type: ignore[no-untyped-def]
    """Whether a list screen holds typed filter text back until typing pauses (its debounce timer)."""
    return getattr(screen, "_filter_timer", None) is not None


def notifications(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(notification.severity, str(notification.message)) for notification in app._notifications]


async def until(pilot, condition, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    """Whether `condition()` comes true within `timeout` seconds, settling between looks (what a
    worker or a thread redraws can come after `settle` on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await settle(pilot, rounds=1)
    return True


async def notified(pilot, text: str, severity: str = "information", timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    """Whether a notification holding `text` shows within `timeout` seconds."""
    return await until(pilot, lambda: any(text in message for kind, message in notifications(pilot.app) if kind == severity), timeout)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
