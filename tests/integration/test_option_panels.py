"""Options from the catalogue applied on the sandbox panels: at delivery (chosen with the order)
and later through the job queue (`add_option`), which re-checks the service when it runs."""

from __future__ import annotations

import json

from sqlmodel import select

from svcconsole.core import actions, jobs
from svcconsole.core.operators import Actor
from svcconsole.core.statuses import Role
from svcconsole.store.models import Activity, Service, ServiceOption


def declare(cli, product, *args):
    result = cli("products", "options", product, "add", *args)
    assert result.exit_code == 0, result.stderr


def delivered(cli, product, name):
    server = "ptero-1" if product == "Paper 4GB" else "pve-1"
    result = cli("services", "create", "--customer", "greta@example.com", "--name", name, "--product", product, "--server", server, "--deliver", "-f", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def reconcile_build_rows(cli):
    result = cli("reconcile", "--format", "json")
    assert result.exit_code in (0, 3), result.stderr
    return [row for row in json.loads(result.stdout) if row["kind"] == "build"]


def test_memory_chosen_with_a_proxmox_order_is_on_the_vm_it_delivers_and_reconcile_agrees(cli, db, panels):
    declare(cli, "VPS M", "--name", "Extra memory", "--choice", "2048=4.00", "--choice", "4096=7.00", "--resource", "memory")
    created = cli("orders", "create", "--customer", "greta@example.com", "--product", "VPS M", "--server", "pve-1", "--option", "Extra memory=2048")
    assert created.exit_code == 0, created.stderr
    paid = cli("invoices", "pay", created.stdout.strip())
    assert paid.exit_code == 0, paid.stderr
    jobs.run_jobs(db, jobs.due_job_ids(db))
    with db.read() as session:
        [service] = session.exec(select(Service)).all()
    assert service.status == "active", service.last_error
    vm = panels.pve.vms[service.external["vmid"]]
    assert str(vm.config["memory"]) == "6144"
    assert reconcile_build_rows(cli) == []


def test_add_option_raises_the_vms_memory_through_the_queue_and_logs_what_the_panel_did(cli, db, panels):
    declare(cli, "VPS M", "--name", "Extra memory", "--choice", "2048=4.00", "--choice", "4096=7.00", "--resource", "memory")
    service = delivered(cli, "VPS M", "vps-plus")
    added = cli("services", "add-option", str(service["id"]), "--option", "Extra memory=4096")
    assert added.exit_code == 0, added.stderr
    vm = panels.pve.vms[service["external"]["vmid"]]
    assert (str(vm.config["memory"]), str(vm.config["cores"])) == ("8192", "2")
    with db.read() as session:
        logged = session.exec(select(Activity).where(Activity.service_id == service["id"], Activity.action == "add-option")).all()
        assert session.get(Service, service["id"]).operation is None
    [row] = logged
    assert "memory 8192" in row.details["message"]
    assert reconcile_build_rows(cli) == []


def test_an_extra_allocation_raises_the_pterodactyl_servers_allocation_limit_and_keeps_its_memory(cli, db, panels):
    assert cli("products", "edit", "Paper 4GB", "--config", "allocations=1").exit_code == 0
    declare(cli, "Paper 4GB", "--name", "Extra allocations", "--min", "1", "--max", "3", "--price", "1.50", "--resource", "allocations")
    service = delivered(cli, "Paper 4GB", "mc-ports")
    server = panels.ptero.servers[service["external"]["server_id"]]
    assert server.allocation_limit == 1
    added = cli("services", "add-option", str(service["id"]), "--option", "Extra allocations=2")
    assert added.exit_code == 0, added.stderr
    assert (server.allocation_limit, server.memory) == (3, 4096)
    assert reconcile_build_rows(cli) == []


def test_the_job_rechecks_the_service_when_it_runs_and_leaves_a_terminated_vm_alone(cli, db, panels):
    declare(cli, "VPS M", "--name", "Extra memory", "--choice", "2048=4.00", "--resource", "memory")
    service = delivered(cli, "VPS M", "moved-on")
    admin = Actor(kind="admin", name="admin", role=Role.ADMIN)
    outcome = db.transaction(lambda session: actions.perform(session, admin, "add-option", service["id"], {"option": "Extra memory=2048"}))
    assert outcome.result == "queued"

    def terminated_meanwhile(session):
        row = session.get(Service, service["id"])
        row.status = "terminated"
        session.add(row)

    db.transaction(terminated_meanwhile)
    seen = len(panels.pve.requests_seen())
    [ran] = jobs.run_jobs(db, [outcome.job_id])
    assert ran.status == "resolved"
    assert "terminated now: add-option is allowed from pending, active, suspended" in ran.message
    assert len(panels.pve.requests_seen()) == seen
    assert str(panels.pve.vms[service["external"]["vmid"]].config["memory"]) == "4096"
    with db.read() as session:
        assert session.exec(select(ServiceOption).where(ServiceOption.service_id == service["id"])).all() == []
        [removed] = session.exec(select(Activity).where(Activity.service_id == service["id"], Activity.action == "option_remove")).all()
    assert removed.reason.startswith("not applied on the panel: service")


def test_an_option_the_panel_refuses_for_good_is_not_billed(cli, db, panels):
    declare(cli, "VPS M", "--name", "Extra cores", "--choice", "2=3.00", "--resource", "cores")
    service = delivered(cli, "VPS M", "gone-vm")
    del panels.pve.vms[service["external"]["vmid"]]
    added = cli("services", "add-option", str(service["id"]), "--option", "Extra cores=2")
    assert added.exit_code != 0
    with db.read() as session:
        assert session.exec(select(ServiceOption).where(ServiceOption.service_id == service["id"])).all() == []
        assert session.get(Service, service["id"]).last_error


def test_an_upgrade_to_a_product_without_the_option_keeps_it_on_the_vm_while_it_is_billed(cli, db, panels):
    declare(cli, "VPS M", "--name", "Extra memory", "--choice", "2048=4.00", "--resource", "memory")
    added = cli(
        "products",
        "add",
        "--name",
        "VPS L",
        "--type",
        "proxmox",
        "--price",
        "monthly=18.00",
        "--config",
        "template=9000",
        "--config",
        "cores=4",
        "--config",
        "memory=8192",
    )
    assert added.exit_code == 0, added.stderr
    assert cli("products", "edit", "VPS M", "--upgrade-to", "VPS L").exit_code == 0
    service = delivered(cli, "VPS M", "grows")
    assert cli("services", "add-option", str(service["id"]), "--option", "Extra memory=2048").exit_code == 0
    vm = panels.pve.vms[service["external"]["vmid"]]
    assert str(vm.config["memory"]) == "6144"

    upgraded = cli("services", "upgrade", str(service["id"]), "--to", "VPS L", "--billing", "none")
    assert upgraded.exit_code == 0, upgraded.stderr
    jobs.run_jobs(db, jobs.due_job_ids(db))
    assert (str(vm.config["memory"]), str(vm.config["cores"])) == ("10240", "4")
    with db.read() as session:
        [option] = session.exec(select(ServiceOption).where(ServiceOption.service_id == service["id"])).all()
        assert session.get(Service, service["id"]).product_name == "VPS L"
    assert (option.resource, option.amount) == ("memory", 2048)
    assert reconcile_build_rows(cli) == []


def test_removing_an_applied_option_shrinks_the_vm_back_and_reconcile_agrees(cli, db, panels):
    declare(cli, "VPS M", "--name", "Extra memory", "--choice", "4096=7.00", "--resource", "memory")
    service = delivered(cli, "VPS M", "shrinks")
    assert cli("services", "add-option", str(service["id"]), "--option", "Extra memory=4096").exit_code == 0
    vm = panels.pve.vms[service["external"]["vmid"]]
    assert str(vm.config["memory"]) == "8192"
    with db.read() as session:
        [option] = session.exec(select(ServiceOption).where(ServiceOption.service_id == service["id"])).all()

    removed = cli("services", "options", str(service["id"]), "remove", str(option.id))
    assert removed.exit_code == 0, removed.stderr
    assert f"option {option.id} removed" in removed.stderr and "succeeded" in removed.stderr
    assert str(vm.config["memory"]) == "4096"
    with db.read() as session:
        assert session.exec(select(ServiceOption).where(ServiceOption.service_id == service["id"])).all() == []
        rebuilt = session.exec(select(Activity).where(Activity.service_id == service["id"], Activity.action == "rebuild")).all()
    assert len(rebuilt) == 1 and "removed" in (rebuilt[0].reason or "")
    assert reconcile_build_rows(cli) == []


def test_removing_a_billing_only_option_queues_nothing(cli, db, panels):
    service = delivered(cli, "VPS M", "plain")
    assert cli("services", "options", str(service["id"]), "add", "--name", "Backups", "--price", "2.00").exit_code == 0
    with db.read() as session:
        [option] = session.exec(select(ServiceOption).where(ServiceOption.service_id == service["id"])).all()
    removed = cli("services", "options", str(service["id"]), "remove", str(option.id))
    assert removed.exit_code == 0, removed.stderr
    assert removed.stderr.strip().splitlines() == [f"service {service['id']}: option {option.id} removed"]
    assert jobs.due_job_ids(db) == []
