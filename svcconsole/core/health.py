"""Operations you can see: automation runs recorded, workers' heartbeats, and health in one place.

"Did the cron run?" is answered from the database, not from a log file that rotates: every
automation run is a row (started, finished, per-step counts, the settings in force, the error if
it stopped); a run whose process died stays `running` and is shown as `died` once its
heartbeat is older than a run's lease. Queue workers record a heartbeat. `check` gathers the
last run, the workers, the module queue and the outbox, and names each problem an admin must
look at; the admin is mailed once per incident (a dedupe key per incident, not per check).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from svcconsole.core import clock, leases, notifications
from svcconsole.core import settings as settings_module
from svcconsole.core.automation_report import AutomationReport
from svcconsole.core.errors import NotFound
from svcconsole.store.engine import Database
from svcconsole.store.models import AutomationRun, Job, Notification, WorkerHeartbeat

RUN_LIFE = leases.RUN_LEASE
"""A run whose heartbeat is older than this died (the automation renews its lock far more often)."""
HEARTBEAT_EVERY = timedelta(seconds=15)
WORKER_LIVE = timedelta(seconds=90)
"""A worker seen within this is live (it beats every `HEARTBEAT_EVERY`)."""
JOB_WAIT = timedelta(minutes=15)
"""Jobs due for longer than this with no live worker mean nobody drains the queue."""
STALE = timedelta(days=1)
"""Failed jobs and mails older than this need an admin."""
RECENT_WORKERS = timedelta(days=1)


# ----------------------------------------------------------------------------- automation runs


def run_started(db: Database, actor: str, *, at: datetime | None, dry_run: bool, settings: dict[str, str]) -> int:
    """Record a run as it starts; its id."""
    now = leases.wall_clock()

    def work(session: Session) -> int:
        row = AutomationRun(
            started_at=now,
            heartbeat_at=now,
            actor=actor,
            holder=leases.holder(),
            at=at,
            dry_run=dry_run,
            status="running",
            steps=[],
            settings=dict(settings),
        )
        session.add(row)
        session.flush()
        return row.id or 0

    return db.transaction(work)


def step_counts(report: AutomationReport) -> list[dict[str, Any]]:
    """Each step's counts of touched / ok / failed / skipped, as the run row keeps them."""
    counts = []
    for step in report.steps:
        ok = sum(1 for item in step.items if item.outcome in {"ok", "queued", "would: ok", "would: queued"})
        failed = step.count("failed")
        skipped = step.count("skipped")
        counts.append(
            {
                "step": step.number,
                "title": step.title,
                "touched": len(step.items),
                "ok": ok,
                "failed": failed,
                "skipped": skipped,
                "other": len(step.items) - ok - failed - skipped,
                "seconds": round(step.seconds, 3),
            }
        )
    return counts


def run_beat(db: Database, run_id: int, report: AutomationReport | None = None) -> None:
    """The run is alive: push its heartbeat (and the step counts so far)."""
    values: dict[str, Any] = {"heartbeat_at": leases.wall_clock()}
    if report is not None:
        values["steps"] = step_counts(report)
    db.transaction(lambda session: session.execute(update(AutomationRun).where(col(AutomationRun.id) == run_id).values(**values)))


def run_ended(db: Database, run_id: int, report: AutomationReport | None, *, error: str | None = None) -> None:
    """Record how a run ended: finished, failed (an item failed, or the run stopped on `error`) or locked out."""
    if error is not None:
        status = "failed"
    elif report is not None and report.locked_out:
        status = "locked"
    elif report is not None and report.failed:
        status = "failed"
    else:
        status = "finished"
    now = leases.wall_clock()
    values: dict[str, Any] = {"finished_at": now, "heartbeat_at": now, "status": status, "error": error}
    if report is not None:
        values["steps"] = step_counts(report)
        if report.locked_out:
            values["error"] = f"another run held the lock ({report.locked_by}); nothing done"
    db.transaction(lambda session: session.execute(update(AutomationRun).where(col(AutomationRun.id) == run_id).values(**values)))


def shown_status(run: AutomationRun, now: datetime | None = None) -> str:
    """The run's status as an admin reads it: a `running` run whose heartbeat is too old, or whose process is gone, `died`."""
    if run.status != "running":
        return run.status
    now = now or leases.wall_clock()
    beat = clock.as_utc(run.heartbeat_at or run.started_at)
    if now - beat > RUN_LIFE or not leases.holder_alive(run.holder):
        return "died"
    return "running"


def runs(session: Session, *, limit: int = 20, before: int | None = None) -> list[AutomationRun]:
    """The newest runs first (older than id `before` when given)."""
    query = select(AutomationRun) if before is None else select(AutomationRun).where(col(AutomationRun.id) < before)
    return list(session.exec(query.order_by(col(AutomationRun.id).desc()).limit(limit)).all())


def get_run(session: Session, run_id: int) -> AutomationRun:
    run = session.get(AutomationRun, run_id)
    if run is None:
        raise NotFound(f"automation: no run {run_id}")
    return run


# ----------------------------------------------------------------------------- workers


def worker_beat(db: Database, *, jobs_done: int, started_at: datetime, stopped: bool = False) -> None:
    """Record that this worker is alive (or stopped), with the jobs it ran so far."""
    holder = leases.holder()
    now = leases.wall_clock()

    def work(session: Session) -> None:
        row = session.get(WorkerHeartbeat, holder)
        if row is None:
            row = WorkerHeartbeat(holder=holder, host=socket.gethostname(), pid=os.getpid(), started_at=started_at, last_seen=now)
        row.last_seen = now
        row.jobs_done = jobs_done
        row.stopped_at = now if stopped else None
        session.add(row)

    db.transaction(work)


def worker_live(row: WorkerHeartbeat, now: datetime) -> bool:
    return row.stopped_at is None and now - clock.as_utc(row.last_seen) <= WORKER_LIVE and leases.holder_alive(row.holder)


# ----------------------------------------------------------------------------- health


@dataclass
class Problem:
    """Something that needs an admin: what, in one line, and the incident it belongs to (for one mail per incident)."""

    kind: str
    message: str
    incident: str


@dataclass
class HealthReport:
    """Every figure `svcconsole health` prints, and the problems among them."""

    now: datetime
    max_run_age_minutes: int
    last_run: dict[str, Any] | None
    recent_runs: list[dict[str, Any]]
    workers: list[dict[str, Any]]
    jobs: dict[str, Any]
    mail: dict[str, Any]
    last_run_finished_at: datetime | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when all is well, 1 when something needs an admin."""
        return 1 if self.problems else 0

    @property
    def live_workers(self) -> int:
        return sum(1 for worker in self.workers if worker["live"])


def _age_seconds(now: datetime, moment: datetime | None) -> float | None:
    return (now - clock.as_utc(moment)).total_seconds() if moment is not None else None


def run_dict(run: AutomationRun, now: datetime) -> dict[str, Any]:
    """A run as the CLI, the console and JSON show it."""
    return {
        "id": run.id,
        "status": shown_status(run, now),
        "started_at": clock.as_utc(run.started_at),
        "finished_at": clock.as_utc(run.finished_at) if run.finished_at else None,
        "actor": run.actor,
        "at": clock.as_utc(run.at) if run.at else None,
        "dry_run": run.dry_run,
        "steps": list(run.steps or []),
        "settings": dict(run.settings or {}),
        "error": run.error,
    }


def check(db: Database) -> HealthReport:
    """Health now: the last automation run and its age, workers, the module queue, the outbox, and the problems."""
    now = leases.wall_clock()
    queue_now = clock.now()
    with db.read() as session:
        max_age = int(settings_module.load(session)["health_max_run_age_minutes"])
        recent = runs(session, limit=10)
        last = session.exec(
            select(AutomationRun)
            .where(col(AutomationRun.dry_run).is_(False), col(AutomationRun.status) != "locked")
            .order_by(col(AutomationRun.id).desc())
            .limit(1)
        ).first()
        last_finished = session.exec(
            select(AutomationRun)
            .where(col(AutomationRun.dry_run).is_(False), col(AutomationRun.finished_at).is_not(None), col(AutomationRun.status) != "locked")
            .order_by(col(AutomationRun.finished_at).desc())
            .limit(1)
        ).first()
        heartbeats = session.exec(
            select(WorkerHeartbeat).where(col(WorkerHeartbeat.last_seen) >= now - RECENT_WORKERS).order_by(col(WorkerHeartbeat.last_seen).desc())
        ).all()
        job_counts = dict(session.exec(select(Job.status, func.count()).group_by(Job.status)).all())
        oldest_due = session.exec(select(func.min(Job.next_attempt_at)).where(Job.status == "queued", col(Job.next_attempt_at) <= queue_now)).one()
        oldest_due_job = session.exec(
            select(Job.id).where(Job.status == "queued", col(Job.next_attempt_at) <= queue_now).order_by(col(Job.next_attempt_at), col(Job.id)).limit(1)
        ).first()
        stale_failed_job = session.exec(
            select(Job.id).where(Job.status == "failed", col(Job.updated_at) < queue_now - STALE).order_by(col(Job.id)).limit(1)
        ).first()
        stale_failed_jobs = session.exec(select(func.count()).select_from(Job).where(Job.status == "failed", col(Job.updated_at) < queue_now - STALE)).one()
        mail_counts = dict(session.exec(select(Notification.status, func.count()).group_by(Notification.status)).all())
        oldest_mail = session.exec(select(func.min(Notification.created_at)).where(col(Notification.status).in_(("queued", "sending")))).one()
        stale_failed_mail = session.exec(
            select(Notification.id)
            .where(Notification.status == "failed", col(Notification.created_at) < queue_now - STALE)
            .order_by(col(Notification.id))
            .limit(1)
        ).first()
        stale_failed_mails = session.exec(
            select(func.count()).select_from(Notification).where(Notification.status == "failed", col(Notification.created_at) < queue_now - STALE)
        ).one()
    workers = [
        {
            "holder": row.holder,
            "host": row.host,
            "pid": row.pid,
            "started_at": clock.as_utc(row.started_at),
            "last_seen": clock.as_utc(row.last_seen),
            "stopped_at": clock.as_utc(row.stopped_at) if row.stopped_at else None,
            "jobs_done": row.jobs_done,
            "live": worker_live(row, now),
        }
        for row in heartbeats
    ]
    report = HealthReport(
        now=now,
        max_run_age_minutes=max_age,
        last_run=run_dict(last, now) if last is not None else None,
        recent_runs=[run_dict(run, now) for run in recent],
        workers=workers,
        jobs={
            "queued": int(job_counts.get("queued", 0)),
            "running": int(job_counts.get("running", 0)),
            "failed": int(job_counts.get("failed", 0)),
            "oldest_due": clock.as_utc(oldest_due) if oldest_due else None,
            "oldest_due_age_seconds": _age_seconds(queue_now, oldest_due),
            "failed_over_a_day": int(stale_failed_jobs),
        },
        mail={
            "queued": int(mail_counts.get("queued", 0)) + int(mail_counts.get("sending", 0)),
            "failed": int(mail_counts.get("failed", 0)),
            "oldest_queued": clock.as_utc(oldest_mail) if oldest_mail else None,
            "oldest_queued_age_seconds": _age_seconds(queue_now, oldest_mail),
            "failed_over_a_day": int(stale_failed_mails),
        },
    )
    report.last_run_finished_at = clock.as_utc(last_finished.finished_at) if last_finished and last_finished.finished_at else None
    report.problems = _problems(report, last, last_finished, oldest_due_job, stale_failed_job, stale_failed_mail)
    return report


def _problems(
    report: HealthReport,
    last: AutomationRun | None,
    last_finished: AutomationRun | None,
    oldest_due_job: int | None,
    stale_job: int | None,
    stale_mail: int | None,
) -> list[Problem]:
    now = report.now
    problems = []
    limit = timedelta(minutes=report.max_run_age_minutes)
    if last_finished is None:
        problems.append(Problem("automation", "automation: no run has finished yet (run `svcconsole automation run` from cron)", "no-run"))
    elif report.last_run_finished_at is not None and now - report.last_run_finished_at > limit:
        minutes = int((now - report.last_run_finished_at).total_seconds() // 60)
        problems.append(
            Problem(
                "automation",
                f"automation: the last run finished {minutes} minutes ago (run {last_finished.id}; health_max_run_age_minutes={report.max_run_age_minutes})",
                f"stale-run:{last_finished.id}",
            )
        )
    if last is not None:
        status = shown_status(last, now)
        if status == "died":
            problems.append(
                Problem("automation", f"automation: run {last.id} died (started {last.started_at:%Y-%m-%d %H:%M} UTC, never finished)", f"run-died:{last.id}")
            )
        elif status == "failed":
            problems.append(
                Problem(
                    "automation",
                    f"automation: run {last.id} failed: {last.error or 'an item failed (automation show ' + str(last.id) + ')'}",
                    f"run-failed:{last.id}",
                )
            )
    age = report.jobs["oldest_due_age_seconds"]
    if age is not None and age > JOB_WAIT.total_seconds() and report.live_workers == 0:
        problems.append(
            Problem(
                "queue",
                f"queue: {report.jobs['queued']} jobs queued, the oldest due {int(age // 60)} minutes ago, and no live worker (`svcconsole worker`)",
                f"queue-stuck:{oldest_due_job}",
            )
        )
    if stale_job is not None:
        problems.append(
            Problem(
                "queue",
                f"queue: {report.jobs['failed_over_a_day']} failed jobs older than a day (`svcconsole jobs list --status failed`)",
                f"failed-jobs:{stale_job}",
            )
        )
    if stale_mail is not None:
        problems.append(
            Problem(
                "mail",
                f"mail: {report.mail['failed_over_a_day']} failed mails older than a day (`svcconsole notify list --status failed`)",
                f"failed-mails:{stale_mail}",
            )
        )
    return problems


def alert(db: Database, problems: list[Problem]) -> int:
    """Queue one mail to the admin per new incident (an incident already mailed is not mailed again); how many were queued."""
    if not problems:
        return 0

    def work(session: Session) -> int:
        settings = settings_module.load(session)
        address = settings["admin_email"] or settings["smtp_from"]
        queued = 0
        for problem in problems:
            context = {"problem": problem.message, "problems": "\n".join(f"- {item.message}" for item in problems)}
            if notifications.queue(session, "health_alert", to_address=address, context=context, dedupe_key=f"health:{problem.incident}") is not None:
                queued += 1
        return queued

    return db.transaction(work)


def prometheus_text(report: HealthReport) -> str:
    """The same figures in the Prometheus text exposition format (for node_exporter's textfile collector)."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float]]) -> None:
        lines.append(f"# HELP svcconsole_{name} {help_text}")
        lines.append(f"# TYPE svcconsole_{name} {kind}")
        for labels, value in samples:
            label_text = "{" + ",".join(f'{key}="{_escape(val)}"' for key, val in labels.items()) + "}" if labels else ""
            lines.append(f"svcconsole_{name}{label_text} {_number(value)}")

    finished = report.last_run_finished_at
    metric("health_problems", "gauge", "Problems that need an admin (0 when all is well).", [({}, len(report.problems))])
    if finished is not None:
        metric("automation_last_finished_timestamp_seconds", "gauge", "When the last automation run finished (Unix time).", [({}, finished.timestamp())])
        metric(
            "automation_last_finished_age_seconds", "gauge", "Seconds since the last automation run finished.", [({}, (report.now - finished).total_seconds())]
        )
    metric("workers_live", "gauge", "Queue workers seen alive.", [({}, report.live_workers)])
    metric("jobs", "gauge", "Module jobs by status.", [({"status": status}, report.jobs[status]) for status in ("queued", "running", "failed")])
    if report.jobs["oldest_due_age_seconds"] is not None:
        metric("jobs_oldest_due_age_seconds", "gauge", "Seconds since the oldest due job became due.", [({}, report.jobs["oldest_due_age_seconds"])])
    metric("mail", "gauge", "Mails in the outbox by status.", [({"status": status}, report.mail[status]) for status in ("queued", "failed")])
    if report.mail["oldest_queued_age_seconds"] is not None:
        metric("mail_oldest_queued_age_seconds", "gauge", "Seconds since the oldest queued mail was queued.", [({}, report.mail["oldest_queued_age_seconds"])])
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def summary_lines(report: HealthReport, tz: Any) -> list[str]:
    """The figures as lines of text, the same in `svcconsole health` and the console's Health screen."""
    finished = report.last_run_finished_at
    age = f"{int((report.now - finished).total_seconds() // 60)} minutes ago" if finished else "never"
    last = report.last_run
    lines = [
        f"health: {'ok' if report.exit_code == 0 else 'NEEDS AN ADMIN'}",
        f"automation: last run finished {age}"
        + (f" (run {last['id']}, {last['status']})" if last else "")
        + f"; health_max_run_age_minutes={report.max_run_age_minutes}",
        f"workers: {report.live_workers} live of {len(report.workers)} seen in the last day",
    ]
    for worker in report.workers:
        lines.append(
            f"  {worker['holder']}  {'live' if worker['live'] else 'gone'}  last seen {worker['last_seen'].astimezone(tz):%Y-%m-%d %H:%M:%S}  jobs done {worker['jobs_done']}"
        )
    jobs = report.jobs
    oldest = f", oldest due {int(jobs['oldest_due_age_seconds'] // 60)} minutes ago" if jobs["oldest_due_age_seconds"] is not None else ""
    lines.append(f"queue: {jobs['queued']} queued, {jobs['running']} running, {jobs['failed']} failed{oldest}")
    mail = report.mail
    oldest_mail = f", oldest queued {int(mail['oldest_queued_age_seconds'] // 60)} minutes ago" if mail["oldest_queued_age_seconds"] is not None else ""
    lines.append(f"mail: {mail['queued']} queued, {mail['failed']} failed{oldest_mail}")
    return lines
