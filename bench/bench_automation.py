"""Time `automation run` over a large fleet with a known share of services due.

Seeds N demo services (`core.seed.seed_demo`), moves every service out of the automation's
reach, then makes `--due` of them (1% by default) due, split evenly between six cases: a
renewal invoice, an expiry notice only (no auto-renewal), an overdue suspension, an expiry,
an end-of-cycle cancellation and a hide. All are hand-delivered (`manual`) so no panel is
called. Then it times the run, and a second run that must find nothing to do.

    .venv/bin/python bench/bench_automation.py --services 1000000
    .venv/bin/python bench/bench_automation.py --services 100000 --db postgresql+psycopg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from svcconsole.core import automation, clock, seed  # noqa: E402
from svcconsole.core.context import acting_operator, open_database  # noqa: E402
from svcconsole.store.engine import Database  # noqa: E402

CASES = ("invoice", "notice", "suspend", "expire", "cancel", "hide")


def _stamp(db: Database, moment: datetime) -> object:
    """A timestamp as the column stores it (SQLite keeps naive UTC text)."""
    if db.is_sqlite:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def park_everything(db: Database, now: datetime) -> None:
    """Move every service out of every step's reach, and make them all hand-delivered."""
    far = _stamp(db, now + timedelta(days=60))
    recent = _stamp(db, now - timedelta(days=10))
    statements = [
        ("UPDATE service SET type = 'manual', server_id = NULL, server_name = NULL, operation = NULL, external = :empty", {"empty": "{}"}),
        ("UPDATE service SET expires_at = :far, cancel_at = NULL, cancel_mode = NULL WHERE status IN ('active', 'pending')", {"far": far}),
        ("UPDATE service SET suspend_kind = 'admin' WHERE status = 'suspended'", {}),
        ("UPDATE service SET expires_at = :recent, cancelled_at = :recent WHERE status IN ('expired', 'cancelled')", {"recent": recent}),
    ]
    with db.write() as session:
        for statement, params in statements:
            session.execute(text(statement), params)


def make_due(db: Database, now: datetime, count: int, rng: random.Random, cases: tuple[str, ...] = CASES) -> dict[str, int]:
    """Make `count` services due, split evenly between `cases`."""
    with db.read() as session:
        active = [row[0] for row in session.execute(text("SELECT id FROM service WHERE status = 'active' AND billing_cycle IN ('weekly','monthly','quarterly','semiannually','annually','biennially','triennially')"))]
        suspended = [row[0] for row in session.execute(text("SELECT id FROM service WHERE status = 'suspended'"))]
        cancelled = [row[0] for row in session.execute(text("SELECT id FROM service WHERE status = 'cancelled'"))]
    per_case = count // len(cases)
    rng.shuffle(active)
    active_cases = [case for case in ("invoice", "notice", "suspend", "cancel") if case in cases]
    picks = {case: active[index * per_case : (index + 1) * per_case] for index, case in enumerate(active_cases)}
    if "expire" in cases:
        picks["expire"] = rng.sample(suspended, min(per_case, len(suspended)))
    if "hide" in cases:
        picks["hide"] = rng.sample(cancelled, min(per_case, len(cancelled)))
    updates = {
        "invoice": ("UPDATE service SET expires_at = :a, auto_renew = :yes WHERE id IN ({ids})", {"a": _stamp(db, now + timedelta(days=5)), "yes": True}),
        "notice": ("UPDATE service SET expires_at = :a, auto_renew = :no WHERE id IN ({ids})", {"a": _stamp(db, now + timedelta(days=2, hours=12)), "no": False}),
        "suspend": ("UPDATE service SET expires_at = :a WHERE id IN ({ids})", {"a": _stamp(db, now - timedelta(hours=3))}),
        "cancel": ("UPDATE service SET expires_at = :a, cancel_at = :a, cancel_mode = 'end-of-cycle' WHERE id IN ({ids})", {"a": _stamp(db, now - timedelta(minutes=30))}),
        "expire": ("UPDATE service SET suspend_kind = 'overdue', suspended_at = :a, expires_at = :a WHERE id IN ({ids})", {"a": _stamp(db, now - timedelta(days=9))}),
        "hide": ("UPDATE service SET cancelled_at = :a, expires_at = :a WHERE id IN ({ids})", {"a": _stamp(db, now - timedelta(days=120))}),
    }
    with db.write() as session:
        for case, ids in picks.items():
            statement, params = updates[case]
            for offset in range(0, len(ids), 5000):
                chunk = ids[offset : offset + 5000]
                session.execute(text(statement.format(ids=",".join(str(identifier) for identifier in chunk))), params)
    return {case: len(ids) for case, ids in picks.items()}


def main() -> int:
    """Seed, make due, time the run and the re-run; exit 1 if the re-run changed anything."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1_000_000)
    parser.add_argument("--due", type=float, default=0.01, help="Share of services due (default 0.01).")
    parser.add_argument("--db", default=None, help="Database URL (default: a SQLite file in a temporary folder).")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cases", default=",".join(CASES), help=f"Which cases the due services are, comma separated (default: {','.join(CASES)}).")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="svcconsole-bench-")
    url = args.db or f"sqlite:///{folder}/bench.db"
    db = open_database(url)
    admin = acting_operator(db)
    now = clock.now()
    rng = random.Random(args.seed)

    started = time.perf_counter()
    seed.seed_demo(db, services=args.services, random_seed=args.seed)
    seeded = time.perf_counter() - started
    park_everything(db, now)
    cases = tuple(case.strip() for case in args.cases.split(",") if case.strip())
    unknown = [case for case in cases if case not in CASES]
    if unknown:
        parser.error(f"--cases: unknown {', '.join(unknown)} (known: {', '.join(CASES)})")
    due = make_due(db, now, int(args.services * args.due), rng, cases)
    with db.write() as session:
        session.execute(text("ANALYZE"))
    prepared = time.perf_counter() - started
    print(f"seeded {args.services:,} services in {seeded:.1f}s; prepared in {prepared - seeded:.1f}s; due: {due} ({sum(due.values()):,})", flush=True)

    with clock.frozen_at(now):
        started = time.perf_counter()
        report = automation.run(db, admin)
        elapsed = time.perf_counter() - started
        for step in report.steps:
            print(f"  {step.summary()}")
        print(f"automation run over {args.services:,} services ({sum(due.values()):,} due): {elapsed:.2f}s", flush=True)

        started = time.perf_counter()
        again = automation.run(db, admin)
        rerun = time.perf_counter() - started
        repeated = sum(1 for step in again.steps[:6] for item in step.items if item.outcome != "skipped")
        skipped = sum(1 for step in again.steps[:6] for item in step.items if item.outcome == "skipped")
        print(f"second run: {rerun:.2f}s, {repeated} services changed again, {skipped} skipped again by a rule (renewal limits)")
    db.dispose()
    return 0 if repeated == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
