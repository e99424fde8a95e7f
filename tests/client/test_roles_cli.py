"""Each role against each action in the CLI: exit 4 with the reason and nothing changed, or done.

Roles (SPEC.md section 11): viewer reads; operator does every action but terminate, delete,
status override and settings (and managing operators); admin does all. The login is the real
one (`SUDO_USER`), as it is for an admin running the CLI under sudo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, text
from sqlmodel import select

from svcconsole.core import actions, jobs
from svcconsole.core import catalog as catalog_module
from svcconsole.modules.base import ModuleError
from svcconsole.store.models import Activity, Invoice, Job, Service
from tests.conftest import make_actor, new_service

ROLES = ("viewer", "operator", "admin")
LOGINS = {"viewer": "vera", "operator": "olga", "admin": "adam"}
RANK = {role: index for index, role in enumerate(ROLES)}
TABLES = (
    "service",
    "activity",
    "invoice",
    "invoice_line",
    "customer",
    "product",
    "server",
    "operator",
    "setting",
    "job",
    "service_option",
    "service_meta",
    "upgrade",
    "renewal",
    "bulk_run",
)


@dataclass
class Env:
    db: Any
    admin: Any
    shop: Any
    tmp_path: Any


@dataclass(frozen=True)
class Case:
    """An action, the least role it needs, how to set it up, its command, and how to see it was done."""

    name: str
    needs: str
    setup: Callable[[Env], dict[str, Any]]
    args: Callable[[dict[str, Any]], list[str]]
    done: Callable[[Env, dict[str, Any]], bool]


def service(env: Env, status: str = "active", **fields: str) -> int:
    return new_service(env.db, env.admin, env.shop, name="box", status=status, **fields)


def perform(env: Env, action: str, service_id: int, params: dict[str, Any] | None = None) -> None:
    outcome = env.db.transaction(lambda session: actions.perform(session, env.admin, action, service_id, params or {}))
    if outcome.job_id:
        jobs.execute(env.db, outcome.job_id)


def field(env: Env, service_id: int, name: str) -> Any:
    with env.db.read() as session:
        return getattr(session.get(Service, service_id), name)


def count(env: Env, model: Any, *where: Any) -> int:
    with env.db.read() as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def one(status: str = "active", **fields: str) -> Callable[[Env], dict[str, Any]]:
    return lambda env: {"id": service(env, status, **fields)}


def suspended(env: Env) -> dict[str, Any]:
    service_id = service(env)
    perform(env, "suspend", service_id, {"kind": "admin"})
    return {"id": service_id}


def cancelling(env: Env) -> dict[str, Any]:
    service_id = service(env)
    perform(env, "cancel-end-of-cycle", service_id)
    return {"id": service_id}


def upgradable(env: Env) -> dict[str, Any]:
    def work(session):  # type: ignore[no-untyped-def]
        catalog_module.add_product(session, env.admin, name="Game 8GB", type="scripted", prices=["monthly=20.00"])
        catalog_module.edit_product(session, env.admin, "Game 4GB", upgrade_to=["Game 8GB"])

    env.db.transaction(work)
    return {"id": service(env)}


def failed_job(env: Env) -> dict[str, Any]:
    service_id = service(env, "pending")
    env.shop.script.fail("create", service_id, ModuleError("panel down", retryable=False))
    perform(env, "deliver", service_id)
    with env.db.read() as session:
        job = session.exec(select(Job).where(Job.service_id == service_id)).one()
    return {"id": service_id, "job": job.id}


def unpaid_invoice(env: Env) -> dict[str, Any]:
    service_id = service(env)
    perform(env, "renew-invoice", service_id, {"invoice": "new"})
    with env.db.read() as session:
        invoice = session.exec(select(Invoice)).one()
    return {"id": service_id, "invoice": invoice.id, "expires": field(env, service_id, "expires_at")}


def nothing(env: Env) -> dict[str, Any]:
    return {}


CASES: tuple[Case, ...] = (
    Case("read", "viewer", one(), lambda c: ["services", "list", "-f", "ids"], lambda env, c: True),
    Case("deliver", "operator", one("pending"), lambda c: ["services", "deliver", str(c["id"])], lambda env, c: field(env, c["id"], "status") == "active"),
    Case(
        "suspend",
        "operator",
        one(),
        lambda c: ["services", "suspend", str(c["id"]), "--reason", "r"],
        lambda env, c: field(env, c["id"], "status") == "suspended",
    ),
    Case("unsuspend", "operator", suspended, lambda c: ["services", "unsuspend", str(c["id"])], lambda env, c: field(env, c["id"], "status") == "active"),
    Case("renew", "operator", one(), lambda c: ["services", "renew", str(c["id"])], lambda env, c: field(env, c["id"], "renewals") == 1),
    Case("renew-invoice", "operator", one(), lambda c: ["services", "renew", str(c["id"]), "--invoice", "new"], lambda env, c: count(env, Invoice) == 1),
    Case(
        "cancel-end-of-cycle",
        "operator",
        one(),
        lambda c: ["services", "cancel", str(c["id"]), "--mode", "end-of-cycle"],
        lambda env, c: field(env, c["id"], "cancel_mode") == "end-of-cycle",
    ),
    Case(
        "cancel-immediately",
        "operator",
        one(),
        lambda c: ["services", "cancel", str(c["id"]), "--mode", "immediate", "--yes"],
        lambda env, c: field(env, c["id"], "status") == "cancelled",
    ),
    Case("uncancel", "operator", cancelling, lambda c: ["services", "uncancel", str(c["id"])], lambda env, c: field(env, c["id"], "cancel_at") is None),
    Case("terminate", "admin", one(), lambda c: ["services", "terminate", str(c["id"]), "--yes"], lambda env, c: field(env, c["id"], "status") == "terminated"),
    Case("redeliver", "operator", one("pending"), lambda c: ["services", "redeliver", str(c["id"])], lambda env, c: field(env, c["id"], "status") == "active"),
    Case("reinstall", "operator", one(), lambda c: ["services", "reinstall", str(c["id"]), "--yes"], lambda env, c: env.shop.script.count("reinstall") == 1),
    Case(
        "upgrade",
        "operator",
        upgradable,
        lambda c: ["services", "upgrade", str(c["id"]), "--to", "Game 8GB", "--billing", "none"],
        lambda env, c: field(env, c["id"], "product_name") == "Game 8GB",
    ),
    Case(
        "add-days",
        "operator",
        one(),
        lambda c: ["services", "add-days", str(c["id"]), "--days", "5"],
        lambda env, c: count(env, Activity, Activity.action == "add-days") == 1,
    ),
    Case(
        "subtract-days",
        "operator",
        one(),
        lambda c: ["services", "subtract-days", str(c["id"]), "--days", "5"],
        lambda env, c: count(env, Activity, Activity.action == "subtract-days") == 1,
    ),
    Case(
        "delete", "admin", one("cancelled"), lambda c: ["services", "delete", str(c["id"]), "--yes"], lambda env, c: field(env, c["id"], "status") == "deleted"
    ),
    Case(
        "set-status",
        "admin",
        one("suspended"),
        lambda c: ["services", "edit", str(c["id"]), "--status", "active", "--reason", "fixed by hand"],
        lambda env, c: field(env, c["id"], "status") == "active",
    ),
    Case("edit", "operator", one(), lambda c: ["services", "edit", str(c["id"]), "--name", "renamed"], lambda env, c: field(env, c["id"], "name") == "renamed"),
    Case(
        "metadata",
        "operator",
        one(),
        lambda c: ["services", "meta", str(c["id"]), "set", "max_renewals", "3"],
        lambda env, c: count(env, Activity, Activity.action == "meta_set") == 1,
    ),
    Case(
        "options",
        "operator",
        one(),
        lambda c: ["services", "options", str(c["id"]), "add", "--name", "backup", "--price", "1.00"],
        lambda env, c: count(env, Activity, Activity.action == "option_add") == 1,
    ),
    Case(
        "create",
        "operator",
        nothing,
        lambda c: ["services", "create", "--customer", "bruno@example.com", "--name", "new", "--product", "Game 4GB"],
        lambda env, c: count(env, Service) == 1,
    ),
    Case(
        "import",
        "operator",
        nothing,
        lambda c: [
            "services",
            "import",
            "--customer",
            "bruno@example.com",
            "--name",
            "old box",
            "--product",
            "Game 4GB",
            "--server",
            "panel-1",
            "--external",
            "srv-900",
        ],
        lambda env, c: count(env, Service) == 1,
    ),
    Case("catalog", "operator", nothing, lambda c: ["customers", "add", "--name", "Carla", "--email", "carla@example.com"], lambda env, c: True),
    Case(
        "jobs",
        "operator",
        failed_job,
        lambda c: ["jobs", "resolve", str(c["job"]), "--note", "done by hand"],
        lambda env, c: count(env, Job, Job.status == "resolved") == 1,
    ),
    Case(
        "invoices",
        "operator",
        unpaid_invoice,
        lambda c: ["invoices", "pay", str(c["invoice"])],
        lambda env, c: field(env, c["id"], "expires_at") != c["expires"],
    ),
    Case("automation", "admin", nothing, lambda c: ["automation", "run"], lambda env, c: True),
    Case("automation-dry-run", "operator", nothing, lambda c: ["automation", "run", "--dry-run"], lambda env, c: True),
    Case("settings", "admin", nothing, lambda c: ["settings", "set", "renewal_grace_days", "3"], lambda env, c: True),
    Case("operators", "admin", nothing, lambda c: ["operators", "add", "newbie", "--role", "viewer"], lambda env, c: True),
)


def fingerprint(db) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Row counts of every table, and the sum of service versions."""
    with db.engine.connect() as connection:
        result = {table: connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() for table in TABLES}
        result["versions"] = connection.execute(text("SELECT COALESCE(SUM(version), 0) FROM service")).scalar()
    return result


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_role_against_each_action(cli, db, admin, scripted, tmp_path, frozen, case, role):
    for other_role, login in LOGINS.items():
        make_actor(db, login, other_role)
    env = Env(db, admin, scripted, tmp_path)
    context = case.setup(env)
    before = fingerprint(db)
    login = LOGINS[role]
    result = cli(*case.args(context), env={"SUDO_USER": login})
    if RANK[role] >= RANK[case.needs]:
        assert result.exit_code == 0, (result.stdout, result.stderr)
        assert case.done(env, context)
        if case.name != "read":
            with db.read() as session:
                rows = session.exec(select(Activity).where(Activity.at >= frozen)).all()
            assert all(row.actor and row.actor_kind in {"admin", "system", "client"} for row in rows)
    else:
        assert result.exit_code == 4, (result.stdout, result.stderr)
        assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
        assert f"{login} is {role}: " in result.stderr and " role" in result.stderr
        assert fingerprint(db) == before


@pytest.mark.parametrize("role", ROLES)
def test_as_is_for_admins_only(cli, db, admin, role):
    for other_role, login in LOGINS.items():
        make_actor(db, login, other_role)
    other = "vera" if role == "admin" else "adam"
    result = cli("--as", other, "services", "list", "-f", "ids", env={"SUDO_USER": LOGINS[role]})
    if role == "admin":
        assert result.exit_code == 0
    else:
        assert result.exit_code == 4 and "only an admin may act as another operator" in result.stderr


def test_a_login_that_is_no_operator_is_refused(cli, db, admin):
    result = cli("services", "list", env={"SUDO_USER": "mallory"})
    assert result.exit_code == 4 and "not an operator of this database" in result.stderr


def test_every_activity_row_names_its_actor(cli, db, admin, scripted, frozen):
    make_actor(db, "olga", "operator")
    service_id = new_service(db, admin, scripted, name="trail")
    for args in (("services", "deliver", str(service_id)), ("services", "suspend", str(service_id)), ("services", "unsuspend", str(service_id))):
        assert cli(*args, env={"SUDO_USER": "olga"}).exit_code == 0
    assert cli("automation", "run").exit_code in (0, 3)
    with db.read() as session:
        rows = session.exec(select(Activity).where(Activity.service_id == service_id).order_by(Activity.id)).all()
    assert [(row.actor_kind, row.actor) for row in rows] == [("admin", admin.name), ("admin", "olga"), ("admin", "olga"), ("admin", "olga")]


def test_acting_as_another_operator_records_the_real_admin_too(cli, db, admin, scripted, frozen, tmp_path, monkeypatch):
    from svcconsole.core import logs

    log_file = tmp_path / "operations.log"
    monkeypatch.setenv(logs.LOG_FILE_ENV, str(log_file))
    make_actor(db, "adam", "admin")
    make_actor(db, "olga", "operator")
    service_id = new_service(db, admin, scripted, name="impersonated", status="active")
    assert cli("--as", "olga", "services", "suspend", str(service_id), "--reason", "test", env={"SUDO_USER": "adam"}).exit_code == 0
    refused = cli("--as", "olga", "services", "terminate", str(service_id), "--yes", env={"SUDO_USER": "adam"})
    assert refused.exit_code == 4 and "adam as olga is operator" in refused.stderr
    with db.read() as session:
        suspended = session.exec(select(Activity).where(Activity.service_id == service_id, Activity.action == "suspend")).one()
        service = session.get(Service, service_id)
        job_actors = {job.actor for job in session.exec(select(Job).where(Job.service_id == service_id)).all()}
    assert (suspended.actor_kind, suspended.actor) == ("admin", "adam as olga")
    assert service.updated_by == "adam as olga" and job_actors == {"adam as olga"}
    assert "login adam acts as operator olga (operator) with --as" in log_file.read_text()


def test_the_cancel_help_says_an_immediate_cancel_deletes_the_service_from_its_panel(cli):
    help_text = " ".join(cli("services", "cancel", "--help").stdout.split())
    assert "immediate: cancelled now and deleted from its panel by the module's terminate, which cannot be undone" in help_text
    assert "(an operator may do this; `terminate` needs an admin)" in help_text
