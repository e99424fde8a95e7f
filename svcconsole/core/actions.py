"""Running actions: the registry of every action, `perform` / `perform_many`, module jobs queued and their results applied.

When the service's module implements the action's module call, `perform` queues a job instead
of applying; the job runner applies on success (`apply_after_module`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import bindparam
from sqlmodel import Session, col, func, select

from svcconsole.core import (
    activity,
    clock,
    invoices,
    notifications,
    option_actions,
    order_actions,
    parse,
    placement,
    records,
    resync,
    service_actions,
    transfers,
    upgrades,
)
from svcconsole.core.action_base import ActionContext, ActionImpl, Outcome, ServiceRow, store_external
from svcconsole.core.errors import InvalidInput, SvcError
from svcconsole.core.invoices import parse_invoice_ref
from svcconsole.core.job_claims import mark_claimed
from svcconsole.core.lookups import MAX_CYCLES, MAX_DAYS, get_service, module_supports, refuse, scoped, service_not_found, settings_of, touch
from svcconsole.core.operators import Actor, job_actor, require_action
from svcconsole.core.service_actions import parse_suspend_kind
from svcconsole.core.statuses import ACTIONS, CancelMode, Status, SuspendKind
from svcconsole.modules import ModuleResult
from svcconsole.store.models import (
    Activity,
    Customer,
    Job,
    Service,
)


def _run_follow_ups(
    session: Session, actor: Actor, ctx: ActionContext, outcome_message: str, *, bulk_run_id: int | None, claim_for: str | None = None
) -> tuple[str, Outcome | None]:
    """Carry out the actions `ctx`'s action asked to follow it, recorded in its activity row; the message and the last follow-up's outcome."""
    last = None
    for follow_action, follow_params in ctx.follow_up:
        last = perform(session, actor, follow_action, ctx.service.id or 0, follow_params, bulk_run_id=bulk_run_id, claim_for=claim_for, log_into=ctx.logged)
        outcome_message += f"; {follow_action}: {last.message}"
        if last.job_id is not None and ctx.logged is not None:
            ctx.logged.details = {**(ctx.logged.details or {}), "followed": {"action": follow_action, "queued": f"job {last.job_id}"}}
            session.add(ctx.logged)
    return outcome_message, last


IMPLEMENTATIONS: dict[str, ActionImpl] = {
    **service_actions.IMPLEMENTATIONS,
    "renew-invoice": invoices.RENEW_INVOICE,
    "upgrade": upgrades.UPGRADE,
    "add-option": option_actions.ADD_OPTION,
    "transfer": transfers.TRANSFER,
    **resync.IMPLEMENTATIONS,
    **order_actions.IMPLEMENTATIONS,
}
"""Every action's code by its status-table name: the status table's own, billing's, transfer, then reconcile's fixes."""

FINAL_FAILURE_HOOKS: dict[str, Callable[[Session, Job, str], None]] = {
    "upgrade": upgrades.upgrade_failed,
    "renew": invoices.renewal_job_failed,
    "add-option": option_actions.option_not_applied,
}
"""Called as `hook(session, job, error)` when a job of the action fails for good (or ends without effect)."""

SUCCESS_HOOKS: dict[str, Callable[[Session, Job], None]] = {
    "renew": invoices.renewal_job_succeeded,
}
"""Called as `hook(session, job)` once a job of the action succeeded and its change is applied."""


def normalize_action(action: str, params: dict[str, Any]) -> str:
    """The status-table action for a CLI action name (`cancel` splits by its mode)."""
    if action == "cancel":
        mode = params.get("mode") or CancelMode.END_OF_CYCLE.value
        if mode not in {item.value for item in CancelMode}:
            raise InvalidInput("--mode", f"{mode!r} is not a cancel mode (end-of-cycle or immediate)")
        return "cancel-end-of-cycle" if mode == CancelMode.END_OF_CYCLE.value else "cancel-immediately"
    if action not in IMPLEMENTATIONS:
        raise InvalidInput("action", f"{action!r} is not an action")
    return action


def validate_params(action: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check an action's parameters once, before any service is touched."""
    clean = dict(params)
    if action in {"add-days", "subtract-days"}:
        clean["days"] = parse.parse_int("--days", clean.get("days", ""), minimum=1, maximum=MAX_DAYS)
    if action in {"renew", "renew-invoice"}:
        clean["cycles"] = parse.parse_int("--cycles", clean.get("cycles", 1), minimum=1, maximum=MAX_CYCLES)
    if action == "renew-invoice":
        if clean.pop("free", False):
            raise InvalidInput("--free", "a renewal by invoice is billed at the price; --free goes without --invoice")
        clean["invoice"] = parse_invoice_ref("--invoice", clean.get("invoice", "new"))
    if action == "suspend":
        clean["kind"] = parse_suspend_kind(clean.get("kind"))
    if action == "transfer" and not str(clean.get("to") or "").strip():
        raise InvalidInput("--to", "give the customer to transfer to (an id or an email)")
    if "reason" in clean and clean["reason"] is not None:
        clean["reason"] = parse.parse_text("--reason", clean["reason"], max_length=2000)
    return clean


def perform(
    session: Session,
    actor: Actor,
    action: str,
    service_id: int,
    params: dict[str, Any],
    *,
    bulk_run_id: int | None = None,
    claim_for: str | None = None,
    log_into: Activity | None = None,
) -> Outcome:
    """Check and carry out one action on one service, in the caller's transaction.

    Applies the change at once, or queues a job when the module has work to do (already
    claimed by `claim_for` when the caller will run it at once). Raises `TransitionRefused`,
    `PermissionDenied` or `InvalidInput` and changes nothing when refused.
    """
    rule = ACTIONS[action]
    require_action(actor, action)
    service = get_service(session, service_id, for_update=True, customer_id=actor.customer_id if actor.is_client else None)
    try:
        implementation, ctx = _checked(session, actor, action, service, params)
    except placement.NotAvailable as refusal:
        return placement.hold(session, actor, service, refusal.why)
    ctx.log_into = log_into
    before = service.status
    operation = implementation.call(ctx)
    if operation is not None:
        job = queue_job(session, actor, service, operation, action, ctx.params, bulk_run_id=bulk_run_id, claim_for=claim_for)
        service.operation = rule.operation
        touch(service, actor)
        session.add(service)
        session.flush()
        return Outcome(service.id or 0, "queued", f"{rule.operation} queued (job {job.id})", job.id, before, None)
    message = implementation.apply(ctx)
    touch(service, actor)
    session.add(service)
    outcome = Outcome(service.id or 0, "ok", message, None, before, service.status)
    outcome.message, follow = _run_follow_ups(session, actor, ctx, outcome.message, bulk_run_id=bulk_run_id, claim_for=claim_for)
    if follow is not None:
        outcome.to_status = follow.to_status or outcome.to_status
        if follow.job_id:
            outcome.job_id = follow.job_id
            outcome.result = "queued"
    session.flush()
    return outcome


def _checked(session: Session, actor: Actor, action: str, service: Service, params: dict[str, Any]) -> tuple[ActionImpl, ActionContext]:
    """The rules every action passes before it changes anything: the status it starts from, no
    operation in progress, and the action's own checks."""
    rule = ACTIONS[action]
    if not rule.allows(service.status, service.suspend_kind):
        kind = f" (suspended as {service.suspend_kind})" if rule.suspend_kinds and service.suspend_kind else ""
        raise refuse(service, rule.title.lower(), f"allowed from {rule.allowed_from_text}{kind}")
    if service.operation:
        raise refuse(service, rule.title.lower(), f"an operation is in progress: {service.operation}")
    implementation = IMPLEMENTATIONS[action]
    ctx = ActionContext(session, actor, service, {**params, "_action": action}, settings_of(session))
    implementation.check(ctx)
    return implementation, ctx


BATCHED_ACTIONS = frozenset({"add-days", "subtract-days", "cancel-end-of-cycle", "uncancel"})
"""Actions that change only the service row and log one activity row (no module call, no
follow-up), so a bulk run can apply a chunk of them with a few statements."""


def remove_option(session: Session, actor: Actor, service_id: int, option_id: int) -> Outcome:
    """Remove an option from billing; one the module applied is taken off the panel too, by
    re-applying the build without it (`rebuild`: the outcome names its queued job)."""
    resource = records.option_remove(session, actor, service_id, option_id)
    service = get_service(session, service_id)
    removed = Outcome(service_id, "ok", f"option {option_id} removed", None, service.status, service.status)
    if resource is None or service.status not in option_actions.APPLIED_FROM or not module_supports(service, "change_package"):
        return removed
    if service.operation:
        kept = f"; the panel keeps its {resource} until the build is re-applied ({service.operation} in progress; reconcile reports it)"
        return Outcome(service_id, "ok", removed.message + kept, None, service.status, service.status)
    rebuilt = perform(session, actor, "rebuild", service_id, {"reason": f"option {option_id} removed: {resource} back to the build without it"})
    return Outcome(service_id, rebuilt.result, f"{removed.message}; {rebuilt.message}", rebuilt.job_id, service.status, service.status)


def perform_many(session: Session, actor: Actor, action: str, service_ids: Sequence[int], params: dict[str, Any]) -> dict[int, Outcome | SvcError]:
    """`perform` over many services of a batched action, with the same checks and apply functions.

    The columns they use are read in one query, each service's as a `ServiceRow` (no ORM object);
    what the apply changed is written back by one UPDATE per set of changed columns, which changes
    a row only if it still holds what was read. A service changed by someone else in between is
    done again by `perform` (read, locked and checked again). A refused service maps to its error
    and changed nothing.
    """
    if action not in BATCHED_ACTIONS:
        raise ValueError(f"{action} is not a batched action")
    require_action(actor, action)
    query = scoped(select(*_service_columns()).where(col(Service.id).in_(service_ids)), actor.customer_id if actor.is_client else None)
    found = {values[0]: tuple(values) for values in session.connection().execute(query)}
    results: dict[int, Outcome | SvcError] = {}
    changes: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    with activity.batched(session) as logged:
        for service_id in service_ids:
            values = found.get(service_id)
            if values is None:
                results[service_id] = service_not_found(service_id)
                continue
            row = ServiceRow(values)
            service = cast(Service, row)
            try:
                implementation, ctx = _checked(session, actor, action, service, params)
            except SvcError as error:
                results[service_id] = error
                continue
            before = row.status
            message = implementation.apply(ctx)
            if ctx.follow_up:
                raise RuntimeError(f"{action} asked for a follow-up action: it cannot be batched")
            touch(service, actor)
            changes.append((values, row.changes(values)))
            results[service_id] = Outcome(service_id, "ok", message, None, before, row.status)
        moved = _write_rows(session, changes)
        logged[:] = [values for values in logged if values["service_id"] not in moved]
    for service_id in sorted(moved):
        savepoint = session.begin_nested()
        try:
            results[service_id] = perform(session, actor, action, service_id, params)
        except SvcError as error:
            savepoint.rollback()
            results[service_id] = error
        else:
            savepoint.commit()
    return results


def _service_columns() -> list[Any]:
    table = Service.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__ on table models
    return [table.c[name] for name in ServiceRow.COLUMNS]


def _write_rows(session: Session, changes: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> set[int]:
    """Write each row's changed columns where the row still holds every value it was read with
    (`ServiceRow.COLUMNS`), one executemany per set of changed columns; the ids of the rows that
    no longer did, left unwritten.

    When every row was still as read, that is all; otherwise the statements are undone and the
    rows written one at a time, to tell which ones moved.
    """
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for read, changed in changes:
        if changed:
            parameters = {f"was_{name}": value for name, value in zip(ServiceRow.COLUMNS, read, strict=True)}
            parameters.update({f"new_{name}": value for name, value in changed.items()})
            by_columns.setdefault(tuple(sorted(changed)), []).append(parameters)
    table = Service.__table__  # type: ignore[attr-defined]  # SQLModel does not declare __table__ on table models
    still_as_read = [table.c.id == bindparam("was_id"), *(table.c[name].is_not_distinct_from(bindparam(f"was_{name}")) for name in ServiceRow.COLUMNS[1:])]
    statements = {names: table.update().where(*still_as_read).values({name: bindparam(f"new_{name}") for name in names}) for names in by_columns}
    all_at_once = session.begin_nested()
    if all(session.connection().execute(statements[names], rows).rowcount == len(rows) for names, rows in by_columns.items()):
        all_at_once.commit()
        return set()
    all_at_once.rollback()
    return {row["was_id"] for names, rows in by_columns.items() for row in rows if session.connection().execute(statements[names], row).rowcount == 0}


def status_now(service: Service) -> str:
    """The service's status as a refusal names it: a suspension with its kind."""
    if service.status == Status.SUSPENDED.value and service.suspend_kind:
        return f"{service.status} ({service.suspend_kind})"
    return service.status


def job_refusal(service: Service, job: Job) -> str | None:
    """Why the service's current status no longer allows the job's action; None when it does."""
    rule = ACTIONS.get(job.action)
    own_suspension = service.suspend_kind == SuspendKind.CLIENT.value
    if job.action == "unsuspend" and job.actor_kind == "client" and service.status == Status.SUSPENDED.value and not own_suspension:
        return f"service {service.id} is {status_now(service)} now: a customer lifts only their own (client) suspension"
    if rule is None or rule.allows(service.status, service.suspend_kind):
        return None
    return f"service {service.id} is {status_now(service)} now: {job.action} is allowed from {rule.allowed_from_text}"


def operation_held_by(session: Session, service: Service, job: Job) -> bool:
    """True when the service's operation in progress is this job's: its action's operation, and
    no other job of the service queued or running."""
    rule = ACTIONS.get(job.action)
    if service.operation is None or rule is None or service.operation != rule.operation:
        return False
    others = select(func.count()).select_from(Job).where(Job.service_id == service.id, Job.id != job.id, col(Job.status).in_(("queued", "running")))
    return session.exec(others).one() == 0


def record_job_not_applied(session: Session, job: Job, service: Service, reason: str, details: dict[str, Any] | None = None) -> None:
    """Log on the service that a job's action was not applied because its status moved on; its
    operation in progress is cleared when it was this job's, and what waited on the job (an
    upgrade, a paid renewal line) learns that it ended without effect."""
    if operation_held_by(session, service, job):
        service.operation = None
        session.add(service)
    activity.record(
        session,
        service,
        job_actor(job),
        "job_resolved",
        from_status=service.status,
        to_status=service.status,
        reason=reason,
        details={"job": job.id, "action": job.action, "operation": job.operation, **(details or {})},
    )
    if job.action in FINAL_FAILURE_HOOKS:
        FINAL_FAILURE_HOOKS[job.action](session, job, reason)


def apply_after_module(session: Session, job: Job, result: ModuleResult) -> str:
    """Apply an action whose module call succeeded (called by the job runner, which checked
    `job_refusal` first); refused, changing nothing, when the service's status no longer allows it."""
    service = get_service(session, job.service_id, for_update=True)
    refusal = job_refusal(service, job)
    if refusal is not None:
        raise refuse(service, job.action, refusal)
    actor = job_actor(job, customer_id=service.customer_id)
    ctx = ActionContext(session, actor, service, dict(job.params), settings_of(session), result=result)
    service.operation = None
    service.last_error = None
    message = IMPLEMENTATIONS[job.action].apply(ctx)
    touch(service, actor)
    session.add(service)
    if job.action in SUCCESS_HOOKS:
        SUCCESS_HOOKS[job.action](session, job)
    message, _ = _run_follow_ups(session, actor, ctx, message, bulk_run_id=job.bulk_run_id)
    return message


def record_module_failure(session: Session, job: Job, error: str, *, final: bool, external: dict[str, Any] | None = None) -> None:
    """Keep a failed module call's error on the service (and the delivery attempt count).

    `external` is what the module made before failing (a server id...), kept so a retry or a
    terminate can find it.
    """
    service = get_service(session, job.service_id, for_update=True)
    actor = job_actor(job)
    service.last_error = error
    if external:
        store_external(service, external)
    if job.action in {"deliver", "redeliver"}:
        service.delivery_attempts = (service.delivery_attempts or 0) + 1
    if final:
        service.operation = None
    touch(service, actor)
    session.add(service)
    activity.record(
        session,
        service,
        actor,
        f"{job.action}_failed",
        from_status=service.status,
        to_status=service.status,
        reason=error,
        details={"job": job.id, "attempt": job.attempts, "final": final},
    )
    if final and job.action in {"deliver", "redeliver"}:
        _notify_admins_of_failed_delivery(session, service, error)
    if final and job.action in FINAL_FAILURE_HOOKS:
        FINAL_FAILURE_HOOKS[job.action](session, job, error)


def _notify_admins_of_failed_delivery(session: Session, service: Service, error: str) -> None:
    settings = settings_of(session)
    address = settings["admin_email"] or settings["smtp_from"]
    customer = session.get(Customer, service.customer_id)
    if customer is None:
        return
    context = notifications.service_context(service, customer) | {"error": error, "attempts": service.delivery_attempts}
    notifications.queue(session, "delivery_failed", to_address=address, context=context, service_id=service.id)


def queue_job(
    session: Session,
    actor: Actor,
    service: Service,
    operation: str,
    action: str,
    params: dict[str, Any],
    *,
    bulk_run_id: int | None = None,
    claim_for: str | None = None,
) -> Job:
    """A job for the module queue; claimed by `claim_for` right away when given."""
    now = clock.now()
    job = Job(
        service_id=service.id or 0,
        server_id=service.server_id,
        operation=operation,
        action=action,
        params={key: value for key, value in params.items()},
        status="queued",
        attempts=0,
        next_attempt_at=now,
        actor_kind=actor.kind,
        actor=actor.name,
        created_at=now,
        updated_at=now,
        bulk_run_id=bulk_run_id,
    )
    if claim_for is not None:
        mark_claimed(job, claim_for, now)
    session.add(job)
    session.flush()
    return job
