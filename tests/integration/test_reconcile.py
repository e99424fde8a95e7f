"""Reconcile against the sandbox panels: drift is made by hand through the panels' own HTTP APIs
(as an admin clicking in the panel would), found by `svcconsole reconcile`, and fixed by `--apply`.

The expectations are written from the issue's list of kinds, not from the code's queries.
"""

from __future__ import annotations

import json
import ssl
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import select

from svcconsole.core import reconcile as reconcile_core
from svcconsole.modules.sandbox import ProxmoxSandbox, PterodactylSandbox
from svcconsole.store.models import Activity, BulkItem, BulkRun, Drift, Job, Server, Service
from tests.integration.conftest import Panels

KINDS = {"orphan", "missing", "status", "build", "owner", "duplicate"}


def ptero_api(sandbox: PterodactylSandbox) -> httpx.Client:
    """The panel's application API, with its key, as a panel admin's script would call it."""
    return httpx.Client(
        base_url=sandbox.url + "/api/application",
        headers={"Authorization": f"Bearer {sandbox.application_key}", "Accept": "application/json"},
        verify=ssl.create_default_context(cafile=sandbox.ca_file),
        timeout=5,
    )


def pve_api(sandbox: ProxmoxSandbox) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.url + "/api2/json",
        headers={"Authorization": f"PVEAPIToken={sandbox.token}"},
        verify=ssl.create_default_context(cafile=sandbox.ca_file),
        timeout=5,
    )


def deliver(cli, product: str, name: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    server = "ptero-1" if product == "Paper 4GB" else "pve-1"
    result = cli("services", "create", "--customer", "greta@example.com", "--name", name, "--product", product, "--server", server, "--deliver", "-f", "json")
    assert result.exit_code == 0, result.stderr
    service = json.loads(result.stdout)
    assert service["status"] == "active"
    return service


def reconcile_rows(cli, *args: str) -> tuple[int, list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    result = cli("reconcile", "--format", "json", *args)
    assert result.exit_code in (0, 3), result.stderr
    return result.exit_code, json.loads(result.stdout)


def of_kind(rows: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [row for row in rows if row["kind"] == kind]


def new_panel_server(api: httpx.Client, user_id: int, name: str) -> int:
    """Create a server on the panel by hand, for `user_id`, on a free allocation of node 1."""
    allocations = api.get("/nodes/1/allocations", params={"per_page": 500}).json()["data"]
    free = next(entry["attributes"]["id"] for entry in allocations if not entry["attributes"]["assigned"])
    egg = api.get("/nests/1/eggs/1", params={"include": "variables"}).json()["attributes"]
    environment = {v["attributes"]["env_variable"]: v["attributes"]["default_value"] for v in egg["relationships"]["variables"]["data"]}
    response = api.post(
        "/servers",
        json={
            "name": name,
            "user": user_id,
            "egg": 1,
            "docker_image": egg["docker_image"],
            "startup": egg["startup"],
            "environment": environment,
            "limits": {"memory": 2048, "swap": 0, "disk": 10240, "io": 500, "cpu": 100},
            "feature_limits": {"databases": 0, "backups": 0},
            "allocation": {"default": free},
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["attributes"]["id"])


def wait_installed(sandbox: PterodactylSandbox, server_id: int) -> None:
    """Wait until the panel has installed the server: reconcile leaves a server that is still
    installing alone (it may be a delivery in flight), so an orphan is only one once installed."""
    deadline = time.monotonic() + 10
    while sandbox.server_status(server_id) == "installing":
        assert time.monotonic() < deadline, f"panel server {server_id} still installing after 10 s"
        time.sleep(0.01)


def new_panel_user(api: httpx.Client, email: str) -> int:
    local = email.split("@")[0]
    response = api.post("/users", json={"email": email, "username": local, "first_name": local, "last_name": "Hand"})
    assert response.status_code == 201, response.text
    return int(response.json()["attributes"]["id"])


@pytest.fixture
def drifted(cli, panels: Panels):  # type: ignore[no-untyped-def]
    """Services delivered on the Pterodactyl sandbox, then every kind of drift made by hand."""
    services = {name: deliver(cli, "Paper 4GB", name) for name in ("gone", "paused", "resized", "given", "twice")}
    panel_id = {name: service["external"]["server_id"] for name, service in services.items()}
    api = ptero_api(panels.ptero)
    assert api.delete(f"/servers/{panel_id['gone']}").status_code == 204
    assert api.post(f"/servers/{panel_id['paused']}/suspend").status_code == 204
    current = api.get(f"/servers/{panel_id['resized']}").json()["attributes"]
    patched = api.patch(
        f"/servers/{panel_id['resized']}/build",
        json={"allocation": current["allocation"], "limits": {**current["limits"], "memory": 1024}, "feature_limits": current["feature_limits"]},
    )
    assert patched.status_code == 200, patched.text
    stranger = new_panel_user(api, "stranger@elsewhere.test")
    given = api.get(f"/servers/{panel_id['given']}").json()["attributes"]
    moved = api.patch(f"/servers/{panel_id['given']}/details", json={"name": given["name"], "user": stranger, "external_id": given["external_id"]})
    assert moved.status_code == 200, moved.text
    greta = api.get("/users", params={"filter[email]": "greta@example.com"}).json()["data"][0]["attributes"]["id"]
    orphan_greta = new_panel_server(api, greta, "made-by-hand")
    orphan_stranger = new_panel_server(api, stranger, "nobody-pays")
    for orphan in (orphan_greta, orphan_stranger):
        wait_installed(panels.ptero, orphan)
    added = cli(
        "servers", "add", "--name", "ptero-1-again", "--module", "pterodactyl", "--url", panels.ptero.url, "--credentials", panels.ptero.credentials,
        "--node", "1", "--tls-fingerprint", panels.ptero.fingerprint,
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    imported = cli(
        "services", "import", "--customer", "greta@example.com", "--name", "twice-again", "--product", "Paper 4GB", "--server", "ptero-1-again",
        "--external", str(panel_id["twice"]), "-f", "json",
    )  # fmt: skip
    assert imported.exit_code == 0, imported.stderr
    api.close()
    ids = {name: service["id"] for name, service in services.items()}
    ids["twice-again"] = json.loads(imported.stdout)["id"]
    return ids, panel_id, orphan_greta, orphan_stranger


def test_each_kind_is_reported_from_drift_made_on_the_panel(cli, db, drifted):  # type: ignore[no-untyped-def]
    ids, panel_id, orphan_greta, orphan_stranger = drifted
    code, rows = reconcile_rows(cli)
    assert code == 3
    assert {row["kind"] for row in rows} == KINDS
    assert {(row["service_id"], row["external"]) for row in of_kind(rows, "missing")} == {(ids["gone"], str(panel_id["gone"]))}
    [status] = of_kind(rows, "status")
    assert (status["service_id"], status["billing"], status["panel"], status["fix"]) == (ids["paused"], "active", "suspended", "unsuspend on the panel")
    [build] = of_kind(rows, "build")
    assert (build["service_id"], build["field"], build["billing"], build["panel"]) == (ids["resized"], "memory", "4096", "1024")
    [owner] = of_kind(rows, "owner")
    assert (owner["service_id"], owner["billing"], owner["panel"]) == (ids["given"], "greta@example.com", "stranger@elsewhere.test")
    orphans = {row["external"]: row for row in of_kind(rows, "orphan")}
    assert set(orphans) == {str(orphan_greta), str(orphan_stranger)}
    assert orphans[str(orphan_greta)]["fix"] == "import for greta@example.com"
    assert orphans[str(orphan_greta)]["service_id"] is None
    assert "no customer" in orphans[str(orphan_stranger)]["fix"]
    assert {row["service_id"] for row in of_kind(rows, "duplicate")} == {ids["twice"], ids["twice-again"]}
    for row in rows:
        assert set(row) >= {"kind", "server", "service_id", "external", "field", "billing", "panel", "fix"}

    only = reconcile_rows(cli, "--kind", "build,status")[1]
    assert {row["kind"] for row in only} == {"build", "status"}


def test_a_drift_that_persists_keeps_its_first_sighting(cli, db, drifted):  # type: ignore[no-untyped-def]
    reconcile_rows(cli)
    with db.read() as session:
        first = {row.id: row.first_seen for row in session.exec(select(Drift)).all()}
    reconcile_rows(cli)
    with db.read() as session:
        again = session.exec(select(Drift)).all()
    assert {row.id: row.first_seen for row in again} == first
    assert all(row.resolved_at is None and row.last_seen >= row.first_seen for row in again)


def test_apply_repairs_the_fixable_kinds_and_a_second_reconcile_is_clean(cli, db, panels, drifted):  # type: ignore[no-untyped-def]
    ids, panel_id, orphan_greta, orphan_stranger = drifted
    reconcile_rows(cli)
    refused = cli("reconcile", "--apply")
    assert refused.exit_code == 2 and "--yes" in refused.stderr

    preview = cli("reconcile", "--apply", "--dry-run", "-f", "json")
    assert preview.exit_code == 3, preview.stderr
    assert {row["outcome"] for row in json.loads(preview.stdout)} == {"would", "skipped"}
    assert panels.ptero.servers[panel_id["paused"]].status == "suspended"

    applied = cli("reconcile", "--apply", "--yes", "-f", "json")
    results = json.loads(applied.stdout)
    assert applied.exit_code == 3, applied.stderr
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_kind.setdefault(result["kind"], []).append(result)
    assert {result["outcome"] for kind in ("missing", "status", "build") for result in by_kind[kind]} == {"ok"}
    assert {result["outcome"] for kind in ("owner", "duplicate") for result in by_kind[kind]} == {"skipped"}
    assert sorted(result["outcome"] for result in by_kind["orphan"]) == ["ok", "skipped"]

    assert panels.ptero.servers[panel_id["paused"]].status != "suspended"
    assert panels.ptero.servers[panel_id["resized"]].memory == 4096
    with db.read() as session:
        gone = session.get(Service, ids["gone"])
        assert gone is not None and gone.status == "active"
        assert gone.external["server_id"] != panel_id["gone"] and gone.external["server_id"] in panels.ptero.servers
        for name in ("gone", "paused", "resized"):
            rows = session.exec(select(Activity).where(Activity.service_id == ids[name], Activity.reason.startswith("reconcile"))).all()  # type: ignore[union-attr]
            assert rows, name
            job = session.exec(select(Job).where(Job.service_id == ids[name], Job.bulk_run_id != None)).first()  # noqa: E711
            assert job is not None and job.status == "succeeded", name
            item = session.exec(select(BulkItem).where(BulkItem.service_id == ids[name], BulkItem.run_id == job.bulk_run_id)).one()
            assert item.outcome == "ok"
            assert session.get(BulkRun, job.bulk_run_id) is not None
        imported = session.exec(select(Service).where(Service.external_key == str(orphan_greta))).one()
        assert imported.status == "active" and imported.customer_name == "Greta Keller"

    given = cli("reconcile", "--apply", "--yes", "--service", str(ids["given"]), "--kind", "owner", "-f", "json")
    assert given.exit_code == 0, given.stdout + given.stderr
    [owner_fix] = json.loads(given.stdout)
    assert owner_fix["outcome"] == "ok"
    owner_id = panels.ptero.servers[panel_id["given"]].owner_id
    assert panels.ptero.users[owner_id].email == "greta@example.com"

    code, rows = reconcile_rows(cli)
    assert code == 3
    assert {row["kind"] for row in rows} == {"orphan", "duplicate"}
    assert [row["external"] for row in of_kind(rows, "orphan")] == [str(orphan_stranger)]
    with db.read() as session:
        resolved = session.exec(select(Drift).where(Drift.resolved_at != None)).all()  # noqa: E711
    assert {row.kind for row in resolved} == {"missing", "status", "build", "orphan", "owner"}


def test_billing_suspended_but_running_on_the_panel_is_suspended_again(cli, db, panels):  # type: ignore[no-untyped-def]
    service = deliver(cli, "Paper 4GB", "lifted")
    assert cli("services", "suspend", str(service["id"]), "--reason", "unpaid").exit_code == 0
    api = ptero_api(panels.ptero)
    assert api.post(f"/servers/{service['external']['server_id']}/unsuspend").status_code == 204
    api.close()
    [row] = reconcile_rows(cli, "--kind", "status")[1]
    assert (row["billing"], row["panel"], row["fix"]) == ("suspended", "installed", "suspend on the panel")
    assert cli("reconcile", "--apply", "--yes", "--kind", "status").exit_code == 0
    assert panels.ptero.servers[service["external"]["server_id"]].status == "suspended"
    assert reconcile_rows(cli, "--kind", "status") == (0, [])


def test_panel_as_the_status_source_changes_billing_instead(cli, db, panels):  # type: ignore[no-untyped-def]
    service = deliver(cli, "Paper 4GB", "panel-wins")
    assert cli("settings", "set", "reconcile_status_source", "panel").exit_code == 0
    api = ptero_api(panels.ptero)
    assert api.post(f"/servers/{service['external']['server_id']}/suspend").status_code == 204
    api.close()
    [row] = reconcile_rows(cli, "--kind", "status")[1]
    assert row["fix"] == "suspend in billing"
    assert cli("reconcile", "--apply", "--yes").exit_code == 0
    with db.read() as session:
        stored = session.get(Service, service["id"])
        assert stored is not None and stored.status == "suspended"
    assert reconcile_rows(cli, "--kind", "status") == (0, [])


def test_proxmox_missing_and_build_drift_through_the_cluster_api(cli, db, panels):  # type: ignore[no-untyped-def]
    kept = deliver(cli, "VPS M", "vps-kept")
    lost = deliver(cli, "VPS M", "vps-lost")
    api = pve_api(panels.pve)
    assert api.put(f"/nodes/pve1/qemu/{kept['external']['vmid']}/config", data={"memory": 1024}).status_code == 200
    panels.pve.vms[lost["external"]["vmid"]].status = "stopped"
    assert api.delete(f"/nodes/pve1/qemu/{lost['external']['vmid']}").status_code == 200
    for _ in range(200):
        if lost["external"]["vmid"] not in panels.pve.vms:
            break
        api.get("/nodes/pve1/status")
    api.close()
    code, rows = reconcile_rows(cli, "--server", "pve-1")
    assert code == 3
    assert {(row["kind"], row["service_id"]) for row in rows} == {("build", kept["id"]), ("missing", lost["id"])}
    [build] = of_kind(rows, "build")
    assert (build["field"], build["billing"], build["panel"]) == ("memory", "4096", "1024")
    applied = cli("reconcile", "--apply", "--yes", "--server", "pve-1", "--missing", "terminate")
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    with db.read() as session:
        stored = session.get(Service, lost["id"])
        assert stored is not None and stored.status == "terminated"
    assert str(panels.pve.vms[kept["external"]["vmid"]].config["memory"]) == "4096"
    assert reconcile_rows(cli, "--server", "pve-1") == (0, [])


def test_bad_input_is_one_line(cli, panels):  # type: ignore[no-untyped-def]
    for args, field in (
        (["--kind", "drifty"], "--kind"),
        (["--format", "xml"], "--format"),
        (["--server", "nope"], "--server"),
        (["--apply", "--missing", "later", "--yes"], "--missing"),
        (["--dry-run"], "--dry-run"),
        (["--service", "x"], "--service"),
    ):
        result = cli("reconcile", *args)
        assert result.exit_code in (1, 2), (args, result.stderr)
        assert field in result.stderr and len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)


def test_kinds_named_by_the_issue() -> None:
    assert set(reconcile_core.DRIFT_KINDS) == KINDS


def test_the_automation_reconciles_due_panels_and_mails_new_drift_once(cli, db, panels):  # type: ignore[no-untyped-def]
    from tests.billing.conftest import start_smtp

    smtp = start_smtp()
    try:
        for key, value in (("smtp_host", smtp.host), ("smtp_port", str(smtp.port)), ("admin_email", "ops@hosting.example")):
            assert cli("settings", "set", key, value).exit_code == 0
        service = deliver(cli, "Paper 4GB", "auto")
        api = ptero_api(panels.ptero)
        assert api.post(f"/servers/{service['external']['server_id']}/suspend").status_code == 204
        api.close()

        first = cli("automation", "run")
        assert first.exit_code in (0, 3), first.stderr
        mails = [mail for mail in smtp.mailbox.messages if mail["to"] == ["ops@hosting.example"]]
        assert len(mails) == 1 and "1 new drift" in mails[0]["subject"]
        assert "status: 1" in mails[0]["body"]
        assert panels.ptero.servers[service["external"]["server_id"]].status == "suspended", "reports only: no kind is auto-applied by default"

        assert cli("automation", "run").exit_code in (0, 3)
        assert len([mail for mail in smtp.mailbox.messages if mail["to"] == ["ops@hosting.example"]]) == 1, "not due again within 24 hours"

        assert cli("settings", "set", "reconcile_auto_apply", "status").exit_code == 0
        db.transaction(lambda session: session.execute(update(Server).values(reconciled_at=None)))
        assert cli("automation", "run").exit_code in (0, 3)
        assert panels.ptero.servers[service["external"]["server_id"]].status != "suspended", "status is auto-applied once named"
        assert len([mail for mail in smtp.mailbox.messages if mail["to"] == ["ops@hosting.example"]]) == 1, "the same drift is not new"
    finally:
        smtp.controller.stop()


def test_auto_apply_refuses_owner_and_duplicate(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("settings", "set", "reconcile_auto_apply", "status,owner")
    assert result.exit_code != 0 and "owner" in result.stderr


def test_progress_reports_each_panel_s_own_total_as_it_reads(db, admin, panels, drifted):  # type: ignore[no-untyped-def]
    """The progress bar's total is what each panel says it holds (Pterodactyl's pagination total,
    Proxmox's VM list), and the last report of a panel has read all of it."""
    api = ptero_api(panels.ptero)
    held = api.get("/servers", params={"per_page": 1}).json()["meta"]["pagination"]["total"]
    api.close()
    calls: list[tuple[str, int, int | None]] = []
    reconcile_core.reconcile(db, admin, ["ptero-1"], progress=lambda server, count, total: calls.append((server, count, total)))
    assert calls and calls[-1] == ("ptero-1", held, held)
    assert all(total == held and count <= held for _, count, total in calls)


def test_the_progress_line_draws_a_bar_of_what_is_read() -> None:
    from svcconsole.cli.reconcile import progress_line

    assert progress_line("ptero-1", 600, 1000) == "ptero-1 [" + "#" * 18 + "." * 12 + "] 600/1000 resources read"
    assert progress_line("ptero-1", 1000, 1000) == "ptero-1 [" + "#" * 30 + "] 1000/1000 resources read"
    assert progress_line("pve-1", 7, None) == "pve-1: 7 resources read"
