"""Random actions over services that sit at the limits: expiries days from 1900-01-01 and
2999-12-31 (and one that SQL put past them), prices and options at the largest amount, names
at their longest, renewal limits reached, cancellations at the end of time.

The fixed-example property tests of test_hostile_input.py start from ordinary services and
never reach these states, which is how an OverflowError on add-days and a numeric overflow on
renew slipped through. Here every example builds fresh boundary services, then runs one or two
commands over them with values aimed at the limits. For any of them: no traceback and no
"internal error"; the exit code is 0, 1, 2, 3 or 4 (4 only with --read-only); a refusal is one
line "error: ..." and changes no row of any table; a bulk run's skipped or failed services
are untouched; and no service's expiry leaves the accepted range unless SQL put it there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from svcconsole.core import actions, parse, records
from svcconsole.store.models import Service
from tests.conftest import new_service
from tests.reliability.support import every_row_digest

LONGEST_NAME = "n" * 200
STATES = ("far", "costly", "early", "beyond", "limited", "overdue", "onetime", "cancelling")


def build(db, admin, catalog) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """One fresh service in each boundary state; their ids by state."""
    ids = {
        "far": new_service(db, admin, catalog, name=LONGEST_NAME, status="active", expires="2999-12-20"),
        "costly": new_service(db, admin, catalog, status="active", price="9999999999.99"),
        "early": new_service(db, admin, catalog, status="active", cycle="weekly", expires="1900-01-05"),
        "beyond": new_service(db, admin, catalog, status="active"),
        "limited": new_service(db, admin, catalog, status="active", cycle="annually", expires="2999-01-01", max_renewals="0"),
        "overdue": new_service(db, admin, catalog, status="active", expires="2999-12-31T23:59:59", price="0.01"),
        "onetime": new_service(db, admin, catalog, status="active", cycle="onetime", price="0"),
        "cancelling": new_service(db, admin, catalog, status="active", expires="2999-12-25", initial_price="9999999999.99"),
    }

    def work(session):  # type: ignore[no-untyped-def]
        records.option_add(session, admin, ids["costly"], name="o" * 200, price="9999999999.99", quantity="100000")
        records.meta_set(session, admin, ids["limited"], "max_renewals_in_current_week", "0")
        actions.perform(session, admin, "suspend", ids["overdue"], {"kind": "overdue", "reason": "r" * 2000})
        actions.perform(session, admin, "cancel-end-of-cycle", ids["cancelling"], {"reason": "end of time"})

    db.transaction(work)
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE service SET expires_at = :when WHERE id = :id"), {"when": "9999-12-25 00:00:00.000000", "id": ids["beyond"]})
    return ids


def service_rows(db) -> dict[int, str]:  # type: ignore[no-untyped-def]
    columns = list(Service.__table__.columns)  # type: ignore[attr-defined]
    with db.engine.connect() as connection:
        return {row[0]: repr(tuple(row)) for row in connection.execute(select(*columns).order_by(columns[0]))}


def expiry_years(db) -> dict[int, int]:  # type: ignore[no-untyped-def]
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, expires_at FROM service WHERE expires_at IS NOT NULL")).all()
    return {identifier: int(str(moment)[:4]) for identifier, moment in rows}


DAYS = ["1", "30", "365", "36499", "36500"]
CYCLES = ["1", "2", "12", "119", "120"]
NUMBERS = [*DAYS, *CYCLES, "121", "36501", "0", "-1", "99999999999999"]
DATES = [
    "2999-12-31",
    "2999-12-31T23:59:59",
    "3000-01-01",
    "1900-01-01",
    "1899-12-31",
    "1900-01-01T00:00:00+14:00",
    "2999-12-31T23:59:59-12:00",
    "none",
    "2027-02-29",
]
MONEY = ["9999999999.99", "9999999999.995", "10000000000", "0.01", "0", "4999999999.99", "1e10", "-0.01"]
TEXTS = [LONGEST_NAME, "n" * 201, "r" * 2000, "r" * 2001, "\u202e" * 200, "[bold]" * 30]
DURATIONS = ["36500d", "36501d", "5214w", "1216m", "876000h", "0d", "1d"]
EDITS = [
    ("--expires", DATES),
    ("--price", MONEY),
    ("--initial-price", MONEY),
    ("--name", TEXTS),
    ("--notes", TEXTS),
    ("--cycle", ["weekly", "triennially", "onetime", "free", "monthly"]),
    ("--max-renewals", NUMBERS),
]


def pick(draw: st.DrawFn, values: list[str], usual: list[str] | None = None) -> str:
    """One of `values`; when `usual` is given, mostly one of those (values the rules accept)."""
    if usual and draw(st.integers(0, 3)):
        return draw(st.sampled_from(usual))
    return draw(st.sampled_from(values))


@st.composite
def commands(draw: st.DrawFn) -> Callable[[list[str]], list[str]]:
    """A command over some services (given later), with values aimed at the limits."""
    kind = draw(st.sampled_from(["add-days", "subtract-days", "renew", "renew-invoice", "edit", "option", "meta", "state", "list"]))
    extra: list[str] = []
    if kind in {"add-days", "subtract-days"}:
        options = ["--days", pick(draw, NUMBERS, DAYS)]
    elif kind == "renew":
        options = ["--cycles", pick(draw, NUMBERS, CYCLES)] + (["--free"] if draw(st.integers(0, 3)) == 0 else [])
    elif kind == "renew-invoice":
        options = ["--cycles", pick(draw, NUMBERS, CYCLES), "--invoice", pick(draw, ["new", "1", "2"])]
    elif kind == "edit":
        option, values = draw(st.sampled_from(EDITS))
        options = [option, pick(draw, values)]
    elif kind == "option":
        options = ["add", "--name", pick(draw, TEXTS), "--price", pick(draw, MONEY), "--quantity", pick(draw, ["1", "100000", "100001"])]
    elif kind == "meta":
        options = [
            "set",
            pick(draw, ["max_renewals", "max_renewals_in_current_month", "max_renewals_in_current_week", "k" * 100, "k" * 101]),
            pick(draw, [*NUMBERS, "r" * 10000, "r" * 10001]),
        ]
    elif kind == "state":
        action = draw(st.sampled_from(["suspend", "unsuspend", "cancel", "uncancel", "terminate", "delete", "deliver", "redeliver"]))
        options = ["--reason", pick(draw, TEXTS)] + (["--mode", pick(draw, ["end-of-cycle", "immediate"])] if action == "cancel" else [])
        kind = action
    else:
        options = [
            "--expiring-within",
            pick(draw, DURATIONS),
            "--sort",
            pick(draw, ["expires", "price", "name"]),
            "--format",
            pick(draw, ["csv", "json", "table"]),
            "--limit",
            "0",
        ]
    if kind not in {"edit", "option", "meta", "list"}:
        extra = ["--yes"] + (["--dry-run"] if draw(st.integers(0, 4)) == 0 else [])
    prefix = ["--read-only"] if draw(st.integers(0, 19)) == 0 else []

    def command(targets: list[str]) -> list[str]:
        if kind == "list":
            return [*prefix, "services", "list", *options]
        if kind in {"edit", "option", "meta"}:
            verb = {"option": "options"}.get(kind, kind)
            return [*prefix, "services", verb, targets[0], *options]
        return [*prefix, "services", "renew" if kind == "renew-invoice" else kind, *targets, *options, *extra]

    return command


ITEM_LINE = re.compile(r"^\s*(\d+)\s+(ok|skipped|failed|pending|would: ok)\s")


def check(db, args: list[str], result, before: dict[str, str], rows_before: dict[int, str], years_before: dict[int, int]) -> None:  # type: ignore[no-untyped-def]
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything and "internal error" not in everything, (args, everything[-2000:])
    allowed = {0, 1, 2, 3} | ({4} if "--read-only" in args else set())
    assert result.exit_code in allowed, (args, result.exit_code, result.stderr)
    lines = result.stderr.strip().splitlines()
    if result.exit_code in (2, 4) or result.stderr.startswith("error: "):
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)
        assert every_row_digest(db) == before, (args, "a refused command wrote something")
        return
    rows_after = service_rows(db)
    for line in result.stdout.splitlines():
        item = ITEM_LINE.match(line)
        if item and item.group(2) in {"skipped", "failed"}:
            service_id = int(item.group(1))
            assert rows_after[service_id] == rows_before[service_id], (args, f"service {service_id} was {item.group(2)} but changed")
    if result.exit_code == 1:
        assert rows_after == rows_before, (args, "a run that did nothing changed a service")
    for service_id, year in expiry_years(db).items():
        if parse.FIRST_YEAR <= years_before.get(service_id, parse.FIRST_YEAR) <= parse.LAST_YEAR:
            assert parse.FIRST_YEAR <= year <= parse.LAST_YEAR, (args, service_id, year)


@pytest.fixture
def boundary(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    return db


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(command=commands())
@example(command=lambda targets: ["services", "add-days", *targets, "--days", "30", "--yes"])
@example(command=lambda targets: ["services", "subtract-days", *targets, "--days", "36500", "--yes"])
@example(command=lambda targets: ["services", "renew", *targets, "--cycles", "1", "--yes"])
@example(command=lambda targets: ["services", "renew", *targets, "--cycles", "120", "--invoice", "new", "--yes"])
@example(command=lambda targets: ["services", "options", targets[0], "add", "--name", "x", "--price", "9999999999.99", "--quantity", "100000"])
@example(command=lambda targets: ["services", "edit", targets[0], "--expires", "2999-12-31T23:59:59-12:00"])
def test_random_commands_over_services_at_the_limits_are_done_or_refused_cleanly(boundary, admin, catalog, cli, command):
    """The command on each boundary service alone, then on all of them at once (a bulk run)."""
    ids = build(boundary, admin, catalog)
    for targets in ([str(ids[state])] for state in STATES):
        run_and_check(boundary, cli, command(targets))
    run_and_check(boundary, cli, command([str(ids[state]) for state in STATES]))


def run_and_check(db, cli, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    before, rows_before, years_before = every_row_digest(db), service_rows(db), expiry_years(db)
    result = cli(*args)
    check(db, args, result, before, rows_before, years_before)
    if "json" in args and result.exit_code == 0:
        assert isinstance(json.loads(result.stdout), list)


def test_the_boundary_states_are_what_they_claim(db, admin, catalog, frozen):
    ids = build(db, admin, catalog)
    years = expiry_years(db)
    assert (years[ids["far"]], years[ids["early"]], years[ids["beyond"]], years[ids["overdue"]]) == (2999, 1900, 9999, 2999)
    with db.read() as session:
        far, costly, overdue, cancelling = (session.get(Service, ids[state]) for state in ("far", "costly", "overdue", "cancelling"))
        assert (len(far.name), str(costly.price), overdue.status, cancelling.cancel_at is not None) == (200, "9999999999.99", "suspended", True)
    assert set(ids) == set(STATES)
