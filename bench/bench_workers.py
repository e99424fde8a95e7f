"""Scale out: 1, 2 and 4 `svcconsole worker` processes draining queued suspends over one PostgreSQL.

A Pterodactyl sandbox panel runs in its own process, answers every request 100 ms late (a real
panel's pace) with its rate limit lifted, and counts every request it answers. For each number of
workers, a fresh database gets N services on that panel and N queued `suspend` jobs; then the
workers (`python -m svcconsole worker --concurrency 4`, real processes) drain the queue. Printed:
jobs per second for each count and its ratio to one worker's, measured in the same run; the
panel's request log shows whether any server was suspended twice. A last run with 4 workers kills
one of them (SIGKILL) half way and checks that every job still ends, none failed, none lost.

    python bench/bench_workers.py [--services 4000] [--db postgresql://postgres@127.0.0.1/svcbench_workers]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from svcconsole.core import actions, catalog, records  # noqa: E402
from svcconsole.core.context import acting_operator, open_database  # noqa: E402
from svcconsole.modules.sandbox import PterodactylSandbox  # noqa: E402

SECRET_KEY = "bGVuZ3RoLW9mLXRoaXMta2V5LWlzLTMyLWJ5dGVzISE="
QUEUE_CHUNK = 500


@dataclass
class Panel:
    """The sandbox panel in a child process: where it listens, its key, its servers, how to stop it."""

    url: str
    credentials: str
    server_ids: list[int]
    process: Any
    pipe: Any

    def stop(self) -> dict[int, int]:
        """Stop the panel; returns how many suspend requests it answered for each server."""
        self.pipe.send("stop")
        suspends = self.pipe.recv()
        self.process.join(timeout=10)
        return suspends


def _serve_panel(count: int, delay: float, pipe: Any) -> None:
    sandbox = PterodactylSandbox(rate_limit_per_minute=None)
    sandbox.set_response_delay(delay)
    sandbox.start()
    ids = sandbox.seed_servers(count)
    pipe.send((sandbox.url, sandbox.credentials, ids))
    pipe.recv()
    suspends: dict[int, int] = {}
    for (method, path), times in sandbox.calls.items():
        if method == "POST" and path.endswith("/suspend"):
            suspends[int(path.rstrip("/").split("/")[-2])] = times
    pipe.send(suspends)
    sandbox.stop()


def start_panel(count: int, delay: float) -> Panel:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve_panel, args=(count, delay, child), daemon=True)
    process.start()
    url, credentials, ids = parent.recv()
    return Panel(url, credentials, ids, process, parent)


def fresh_database(url: str) -> None:
    """Drop and create the database named in `url` (a PostgreSQL URL)."""
    name = make_url(url).database or ""
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def queue_suspends(url: str, panel: Panel) -> int:
    """N services on the panel's servers, each with a queued suspend job; returns N."""
    db = open_database(url)
    admin = acting_operator(db)

    def setup(session: Any) -> list[int]:
        customer = catalog.add_customer(session, admin, name="Bench", email="bench@example.com")
        server = catalog.add_server(
            session,
            admin,
            name="bench-panel",
            module="pterodactyl",
            url=panel.url,
            credentials=panel.credentials,
            node="1",
            config=["rate_limit_per_minute=0", "timeout=10"],
        )
        product = catalog.add_product(session, admin, name="bench", type="pterodactyl", prices=["monthly=1.00"], config=["nest=1", "egg=1"])
        ids = []
        for panel_id in panel.server_ids:
            draft = records.ServiceDraft(
                customer=str(customer.id), name=f"bench-{panel_id}", product=str(product.id), server=str(server.id), external=str(panel_id)
            )
            ids.append(records.import_service(session, admin, draft, external={"server_id": panel_id}).id or 0)
        return ids

    service_ids = db.transaction(setup)
    for start in range(0, len(service_ids), QUEUE_CHUNK):
        chunk = service_ids[start : start + QUEUE_CHUNK]
        db.transaction(lambda session, chunk=chunk: [actions.perform(session, admin, "suspend", service_id, {"kind": "admin"}) for service_id in chunk])
    db.dispose()
    return len(service_ids)


def job_counts(engine: Any) -> dict[str, int]:
    with engine.connect() as connection:
        return {status: total for status, total in connection.execute(text("SELECT status, count(*) FROM job GROUP BY status")).all()}


def drain(url: str, workers: int, concurrency: int, total: int, *, kill_one_at: float | None = None) -> tuple[float, list[int]]:
    """Start `workers` worker processes and wait until no job is queued or running: the seconds
    from the first claim to the last job's end, and the pids killed on the way."""
    env = dict(os.environ)
    argv = [sys.executable, "-m", "svcconsole", "--db", url, "worker", "--concurrency", str(concurrency), "--per-server", str(concurrency), "--interval", "1"]
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(workers)]
        return _watch(url, [subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log) for log in logs], logs, total, kill_one_at)


def _watch(url: str, processes: list[Any], logs: list[Any], total: int, kill_one_at: float | None) -> tuple[float, list[int]]:
    """Poll the queue until it is empty (killing one worker half way when asked); stop the workers."""
    engine = create_engine(url)
    killed: list[int] = []
    started: float | None = None
    try:
        while True:
            counts = job_counts(engine)
            waiting = counts.get("queued", 0) + counts.get("running", 0)
            if started is None and waiting < total:
                started = time.perf_counter()
            if kill_one_at is not None and not killed and waiting <= total * (1 - kill_one_at):
                os.kill(processes[0].pid, signal.SIGKILL)
                processes[0].wait()
                killed.append(processes[0].pid)
            if waiting == 0:
                return time.perf_counter() - (started or time.perf_counter()), killed
            if all(process.poll() is not None for process in processes):
                logs[-1].seek(0)
                raise SystemExit(f"bench: every worker stopped with {waiting} jobs left: {logs[-1].read().decode()[-2000:]}")
            time.sleep(0.05)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        engine.dispose()


def verify(url: str, total: int, suspends: dict[int, int]) -> str:
    """What the billing and the panel say after the run, in one line."""
    engine = create_engine(url)
    counts = job_counts(engine)
    with engine.connect() as connection:
        suspended = connection.execute(text("SELECT count(*) FROM service WHERE status = 'suspended'")).scalar_one()
    engine.dispose()
    twice = sum(1 for times in suspends.values() if times > 1)
    return f"jobs {counts}; services suspended {suspended} of {total}; panel: {len(suspends)} servers got a suspend, {twice} got it more than once"


def run(url: str, services: int, delay: float, workers: int, concurrency: int, *, kill: bool = False) -> float:
    fresh_database(url)
    panel = start_panel(services, delay)
    try:
        total = queue_suspends(url, panel)
        seconds, killed = drain(url, workers, concurrency, total, kill_one_at=0.5 if kill else None)
    finally:
        suspends = panel.stop()
    rate = total / seconds
    label = f"{workers} worker{'s' if workers != 1 else ''}" + (f", one killed half way (pid {killed[0]})" if killed else "")
    print(f"{label}: {total} suspends in {seconds:.1f} s = {rate:.1f}/s; {verify(url, total, suspends)}", flush=True)
    return rate


def main() -> None:
    os.environ.setdefault("SVCCONSOLE_SECRET_KEY", SECRET_KEY)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=4000)
    parser.add_argument(
        "--db", default="postgresql+psycopg://postgres@127.0.0.1/svcbench_workers", help="a PostgreSQL URL (the database is dropped and made again)"
    )
    parser.add_argument("--delay", type=float, default=0.1, help="seconds the panel takes to answer each request")
    parser.add_argument("--concurrency", type=int, default=4, help="jobs at once per worker")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to measure, comma-separated")
    args = parser.parse_args()
    url = args.db if not args.db.startswith("postgresql://") else "postgresql+psycopg://" + args.db.split("://", 1)[1]
    print(f"database: {url.split('@')[-1]}; services: {args.services}; panel answers in {args.delay * 1000:.0f} ms; cores: {os.cpu_count()}", flush=True)
    rates = {count: run(url, args.services, args.delay, count, args.concurrency) for count in (int(part) for part in args.workers.split(","))}
    base = rates.get(1)
    if base:
        print("ratios to one worker: " + ", ".join(f"{count} workers {rate / base:.2f}x" for count, rate in rates.items()))
    run(url, args.services, args.delay, max(rates), args.concurrency, kill=True)


if __name__ == "__main__":
    main()
