"""Operations you can see (issue 20): every automation run recorded, health in one command, alerts once per incident."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from svcconsole.core import automation, health, leases
from svcconsole.store.models import AutomationRun, Job, Notification, WorkerHeartbeat
from tests.billing.conftest import set_setting
from tests.conftest import new_service
from tests.reliability.support import ROOT, kill9, process_env, spawn_cli, stop, wait_until
from tests.reliability.test_automation_processes import AT, due_services, hold


def _runs(db):
    with db.read() as session:
        return list(session.exec(select(AutomationRun).order_by(AutomationRun.id)).all())


def _age_last_run(db, minutes):
    """Make the last run look `minutes` old (its times moved back; the clock stays real)."""

    def work(session):
        run = session.exec(select(AutomationRun).order_by(AutomationRun.id.desc())).first()
        run.started_at = leases.wall_clock() - timedelta(minutes=minutes + 1)
        run.finished_at = run.heartbeat_at = leases.wall_clock() - timedelta(minutes=minutes)
        session.add(run)

    db.transaction(work)


def test_a_run_is_recorded_with_its_counts_and_shown_by_history_and_show(db, admin, catalog, cli, frozen):
    active = new_service(db, admin, catalog, status="active", expires="2026-11-25")
    overdue = new_service(db, admin, catalog, status="active", expires="2026-11-10")

    run = cli("automation", "run")
    assert run.exit_code == 0, run.stderr
    dry = cli("automation", "run", "--dry-run")
    assert dry.exit_code == 0, dry.stderr

    history = cli("automation", "history", "--format", "json")
    assert history.exit_code == 0, history.stderr
    newest, real = json.loads(history.stdout)
    assert (newest["dry_run"], real["dry_run"]) == (True, False)
    assert real["status"] == "finished" and real["actor"] == admin.name and real["finished_at"]
    steps = {step["step"]: step for step in real["steps"]}
    assert steps[1]["touched"] == 2 and steps[1]["ok"] == 2, "renewal invoices for both"
    assert steps[3]["touched"] == 1 and steps[3]["ok"] == 1, f"service {overdue} suspended as overdue"
    assert real["settings"]["terminate_after_days"] == "7"

    shown = cli("automation", "show", str(real["id"]))
    assert shown.exit_code == 0 and "suspend overdue" in shown.stdout and "terminate_after_days=7" in shown.stdout
    assert cli("automation", "show", "999").exit_code == 1
    assert active != overdue


def test_a_killed_run_is_recorded_as_died_and_health_says_so(db, admin, catalog, cli, tmp_path):
    due_services(db, admin, catalog, 30)
    prelude, marker, _release = hold(tmp_path, 2, inside=True)
    process = spawn_cli(db.url, "automation", "run", "--at", AT, prelude=prelude)
    try:
        wait_until(lambda: marker.exists() or process.poll() is not None, timeout=60, what="the run to be mid-step")
        assert process.poll() is None, process.communicate()
        kill9(process)
    finally:
        stop(process)

    [run] = _runs(db)
    assert run.status == "running" and run.finished_at is None
    history = cli("automation", "history", "--format", "json")
    assert json.loads(history.stdout)[0]["status"] == "died"
    result = cli("health")
    assert result.exit_code == 1
    assert f"run {run.id} died" in result.stderr


def test_a_stale_last_run_makes_health_exit_1_and_a_fresh_one_0(db, admin, cli):
    assert cli("automation", "run").exit_code == 0
    fresh = cli("health")
    assert fresh.exit_code == 0, fresh.stderr
    assert "health: ok" in fresh.stdout

    _age_last_run(db, 45)
    stale = cli("health")
    assert stale.exit_code == 1
    assert "the last run finished 45 minutes ago" in stale.stderr and "health_max_run_age_minutes=30" in stale.stderr

    set_setting(db, "health_max_run_age_minutes", "60")
    assert cli("health").exit_code == 0


def test_a_dead_workers_heartbeat_goes_stale_and_due_jobs_with_no_live_worker_are_a_problem(db, admin, catalog, cli, frozen):
    code = (
        "import sys; from datetime import datetime, UTC\n"
        "from svcconsole.core import health\nfrom svcconsole.core.context import open_database\n"
        "db = open_database(sys.argv[1]); health.worker_beat(db, jobs_done=7, started_at=datetime.now(UTC))\n"
    )
    subprocess.run([sys.executable, "-c", code, db.url], check=True, env=process_env(), cwd=ROOT, timeout=60)
    service_id = new_service(db, admin, catalog, status="active")

    def queue_old_job(session):
        session.add(
            Job(
                service_id=service_id,
                operation="suspend",
                action="suspend",
                params={},
                status="queued",
                attempts=0,
                next_attempt_at=frozen - timedelta(minutes=20),
                actor="root",
                created_at=frozen,
                updated_at=frozen,
            )
        )

    db.transaction(queue_old_job)

    report = health.check(db)

    [worker] = report.workers
    assert worker["jobs_done"] == 7 and worker["live"] is False, "its process is gone"
    assert report.exit_code == 1
    assert any(problem.kind == "queue" and "no live worker" in problem.message for problem in report.problems)

    health.worker_beat(db, jobs_done=0, started_at=leases.wall_clock())
    assert not any("no live worker" in problem.message for problem in health.check(db).problems), "a live worker drains it"


def test_prometheus_output_is_parsed_by_prometheus_client(db, admin, cli):
    assert cli("automation", "run").exit_code == 0
    result = cli("health", "--format", "prometheus")
    assert result.exit_code == 0, result.stderr
    families = {family.name: family for family in text_string_to_metric_families(result.stdout)}
    assert families["svcconsole_health_problems"].samples[0].value == 0
    assert families["svcconsole_automation_last_finished_age_seconds"].samples[0].value < 600
    jobs = {sample.labels["status"]: sample.value for sample in families["svcconsole_jobs"].samples}
    assert jobs == {"queued": 0, "running": 0, "failed": 0}
    assert cli("health", "--format", "yaml").exit_code == 2


def test_the_admin_is_mailed_once_per_incident(db, admin, cli, smtp):
    set_setting(db, "admin_email", "ops@hosting.example")
    assert cli("automation", "run").exit_code == 0
    _age_last_run(db, 45)

    first = cli("health", "--notify")
    second = cli("health", "--notify")

    assert (first.exit_code, second.exit_code) == (1, 1)
    alerts = [mail for mail in smtp.mailbox.messages if mail["to"] == ["ops@hosting.example"]]
    assert len(alerts) == 1, "one mail per incident, not one per check"
    assert "the last run finished 45 minutes ago" in alerts[0]["subject"]
    with db.read() as session:
        assert len(session.exec(select(Notification).where(Notification.template == "health_alert")).all()) == 1


def test_a_run_that_fails_is_recorded_with_its_error_and_mailed(db, admin, catalog, monkeypatch):
    set_setting(db, "admin_email", "ops@hosting.example")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(automation, "_run_queue", broken)
    with contextlib.suppress(RuntimeError):
        automation.run(db, admin)
    [run] = _runs(db)
    assert run.status == "failed" and "disk full" in (run.error or "") and run.finished_at is not None
    with db.read() as session:
        [alert] = session.exec(select(Notification).where(Notification.template == "health_alert")).all()
    assert alert.to_address == "ops@hosting.example" and "disk full" in alert.subject


def test_a_worker_records_its_heartbeat(db, admin):
    import threading

    from svcconsole.core.worker import run_worker

    run_worker(db, stop=threading.Event(), once=True)
    with db.read() as session:
        [beat] = session.exec(select(WorkerHeartbeat)).all()
    assert beat.stopped_at is not None and beat.jobs_done == 0
