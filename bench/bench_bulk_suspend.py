"""Benchmark a bulk suspend through the whole stack: bulk run -> job queue -> adapter -> panel.

Seeds N Pterodactyl servers in a sandbox panel running in its own process (as a real panel
would, so it does not share this process's interpreter) and N matching services in a fresh
database, then
suspends them all with `core.bulk.run` (what `services suspend --status active --yes` does),
first with the panel's limit lifted (services per second), then for a while with the panel
and the adapter at 240 requests a minute (achieved rate as a share of the allowed rate, and
the 429s the panel sent).

    python bench/bench_bulk_suspend.py [--services 2000] [--db sqlite|postgresql://...] [--seconds 60]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from svcconsole.core import bulk, catalog, jobs, records
from svcconsole.core.context import acting_operator, open_database
from svcconsole.modules.http import close_clients
from svcconsole.modules.ratelimits import reset_rate_limiters
from svcconsole.modules.sandbox import PterodactylSandbox


@dataclass
class Panel:
    """A sandbox panel in a child process: where it listens, its keys and seeded server ids."""

    url: str
    credentials: str
    server_ids: list[int]
    stop: Any


def _serve_panel(count: int, limit: int, pipe: Any) -> None:
    sandbox = PterodactylSandbox(rate_limit_per_minute=limit or None)
    sandbox.start()
    ids = sandbox.seed_servers(count)
    pipe.send((sandbox.url, sandbox.credentials, ids))
    pipe.recv()
    pipe.send(sandbox.stats["rate_limited"])
    sandbox.stop()


def start_panel(count: int, limit: int) -> Panel:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve_panel, args=(count, limit, child), daemon=True)
    process.start()
    url, credentials, ids = parent.recv()

    def stop() -> int:
        parent.send("stop")
        rate_limited = parent.recv()
        process.join(timeout=10)
        return rate_limited

    return Panel(url, credentials, ids, stop)


def prepare(url: str, panel: Panel, limit: int):  # type: ignore[no-untyped-def]
    db = open_database(url)
    admin = acting_operator(db)
    tag = time.time_ns()

    def setup(session):  # type: ignore[no-untyped-def]
        customer = catalog.add_customer(session, admin, name="Bench", email=f"bench-{tag}@example.com")
        server = catalog.add_server(
            session,
            admin,
            name=f"bench-{tag}",
            module="pterodactyl",
            url=panel.url,
            credentials=panel.credentials,
            node="1",
            config=[f"rate_limit_per_minute={limit}", "timeout=10"],
        )
        product = catalog.add_product(session, admin, name=f"bench-{tag}", type="pterodactyl", prices=["monthly=1.00"], config=["nest=1", "egg=1"])
        ids = []
        for panel_id in panel.server_ids:
            draft = records.ServiceDraft(
                customer=str(customer.id), name=f"bench-{panel_id}", product=str(product.id), server=str(server.id), external=str(panel_id)
            )
            ids.append(records.import_service(session, admin, draft, external={"server_id": panel_id}).id)
        return ids

    return db, admin, db.transaction(setup)


def run(url: str, count: int, limit: int, seconds: float | None, concurrency: int, per_server: int) -> None:
    reset_rate_limiters()
    if seconds is not None:
        count = max(1, int(limit / 60 * seconds))
    panel = start_panel(count, limit)
    rate_limited = 0
    try:
        db, admin, ids = prepare(url, panel, limit)
        started = time.perf_counter()
        report = bulk.run(db, admin, "suspend", {"kind": "admin"}, ids, selection={"bench": time.time_ns()}, concurrency=concurrency, per_server=per_server)
        elapsed = time.perf_counter() - started
        db.dispose()
    finally:
        rate_limited = panel.stop()
        close_clients()
    failed = report.count("failed") + report.count("skipped")
    rate = len(ids) / elapsed
    if not limit:
        print(f"bulk suspend, limit lifted: {len(ids)} services in {elapsed:.2f}s = {rate:,.0f} services/s ({failed} not ok)")
    else:
        allowed = limit / 60
        print(
            f"bulk suspend at {limit}/min: {len(ids)} services in {elapsed:.1f}s = {rate:.2f}/s = {100 * rate / allowed:.1f}% of the allowed {allowed:.0f}/s; 429s from the panel: {rate_limited} ({failed} not ok)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--db", default="sqlite", help="sqlite (a temp file) or a PostgreSQL URL")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the rate-limited run")
    parser.add_argument("--concurrency", type=int, default=jobs.DEFAULT_CONCURRENCY, help="module calls at once")
    parser.add_argument("--per-server", type=int, default=jobs.DEFAULT_PER_SERVER, help="module calls at once per server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ.setdefault("SVCCONSOLE_SECRET_KEY", "bGVuZ3RoLW9mLXRoaXMta2V5LWlzLTMyLWJ5dGVzISE=")
        url = f"sqlite:///{folder}/bench.db" if args.db == "sqlite" else args.db
        print(f"database: {url.split('@')[-1]}; services: {args.services}; cores: {os.cpu_count()}")
        print(f"concurrency: {args.concurrency} overall, {args.per_server} per server")
        run(url, args.services, 0, None, args.concurrency, args.per_server)
        run(url, args.services, 240, args.seconds, args.concurrency, args.per_server)


if __name__ == "__main__":
    main()
