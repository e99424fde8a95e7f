"""The customer area in a real terminal: `svcconsole client` started in a pseudo-terminal, as SSH's
ForceCommand starts it, in the customer's French, with the overages widget, the services list on
`l`, and ctrl+c ending it cleanly (issue 17: "driven by Pilot and by a real terminal")."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import sys
import termios
import time

WAIT_SECONDS = 60


class Terminal:
    """A program in a 120x35 pseudo-terminal: what it drew so far, keys sent to it."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = os.forkpty()
        if self.pid == 0:
            os.execve(argv[0], argv, env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 35, 120, 0, 0))
        self.seen = b""

    def wait_for(self, text: str) -> bool:
        wanted = text.encode()
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if wanted in self.seen:
                return True
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    return False
                if not chunk:
                    return False
                self.seen += chunk
        return wanted in self.seen

    def press(self, key: bytes) -> None:
        os.write(self.fd, key)

    def exit_status(self) -> int | None:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            select.select([self.fd], [], [], 0.05)
            with contextlib.suppress(OSError):
                os.read(self.fd, 65536)
        return None

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def test_the_customer_area_runs_in_a_real_terminal_in_french_and_ends_on_ctrl_c(cli, db, admin, shop):
    assert cli("customers", "edit", "alice@example.com", "--locale", "fr").exit_code == 0
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "35", "SUDO_USER": "svcclient"}
    terminal = Terminal([sys.executable, "-m", "svcconsole", "--db", db.url, "client", "--customer", "alice@example.com"], env)
    try:
        assert terminal.wait_for("Services actifs"), terminal.seen[-2000:]
        assert terminal.wait_for("Services en dépassement"), terminal.seen[-2000:]
        assert terminal.wait_for("alice web")
        assert b"Active services" not in terminal.seen
        terminal.press(b"l")
        assert terminal.wait_for("alice old"), "the list shows a cancelled service the dashboard does not"
        terminal.press(b"\x03")
        assert terminal.exit_status() == 0
    finally:
        terminal.close()
