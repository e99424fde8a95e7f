"""The last-resort guard of both apps: an unexpected exception becomes one error line.

Textual's default prints a traceback with its locals (SQL, paths, the database URL) and exits.
Here the traceback goes to the operations log (`core.logs`), the screen shows one line, and the
app keeps running: every message pump's dispatch is guarded, so a handler that raises does not
stop its widget's message loop, and a failed worker is reported like any other error.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from textual.message import Message
from textual.widget import Widget
from textual.worker import WorkerFailed

from svcconsole.core import logs
from svcconsole.widgets import render

log = logging.getLogger("svcconsole.console")
REPEAT_SECONDS = 10.0
MAX_LINE = 120


def one_line(error: BaseException) -> str:
    """The error's type and the first line of its text, secrets masked, at most MAX_LINE long."""
    first = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    text = render.plain(logs.redact(text))
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


class CrashGuard:
    """Mixed into an `App`: guards every message pump and reports what it catches."""

    def report_unexpected(self, error: BaseException) -> None:
        """Log the traceback, then show one line (the same error at most once in REPEAT_SECONDS)."""
        line = one_line(error)
        now = time.monotonic()
        reported = self.__dict__.setdefault("_reported", {})
        if now - reported.get(line, -REPEAT_SECONDS) < REPEAT_SECONDS:
            return
        reported[line] = now
        logs.configure()
        log.error("unexpected error in the %s", type(self).__name__, exc_info=(type(error), error, error.__traceback__))
        self.notify(f"internal error: {line} (the details are in the operations log)", severity="error", markup=False, timeout=10)  # type: ignore[attr-defined]  # the guard mixes into App subclasses only

    def _handle_exception(self, error: Exception) -> None:
        """Textual's handler for errors nothing caught: a failed worker is reported and the app
        goes on; anything else stopped a message loop outside the guards, so the app exits, with
        one line instead of a traceback."""
        if isinstance(error, WorkerFailed):
            self.report_unexpected(error.error)
            return
        self.report_unexpected(error)
        self.exit(return_code=1, message=f"svcconsole stopped: internal error: {one_line(error)} (the details are in the operations log)")  # type: ignore[attr-defined]  # the guard mixes into App subclasses only

    async def _dispatch_message(self, message: Message) -> None:
        try:
            await super()._dispatch_message(message)  # type: ignore[misc]  # the mixin calls Textual's MessagePump method
        except Exception as error:  # noqa: BLE001 - the last resort: reported, never raised
            self.report_unexpected(error)

    def _register(self, parent: Any, *widgets: Widget, **options: Any) -> list[Widget]:
        for widget in widgets:
            _guard_pump(widget, self)
        return super()._register(parent, *widgets, **options)  # type: ignore[misc]  # the mixin calls Textual's App method


def _guard_pump(widget: Widget, app: CrashGuard) -> None:
    """Wrap one widget's message dispatch so an exception in its handlers is reported, not fatal."""
    if "_dispatch_message" in widget.__dict__:
        return
    dispatch = widget._dispatch_message

    async def guarded(message: Message) -> None:
        try:
            await dispatch(message)
        except Exception as error:  # noqa: BLE001 - the last resort: reported, never raised
            app.report_unexpected(error)

    widget._dispatch_message = guarded  # type: ignore[method-assign]  # the widget's dispatcher is wrapped in place on purpose
