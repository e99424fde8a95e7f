"""Benchmark `reconcile` of one Pterodactyl panel holding N servers (10,000 by default).

The sandbox runs in a child process (so its memory is not counted), limited to 240 requests a
minute like a real panel, with the adapter's bucket at the same limit. Its servers are seeded
straight into its store for speed (`seed_servers`), not through its API. The database (SQLite in
a temporary folder) gets one service per panel server but the last `--orphans`, inserted in
batches, so reconcile compares N resources with N - orphans services.

Prints the panel requests, the seconds, and the peak memory the reconcile allocated (tracemalloc).

    PYTHONPATH=. python bench/bench_reconcile.py [--resources 10000] [--orphans 100]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from svcconsole.core import catalog, clock, reconcile
from svcconsole.core.context import open_database
from svcconsole.core.operators import SYSTEM
from svcconsole.modules.ratelimits import reset_rate_limiters
from svcconsole.store.models import Service


def run_panel(count: int, ready: Any, stop: Any) -> None:
    from svcconsole.modules.sandbox import PterodactylSandbox

    sandbox = PterodactylSandbox(rate_limit_per_minute=240)
    sandbox.start()
    ids = sandbox.seed_servers(count)
    ready.put((sandbox.url, sandbox.credentials, ids))
    stop.wait()
    sandbox.stop()


class Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "/api/application/servers" in record.getMessage():
            self.requests += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--orphans", type=int, default=100)
    args = parser.parse_args()
    ready: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    panel = multiprocessing.Process(target=run_panel, args=(args.resources, ready, stop), daemon=True)
    panel.start()
    url, credentials, ids = ready.get(timeout=120)
    folder = tempfile.mkdtemp(prefix="bench-reconcile-")
    db = open_database(f"sqlite:///{folder}/bench.db")

    def setup(session: Any) -> tuple[int, int, int]:
        customer = catalog.add_customer(session, SYSTEM, name="Bench Customer", email="admin@sandbox.test")
        product = catalog.add_product(session, SYSTEM, name="Game", type="pterodactyl", prices=["monthly=5.00"], config=["nest=1", "egg=1", "memory=1024"])
        server = catalog.add_server(
            session, SYSTEM, name="panel", module="pterodactyl", url=url, credentials=credentials, node="1", config=["rate_limit_per_minute=240"]
        )
        return customer.id or 0, product.id or 0, server.id or 0

    customer_id, product_id, server_id = db.transaction(setup)
    now = clock.now()
    linked = ids[: len(ids) - args.orphans]
    rows = [
        {
            "uuid": str(uuid.uuid4()),
            "customer_id": customer_id,
            "customer_name": "Bench Customer",
            "product_id": product_id,
            "product_name": "Game",
            "server_id": server_id,
            "server_name": "panel",
            "type": "pterodactyl",
            "name": f"bench-{panel_id}",
            "status": "active",
            "billing_cycle": "monthly",
            "price": 5,
            "initial_price": 5,
            "currency": "EUR",
            "created_at": now,
            "external": {"server_id": panel_id},
            "external_key": str(panel_id),
            "version": 1,
            "search_text": f"bench-{panel_id}",
        }
        for panel_id in linked
    ]
    for offset in range(0, len(rows), 2000):
        db.transaction(lambda session, part=rows[offset : offset + 2000]: session.execute(insert(Service), part))
    del rows
    counter = Counter()
    modules_log = logging.getLogger("svcconsole.modules")
    modules_log.addHandler(counter)
    modules_log.setLevel(logging.INFO)
    reset_rate_limiters()
    tracemalloc.start()
    started = time.perf_counter()
    report = reconcile.reconcile(db, SYSTEM)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stop.set()
    panel.join(timeout=10)
    [outcome] = report.panels
    print(f"resources read: {outcome.resources} (error: {outcome.error})")
    print(f"services compared: {len(linked)}; drift found: {outcome.found} ({outcome.new} new)")
    print(f"panel requests: {counter.requests}")
    print(f"seconds: {seconds:.1f}")
    print(f"peak memory allocated by the reconcile: {peak / 1024 / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
