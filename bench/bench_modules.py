"""Benchmark the Pterodactyl adapter against the sandbox: bulk throughput, then rate-limit fit.

Phase 1 seeds N servers in a sandbox with its limit lifted and suspends them all through the
adapter from a thread pool, printing services per second. Phase 2 runs suspends for a while
against a panel limited to 240 requests a minute, with the adapter's token bucket at the same
limit, and prints the achieved rate as a share of the allowed rate and the 429s the panel
sent. `--compare` adds the same run with the bucket off, to show what it prevents.

    PYTHONPATH=. python bench/bench_modules.py [--services 2000] [--workers 16] [--seconds 30]
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from svcconsole.modules import CustomerRef, ModuleError, ServerRef, ServiceRef, get_module
from svcconsole.modules.http import close_clients
from svcconsole.modules.ratelimits import reset_rate_limiters
from svcconsole.modules.sandbox import PterodactylSandbox

CUSTOMER = CustomerRef(id=1, name="Bench Customer", email="bench@example.com")


def services_for(sandbox: PterodactylSandbox, server: ServerRef, server_ids: list[int]) -> list[ServiceRef]:
    """One service snapshot per seeded panel server, with its server id already stored."""
    return [
        ServiceRef(id=i, uuid=f"bench-{i}", name=f"bench-{i}", customer=CUSTOMER, product=None, server=server, external={"server_id": server_id})
        for i, server_id in enumerate(server_ids, start=1)
    ]


def server_ref(sandbox: PterodactylSandbox, rate_limit_per_minute: int) -> ServerRef:
    return ServerRef(
        id=1,
        name="bench",
        module="pterodactyl",
        url=sandbox.url,
        credentials=sandbox.credentials,
        node="1",
        config={"rate_limit_per_minute": rate_limit_per_minute, "timeout": 10, "max_retry_after": 10},
    )


def bulk_throughput(count: int, workers: int) -> None:
    """Suspend `count` services with the panel's and the adapter's limits both off."""
    module = get_module("pterodactyl")
    with PterodactylSandbox(rate_limit_per_minute=None) as sandbox:
        ids = sandbox.seed_servers(count)
        services = services_for(sandbox, server_ref(sandbox, 0), ids)
        failures: list[str] = []

        def suspend(service: ServiceRef) -> None:
            try:
                module.suspend(service)
            except ModuleError as exc:
                failures.append(exc.message)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(suspend, services))
        elapsed = time.perf_counter() - started
        suspended = sum(1 for s in sandbox.servers.values() if s.status == "suspended")
        print(
            f"phase 1: {count} services suspended by {workers} workers in {elapsed:.2f} s "
            f"= {count / elapsed:.0f} services/s (suspended on the panel: {suspended}, failures: {len(failures)})"
        )
    close_clients()


def limited_run(limit: int, seconds: float, workers: int, *, bucket: bool) -> None:
    """Suspend for `seconds` against a panel limited to `limit`/min; report rate and 429s."""
    reset_rate_limiters()
    module = get_module("pterodactyl")
    with PterodactylSandbox(rate_limit_per_minute=limit) as sandbox:
        ids = sandbox.seed_servers(int(limit / 60 * seconds * 2) + workers * 4)
        server = server_ref(sandbox, limit if bucket else 0)
        pending = iter(services_for(sandbox, server, ids))
        lock = threading.Lock()
        done: list[float] = []
        failures: list[str] = []
        deadline = time.monotonic() + seconds

        def worker() -> None:
            while time.monotonic() < deadline:
                with lock:
                    service = next(pending, None)
                if service is None:
                    return
                try:
                    module.suspend(service)
                    with lock:
                        done.append(time.monotonic())
                except ModuleError as exc:
                    with lock:
                        failures.append(exc.message)

        started = time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = (max(done) if done else time.monotonic()) - started
        allowed = limit / 60
        achieved = len(done) / elapsed if elapsed > 0 else 0.0
        rate_limited = sandbox.stats["rate_limited"]
        if bucket:
            done.sort()
            skip = max(1, limit // 60)
            steady = (len(done) - skip - 1) / (done[-1] - done[skip]) if len(done) > skip + 1 else 0.0
            print(
                f"phase 2 (token bucket at {limit}/min): {len(done)} suspends in {elapsed:.1f} s = {achieved:.2f}/s "
                f"= {achieved / allowed * 100:.1f} % of the allowed {allowed:.2f}/s "
                f"(steady state after the first {skip}: {steady:.2f}/s = {steady / allowed * 100:.1f} %); "
                f"429s from the panel: {rate_limited}; failed calls: {len(failures)}"
            )
        else:
            print(
                f"compare (no token bucket): {len(done)} suspends went through in {elapsed:.2f} s, then the panel "
                f"answered {rate_limited} requests with 429 (Retry-After up to 60 s, longer than the adapter "
                f"waits), reported as {len(failures)} retryable failures"
            )
    close_clients()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--limit", type=int, default=240, help="panel limit, requests per minute (phase 2)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the limited run (phase 2)")
    parser.add_argument("--compare", action="store_true", help="also run phase 2 with the token bucket off")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    bulk_throughput(args.services, args.workers)
    limited_run(args.limit, args.seconds, args.workers, bucket=True)
    if args.compare:
        limited_run(args.limit, args.seconds, args.workers, bucket=False)


if __name__ == "__main__":
    main()
