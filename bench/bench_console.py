"""Benchmark of the console over a large store: first page, filter latency, deep jump, sort, RSS.

    .venv/bin/python bench/bench_console.py [--services 1000000] [--db PATH] [--repeat 12]

Seeds (or reuses) a SQLite file of N services, then drives the real app headless
(`App.run_test`) and in a real pseudo-terminal (`python -m svcconsole --db URL` under
`os.forkpty`, timed until the first row's text is on the screen), and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import resource
import select as select_module
import signal
import statistics
import struct
import sys
import termios
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

from sqlmodel import select  # noqa: E402

from svcconsole.core import seed  # noqa: E402
from svcconsole.core.context import acting_operator, open_database  # noqa: E402
from svcconsole.store.models import Service  # noqa: E402
from svcconsole.store.queries import ServiceFilter, Sort  # noqa: E402
from svcconsole.store.window import ServiceWindow  # noqa: E402

FILTERS = {
    "status: (indexed)": ["status:active", "status:suspended", "status:expired", "status:pending", "status:cancelled", "status:terminated"],
    "search 3+ chars": ["nexus", "forge", "orbit", "atlas", "vault", "ember"],
    "search 1-2 chars": ["a", "ne", "o", "fo", "z", "ex"],
    "combined": ["status:active cycle:monthly nexus", "status:suspended product:VPS", "status:active server:ptero expires<30d", "cycle:annually forge", "status:expired customer:alice", "status:active type:manual"],
}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(round(fraction * (len(ordered) - 1))), len(ordered) - 1)]


def prepare(path: Path, services: int):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{path}"
    fresh = not path.exists()
    db = open_database(url)
    if fresh:
        started = time.perf_counter()
        seed.seed_demo(db, services=services)
        print(f"seeded {services:,} services in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return db


def bench_window(db, results: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    window = ServiceWindow(db, page_size=100)
    for label, sort in (("window: first page (id)", Sort()), ("window: first page (expires)", Sort("expires"))):
        window.configure(ServiceFilter(), sort)
        started = time.perf_counter()
        window.load(0, 60)
        results[label] = f"{(time.perf_counter() - started) * 1000:.1f} ms"
    with db.read() as session:
        from svcconsole.store import queries

        started = time.perf_counter()
        total = queries.count(session, ServiceFilter())
        results["count (all listed)"] = f"{(time.perf_counter() - started) * 1000:.0f} ms ({total:,} rows)"
        started = time.perf_counter()
        queries.counts_by_status(session, ServiceFilter())
        results["counts by status"] = f"{(time.perf_counter() - started) * 1000:.0f} ms"
    for label, sort in (("window: jump to row 500,000 (id)", Sort()), ("window: jump to row 500,000 (expires)", Sort("expires")), ("window: jump to row 500,000 (customer desc)", Sort("customer", True))):
        generation = window.configure(ServiceFilter(), sort)
        window.set_total(total, generation)
        started = time.perf_counter()
        window.load(500_000, 500_060)
        jump = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        window.load(499_850, 499_900)
        back = (time.perf_counter() - started) * 1000
        results[label] = f"{jump:.0f} ms, then a page back by keyset {back:.1f} ms"
    results["window: rows in memory (bound)"] = f"{window.rows_in_memory} (max {window.max_pages * window.page_size})"


async def bench_app(db, actor, results: dict[str, str], repeat: int) -> None:  # type: ignore[no-untyped-def]
    from svcconsole.app import ConsoleApp
    from svcconsole.console.messages import CountsLoaded, ListReloaded

    events: list[tuple[float, object]] = []

    def hook(message: object) -> None:
        if isinstance(message, (ListReloaded, CountsLoaded)):
            events.append((time.perf_counter(), message))

    started = time.perf_counter()
    app = ConsoleApp(db, actor, tz=ZoneInfo("UTC"))
    async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
        while not any(isinstance(message, ListReloaded) for _, message in events):
            await asyncio.sleep(0.002)
        await pilot.pause(0)
        results["headless: launch to first page"] = f"{(time.perf_counter() - started) * 1000:.0f} ms"
        while not any(isinstance(message, CountsLoaded) for _, message in events):
            await asyncio.sleep(0.002)
        results["headless: launch to counts"] = f"{(time.perf_counter() - started) * 1000:.0f} ms"
        screen = app.screen
        field = screen.query_one("#filter")
        await pilot.press("slash")

        async def until(kind: type, generation: int, since: float) -> float:
            while True:
                for moment, message in events:
                    if isinstance(message, kind) and message.generation == generation and moment >= since:  # type: ignore[attr-defined]
                        return (moment - since) * 1000
                await asyncio.sleep(0.001)

        for label, texts in FILTERS.items():
            pages: list[float] = []
            counts: list[float] = []
            for index in range(repeat):
                text = texts[index % len(texts)]
                events.clear()
                previous = screen.generation
                since = time.perf_counter()
                field.value = text
                while screen.generation == previous:
                    await asyncio.sleep(0.0005)
                generation = screen.generation
                pages.append(await until(ListReloaded, generation, since))
                counts.append(await until(CountsLoaded, generation, since))
            results[f"filter {label}: page p50/p95"] = f"{statistics.median(pages):.0f} / {percentile(pages, 0.95):.0f} ms"
            results[f"filter {label}: counts p50/p95"] = f"{statistics.median(counts):.0f} / {percentile(counts, 0.95):.0f} ms"
        field.value = ""
        await pilot.press("escape")
        while screen.total is None or screen.filter_text:
            await asyncio.sleep(0.005)
        await app.workers.wait_for_complete()
        table = screen.table
        for label, target in (("deep jump to row 500,000", 500_000), ("end (G)", None)):
            since = time.perf_counter()
            if target is None:
                await pilot.press("G")
                target = table.row_count - 1
            else:
                table.move_cursor(target)
            while table.window.row(target) is None:
                await asyncio.sleep(0.001)
            await pilot.pause(0)
            results[f"headless: {label}"] = f"{(time.perf_counter() - since) * 1000:.0f} ms"
        scroll: list[float] = []
        for _ in range(30):
            since = time.perf_counter()
            await pilot.press("pagedown")
            while table.window.row(table.cursor) is None:
                await asyncio.sleep(0.001)
            scroll.append((time.perf_counter() - since) * 1000)
        results["headless: page down x30 p50/max"] = f"{statistics.median(scroll):.0f} / {max(scroll):.0f} ms"
        sorts: list[float] = []
        for _ in range(9):
            events.clear()
            previous = screen.generation
            since = time.perf_counter()
            await pilot.press("o")
            while screen.generation == previous:
                await asyncio.sleep(0.0005)
            sorts.append(await until(ListReloaded, screen.generation, since))
        results["sort change (o, each column) p50/max"] = f"{statistics.median(sorts):.0f} / {max(sorts):.0f} ms"
        results["rows in memory after all this"] = f"{table.window.rows_in_memory}"


def bench_pty(url: str, first_name: str, results: dict[str, str]) -> None:
    started = time.perf_counter()
    pid, fd = os.forkpty()
    if pid == 0:
        os.environ["TERM"] = "xterm-256color"
        os.execv(sys.executable, [sys.executable, "-m", "svcconsole", "--db", url])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    seen = b""
    elapsed = None
    deadline = started + 30
    try:
        while time.perf_counter() < deadline:
            ready, _, _ = select_module.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                seen += chunk
                if first_name.encode() in seen:
                    elapsed = time.perf_counter() - started
                    break
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(fd)
    results["pty: launch to first row on screen"] = f"{elapsed * 1000:.0f} ms" if elapsed else "not seen in 30 s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="SQLite file to reuse or create (default bench/results/bench-N.db)")
    parser.add_argument("--repeat", type=int, default=12)
    args = parser.parse_args()
    path = args.db or ROOT / "bench" / "results" / f"bench-{args.services}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    db = prepare(path, args.services)
    actor = acting_operator(db)
    with db.read() as session:
        first_name = session.exec(select(Service.name).where(Service.status != "deleted").order_by(Service.id)).first() or ""
    results: dict[str, str] = {}
    bench_pty(f"sqlite:///{path}", first_name, results)
    bench_window(db, results)
    asyncio.run(bench_app(db, actor, results, args.repeat))
    results["peak RSS (this process)"] = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    width = max(len(key) for key in results)
    print(f"\nsvcconsole console benchmark: {args.services:,} services, SQLite {path.name}, {os.cpu_count()} cores")
    for key, value in results.items():
        print(f"  {key:<{width}}  {value}")


if __name__ == "__main__":
    main()
