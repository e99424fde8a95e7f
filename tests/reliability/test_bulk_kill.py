"""A bulk suspend killed with SIGKILL half-way loses nothing and repeats nothing.

The panel (a Pterodactyl sandbox slowed to a fixed latency per request) runs in a process of
its own, as a real panel would; `svcconsole services suspend --status active --yes` runs in
another, and is killed with SIGKILL once part of the run is done. Then every service must be
in one of three states that the run's record names:

- done: item ok, status suspended, one `suspend` activity row, its job succeeded, the panel
  says suspended and received exactly one suspend request;
- untouched: item pending, status active, no `suspend` activity row, the panel untouched;
- in flight: item pending, its job still `running` under the dead process, the service marked
  "in progress: suspension" (the module call may or may not have reached the panel).

`services bulk show RUN` lists every service with that outcome; running the same command
again adopts the run, finishes the rest, and no service done before the kill is asked again.
"""

from __future__ import annotations

import json
import time
from collections import Counter

from sqlmodel import func, select

from svcconsole.core import bulk, records
from svcconsole.core import catalog as catalog_module
from svcconsole.core.jobs import DEFAULT_CONCURRENCY
from svcconsole.store.models import Activity, BulkItem, BulkRun, Job, Service
from tests.reliability.support import finish, kill9, panel_process, spawn_cli, stop, wait_until

SERVICES = 200
LATENCY = 0.06


def _import_services(db, admin, panel) -> dict[int, int]:  # type: ignore[no-untyped-def]
    """One active service per panel server; returns service id -> panel server id."""

    def work(session):  # type: ignore[no-untyped-def]
        customer = catalog_module.add_customer(session, admin, name="Kill Test", email="kill@example.com")
        server = catalog_module.add_server(
            session,
            admin,
            name="slow-panel",
            module="pterodactyl",
            url=panel.url,
            credentials=panel.credentials,
            node="1",
            config=["rate_limit_per_minute=0", "timeout=10", "max_retry_after=1"],
        )
        product = catalog_module.add_product(session, admin, name="Paper", type="pterodactyl", prices=["monthly=5.00"], config=["nest=1", "egg=1"])
        mapping = {}
        for panel_id in panel.server_ids:
            draft = records.ServiceDraft(
                customer=str(customer.id), name=f"mc-{panel_id}", product=str(product.id), server=str(server.id), external=str(panel_id)
            )
            service = records.import_service(session, admin, draft, external={"server_id": panel_id})
            mapping[service.id] = panel_id
        return mapping

    return db.transaction(work)


def _state(db):  # type: ignore[no-untyped-def]
    """Per service: status, operation, suspend activity rows, its run's item and job."""
    with db.read() as session:
        runs = session.exec(select(BulkRun.id, BulkRun.finished_at)).all()
        assert len(runs) == 1, runs
        run_id, finished_at = runs[0]
        rows = {row.id: (row.status, row.operation) for row in session.exec(select(Service))}
        suspends = Counter(session.exec(select(Activity.service_id).where(Activity.action == "suspend")))
        items = dict(session.exec(select(BulkItem.service_id, BulkItem.outcome).where(BulkItem.run_id == run_id)).all())
        jobs = {}
        for service_id, status in session.exec(select(Job.service_id, Job.status).where(Job.bulk_run_id == run_id)).all():
            assert service_id not in jobs, f"service {service_id} has two jobs in the run"
            jobs[service_id] = status
    return run_id, finished_at, rows, suspends, items, jobs


def _ok_items(db) -> int:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return session.exec(select(func.count()).select_from(BulkItem).where(BulkItem.outcome == "ok")).one()


def test_a_bulk_suspend_killed_mid_run_is_consistent_listed_and_finished_by_the_same_command(db, admin, cli):
    with panel_process(SERVICES, LATENCY) as panel:
        mapping = _import_services(db, admin, panel)
        command = ("services", "suspend", "--status", "active", "--reason", "kill test", "--yes")
        process = spawn_cli(db.url, *command)
        try:
            wait_until(lambda: _ok_items(db) >= SERVICES // 4 or process.poll() is not None, timeout=60, what="a quarter of the run done")
            assert process.poll() is None, f"the run ended before it could be killed: {process.communicate()}"
            kill9(process)
        finally:
            stop(process)
        time.sleep(LATENCY * 3 + 0.2)  # requests already sent by the dead process reach the panel

        run_id, finished_at, rows, suspends, items, jobs = _state(db)
        requests = panel.suspend_requests()
        on_panel = panel.suspended()

        assert finished_at is None, "a killed run must stay unfinished"
        assert set(items) == set(mapping), "every selected service has its item, written before the run started"
        assert set(Counter(items.values())) <= {"ok", "pending"}
        done = {sid for sid, outcome in items.items() if outcome == "ok"}
        pending = set(items) - done
        assert done and pending, (len(done), len(pending))
        for sid in done:
            assert rows[sid] == ("suspended", None), (sid, rows[sid])
            assert suspends[sid] == 1 and jobs.get(sid) == "succeeded", (sid, suspends[sid], jobs.get(sid))
            assert mapping[sid] in on_panel and requests.get(mapping[sid]) == 1, (sid, requests.get(mapping[sid]))
        in_flight = set()
        for sid in pending:
            status, operation = rows[sid]
            assert status == "active" and suspends[sid] == 0, (sid, rows[sid], suspends[sid])
            if jobs.get(sid) is None:
                assert operation is None and mapping[sid] not in on_panel and not requests.get(mapping[sid]), sid
            else:
                assert jobs[sid] in {"running", "queued"} and operation == "suspension", (sid, jobs[sid], operation)
                if requests.get(mapping[sid]) or jobs[sid] == "running":
                    in_flight.add(sid)
        reached_panel = {sid for sid in pending if requests.get(mapping[sid])}
        print(f"after the kill: {len(done)} done, {len(pending)} pending, {len(in_flight)} in flight, {len(reached_panel)} reached the panel")
        assert reached_panel <= in_flight
        # A run hands its jobs to the runner one window at a time and starts the next window only
        # once every outcome of the last one is written; within a window every call may have
        # reached the panel before any outcome is written (the runner writes in batches, behind a
        # loaded database). So the calls done on the panel but unrecorded are one window at most.
        window = bulk.job_window(DEFAULT_CONCURRENCY)
        assert len(reached_panel) <= window, f"at most one window ({window}) of calls can be done on the panel but unrecorded"

        shown = cli("services", "bulk", "show", str(run_id), "--all", "-f", "json")
        assert shown.exit_code == 0, shown.stderr
        listed = {row["service_id"]: row for row in json.loads(shown.stdout)}
        assert {sid: row["outcome"] for sid, row in listed.items()} == items
        assert {sid: row["job"] for sid, row in listed.items() if row["job"]} == jobs
        assert "unfinished" in shown.stderr

        again = spawn_cli(db.url, *command)
        code, _stdout, stderr = finish(again, timeout=90)
        assert code == 0, stderr
        assert f"resuming unfinished run {run_id}" in stderr

        run_after, finished_after, rows, suspends, items, jobs = _state(db)
        requests = panel.suspend_requests()
        assert run_after == run_id and finished_after is not None
        assert set(items.values()) == {"ok"}
        assert all(rows[sid] == ("suspended", None) for sid in mapping)
        assert all(suspends[sid] == 1 for sid in mapping), "each service suspended exactly once in the store"
        assert set(jobs.values()) == {"succeeded"}
        assert panel.suspended() == set(mapping.values())
        for sid in done:
            assert requests[mapping[sid]] == 1, f"service {sid} was done before the kill and was asked again"
        for sid in pending:
            assert requests[mapping[sid]] == (1 if sid not in reached_panel else 2), (sid, requests[mapping[sid]])
