"""The scale benchmark: seed N services, then time what an admin feels, and print one table.

    .venv/bin/python bench/scale.py                        # 1,000,000 services in SQLite
    .venv/bin/python bench/scale.py --db postgresql+psycopg://postgres@127.0.0.1/svcbench
    .venv/bin/python bench/scale.py --services 100000 --repeat 3 --markdown
    .venv/bin/python bench/scale.py --reuse --only bulk    # the bulk add-days alone

Each figure is the median of `--repeat` runs (seeding is timed once: it is the set-up of every
other figure). The console is timed as the real program in a pseudo-terminal, beside a bare
Textual app showing a 100-row table; the filters, the deep jump and the sort are timed in the
real app driven headless, from a keystroke to the page on screen. The bulk action and the
automation run on a copy of the database, so `--reuse` finds the seeded data as it was.

A PostgreSQL database named by `--db` must be empty (migrated or not) unless `--reuse` (keep
the services it has when there are N) or `--fresh` (drop everything in it first).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import platform
import random
import select as select_module
import shutil
import signal
import sqlite3
import statistics
import struct
import sys
import termios
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from svcconsole.core import automation, bulk, clock, cycles, seed  # noqa: E402
from svcconsole.core.context import acting_operator, open_database  # noqa: E402
from svcconsole.store import queries  # noqa: E402
from svcconsole.store.engine import Database, safe_url  # noqa: E402
from svcconsole.store.queries import ServiceFilter, Sort  # noqa: E402
from svcconsole.store.window import ServiceWindow  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SMALL_SERVICES = 10_000
BULK_SERVICES = 10_000
DUE_SHARE = 0.01

SPECIFIC = "search, a specific name or email"
"""Filled per database by `pick_specific_terms`: what an admin looking for one service types."""
FILTERS = {
    "status: term (indexed)": ["status:active", "status:suspended", "status:expired", "status:pending", "status:cancelled", "status:terminated"],
    "search, 3+ characters": ["nexus", "forge", "orbit", "atlas", "vault", "ember"],
    "search, 1-2 characters": ["a", "ne", "o", "fo", "z", "ex"],
    "combined filter": [
        "status:active cycle:monthly nexus",
        "status:suspended product:VPS",
        "status:active server:ptero expires<30d",
        "cycle:annually forge",
        "status:expired customer:alice",
        "status:active type:manual",
    ],
}
FILTER_TARGETS = {"status: term (indexed)": 100.0, "search, 3+ characters": 100.0, SPECIFIC: 100.0, "search, 1-2 characters": 300.0}
FILTERS[SPECIFIC] = []
WEB_PANEL_GROUPS = {"search, 3+ characters": "a common word", SPECIFIC: "a specific name or email"}
PAINT_LIMIT_SECONDS = 10.0
TYPING_PAUSE_SECONDS = 0.15
"""The gap before the timed keystroke: an admin's typing pace (a burst of keys inside the
console's 80 ms debounce is applied together, which this figure does not time)."""
AUTOMATION_CASES = ("invoice", "notice", "suspend", "expire", "cancel", "hide")
FIGURE_GROUPS = ("seed", "store", "launch", "memory", "app", "bulk", "automation")
"""What `--only` picks from: the seed rate (printed whenever the run seeds), the store's reads,
the launch in a pty, the peak memory, the headless app (keystrokes, stall, deep jump, sort, and
the web-panel queries it is compared with), the bulk action, the automation run."""


# ---------------------------------------------------------------------- the table


@dataclass
class Figure:
    """One line of the table: what was measured, its value, the target and whether it was met."""

    label: str
    value: str
    target: str = ""
    met: bool | None = None
    runs: int = 1
    note: str = ""


@dataclass
class Report:
    services: int
    backend: str
    machine: dict[str, str]
    figures: list[Figure] = field(default_factory=list)

    def add(self, label: str, value: str, *, target: str = "", met: bool | None = None, runs: int = 1, note: str = "") -> None:
        self.figures.append(Figure(label, value, target, met, runs, note))
        print(f"  {label}: {value}" + (f"  (target {target}: {'met' if met else 'MISSED'})" if target and met is not None else ""), file=sys.stderr, flush=True)

    def table(self) -> str:
        rows = [("figure", "value", "target", "", "runs")] + [
            (figure.label, figure.value, figure.target, "" if figure.met is None else ("met" if figure.met else "MISSED"), str(figure.runs))
            for figure in self.figures
        ]
        widths = [max(len(row[index]) for row in rows) for index in range(5)]
        lines = [self.heading(), ""]
        for number, row in enumerate(rows):
            lines.append("  ".join(cell.ljust(widths[index]) for index, cell in enumerate(row)).rstrip())
            if number == 0:
                lines.append("  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [f"**{self.heading()}**", "", "| figure | value | target | | runs |", "|---|---|---|---|---|"]
        for figure in self.figures:
            verdict = "" if figure.met is None else ("met" if figure.met else "**missed**")
            lines.append(f"| {figure.label} | {figure.value} | {figure.target} | {verdict} | {figure.runs} |")
        return "\n".join(lines)

    def heading(self) -> str:
        machine = self.machine
        return (
            f"svcconsole scale benchmark: {self.services:,} services on {self.backend}; {machine['cpu']}, {machine['cores']} cores, "
            f"{machine['memory']}; load {machine['load']} at start; {machine['when']}"
        )


def machine_info(db: Database) -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        memory = f"{memory_kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration):
        memory = "RAM unknown"
    if db.is_sqlite:
        engine = f"SQLite {sqlite3.sqlite_version}"
    else:
        with db.read() as session:
            engine = f"PostgreSQL {session.execute(text('SHOW server_version')).scalar_one().split()[0]}"
    import textual

    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "load": " ".join(f"{value:.2f}" for value in os.getloadavg()),
        "engine": engine,
        "python": platform.python_version(),
        "textual": textual.__version__,
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(round(fraction * (len(ordered) - 1)), len(ordered) - 1)]


def timed(work: Callable[[], Any]) -> float:
    """Milliseconds `work` took."""
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


# ---------------------------------------------------------------------- databases


def _admin_engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def service_count(db: Database) -> int:
    with db.read() as session:
        return session.execute(text("SELECT count(*) FROM service")).scalar_one() if db.has_tables() else 0


def prepare(url: str, services: int, *, reuse: bool, fresh: bool, report_seed: Callable[[float], None]) -> Database:
    """The database to measure, seeded with `services` services (or reused)."""
    if url.startswith("sqlite"):
        path = Path(make_url(url).database or "")
        if path.exists() and not reuse:
            for suffix in ("", "-wal", "-shm", ".key"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    elif fresh:
        probe = Database(url)
        with probe.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        probe.dispose()
    db = open_database(url)
    existing = service_count(db)
    if existing:
        if reuse and existing == services:
            print(f"reusing {existing:,} services in {safe_url(url)}", file=sys.stderr)
            return db
        db.dispose()
        raise SystemExit(f"bench: {safe_url(url)} holds {existing:,} services; pass --reuse (with --services {existing}) or --fresh")
    started = time.perf_counter()
    seed.seed_demo(db, services=services)
    report_seed(time.perf_counter() - started)
    analyze(db)
    return db


def analyze(db: Database) -> None:
    """Fresh planner statistics (and, on PostgreSQL, the visibility map index-only scans need)."""
    if db.is_sqlite:
        with db.write() as session:
            session.execute(text("ANALYZE"))
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


@contextmanager
def scratch_database(url: str, suffix: str, *, copy_of: Database | None = None) -> Iterator[str]:
    """A database beside `url` for the run (a copy of `copy_of` when given), removed afterwards."""
    if url.startswith("sqlite"):
        path = Path(make_url(url).database or "")
        scratch = path.with_name(f"{path.stem}-{suffix}{path.suffix}")
        for extra in ("", "-wal", "-shm", ".key"):
            Path(f"{scratch}{extra}").unlink(missing_ok=True)
        if copy_of is not None:
            with sqlite3.connect(path) as source, sqlite3.connect(scratch) as target:
                source.backup(target)
            key = Path(f"{path}.key")
            if key.exists():
                shutil.copy(key, f"{scratch}.key")
        try:
            yield f"sqlite:///{scratch}"
        finally:
            for extra in ("", "-wal", "-shm", ".key"):
                Path(f"{scratch}{extra}").unlink(missing_ok=True)
        return
    source_name = make_url(url).database or ""
    name = f"{source_name}_{suffix}"
    admin = _admin_engine(url)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if copy_of is not None:
            copy_of.dispose()
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source_name}"'))
        else:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def first_service_name(db: Database) -> str:
    with db.read() as session:
        rows = queries.page(session, ServiceFilter(), Sort(), limit=1)
    return rows[0].name if rows else ""


# ---------------------------------------------------------------------- the real program in a pty


@dataclass
class PtyRun:
    first_paint_ms: float | None
    peak_rss_mib: float | None


def run_in_pty(argv: list[str], marker: str, *, keys_after: list[bytes] = (), settle: float = 0.0, timeout: float = 60.0) -> PtyRun:
    """Start `argv` in an 80x24 pseudo-terminal; time it until `marker` is on screen, then send
    `keys_after` and read the process's peak memory before ending it."""
    started = time.perf_counter()
    pid, fd = os.forkpty()
    if pid == 0:
        os.environ["TERM"] = "xterm-256color"
        os.environ["COLUMNS"], os.environ["LINES"] = "80", "24"
        os.execv(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    seen = b""
    first_paint = None
    deadline = started + timeout

    def drain(until: float, wanted: bytes | None) -> bool:
        nonlocal seen
        while time.perf_counter() < until:
            ready, _, _ = select_module.select([fd], [], [], 0.02)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return False
            if not chunk:
                return False
            seen = seen[-4096:] + chunk
            if wanted is not None and wanted in seen:
                return True
        return False

    try:
        if drain(deadline, marker.encode()):
            first_paint = (time.perf_counter() - started) * 1000
            for key in keys_after:
                os.write(fd, key)
                drain(time.perf_counter() + 0.3, None)
            drain(time.perf_counter() + settle, None)
        peak = peak_rss_mib(pid)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    return PtyRun(first_paint, peak)


def peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def console_argv(url: str) -> list[str]:
    return [sys.executable, "-m", "svcconsole", "--db", url]


def bench_launch(report: Report, url: str, marker: str, repeat: int) -> None:
    from bench.bare_app import FIRST_ROW

    bare_argv = [sys.executable, str(ROOT / "bench" / "bare_app.py")]
    console: list[float] = []
    bare: list[float] = []
    for _ in range(repeat):
        for argv, wanted, into in ((console_argv(url), marker, console), (bare_argv, FIRST_ROW, bare)):
            run = run_in_pty(argv, wanted)
            if run.first_paint_ms is None:
                raise SystemExit(f"bench: {argv[-1]} showed no first row within 60 s")
            into.append(run.first_paint_ms)
    ratio = median(console) / median(bare)
    report.add("launch to first page on screen (pty, 80x24)", f"{median(console):.0f} ms", target="<= 1000 ms", met=median(console) <= 1000, runs=repeat)
    report.add("bare Textual app, 100-row table, same pty", f"{median(bare):.0f} ms", runs=repeat)
    report.add("launch ratio, console / bare app", f"{ratio:.2f}x", target="<= 2.0x", met=ratio <= 2.0, runs=repeat)


def bench_memory(report: Report, url: str, marker: str, services: int, small: tuple[str, str] | None) -> None:
    """Peak RSS of the console after its first page, a jump to the end and a few pages down."""
    keys = [b"G", *([b"\x1b[6~"] * 5), b"g", b"/", b"nexus", b"\x1b"]
    large = run_in_pty(console_argv(url), marker, keys_after=keys, settle=1.5)
    report.add(f"console peak RSS at {services:,} services", f"{large.peak_rss_mib:.0f} MiB", target="< 200 MiB", met=(large.peak_rss_mib or 0) < 200)
    if small is not None:
        small_url, small_marker = small
        little = run_in_pty(console_argv(small_url), small_marker, keys_after=keys, settle=1.5)
        growth = (large.peak_rss_mib or 0) - (little.peak_rss_mib or 0)
        report.add(
            f"console peak RSS at {SMALL_SERVICES:,} services (flat in N)",
            f"{little.peak_rss_mib:.0f} MiB ({growth:+.0f} MiB at {services:,})",
            target="flat (< +20 MiB)",
            met=growth < 20,
        )


# ---------------------------------------------------------------------- store-level figures


def bench_store(report: Report, db: Database, repeat: int) -> None:
    """Exact counts and deep jumps through the list window (what the console's workers run)."""
    with db.read() as session:
        counts = [timed(lambda: queries.counts_by_status(session, ServiceFilter())) for _ in range(repeat)]
        total = queries.count(session, ServiceFilter())
    report.add("exact counts per status tab (all services)", f"{median(counts):.0f} ms", runs=repeat)
    target = min(500_000, total // 2)
    for label, sort in (("id", Sort()), ("expiry", Sort("expires")), ("customer, descending", Sort("customer", True))):
        jumps = []
        for _ in range(repeat):
            window = ServiceWindow(db, page_size=100)
            generation = window.configure(ServiceFilter(), sort)
            window.set_total(total, generation)
            window.prepare_seeks()
            jumps.append(timed(lambda: window.load(target, target + 60)))
        report.add(f"deep jump to row {target:,}, store, sorted by {label}", f"{median(jumps):.1f} ms", target="< 50 ms", met=median(jumps) < 50, runs=repeat)


def web_panel_search(db: Database, term: str) -> list[Any]:
    """The services search of a typical web billing panel: LIKE '%term%' over names and emails."""
    like = "LIKE" if db.is_sqlite else "ILIKE"
    query = text(
        "SELECT service.id, service.name, customer.name AS customer, customer.email, service.status, service.expires_at "
        "FROM service JOIN customer ON customer.id = service.customer_id "
        f"WHERE service.name {like} :pattern OR customer.name {like} :pattern OR customer.email {like} :pattern "
        "ORDER BY service.expires_at LIMIT 25"
    )
    with db.read() as session:
        return session.execute(query, {"pattern": f"%{term}%"}).all()


def pick_specific_terms(db: Database, count: int = 3) -> list[str]:
    """Service names and customer email parts spread over the database, a character short of
    whole (the bench types the last one): searches that match a handful of rows, which a
    LIKE query ordered by expiry must scan the whole table to fill its page for."""
    with db.read() as session:
        top = session.execute(text("SELECT max(id) FROM service")).scalar_one()
        names = [
            session.execute(text("SELECT name FROM service WHERE id >= :at ORDER BY id LIMIT 1"), {"at": top * (index + 1) // (count + 1)}).scalar_one()
            for index in range(count)
        ]
        customers = session.execute(text("SELECT max(id) FROM customer")).scalar_one()
        emails = [
            session.execute(text("SELECT email FROM customer WHERE id >= :at ORDER BY id LIMIT 1"), {"at": customers * (index + 1) // (count + 1)}).scalar_one()
            for index in range(count)
        ]
    return [*names, *(email.split("@")[0].split(".", 1)[1] for email in emails)]


def web_panel_count(db: Database, term: str) -> int:
    """The count a paginated web panel shows beside that page (Laravel's `paginate()` runs it)."""
    like = "LIKE" if db.is_sqlite else "ILIKE"
    query = text(
        "SELECT count(*) FROM service JOIN customer ON customer.id = service.customer_id "
        f"WHERE service.name {like} :pattern OR customer.name {like} :pattern OR customer.email {like} :pattern"
    )
    with db.read() as session:
        return int(session.execute(query, {"pattern": f"%{term}%"}).scalar_one())


def bench_web_panel(db: Database, repeat: int) -> dict[str, list[float]]:
    """The web panel's query for each search group's terms, in milliseconds."""
    figures = {group: [timed(lambda term=term: web_panel_search(db, term)) for _ in range(repeat) for term in FILTERS[group]] for group in WEB_PANEL_GROUPS}
    figures["count"] = [timed(lambda term=term: web_panel_count(db, term)) for term in FILTERS[SPECIFIC] + FILTERS["search, 3+ characters"]]
    return figures


# ---------------------------------------------------------------------- the app, headless


class PaintProbe:
    """Notes when the console's table first draws a line of a new window: the page is on screen."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.window: Any = None
        self.painted_at: float | None = None
        self.missed = 0
        render_line = table.render_line

        def probed(y: int) -> Any:
            if self.painted_at is None and table.window is not self.window:
                self.painted_at = time.perf_counter()
            return render_line(y)

        table.render_line = probed

    def arm(self) -> None:
        self.window, self.painted_at = self.table.window, None

    async def wait(self, limit: float = PAINT_LIMIT_SECONDS) -> float:
        """When the new page was drawn; after `limit` seconds without one, that moment (counted
        in `missed`, so a lost paint shows in the table instead of hanging the bench)."""
        deadline = time.perf_counter() + limit
        while self.painted_at is None:
            if time.perf_counter() > deadline:
                self.missed += 1
                return deadline
            await asyncio.sleep(0.0005)
        return self.painted_at


async def bench_app(report: Report, db: Database, repeat: int, web_panel_ms: dict[str, list[float]]) -> None:
    from svcconsole.console.app import ConsoleApp
    from svcconsole.widgets.messages import CountsLoaded

    counted: list[float] = []

    def hook(message: object) -> None:
        if isinstance(message, CountsLoaded):
            counted.append(time.perf_counter())

    lags: list[float] = []
    watching = True

    async def watch_loop() -> None:
        while watching:
            started = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append((time.perf_counter() - started - 0.005) * 1000)

    app = ConsoleApp(db, acting_operator(db), tz=ZoneInfo("UTC"))
    started = time.perf_counter()
    async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
        screen = app.screen
        table = screen.table
        probe = PaintProbe(table)

        async def settled() -> None:
            deadline = time.perf_counter() + PAINT_LIMIT_SECONDS
            while screen.total is None and time.perf_counter() < deadline:
                await asyncio.sleep(0.002)
            while (
                any(worker.is_running or worker.state.name == "PENDING" for worker in app.workers) and time.perf_counter() < deadline + PAINT_LIMIT_SECONDS * 2
            ):
                await asyncio.sleep(0.002)
            await pilot.pause()

        while not counted:
            await asyncio.sleep(0.002)
        report.add("headless: launch to exact counts on the tabs", f"{(counted[0] - started) * 1000:.0f} ms")
        await settled()
        field = screen.query_one("#filter")
        await pilot.press("slash")
        watcher = asyncio.create_task(watch_loop())
        search_p50: dict[str, float] = {}
        for label, texts in FILTERS.items():
            pages: list[float] = []
            missed_before = probe.missed
            for index in range(max(repeat * 2, len(texts))):
                term = texts[index % len(texts)]
                field.value = term[:-1]
                field.cursor_position = len(field.value)
                changed_at = time.perf_counter()
                await settled()
                await asyncio.sleep(max(0.0, changed_at + TYPING_PAUSE_SECONDS - time.perf_counter()))
                probe.arm()
                since = time.perf_counter()
                await pilot.press(term[-1] if term[-1] != " " else "space")
                pages.append((await probe.wait() - since) * 1000)
            p50, p95 = median(pages), percentile(pages, 0.95)
            target = FILTER_TARGETS.get(label)
            missed = probe.missed - missed_before
            report.add(
                f"filter keystroke to page: {label}, p50 / p95",
                f"{p50:.0f} / {p95:.0f} ms" + (f" ({missed} drew no page in {PAINT_LIMIT_SECONDS:.0f} s)" if missed else ""),
                target=f"p95 <= {target:.0f} ms" if target else "",
                met=(p95 <= target and not missed) if target else None,
                runs=len(pages),
            )
            if label in WEB_PANEL_GROUPS:
                search_p50[label] = p50
        watching = False
        await watcher
        report.add("longest event-loop stall while filtering (keystrokes never wait)", f"{max(lags):.0f} ms", target="< 100 ms", met=max(lags) < 100)
        for group, ours in search_p50.items():
            web = median(web_panel_ms[group])
            what = WEB_PANEL_GROUPS[group]
            report.add(f"web-panel search for {what} (LIKE '%term%', ORDER BY expiry LIMIT 25)", f"{web:.0f} ms", runs=len(web_panel_ms[group]))
            report.add(f"search for {what}: speed-up over the web-panel query (p50)", f"{web / ours:.1f}x", target=">= 20x", met=web / ours >= 20)
        if search_p50:
            report.add(
                "web-panel page's result count (count(*) with the same LIKE, as paginate() runs)",
                f"{median(web_panel_ms['count']):.0f} ms",
                runs=len(web_panel_ms["count"]),
            )
        field.value = ""
        await pilot.press("escape")
        await settled()
        target = table.row_count // 2
        jumps: list[float] = []
        for index in range(repeat):
            position = target + index * 1000
            since = time.perf_counter()
            table.move_cursor(position)
            deadline = since + PAINT_LIMIT_SECONDS
            while table.window.row(position) is None and time.perf_counter() < deadline:
                await asyncio.sleep(0.001)
            await pilot.pause(0)
            jumps.append((time.perf_counter() - since) * 1000)
        report.add(f"deep jump to row {target:,} in the console", f"{median(jumps):.0f} ms", target="< 50 ms", met=median(jumps) < 50, runs=repeat)
        sorts: list[float] = []
        for _ in range(max(repeat, 9)):
            probe.arm()
            since = time.perf_counter()
            await pilot.press("o")
            sorts.append((await probe.wait() - since) * 1000)
        report.add("sort change (o, through every column), p50 / max", f"{median(sorts):.0f} / {max(sorts):.0f} ms", runs=len(sorts))


# ---------------------------------------------------------------------- writes: bulk and automation


def bench_bulk(report: Report, db: Database, repeat: int) -> None:
    """`services add-days --days 1` over 10,000 active recurring services, as the CLI runs it."""
    actor = acting_operator(db)
    recurring = ServiceFilter(statuses=("active",), cycles=tuple(cycle.value for cycle in cycles.RECURRING))
    with db.read() as session:
        ids = list(queries.iter_ids(session, recurring, limit=BULK_SERVICES))
    seconds = []
    for number in range(repeat):
        started = time.perf_counter()
        run_id, _ = bulk.start(db, actor, "add-days", {"days": 1}, ids, selection={"bench": number})
        result = bulk.process(db, actor, run_id)
        seconds.append(time.perf_counter() - started)
        if result.count("ok") != len(ids):
            raise SystemExit(f"bench: add-days changed {result.count('ok')} of {len(ids)} services: {result.summary()}")
    report.add(f"bulk add-days over {len(ids):,} services (one bulk run)", f"{median(seconds):.2f} s", target="< 1 s", met=median(seconds) < 1, runs=repeat)


def _stamp(db: Database, moment: datetime) -> object:
    """A timestamp as the column stores it (SQLite keeps naive UTC text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if db.is_sqlite else moment


def park_everything(db: Database, now: datetime) -> None:
    """Move every service out of every automation step's reach, all hand-delivered (no panel)."""
    far, recent = _stamp(db, now + timedelta(days=60)), _stamp(db, now - timedelta(days=10))
    with db.write() as session:
        session.execute(
            text("UPDATE service SET type = 'manual', server_id = NULL, server_name = NULL, operation = NULL, external = :empty, external_key = NULL"),
            {"empty": "{}"},
        )
        session.execute(text("UPDATE service SET expires_at = :far, cancel_at = NULL, cancel_mode = NULL WHERE status IN ('active', 'pending')"), {"far": far})
        session.execute(text("UPDATE service SET suspend_kind = 'admin' WHERE status = 'suspended'"))
        session.execute(text("UPDATE service SET expires_at = :recent, cancelled_at = :recent WHERE status IN ('expired', 'cancelled')"), {"recent": recent})


def make_due(db: Database, now: datetime, count: int, rng: random.Random) -> int:
    """Make `count` services due, split evenly between the six automation cases; returns how many."""
    with db.read() as session:
        active = [
            row[0]
            for row in session.execute(
                text(
                    "SELECT id FROM service WHERE status = 'active' AND expires_at > :soon AND billing_cycle IN "
                    "('weekly','monthly','quarterly','semiannually','annually','biennially','triennially')"
                ),
                {"soon": _stamp(db, now + timedelta(days=30))},
            )
        ]
        suspended = [row[0] for row in session.execute(text("SELECT id FROM service WHERE status = 'suspended' AND suspend_kind = 'admin'"))]
        cancelled = [
            row[0]
            for row in session.execute(
                text("SELECT id FROM service WHERE status = 'cancelled' AND cancelled_at > :old"), {"old": _stamp(db, now - timedelta(days=30))}
            )
        ]
    per_case = count // len(AUTOMATION_CASES)
    rng.shuffle(active)
    picks = {case: active[index * per_case : (index + 1) * per_case] for index, case in enumerate(("invoice", "notice", "suspend", "cancel"))}
    picks["expire"] = rng.sample(suspended, min(per_case, len(suspended)))
    picks["hide"] = rng.sample(cancelled, min(per_case, len(cancelled)))
    updates = {
        "invoice": ("UPDATE service SET expires_at = :a, auto_renew = :yes WHERE id IN ({ids})", {"a": _stamp(db, now + timedelta(days=5)), "yes": True}),
        "notice": (
            "UPDATE service SET expires_at = :a, auto_renew = :no WHERE id IN ({ids})",
            {"a": _stamp(db, now + timedelta(days=2, hours=12)), "no": False},
        ),
        "suspend": ("UPDATE service SET expires_at = :a WHERE id IN ({ids})", {"a": _stamp(db, now - timedelta(hours=3))}),
        "cancel": (
            "UPDATE service SET expires_at = :a, cancel_at = :a, cancel_mode = 'end-of-cycle' WHERE id IN ({ids})",
            {"a": _stamp(db, now - timedelta(minutes=30))},
        ),
        "expire": (
            "UPDATE service SET suspend_kind = 'overdue', suspended_at = :a, expires_at = :a WHERE id IN ({ids})",
            {"a": _stamp(db, now - timedelta(days=9))},
        ),
        "hide": ("UPDATE service SET cancelled_at = :a, expires_at = :a WHERE id IN ({ids})", {"a": _stamp(db, now - timedelta(days=120))}),
    }
    with db.write() as session:
        for case, ids in picks.items():
            statement, params = updates[case]
            for offset in range(0, len(ids), 5000):
                chunk = ids[offset : offset + 5000]
                session.execute(text(statement.format(ids=",".join(str(identifier) for identifier in chunk))), params)
    return sum(len(ids) for ids in picks.values())


def bench_automation(report: Report, db: Database, services: int, repeat: int) -> None:
    """`automation run` with 1 % of the fleet due (six kinds of work), then a run with nothing to do."""
    actor = acting_operator(db)
    now = clock.now()
    park_everything(db, now)
    analyze(db)
    rng = random.Random(42)
    runs, idle, due = [], [], 0
    with clock.frozen_at(now):
        for _ in range(repeat):
            due = make_due(db, now, int(services * DUE_SHARE), rng)
            started = time.perf_counter()
            automation.run(db, actor)
            runs.append(time.perf_counter() - started)
            started = time.perf_counter()
            again = automation.run(db, actor)
            idle.append(time.perf_counter() - started)
            repeated = sum(1 for step in again.steps[:6] for item in step.items if item.outcome not in {"skipped"})
            if repeated:
                raise SystemExit(f"bench: a second automation run changed {repeated} services again")
    report.add(f"automation run over {services:,} services, {due:,} due", f"{median(runs):.1f} s", target="< 30 s", met=median(runs) < 30, runs=repeat)
    report.add("automation run again at once (nothing left to do)", f"{median(idle):.1f} s", runs=repeat)


# ---------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1_000_000)
    parser.add_argument("--db", default=None, help="database URL (default: a SQLite file in bench/results/)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument("--reuse", action="store_true", help="measure the services already in the database when there are --services of them")
    parser.add_argument("--fresh", action="store_true", help="PostgreSQL: drop everything in the database first")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown (for BENCHMARKS.md)")
    parser.add_argument("--json", type=Path, default=None, help="where to write the figures as JSON (default bench/results/scale-BACKEND-N.json)")
    parser.add_argument(
        "--only", default=",".join(FIGURE_GROUPS), help=f"run only these figures, comma-separated: {', '.join(FIGURE_GROUPS)} (default: all of them)"
    )
    args = parser.parse_args(argv)
    if args.services < 100 or args.repeat < 1:
        parser.error("--services must be at least 100 and --repeat at least 1")
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    if not only or only - set(FIGURE_GROUPS):
        parser.error(f"--only takes a comma-separated list of: {', '.join(FIGURE_GROUPS)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    url = args.db or f"sqlite:///{RESULTS / f'scale-{args.services}.db'}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    seed_seconds: list[float] = []
    print(f"preparing {args.services:,} services in {safe_url(url)}", file=sys.stderr, flush=True)
    db = prepare(url, args.services, reuse=args.reuse, fresh=args.fresh, report_seed=seed_seconds.append)
    report = Report(args.services, "SQLite" if db.is_sqlite else "PostgreSQL", machine_info(db))
    if seed_seconds:
        rate = args.services / seed_seconds[0]
        report.add(
            "seed (seed demo: services, customers, options, renewals, activity)",
            f"{rate:,.0f} services/s ({seed_seconds[0]:.1f} s)",
            target=">= 20,000/s",
            met=rate >= 20_000,
        )
    else:
        report.add("seed", "reused an existing database", runs=0)
    marker = first_service_name(db)
    if "store" in only:
        bench_store(report, db, args.repeat)
    web_panel_ms: dict[str, list[float]] = {}
    if "app" in only:
        FILTERS[SPECIFIC] = pick_specific_terms(db)
        web_panel_ms = bench_web_panel(db, args.repeat)
    db.dispose()
    if "launch" in only:
        bench_launch(report, url, marker, args.repeat)
    if "memory" in only and args.services > SMALL_SERVICES:
        with scratch_database(url, "small") as small_url:
            small = open_database(small_url)
            seed.seed_demo(small, services=SMALL_SERVICES)
            small_marker = first_service_name(small)
            small.dispose()
            bench_memory(report, url, marker, args.services, (small_url, small_marker))
    elif "memory" in only:
        bench_memory(report, url, marker, args.services, None)
    db = open_database(url)
    if "app" in only:
        asyncio.run(bench_app(report, db, args.repeat, web_panel_ms))
    if only & {"bulk", "automation"}:
        with scratch_database(url, "writes", copy_of=db) as copy_url:
            copy = open_database(copy_url)
            if "bulk" in only:
                bench_bulk(report, copy, args.repeat)
            if "automation" in only:
                bench_automation(report, copy, args.services, args.repeat)
            copy.dispose()
    db.dispose()
    print()
    print(report.markdown() if args.markdown else report.table())
    out = args.json or RESULTS / f"scale-{report.backend.lower()}-{args.services}.json"
    out.write_text(
        json.dumps(
            {"services": args.services, "backend": report.backend, "machine": report.machine, "figures": [asdict(figure) for figure in report.figures]},
            indent=2,
        )
    )
    print(f"\n(written to {out})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
