"""Honest lists (issue 18): every list command, cut by --limit or not, against the same rows with --all.

A cut list says on stderr "K of N shown; --limit N or --all" and prints on stdout exactly the
first K rows of the whole list (JSON stays one valid JSON array); a list that --limit does not
cut says nothing and prints the whole list. Lists read keyset pages of PAGE_ROWS rows (3 here,
so every list crosses pages)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import col, func, select

from svcconsole.cli import output
from svcconsole.core import clock, notifications
from svcconsole.store.models import Activity, AutomationRun, BulkItem, BulkRun, Customer, Drift, Invoice, Job, Notification, Product, Server, Service

CUT_AT = 5
NOTICE = "{shown} of {total} shown; --limit N or --all"


def build_rows(cli, db) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """More than CUT_AT rows in every list; the ids the per-service and per-run lists need."""
    assert cli("seed", "demo", "--services", "40", "--customers", "8").exit_code == 0
    with db.read() as session:
        service_id = session.exec(select(Service.id).where(Service.status == "active").order_by(col(Service.id))).first()
        emails = session.exec(select(Customer.email).order_by(col(Customer.id)).limit(7)).all()
    for _ in range(7):
        assert cli("services", "add-days", str(service_id), "--days", "1").exit_code == 0
    for n in range(3):
        assert cli("servers", "add", "--name", f"extra-{n}", "--module", "manual", "--url", f"https://extra-{n}.example.net").exit_code == 0
    for email in emails:
        assert cli("invoices", "create", "--customer", email, "--order", "Web Hosting Pro").exit_code == 0
    for _ in range(7):
        assert cli("automation", "run").exit_code in (0, 3)
    bulk = cli("services", "add-days", "--status", "active", "--days", "1", "--yes")
    assert bulk.exit_code in (0, 3), bulk.stderr

    def more(session):  # type: ignore[no-untyped-def]
        now = clock.now()
        for n in range(8):
            session.add(Drift(kind="orphan", external=f"ext-{n}", fix="by hand", first_seen=now, last_seen=now))
            session.add(
                Job(service_id=service_id, operation="create", action="deliver", params={}, status="failed", actor="root", created_at=now, updated_at=now)
            )
            notifications.queue(session, "health_alert", to_address=f"admin{n}@example.com", context={"problem": f"p{n}", "problems": "-"})

    db.transaction(more)
    with db.read() as session:
        run_id = session.exec(select(BulkRun.id).order_by(col(BulkRun.id).desc())).first()
    return {"service": str(service_id), "run": str(run_id)}


# command (with {service} / {run}), the rows it lists (model and filter), its formats
LISTS = [
    (["services", "list", "--include-deleted"], Service, None, ("table", "json", "csv", "ids")),
    (["services", "history", "{service}"], Activity, "service", ("table", "json", "csv")),
    (["services", "bulk", "list"], BulkRun, None, ("table", "json", "ids")),
    (["services", "bulk", "show", "{run}"], BulkItem, "run", ("table", "json", "csv", "ids")),
    (["customers", "list"], Customer, None, ("table", "json", "csv", "ids")),
    (["products", "list"], Product, None, ("table", "json", "ids")),
    (["servers", "list"], Server, None, ("table", "json", "ids")),
    (["invoices", "list"], Invoice, None, ("table", "json", "csv", "ids")),
    (["jobs", "list"], Job, None, ("table", "json", "ids")),
    (["notify", "list"], Notification, None, ("table", "json", "csv", "ids")),
    (["automation", "history"], AutomationRun, None, ("table", "json")),
    (["reconcile"], Drift, None, ("table", "json")),
]


def total_of(db, model, scope: str | None, ids: dict[str, str]) -> int:  # type: ignore[no-untyped-def]
    query = select(func.count()).select_from(model)
    if scope == "service":
        query = query.where(model.service_id == int(ids["service"]))
    if scope == "run":
        query = query.where(model.run_id == int(ids["run"]))
    with db.read() as session:
        return int(session.exec(query).one())


def notices(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "shown; --limit N or --all" in line]


def rows_of(stdout: str, fmt: str) -> list:  # type: ignore[type-arg]
    """The rows a list printed: JSON items, or lines (a table's and a CSV's header first)."""
    return json.loads(stdout) if fmt == "json" else stdout.splitlines()


def test_every_list_says_when_limit_cuts_it_and_prints_the_same_rows_as_all(cli, db, frozen, monkeypatch):
    ids = build_rows(cli, db)
    monkeypatch.setattr(output, "PAGE_ROWS", 3)
    checked = 0
    for command, model, scope, formats in LISTS:
        args = [part.format(**ids) for part in command]
        total = total_of(db, model, scope, ids)
        assert total > CUT_AT, (args, total)
        for fmt in formats:
            case = (*args, fmt)
            whole = cli(*args, "--all", "--format", fmt)
            assert whole.exit_code in (0, 3) and notices(whole.stderr) == [], (case, whole.stderr)
            every_row = rows_of(whole.stdout, fmt)
            header = 0 if fmt in ("json", "ids") else 1
            assert len(every_row) == total + header, (case, len(every_row), total)

            cut = cli(*args, "--limit", str(CUT_AT), "--format", fmt)
            assert cut.exit_code == whole.exit_code, case
            assert notices(cut.stderr) == [NOTICE.format(shown=CUT_AT, total=total)], (case, cut.stderr)
            assert rows_of(cut.stdout, fmt) == every_row[: CUT_AT + header], case

            for uncut_limit in (total, total + 10):
                uncut = cli(*args, "--limit", str(uncut_limit), "--format", fmt)
                assert notices(uncut.stderr) == [] and uncut.stdout == whole.stdout, (case, uncut_limit)
            checked += 1
    assert checked == sum(len(formats) for *_, formats in LISTS)


@pytest.mark.parametrize(
    "command",
    [["services", "history", "1"], ["automation", "history"], ["reconcile"], ["services", "bulk", "show", "1"]],
)
def test_limit_and_all_together_are_refused_in_one_line(cli, db, frozen, command):
    refused = cli(*command, "--limit", "3", "--all")
    assert refused.exit_code == 2 and refused.stdout == ""
    assert "--limit" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
