"""Many writers on one service at once: every one succeeds and no change is lost."""

import json
import multiprocessing

from tests.conftest import Cli, new_service

WRITERS = 24


def _add_a_day(url: str, service_id: int, results) -> None:  # type: ignore[no-untyped-def]
    result = Cli(url)("services", "add-days", str(service_id), "--days", "1")
    results.put((result.exit_code, result.stderr.strip()))


def test_24_processes_adding_a_day_move_the_expiry_exactly_24_days(db, admin, catalog, cli):
    service_id = new_service(db, admin, catalog, status="active", expires="2027-01-01")
    db.dispose()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_add_a_day, args=(db.url, service_id, results)) for _ in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    outcomes = [results.get(timeout=5) for _ in range(WRITERS)]
    assert [code for code, _ in outcomes] == [0] * WRITERS, outcomes
    assert all("1 ok" in message for _, message in outcomes)
    record = json.loads(cli("services", "show", str(service_id), "-f", "json").stdout)
    assert record["expires_at"] == "2027-01-25T00:00:00Z"
    history = json.loads(cli("services", "history", str(service_id), "--limit", "0", "-f", "json").stdout)
    assert sum(1 for row in history if row["action"] == "add-days") == WRITERS
    runs = json.loads(cli("services", "bulk", "list", "--limit", "100", "-f", "json").stdout)
    assert len(runs) == WRITERS and all(run["finished_at"] for run in runs)
