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


EDITORS = 3


def test_admins_saving_the_same_version_from_separate_processes_one_wins_the_others_are_told_who(db, admin, catalog, cli):
    from tests.conftest import make_actor
    from tests.reliability.support import finish, spawn_cli, stop

    service_id = new_service(db, admin, catalog, status="active", notes="original")
    logins = [f"editor{index}" for index in range(EDITORS)]
    for login in logins:
        make_actor(db, login, "operator")
    opened = json.loads(cli("services", "show", str(service_id), "-f", "json").stdout)["version"]
    processes = []
    try:
        for login in logins:
            processes.append(
                spawn_cli(db.url, "--as", login, "services", "edit", str(service_id), "--notes", f"saved by {login}", "--expected-version", str(opened))
            )
        outcomes = [finish(process, timeout=60) for process in processes]
    finally:
        for process in processes:
            stop(process)
    winners = [login for login, (code, _, _) in zip(logins, outcomes, strict=True) if code == 0]
    assert len(winners) == 1, outcomes
    winner_login = winners[0]
    winner = f"{admin.name} as {winner_login}"
    for login, (code, stdout, stderr) in zip(logins, outcomes, strict=True):
        assert "Traceback" not in stderr + stdout
        if login == winner_login:
            continue
        assert code == 1, (login, code, stderr)
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr
        assert f"changed by {winner}" in lines[0] and "nothing was saved" in lines[0]
    record = json.loads(cli("services", "show", str(service_id), "-f", "json").stdout)
    assert record["notes"] == f"saved by {winner_login}" and record["version"] == opened + 1
    history = json.loads(cli("services", "history", str(service_id), "--limit", "0", "-f", "json").stdout)
    assert [row["actor"] for row in history if row["action"] == "edit"] == [winner]
