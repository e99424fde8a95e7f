"""The CLI's read commands, one fresh process each, against a bare `python -c "import sqlite3"`.

A script that calls the CLI once per service pays a command's start-up every time, so the
figure is the wall time of the whole process, from spawn to exit. The baseline runs in the
same loop, interleaved with the commands, so both see the same machine.

    .venv/bin/python bench/bench_cli.py --db sqlite:///bench/results/scale-1000000.db --repeat 9
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

TARGET_RATIO = 12.0
DEFAULT_DB = Path(__file__).resolve().parent / "results" / "scale-1000000.db"


def middle_service(url: str) -> int:
    """A service id from the middle of the table (a show that is not the first row)."""
    engine = create_engine(url)
    with engine.connect() as connection:
        service = connection.execute(text("SELECT id FROM service ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM service)")).scalar_one()
    engine.dispose()
    return int(service)


def wall_seconds(argv: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 3):
        raise SystemExit(f"bench: {' '.join(argv[3:])} exited {done.returncode}: {done.stderr.strip()}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=f"sqlite:///{DEFAULT_DB}", help="database URL (default: the scale benchmark's 1,000,000-service SQLite file)")
    parser.add_argument("--repeat", type=int, default=9, help="runs of each command (default 9; the median is printed)")
    args = parser.parse_args(argv)
    service_id = middle_service(args.db)
    svcconsole = [sys.executable, "-m", "svcconsole", "--db", args.db]
    commands = {
        'python -c "import sqlite3" (baseline)': [sys.executable, "-c", "import sqlite3"],
        "services list --limit 50 --format ids": [*svcconsole, "services", "list", "--limit", "50", "--format", "ids"],
        "services list --limit 50 (table)": [*svcconsole, "services", "list", "--limit", "50"],
        f"services show {service_id}": [*svcconsole, "services", "show", str(service_id)],
        "invoices list --limit 50": [*svcconsole, "invoices", "list", "--limit", "50"],
        "jobs list --limit 50": [*svcconsole, "jobs", "list", "--limit", "50"],
    }
    timings: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():  # one warm-up each: compiled bytecode and the page cache
        wall_seconds(command)
    for _ in range(args.repeat):
        for name, command in commands.items():
            timings[name].append(wall_seconds(command))
    baseline = statistics.median(timings[next(iter(commands))])
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"CLI read commands, {args.repeat} runs each (median), load {load} at the end")
    print(f"| command | wall time | ratio to the baseline | target (<= {TARGET_RATIO:g}x) |")
    print("|---|---|---|---|")
    for name, values in timings.items():
        figure = statistics.median(values)
        ratio = figure / baseline
        verdict = "" if name.endswith("(baseline)") else ("met" if ratio <= TARGET_RATIO else "**missed**")
        print(f"| {name} | {figure * 1000:.0f} ms | {ratio:.1f}x | {verdict} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
