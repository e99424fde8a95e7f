"""The README's "A short tour of the CLI", read from README.md and run command by command, as
written, on a fresh database: once with its optional `seed demo` step and once without.

Each line of the block is a shell command line: `svcconsole ...`, `NAME=$(svcconsole ...)` (the
printed id kept for the `$NAME`s that follow) or `svcconsole ... | svcconsole ...` (the first
command's stdout is the second one's stdin). Every command has its expectation below, keyed by
its subcommand, and is checked against the database it changed.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from svcconsole.core import clock
from svcconsole.store.engine import Database
from svcconsole.store.models import Activity, Server, Service, ServiceMeta
from tests.conftest import Cli, CliResult

README = Path(__file__).resolve().parents[2] / "README.md"
ASSIGNMENT = re.compile(r"^(?P<name>[A-Za-z_]\w*)=\$\((?P<command>.*)\)$")
VARIABLE = re.compile(r"\$(\w+)")
BULK_LINE = re.compile(r"^\s*(?P<id>\d+)\s+(?P<outcome>ok|failed|skipped)\s+(?P<message>.*)$")
DEMO_SERVER_MESSAGE = "demo server: start `svcconsole demo` or point it at a panel"
DEMO_SERVICES = 2000


def tour_lines() -> list[str]:
    """The command lines of the tour's code block (a `#` comment ends the words of a line)."""
    text = README.read_text()
    section = text[text.index("## A short tour of the CLI\n") :]
    block = re.search(r"```\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the tour has no code block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def commands_of(line: str) -> list[list[str]]:
    """The commands of a line (several when it is a pipe), each as its words (quotes removed)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token == "|":
            commands.append([])
        else:
            commands[-1].append(token)
    return commands


def subcommand(words: list[str]) -> str:
    """`services suspend`, `db init`...: the words after `svcconsole` that name the command."""
    assert words[0] == "svcconsole", f"the tour runs {words[0]!r}, not svcconsole"
    return " ".join(words[1:3])


@dataclass
class Tour:
    """What the tour has done so far: its variables, and the database to check against."""

    db: Database
    seeded: bool
    variables: dict[str, str] = field(default_factory=dict)

    def service(self, name: str) -> Service:
        with self.db.read() as session:
            found = session.get(Service, int(self.variables[name]))
            assert found is not None, f"${name} names no service"
            return found


def bulk_lines(result: CliResult) -> dict[int, tuple[str, str]]:
    """A bulk command's per-service lines: id -> (outcome, message); every line is one service or the summary."""
    lines: dict[int, tuple[str, str]] = {}
    for line in result.stdout.splitlines() + result.stderr.splitlines():
        if (match := BULK_LINE.match(line)) is not None:
            assert int(match["id"]) not in lines, f"service {match['id']} has two lines"
            lines[int(match["id"])] = (match["outcome"], match["message"])
    return lines


def printed_id(result: CliResult) -> int:
    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(r"\d+\n", result.stdout), f"expected the new id alone, got {result.stdout!r}"
    return int(result.stdout)


def check_db_init(tour: Tour, words: list[str], result: CliResult) -> None:
    assert result.exit_code == 0 and "database ready" in result.stderr, result.stderr


def check_seed(tour: Tour, words: list[str], result: CliResult) -> None:
    assert result.exit_code == 0 and f"seeded {DEMO_SERVICES} services, 250 customers" in result.stderr, result.stderr


def check_added(tour: Tour, words: list[str], result: CliResult) -> None:
    printed_id(result)


def check_create(tour: Tour, words: list[str], result: CliResult) -> None:
    new_id = printed_id(result)
    with tour.db.read() as session:
        service = session.get(Service, new_id)
        assert service is not None
        assert (service.name, service.status, service.product_name, service.server_name, service.type) == (
            words[words.index("--name") + 1],
            "active",
            "Managed VPS",
            "shared-1",
            "manual",
        )
        tours_own = [int(value) for value in tour.variables.values()]
        others_before = session.exec(select(Service.id).where(col(Service.id) < new_id, col(Service.id).not_in(tours_own))).all()
    assert len(others_before) == (DEMO_SERVICES if tour.seeded else 0), "the demo's services take the first ids, the tour's come after"


def list_ids(result: CliResult) -> list[int]:
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "CUSTOMER", "NAME"], lines[:1]
    return [int(line.split()[0]) for line in lines[1:]]


def check_list(tour: Tour, words: list[str], result: CliResult) -> None:
    assert result.exit_code == 0, result.stderr
    with tour.db.read() as session:
        if "--customer" in words:
            expected = {int(tour.variables["vps"]), int(tour.variables["staging"])}
            assert set(list_ids(result)) == expected
            return
        assert words[words.index("--status") + 1] == "active" and words[words.index("--expiring-within") + 1] == "7d"
        now = clock.now()
        soon = now + timedelta(days=7)
        expiring = (col(Service.expires_at) >= now, col(Service.expires_at) < soon)
        expected_rows = set(session.exec(select(Service.id).where(Service.status == "active", *expiring)).all())
    shown = list_ids(result)
    assert set(shown) == expected_rows and len(shown) == len(expected_rows)
    assert bool(shown) == tour.seeded, "the demo has services expiring this week; the tour's own expire later"


def check_suspend(tour: Tour, words: list[str], result: CliResult) -> None:
    assert result.exit_code == 0, result.stdout + result.stderr
    lines = bulk_lines(result)
    assert lines == {int(tour.variables[name]): ("ok", "active -> suspended") for name in ("vps", "staging")}
    assert {tour.service(name).suspend_kind for name in ("vps", "staging")} == {"overdue"}


def check_renew(tour: Tour, words: list[str], result: CliResult) -> None:
    assert result.exit_code == 0, result.stdout + result.stderr
    ((outcome, text),) = bulk_lines(result).values()
    assert outcome == "ok" and "unsuspend: suspended -> active" in text, text
    vps = tour.service("vps")
    assert vps.status == "active" and vps.renewals == 2


def check_add_days(tour: Tour, words: list[str], result: CliResult) -> None:
    assert result.exit_code == 0, result.stdout + result.stderr
    lines = bulk_lines(result)
    assert set(lines) == {int(tour.variables["vps"]), int(tour.variables["staging"])}
    assert all(outcome == "ok" and text.startswith("expires ") for outcome, text in lines.values())


def check_cancel(tour: Tour, words: list[str], result: CliResult) -> None:
    assert result.exit_code == 0, result.stdout + result.stderr
    vps = tour.service("vps")
    assert (vps.cancel_mode, vps.cancel_reason) == ("end-of-cycle", "moving away")


def check_meta(tour: Tour, words: list[str], result: CliResult) -> None:
    assert result.exit_code == 0, result.stderr
    with tour.db.read() as session:
        assert session.get(ServiceMeta, (int(tour.variables["vps"]), "max_renewals")).value == "1"  # type: ignore[union-attr]


def suspended_by_server(db: Database) -> dict[int, str]:
    with db.read() as session:
        return dict(session.exec(select(Service.id, Server.url).outerjoin(Server, Server.id == Service.server_id).where(Service.status == "suspended")).all())


def check_pipe(tour: Tour, listed: CliResult, suspended_before: dict[int, str], result: CliResult) -> None:
    """Every suspended service was listed and got one line: unsuspended, or (a demo server's) what to do."""
    assert listed.exit_code == 0, listed.stderr
    assert [int(line) for line in listed.stdout.split()] == sorted(suspended_before), "ids lists every suspended service, in id order"
    on_demo_servers = {service_id for service_id, url in suspended_before.items() if url and ".demo.invalid" in url}
    if tour.seeded:
        assert len(suspended_before) > 100 and on_demo_servers, "the seeded run must cross the old 100-row cut and meet demo servers"
    lines = bulk_lines(result)
    assert set(lines) == set(suspended_before)
    for service_id, (outcome, text) in lines.items():
        if service_id in on_demo_servers:
            assert outcome == "failed" and text.startswith(DEMO_SERVER_MESSAGE), (service_id, text)
        else:
            assert (outcome, text) == ("ok", "suspended -> active"), (service_id, text)
    assert result.exit_code == (3 if on_demo_servers else 0), result.stderr
    assert set(suspended_by_server(tour.db)) == on_demo_servers


def check_history(tour: Tour, words: list[str], result: CliResult) -> None:
    assert result.exit_code == 0, result.stderr
    with tour.db.read() as session:
        rows = session.exec(select(Activity).where(Activity.service_id == int(tour.variables["vps"])).order_by(col(Activity.id))).all()
    actions = [row.action for row in rows]
    assert actions == ["create", "deliver", "suspend", "renew", "add-days", "cancel", "meta_set"]
    renewed = rows[actions.index("renew")]
    assert (renewed.from_status, renewed.to_status) == ("suspended", "active"), "the renew lifted the overdue suspension"
    shown = [line.split()[4] for line in result.stdout.splitlines()[1:]]
    assert shown == list(reversed(actions)), "history shows every change, newest first"


EXPECTATIONS: dict[str, Callable[[Tour, list[str], CliResult], None]] = {
    "db init": check_db_init,
    "seed demo": check_seed,
    "customers add": check_added,
    "products add": check_added,
    "servers add": check_added,
    "services create": check_create,
    "services list": check_list,
    "services suspend": check_suspend,
    "services renew": check_renew,
    "services add-days": check_add_days,
    "services cancel": check_cancel,
    "services meta": check_meta,
    "services history": check_history,
}


def run(cli: Cli, words: list[str], stdin: str | None = None) -> CliResult:
    result = cli(*words[1:], input=stdin)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_the_tour_is_one_shell_script():
    checked = subprocess.run(["bash", "-n"], input="\n".join(tour_lines()), text=True, capture_output=True)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("seeded", [True, False], ids=["with-seed-demo", "without-seed-demo"])
def test_the_readme_tour_runs_as_written(db_url: str, seeded: bool) -> None:
    lines = tour_lines()
    assert any(subcommand(commands_of(line)[0]) == "seed demo" for line in lines), "the tour lost its seed step"
    cli = Cli(db_url)
    tour = Tour(Database(db_url), seeded)
    pipes = 0
    try:
        for line in lines:
            assignment = ASSIGNMENT.match(line)
            expanded = [
                [VARIABLE.sub(lambda found: tour.variables[found[1]], word) for word in words]
                for words in commands_of(assignment["command"] if assignment else line)
            ]
            if subcommand(expanded[0]) == "seed demo" and not seeded:
                continue
            if len(expanded) == 2:
                listing, action = expanded
                assert (subcommand(listing), subcommand(action), action[3]) == ("services list", "services unsuspend", "-"), line
                suspended_before = suspended_by_server(tour.db)
                listed = run(cli, listing)
                check_pipe(tour, listed, suspended_before, run(cli, action, stdin=listed.stdout))
                pipes += 1
                continue
            (words,) = expanded
            result = run(cli, words)
            EXPECTATIONS[subcommand(words)](tour, words, result)
            if assignment:
                tour.variables[assignment["name"]] = result.stdout.strip()
    finally:
        tour.db.dispose()
    assert pipes == 1 and set(tour.variables) == {"vps", "staging"}
