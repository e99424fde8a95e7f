"""The scale-out benchmark runs end to end with a few services: real worker processes drain the
queue over PostgreSQL, the panel's request log counts each server's suspends, and a worker killed
half way loses nothing. A smoke test that it works, not a timing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
SERVICES = 40


@pytest.mark.slow
def test_the_workers_benchmark_drains_the_queue_with_one_and_two_workers_and_survives_a_kill(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several workers share one queue only on PostgreSQL; this runs in the PostgreSQL suite")
    url = make_url(db_url).set(drivername="postgresql+psycopg", database="svcbench_workers_smoke").render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_workers.py"), "--services", str(SERVICES), "--workers", "1,2", "--delay", "0.02", "--db", url],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if " suspends in " in line]
    assert [line.split(":")[0].split(" (pid")[0] for line in lines] == ["1 worker", "2 workers", "2 workers, one killed half way"]
    for line in lines:
        assert f"jobs {{'succeeded': {SERVICES}}}" in line and f"services suspended {SERVICES} of {SERVICES}" in line, line
        assert f"panel: {SERVICES} servers got a suspend" in line, line
    assert all("0 got it more than once" in line for line in lines[:2]), lines
    assert "ratios to one worker: 1 workers 1.00x, 2 workers" in done.stdout
