"""Helpers of the reliability tests: real `svcconsole` processes, a panel in a process of its
own, bounded waits, and a fingerprint of the database to prove that nothing changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, text
from sqlalchemy import select as sa_select

from svcconsole.store.engine import Database
from svcconsole.store.models import Service, metadata

ROOT = Path(__file__).resolve().parents[2]


def process_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment (the tests' private XDG dirs included), able to import `tests`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra or {})
    return env


def cli_command(url: str, *args: str, prelude: str | None = None) -> list[str]:
    """`python -m svcconsole --db URL ARGS`, or the same after `prelude` (Python run first, in the
    process, to slow it down for a kill test)."""
    if prelude is None:
        return [sys.executable, "-m", "svcconsole", "--db", url, *args]
    program = f"{prelude}\nimport sys\nfrom svcconsole.cli import main\nsys.argv = ['svcconsole', *sys.argv[1:]]\nmain()\n"
    return [sys.executable, "-c", program, "--db", url, *args]


def run_cli(url: str, *args: str, timeout: float = 60, input: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a process of its own and wait for it (bounded)."""
    return subprocess.run(cli_command(url, *args), input=input, capture_output=True, text=True, timeout=timeout, env=process_env(env), cwd=ROOT, check=False)


def spawn_cli(url: str, *args: str, prelude: str | None = None, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start the CLI in a process of its own (the caller waits for it or kills it)."""
    return subprocess.Popen(
        cli_command(url, *args, prelude=prelude),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=process_env(env),
        cwd=ROOT,
    )


def finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    """Wait for a spawned process (killing it if it overruns); its exit code, stdout and stderr."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate(timeout=10)
        raise AssertionError(f"process {process.args!r} did not end within {timeout}s:\n{stderr[-2000:]}") from None
    return process.returncode, stdout, stderr


def stop(process: subprocess.Popen[str] | None) -> None:
    """Kill a process this test started, if it still runs (for `finally` blocks)."""
    if process is not None and process.poll() is None:
        process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.communicate(timeout=10)


def kill9(process: subprocess.Popen[str]) -> None:
    """SIGKILL: no cleanup, no `finally`, no atexit, like a crash or the OOM killer."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def wait_until(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.02, what: str = "condition") -> Any:
    """Poll `predicate` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ----------------------------------------------------------------------------- a panel in its own process


@dataclass
class PanelProcess:
    """The slow Pterodactyl sandbox of `slow_panel.py`, running in a child process."""

    process: subprocess.Popen[str]
    url: str
    credentials: str
    server_ids: list[int]

    def _ask(self, command: str, timeout: float = 10) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return json.loads(_read_line(self.process, timeout))

    def suspend_requests(self) -> dict[int, int]:
        return {int(key): value for key, value in self._ask("counts")["suspend_requests"].items()}

    def suspended(self) -> set[int]:
        return set(self._ask("counts")["suspended"])


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise AssertionError(f"no answer from {process.args!r} within {timeout}s")
    line = process.stdout.readline()
    if not line:
        raise AssertionError(f"{process.args!r} ended: {process.stderr.read() if process.stderr else ''}")
    return line


@contextmanager
def panel_process(servers: int, latency: float) -> Iterator[PanelProcess]:
    """Start the slow panel with `servers` seeded servers; stopped (and killed if need be) at exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.slow_panel", "--servers", str(servers), "--latency", str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=process_env(),
        cwd=ROOT,
    )
    try:
        first = json.loads(_read_line(process, 30))
        yield PanelProcess(process, first["url"], first["credentials"], first["ids"])
    finally:
        if process.poll() is None and process.stdin is not None:
            try:
                process.stdin.write("quit\n")
                process.stdin.flush()
                process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        stop(process)


# ----------------------------------------------------------------------------- database fingerprints


def row_counts(db: Database) -> dict[str, int]:
    """Rows in every table of the models."""
    with db.engine.connect() as connection:
        return {name: connection.execute(sa_select(func.count()).select_from(table)).scalar_one() for name, table in metadata.tables.items()}


def service_checksum(db: Database) -> str:
    """A digest of every column of every service row, in id order."""
    digest = hashlib.sha256()
    columns = [column for column in Service.__table__.columns]  # type: ignore[attr-defined]
    with db.engine.connect() as connection:
        for row in connection.execute(sa_select(*columns).order_by(Service.__table__.c.id)):  # type: ignore[attr-defined]
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def fingerprint(db: Database) -> tuple[dict[str, int], str]:
    return row_counts(db), service_checksum(db)


def every_row_digest(db: Database) -> dict[str, str]:
    """A digest of every row of every table, per table: any write at all changes one."""
    digests = {}
    with db.engine.connect() as connection:
        for name, table in metadata.tables.items():
            digest = hashlib.sha256()
            for row in connection.execute(sa_select(*table.columns).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
            digests[name] = digest.hexdigest()
    return digests


def table_rows(db: Database, table: str, order: Sequence[str] = ()) -> list[tuple[Any, ...]]:
    """Every row of `table` as tuples (for before / after comparisons)."""
    clause = f" ORDER BY {', '.join(order)}" if order else ""
    with db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}{clause}"))]
