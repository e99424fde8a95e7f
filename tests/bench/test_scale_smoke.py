"""The scale benchmark runs end to end at 10,000 services: a smoke test that it works, not a timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = 10_000

EVERY_FIGURE = (
    "seed (seed demo",
    "launch to first page on screen (pty, 80x24)",
    "bare Textual app, 100-row table, same pty",
    "launch ratio, console / bare app",
    "console peak RSS at 10,000 services",
    "exact counts per status tab",
    ", store, sorted by id",
    ", store, sorted by expiry",
    "web-panel search for a common word (LIKE '%term%'",
    "search for a common word: speed-up over the web-panel query",
    "web-panel search for a specific name or email (LIKE '%term%'",
    "search for a specific name or email: speed-up over the web-panel query",
    "web-panel page's result count",
    "search, a specific name or email",
    "status: term (indexed)",
    "search, 3+ characters",
    "search, 1-2 characters",
    "combined filter",
    "longest event-loop stall while filtering",
    "in the console",
    "sort change",
    "bulk add-days over",
    "automation run over 10,000 services",
    "automation run again at once",
)


def test_the_scale_benchmark_prints_every_figure_at_10000_services(db_url: str, tmp_path: Path) -> None:
    if db_url.startswith("sqlite"):
        db_url = f"sqlite:///{tmp_path / 'bench.db'}"
    out = tmp_path / "figures.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SVCCONSOLE_NOW", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), "--services", str(SERVICES), "--repeat", "1", "--db", db_url, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["services"] == SERVICES
    labels = [figure["label"] for figure in figures["figures"]]
    missing = [wanted for wanted in EVERY_FIGURE if not any(wanted in label for label in labels)]
    assert missing == [], f"figures missing from the table: {missing}\n{labels}"
    assert all(figure["value"] and "error" not in figure["value"].lower() for figure in figures["figures"]), figures["figures"]
    table = done.stdout
    assert f"{SERVICES:,} services on {figures['backend']}" in table
    for label in labels:
        assert label in table, label
