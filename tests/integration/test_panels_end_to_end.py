"""The whole stack against the sandbox panels over HTTP: CLI -> core -> job queue -> adapter -> panel."""

import json
import time
from datetime import timedelta

from sqlmodel import select

from svcconsole.core import clock, job_claims
from svcconsole.store.models import Job


def create(cli, product, name, *extra):
    server = "ptero-1" if product == "Paper 4GB" else "pve-1"
    result = cli("services", "create", "--customer", "greta@example.com", "--name", name, "--product", product, "--server", server, *extra)
    assert result.exit_code in (0, 3), result.stderr
    return result


def show(cli, service_id):
    return json.loads(cli("services", "show", str(service_id), "-f", "json").stdout)


def test_pterodactyl_lifecycle(cli, panels):
    created = create(cli, "Paper 4GB", "greta-mc", "--deliver", "--format", "json")
    service = json.loads(created.stdout)
    assert service["status"] == "active", created.stderr
    server_id = service["external"]["server_id"]
    on_panel = panels.ptero.servers[server_id]
    assert on_panel.external_id == service["uuid"]
    assert panels.ptero.server_count() == 1

    assert cli("services", "suspend", str(service["id"]), "--reason", "unpaid").exit_code == 0
    assert panels.ptero.servers[server_id].status == "suspended"
    assert cli("services", "unsuspend", str(service["id"])).exit_code == 0
    assert panels.ptero.servers[server_id].status != "suspended"

    panel = json.loads(cli("services", "panel", str(service["id"]), "-f", "json").stdout)
    assert panel["status"] and "start" in panel["actions"]

    terminated = cli("services", "terminate", str(service["id"]), "--yes")
    assert terminated.exit_code == 0, terminated.stdout + terminated.stderr
    assert panels.ptero.server_count() == 0
    assert show(cli, service["id"])["status"] == "terminated"


def test_proxmox_lifecycle(cli, panels):
    service = json.loads(create(cli, "VPS M", "greta-vps", "--deliver", "--format", "json").stdout)
    assert service["status"] == "active"
    vmid = service["external"]["vmid"]
    vm = panels.pve.vms[vmid]
    assert (str(vm.config["cores"]), str(vm.config["memory"])) == ("2", "4096")
    assert cli("services", "suspend", str(service["id"])).exit_code == 0
    assert panels.pve.vms[vmid].qmpstatus == "paused"
    assert cli("services", "unsuspend", str(service["id"])).exit_code == 0
    assert panels.pve.vms[vmid].qmpstatus == "running"
    assert cli("services", "terminate", str(service["id"]), "--yes").exit_code == 0
    assert vmid not in panels.pve.vms


def test_a_panel_error_leaves_the_service_pending_with_the_error_and_a_retry_creates_once(cli, db, panels):
    panels.ptero.fail_next("POST /api/application/servers", "timeout", delay=1.0)
    result = create(cli, "Paper 4GB", "timeout-then-ok", "--deliver", "--format", "json")
    service = json.loads(result.stdout)
    assert service["status"] == "pending" and result.exit_code == 3
    assert service["operation"] == "activation" and service["last_error"]
    assert service["delivery_attempts"] == 1
    with db.read() as session:
        job = session.exec(select(Job).where(Job.service_id == service["id"])).one()
    assert job.status == "queued"

    clock.freeze(clock.now() + timedelta(minutes=5))
    ran = cli("jobs", "run")
    assert ran.exit_code == 0, ran.stderr
    after = show(cli, service["id"])
    assert after["status"] == "active" and after["last_error"] is None
    assert panels.ptero.server_count() == 1


def test_install_failed_is_reported_and_the_service_stays_pending(cli, panels):
    panels.ptero.fail_next("POST /api/application/servers", "install_failed")
    service = json.loads(create(cli, "Paper 4GB", "broken-egg", "--deliver", "--format", "json").stdout)
    assert service["status"] == "pending"
    assert "install" in service["last_error"].lower()
    assert service["external"].get("server_id")


def test_a_job_left_running_by_a_dead_worker_is_resumed_by_the_worker(cli, db, panels):
    service_id = int(create(cli, "VPS M", "resume-me").stdout.strip())

    def queue_and_die(session):
        from svcconsole.core import actions
        from svcconsole.core.operators import Actor
        from svcconsole.core.statuses import Role

        outcome = actions.perform(session, Actor("admin", "root", Role.ADMIN), "deliver", service_id, {})
        job = session.get(Job, outcome.job_id)
        job.status, job.attempts, job.worker, job.lease_until = "running", 1, "gone-host:1:1", clock.now() + job_claims.LEASE
        session.add(job)

    db.transaction(queue_and_die)
    clock.freeze(clock.now() + job_claims.LEASE + timedelta(seconds=1))
    result = cli("worker", "--once")
    assert result.exit_code == 0, result.stderr
    assert show(cli, service_id)["status"] == "active"
    assert len(panels.pve.vms) == 2


def test_import_from_the_panel(cli, panels):
    panels.ptero.seed_servers(3)
    listed = json.loads(cli("services", "importable", "ptero-1", "-f", "json").stdout)
    assert len(listed) == 3
    reference = listed[1]["external"]
    imported = cli(
        "services",
        "import",
        "--customer",
        "greta@example.com",
        "--name",
        "legacy",
        "--product",
        "Paper 4GB",
        "--server",
        "ptero-1",
        "--external",
        reference,
        "-f",
        "json",
    )
    service = json.loads(imported.stdout)
    assert service["status"] == "active" and str(service["external"]["server_id"]) == reference
    unknown = cli(
        "services", "import", "--customer", "greta@example.com", "--name", "x", "--product", "Paper 4GB", "--server", "ptero-1", "--external", "99999"
    )
    assert unknown.exit_code == 1 and "has no resource '99999'" in unknown.stderr


def test_servers_test_reaches_each_panel_and_reports_bad_keys(cli, panels):
    assert cli("servers", "test", "ptero-1").exit_code == 0
    assert cli("servers", "test", "pve-1").exit_code == 0
    cli("servers", "edit", "pve-1", "--credentials", "root@pam!svc=wrong-secret")
    failed = cli("servers", "test", "pve-1")
    assert failed.exit_code == 1 and "wrong-secret" not in failed.stderr


def test_redeliver_force_deletes_and_creates_again(cli, db, panels):
    service_id = int(create(cli, "Paper 4GB", "half-made").stdout.strip())
    panels.ptero.fail_next("POST /api/application/servers", "install_failed")
    cli("services", "deliver", str(service_id))
    first = show(cli, service_id)
    assert first["status"] == "pending" and panels.ptero.server_count() == 1
    result = cli("services", "redeliver", str(service_id))
    assert result.exit_code == 0, result.stdout + result.stderr
    after = show(cli, service_id)
    assert after["status"] == "active" and after["external"]["server_id"] != first["external"]["server_id"]
    assert panels.ptero.server_count() == 1


def test_credentials_never_appear_in_any_output(cli, panels):
    outputs = []
    for args in (
        ("servers", "list", "-f", "json"),
        ("servers", "show", "ptero-1", "-f", "json"),
        ("servers", "list", "-f", "csv"),
        ("servers", "show", "pve-1"),
        ("services", "list", "-f", "json"),
        ("jobs", "list", "-f", "json"),
    ):
        result = cli(*args)
        outputs.append(result.stdout + result.stderr)
    panels.ptero.fail_next("POST /api/application/servers", "500")
    outputs.append(create(cli, "Paper 4GB", "err", "--deliver").stderr)
    text = "\n".join(outputs)
    for secret in (panels.ptero.application_key, panels.ptero.client_key, panels.pve.token.split("=", 1)[1]):
        assert secret not in text


def test_a_failed_clone_task_is_one_line_and_leaves_the_service_pending_with_the_error(cli, db, panels):
    from svcconsole.store.models import Notification

    panels.pve.fail_next("POST /api2/json/nodes/*/qemu/*/clone", "task_error", message="clone failed: storage 'local-lvm' is full")
    result = create(cli, "VPS M", "no-room", "--deliver", "--format", "json")
    (line,) = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stdout + result.stderr
    assert "task" in line and "storage 'local-lvm' is full" in line, line
    service = json.loads(result.stdout)
    assert (service["status"], service["operation"], service["delivery_attempts"]) == ("pending", None, 1)
    assert "storage 'local-lvm' is full" in service["last_error"]
    assert len(panels.pve.vms) == 1
    with db.read() as session:
        job = session.exec(select(Job).where(Job.service_id == service["id"])).one()
        notice = session.exec(select(Notification).where(Notification.template == "delivery_failed")).one()
    assert job.status == "failed" and "storage 'local-lvm' is full" in notice.body

    assert cli("jobs", "retry", str(job.id)).exit_code == 0
    after = show(cli, service["id"])
    assert after["status"] == "active" and len(panels.pve.vms) == 2


def test_cancelling_and_redelivering_a_never_delivered_service_ask_the_panel_nothing_needless(cli, panels):
    first = int(create(cli, "Paper 4GB", "never-delivered").stdout.strip())
    seen = len(panels.ptero.requests_seen())
    cancelled = cli("services", "cancel", str(first), "--mode", "immediate", "--yes")
    assert cancelled.exit_code == 0, cancelled.stdout + cancelled.stderr
    assert show(cli, first)["status"] == "cancelled"
    assert len(panels.ptero.requests_seen()) == seen

    second = int(create(cli, "Paper 4GB", "redeliver-fresh").stdout.strip())
    seen = len(panels.ptero.requests_seen())
    redelivered = cli("services", "redeliver", str(second))
    assert redelivered.exit_code == 0, redelivered.stdout + redelivered.stderr
    assert show(cli, second)["status"] == "active" and panels.ptero.server_count() == 1
    assert not [request for request in panels.ptero.requests_seen()[seen:] if request[0] == "DELETE"]


def test_an_operation_the_module_does_not_declare_is_refused_before_the_panel_is_asked(cli, panels):
    from svcconsole.modules import get_module

    assert not get_module("proxmox").supports_operation("reinstall")
    service = json.loads(create(cli, "VPS M", "no-reinstall", "--deliver", "--format", "json").stdout)
    seen = len(panels.pve.requests_seen())
    refused = cli("services", "reinstall", str(service["id"]), "--yes")
    assert refused.exit_code == 1
    (line,) = refused.stderr.strip().splitlines()
    assert "does not support reinstall" in line, line
    assert len(panels.pve.requests_seen()) == seen


def test_a_clone_ending_with_warnings_delivers_the_service_and_keeps_the_warnings_in_its_activity(cli, db, panels):
    from svcconsole.store.models import Activity

    panels.pve.fail_next("POST /api2/json/nodes/*/qemu/*/clone", "task_warnings", message="cloudinit drive not regenerated")
    result = create(cli, "VPS M", "warned", "--deliver", "--format", "json")
    service = json.loads(result.stdout)
    assert service["status"] == "active", result.stderr
    assert len(panels.pve.vms) == 2
    with db.read() as session:
        rows = session.exec(select(Activity).where(Activity.service_id == service["id"])).all()
    assert any("cloudinit drive not regenerated" in json.dumps(row.details) + (row.reason or "") for row in rows), rows


def test_a_worker_killed_while_the_clone_has_not_written_its_config_leaves_one_vm(cli, db, panels):
    from svcconsole.core import actions
    from svcconsole.core.operators import Actor
    from svcconsole.core.statuses import Role
    from tests.reliability.support import finish, spawn_cli, stop

    service_id = int(create(cli, "VPS M", "killed-in-the-gap").stdout.strip())
    db.transaction(lambda session: actions.perform(session, Actor("admin", "root", Role.ADMIN), "deliver", service_id, {}))
    panels.pve.set_task_delay(4.0)
    panels.pve.clone_config_delay = 3.0
    worker = spawn_cli(db.url, "worker", "--once")
    try:
        deadline = time.monotonic() + 30
        while ("POST", "/api2/json/nodes/pve1/qemu/9000/clone") not in panels.pve.requests_seen():
            assert time.monotonic() < deadline and worker.poll() is None, "the worker never sent the clone"
            time.sleep(0.02)
        time.sleep(0.2)
        worker.kill()
        finish(worker, timeout=10)
    finally:
        stop(worker)
    stored = show(cli, service_id)["external"]
    assert panels.pve.vm(stored["vmid"]) is None, "the kill came after the clone wrote its config"
    panels.pve.set_task_delay(0.02)

    clock.freeze(clock.now() + job_claims.LEASE + timedelta(seconds=1))
    result = cli("worker", "--once")
    assert result.exit_code == 0, result.stderr
    after = show(cli, service_id)
    assert after["status"] == "active", after["last_error"]
    assert after["external"]["vmid"] == stored["vmid"]
    assert panels.pve.vm_count() == 1


def test_a_429_with_a_long_retry_after_reschedules_the_job_then_instead_of_failing_it(cli, db, panels):
    service = json.loads(create(cli, "Paper 4GB", "busy-panel", "--deliver", "--format", "json").stdout)
    panels.ptero.fail_next("POST /api/application/servers/*/suspend", "429", retry_after=45)
    started, asked_at = time.monotonic(), clock.now()
    result = cli("services", "suspend", str(service["id"]), "--reason", "unpaid")
    assert time.monotonic() - started < 10, "the worker slept through the Retry-After"
    assert "Traceback" not in result.stdout + result.stderr
    with db.read() as session:
        job = session.exec(select(Job).where(Job.service_id == service["id"], Job.operation == "suspend")).one()
    assert job.status == "queued"
    assert 44 <= (clock.as_utc(job.next_attempt_at) - asked_at).total_seconds() <= 50
    assert "429" in job.last_error and "rescheduled" in job.last_error
    shown = show(cli, service["id"])
    assert shown["status"] == "active" and not shown["last_error"]
    assert panels.ptero.servers[service["external"]["server_id"]].status != "suspended"

    assert cli("worker", "--once").exit_code == 0
    assert panels.ptero.servers[service["external"]["server_id"]].status != "suspended"
    clock.freeze(clock.now() + timedelta(seconds=46))
    assert cli("worker", "--once").exit_code == 0
    assert panels.ptero.servers[service["external"]["server_id"]].status == "suspended"
    assert show(cli, service["id"])["status"] == "suspended"


def test_servers_test_names_each_privilege_the_token_lacks_in_one_line(cli, panels):
    panels.pve.add_token("svc@pve!deliver=limited-secret", privileges={"VM.Audit", "VM.PowerMgmt"})
    assert cli("servers", "edit", "pve-1", "--credentials", "svc@pve!deliver=limited-secret").exit_code == 0
    result = cli("servers", "test", "pve-1")
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    for privilege in ("VM.Clone", "VM.Allocate", "VM.Config.CPU", "VM.Config.Memory", "Datastore.AllocateSpace", "SDN.Use"):
        assert privilege in line
    assert "limited-secret" not in line
