"""`db`, `seed`, `operators`, `settings` and `jobs`: running the installation itself."""

from __future__ import annotations

import getpass
import sys
import time
from pathlib import Path

import typer

from svcconsole.cli.base import EXIT_ERROR, new_app, state, stdin_is_tty
from svcconsole.cli.output import (
    FORMAT_OPTION,
    Format,
    data,
    emit,
    json_out,
    key_values,
    message,
    parse_format,
)
from svcconsole.core import job_queue, jobs, operators, seed, seed_catalog, views
from svcconsole.core import settings as settings_module
from svcconsole.core.context import acting_operator, open_database
from svcconsole.core.operators import require
from svcconsole.core.parse import parse_id, parse_int
from svcconsole.core.statuses import NON_TRANSITION_ROLES, Role
from svcconsole.store import schema
from svcconsole.store.engine import safe_url

db_app = new_app("The database: init, upgrade, check, backup.")
seed_app = new_app("Demo data.")
operators_app = new_app("Operators (admin logins) and their roles.")
settings_app = new_app("Settings: list, get, set, unset.")
jobs_app = new_app("The module queue: retry, resolve, run.")


# ----------------------------------------------------------------------------- db


@db_app.command("init")
def db_init(ctx: typer.Context) -> None:
    """Create the database and its schema; the login running this becomes its first admin."""
    cli = state(ctx)
    db = cli.db
    actor = cli.actor
    message(f"database ready: {safe_url(db.url)} (schema {schema.current_revision(db)}; {actor.name} is {actor.role.label})")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply pending migrations (data is kept)."""
    cli = state(ctx)
    db = open_database(cli.database_url, migrate=False)
    try:
        if schema.current_revision(db) is not None:
            require(acting_operator(db), Role.ADMIN, "upgrading the database")
        before, after = schema.upgrade(db)
    finally:
        db.dispose()
    if before == after:
        message(f"database is up to date (schema {after})")
    else:
        message(f"database upgraded from {before or 'empty'} to {after}")


@db_app.command("check")
def db_check(ctx: typer.Context, fmt: str = typer.Option("table", "--format", "-f", help="table or json.")) -> None:
    """Compare the schema with this version's migrations and models; run an integrity check."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    cli = state(ctx)
    db = open_database(cli.database_url, migrate=False, create=False)
    try:
        report = schema.check(db)
    finally:
        db.dispose()
    record = {
        "database": report.url,
        "current": report.current,
        "head": report.head,
        "differences": report.differences,
        "integrity": report.integrity,
        "ok": report.ok,
    }
    if output is Format.JSON:
        json_out(record)
    else:
        key_values(record)
    if not report.ok:
        raise typer.Exit(EXIT_ERROR)


@db_app.command("backup")
def db_backup(ctx: typer.Context, path: Path = typer.Argument(..., help="Where to write the copy (must not exist).")) -> None:
    """Write a consistent copy while the console is in use (SQLite online backup; pg_dump on PostgreSQL)."""
    cli = state(ctx)
    require(cli.actor, Role.OPERATOR, "backing up the database")
    message(schema.backup(cli.db, path))


# ----------------------------------------------------------------------------- seed


@seed_app.command("demo")
def seed_demo(
    ctx: typer.Context,
    services: str = typer.Option("200", "--services", help="How many services."),
    customers: str | None = typer.Option(None, "--customers", help="How many customers (default: services / 8)."),
    random_seed: str = typer.Option("42", "--seed", help="Random seed, for repeatable data."),
) -> None:
    """Fill the database with realistic demo data (bulk inserts: about a million services a minute)."""
    cli = state(ctx)
    count = parse_int("--services", services, minimum=0, maximum=50_000_000)
    customer_count = parse_int("--customers", customers, minimum=1, maximum=10_000_000) if customers else None
    require(cli.actor, Role.ADMIN, "seeding demo data")
    started = time.perf_counter()
    result = seed.seed_demo(cli.db, services=count, customers=customer_count, random_seed=parse_int("--seed", random_seed))
    elapsed = time.perf_counter() - started
    rate = result.services / elapsed if elapsed else 0
    message(
        f"seeded {result.services} services, {result.customers} customers, {result.products} products, {result.servers} servers in {elapsed:.1f}s ({rate:,.0f} services/s)"
    )
    message(
        f"{', '.join(seed_catalog.PANEL_SERVERS)} are demo servers with no panel: `svcconsole demo` starts sandbox panels for them, or point one at yours with `svcconsole servers edit NAME --url URL --credentials KEY`"
    )


# ----------------------------------------------------------------------------- operators


@operators_app.command("list")
def operators_list(ctx: typer.Context, fmt: str = FORMAT_OPTION) -> None:
    """Operators and their roles."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.CSV))
    cli = state(ctx)
    require(cli.actor, Role.VIEWER, "reading")
    with cli.db.read() as session:
        rows = [{"login": row.login, "role": row.role, "created_at": views.plain(row.created_at)} for row in operators.list_operators(session)]
    emit(rows, ["login", "role", "created_at"], output, id_key="login")


@operators_app.command("add")
def operators_add(
    ctx: typer.Context, login: str = typer.Argument(...), role: str = typer.Option("operator", "--role", help="viewer, operator or admin.")
) -> None:
    """Add an operator (or change its role)."""
    cli = state(ctx)
    row = cli.db.transaction(lambda session: operators.add_operator(session, cli.actor, login, role))
    message(f"operator {row.login} is {row.role}")


@operators_app.command("remove")
def operators_remove(ctx: typer.Context, login: str = typer.Argument(...)) -> None:
    """Remove an operator (never the last admin)."""
    cli = state(ctx)
    cli.db.transaction(lambda session: operators.remove_operator(session, cli.actor, login))
    message(f"operator {login} removed")


# ----------------------------------------------------------------------------- settings


@settings_app.command("list")
def settings_list(ctx: typer.Context, fmt: str = FORMAT_OPTION) -> None:
    """Every setting, its value in force and its default (secrets are never shown)."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.CSV))
    cli = state(ctx)
    require(cli.actor, Role.VIEWER, "reading settings")
    with cli.db.read() as session:
        current = settings_module.load(session)
    rows = [
        {"key": key, "value": current.display(key), "default": "" if spec.secret else spec.default, "set": key in current.overridden, "help": spec.help}
        for key, spec in settings_module.REGISTRY.items()
    ]
    emit(rows, ["key", "value", "default", "help"], output, id_key="key")


@settings_app.command("get")
def settings_get(ctx: typer.Context, key: str = typer.Argument(...)) -> None:
    """One setting's value in force."""
    cli = state(ctx)
    require(cli.actor, Role.VIEWER, "reading settings")
    settings_module.spec(key)
    with cli.db.read() as session:
        data(settings_module.load(session).display(key))


@settings_app.command("set", context_settings={"ignore_unknown_options": True})
def settings_set(
    ctx: typer.Context,
    key: str = typer.Argument(...),
    value: str = typer.Argument(..., help="The value, or - to read it from stdin (asked without echo on a terminal)."),
) -> None:
    """Change a setting (validated: a negative day count is refused).

    `settings set smtp_password -` reads the password from stdin (its first line), so it
    never appears on the command line, in the shell history or in the process list.
    """
    cli = state(ctx)
    require(cli.actor, NON_TRANSITION_ROLES["settings"], "changing settings")
    spec = settings_module.spec(key)
    if value == "-":
        value = _value_from_stdin(key)
    parsed = cli.db.transaction(lambda session: settings_module.set_value(session, cli.actor, key, value))
    message(f"{key} = {'(set)' if spec.secret else spec.render(parsed)}")


def _value_from_stdin(key: str) -> str:
    if stdin_is_tty():
        return getpass.getpass(f"{key}: ")
    return sys.stdin.readline().rstrip("\r\n")


@settings_app.command("unset")
def settings_unset(ctx: typer.Context, key: str = typer.Argument(...)) -> None:
    """Return a setting to its default."""
    cli = state(ctx)
    require(cli.actor, NON_TRANSITION_ROLES["settings"], "changing settings")
    cli.db.transaction(lambda session: settings_module.unset_value(session, cli.actor, key))
    message(f"{key} back to its default")


# ----------------------------------------------------------------------------- jobs


@jobs_app.command("retry")
def jobs_retry(
    ctx: typer.Context,
    job_id: str = typer.Argument(..., metavar="JOB"),
    now: bool = typer.Option(True, "--now/--later", help="Run it now (default) or leave it for the worker."),
) -> None:
    """Put a failed job back in the queue and run it."""
    cli = state(ctx)
    identifier = parse_id("JOB", job_id)
    cli.db.transaction(lambda session: job_queue.retry(session, cli.actor, identifier))
    if not now:
        message(f"job {identifier} queued")
        return
    outcome = jobs.execute(cli.db, identifier)
    if outcome is None:
        message(f"job {identifier} is held by another worker")
        return
    message(f"job {identifier}: {outcome.status}: {outcome.message}")
    if outcome.status != "succeeded":
        raise typer.Exit(EXIT_ERROR)


@jobs_app.command("resolve")
def jobs_resolve(
    ctx: typer.Context, job_id: str = typer.Argument(..., metavar="JOB"), note: str | None = typer.Option(None, "--note", help="What was done by hand.")
) -> None:
    """Mark a job handled by hand: it leaves the queue and the service's operation is cleared."""
    cli = state(ctx)
    identifier = parse_id("JOB", job_id)
    cli.db.transaction(lambda session: job_queue.resolve(session, cli.actor, identifier, note))
    message(f"job {identifier} resolved")


@jobs_app.command("run")
def jobs_run(ctx: typer.Context) -> None:
    """Run every job that is due now (and those a dead worker left running)."""
    cli = state(ctx)
    require(cli.actor, Role.OPERATOR, "running jobs")
    due = jobs.due_job_ids(cli.db)
    outcomes = jobs.run_jobs(cli.db, due)
    for outcome in outcomes:
        data(f"{outcome.job_id:>8}  service {outcome.service_id}  {outcome.status}  {outcome.message}")
    message(f"{len(outcomes)} jobs run")


# ----------------------------------------------------------------------------- worker and sandboxes


def worker_command(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Run what is due now, then exit."),
    interval: str = typer.Option("2", "--interval", help="Seconds between polls of an empty queue."),
    concurrency: str = typer.Option(str(jobs.DEFAULT_CONCURRENCY), "--concurrency", help="Jobs at once (overall)."),
    per_server: str = typer.Option(str(jobs.DEFAULT_PER_SERVER), "--per-server", help="Jobs at once per server."),
) -> None:
    """Run the module queue as a long-lived service (several on PostgreSQL, one on SQLite)."""
    import signal
    import threading

    from svcconsole.core.worker import run_worker

    cli = state(ctx)
    require(cli.actor, Role.OPERATOR, "running the queue")
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())

    def report(outcome: jobs.JobOutcome) -> None:
        message(f"job {outcome.job_id} (service {outcome.service_id}): {outcome.status}: {outcome.message}")

    if not once:
        message(f"worker running on {safe_url(cli.db.url)}; Ctrl+C or SIGTERM stops it")
    count = run_worker(
        cli.db,
        stop=stop,
        once=once,
        interval=float(parse_int("--interval", interval, minimum=1)),
        concurrency=parse_int("--concurrency", concurrency, minimum=1, maximum=256),
        per_server=parse_int("--per-server", per_server, minimum=1, maximum=256),
        on_outcome=report,
    )
    message(f"worker stopped after {count} jobs")


def sandbox_command(
    kind: str = typer.Argument(..., help="pterodactyl or proxmox."),
    port: str = typer.Option("0", "--port", help="Port to listen on (0 = any free port)."),
    api_key: str | None = typer.Option(None, "--api-key", help="The key it accepts (printed when not given)."),
    tls: bool = typer.Option(False, "--tls", help="Serve HTTPS with a generated certificate (its fingerprint is printed)."),
) -> None:
    """Serve a local in-memory panel (Pterodactyl or Proxmox VE) for tests and demos."""
    from svcconsole.core.errors import InvalidInput
    from svcconsole.modules.sandbox import KINDS, api_key_problem, serve_forever

    if kind not in KINDS:
        raise InvalidInput("kind", f"{kind!r} is not a sandbox ({', '.join(KINDS)})")
    problem = api_key_problem(kind, api_key)
    if problem is not None:
        raise InvalidInput("--api-key", problem)
    serve_forever(kind, parse_int("--port", port, minimum=0, maximum=65535), api_key, tls=tls)
