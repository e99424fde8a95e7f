"""A Pterodactyl sandbox in a process of its own, slowed by a fixed latency per request.

Run as `python -m tests.reliability.slow_panel --servers N --latency SECONDS`: it prints one
JSON line (url, credentials, the seeded server ids), then answers commands read from stdin,
one a line, with one JSON line each:

    counts   how many suspend requests each server received, and which servers are suspended
    quit     stop

Being a separate process, it keeps serving (and keeps its counts) when the svcconsole process
that talks to it is killed, as a real panel would.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from collections import Counter

from svcconsole.modules.sandbox import PterodactylSandbox
from svcconsole.modules.sandbox.http import Request, Response

SUSPEND_PATH = re.compile(r"^/api/application/servers/(\d+)/suspend/?$")


class SlowPanel(PterodactylSandbox):
    """Every request waits `latency` seconds before it is handled; suspend requests are counted."""

    def __init__(self, latency: float, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.latency = latency
        self.suspend_requests: Counter[int] = Counter()
        self.count_lock = threading.Lock()

    def handle(self, request: Request) -> Response | None:
        found = SUSPEND_PATH.match(request.path)
        if found and request.method == "POST":
            with self.count_lock:
                self.suspend_requests[int(found.group(1))] += 1
        time.sleep(self.latency)
        return super().handle(request)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    panel = SlowPanel(args.latency, rate_limit_per_minute=None, install_delay=0.01, power_delay=0.01)
    url = panel.start()
    ids = panel.seed_servers(args.servers)
    print(json.dumps({"url": url, "credentials": panel.credentials, "ids": ids}), flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "counts":
                with panel.count_lock:
                    requests = {str(key): value for key, value in panel.suspend_requests.items()}
                with panel.lock:
                    suspended = sorted(server.id for server in panel.servers.values() if server.status == "suspended")
                print(json.dumps({"suspend_requests": requests, "suspended": suspended}), flush=True)
            elif command == "quit":
                break
    finally:
        panel.stop()


if __name__ == "__main__":
    main()
