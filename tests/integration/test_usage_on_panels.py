"""The automation run reads usage from the sandbox panels over HTTP (issue 17 item 3): Proxmox
`rrddata` netin + netout over the billing period, Pterodactyl's client `resources` counters and disk."""

from __future__ import annotations

import json
import ssl
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlmodel import select

from svcconsole.store.models import Usage


def _deliver(cli, product, server, expires):
    created = cli(
        "services", "create", "--customer", "greta@example.com", "--name", "metered", "--product", product, "--server", server,
        "--expires", expires, "--deliver", "--format", "json",
    )  # fmt: skip
    assert created.exit_code == 0, created.stderr
    return json.loads(created.stdout)


def _usage(cli, service_id):
    result = cli("services", "usage", str(service_id), "-f", "json")
    assert result.exit_code == 0, result.stderr
    return {line["metric"]: line for line in json.loads(result.stdout)["metrics"]}, json.loads(result.stdout)


def _run(cli):
    result = cli("automation", "run")
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


def test_the_run_reads_proxmox_traffic_from_rrddata(cli, db, panels):
    assert cli("products", "edit", "VPS M", "--overage", "traffic_gb=0.5:0.05").exit_code == 0
    expires = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    service = _deliver(cli, "VPS M", "pve-1", expires)
    assert service["status"] == "active"
    _run(cli)
    metrics, report = _usage(cli, service["id"])

    start = datetime.fromisoformat(report["period_start"].replace("Z", "+00:00")).timestamp()
    vmid = service["external"]["vmid"]
    answer = httpx.get(
        f"{panels.pve.url}/api2/json/nodes/pve1/qemu/{vmid}/rrddata",
        params={"timeframe": "month", "cf": "AVERAGE"},
        headers={"Authorization": f"PVEAPIToken={panels.pve.token}"},
        verify=ssl.create_default_context(cafile=panels.pve.ca_file),
    ).json()["data"]
    step = answer[1]["time"] - answer[0]["time"]
    assert step == 12 * 3600
    in_period = [point for point in answer if start <= point["time"] < time.time()]
    assert in_period, "the period reaches back past some 12 h points"
    expected = sum(Decimal(str(point["netin"])) + Decimal(str(point["netout"])) for point in in_period) * step / Decimal(10**9)
    assert Decimal(metrics["traffic_gb"]["used"]) == expected.quantize(Decimal("0.001"))
    assert metrics["traffic_gb"]["source"] == "panel"
    over = Decimal(metrics["traffic_gb"]["used"]) - Decimal("0.5")
    assert Decimal(report["cost"]) == (max(over, Decimal(0)) * Decimal("0.05")).quantize(Decimal("0.01"))

    _run(cli)  # read again: the same period's row is updated, not duplicated
    with db.read() as session:
        assert len(session.exec(select(Usage).where(Usage.service_id == service["id"])).all()) == 1


def test_the_run_reads_pterodactyl_traffic_counters_and_peak_disk(cli, db, panels):
    assert cli("products", "edit", "Paper 4GB", "--overage", "traffic_gb=1:0.10", "--overage", "disk_gb=0:1").exit_code == 0
    expires = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    service = _deliver(cli, "Paper 4GB", "ptero-1", expires)
    on_panel = panels.ptero.servers[service["external"]["server_id"]]
    on_panel.power_state, on_panel.started_at = "running", time.time() - 1_000_000  # rx 2 B/ms + tx 1 B/ms: about 3 GB so far

    _run(cli)
    metrics, _report = _usage(cli, service["id"])
    assert abs(Decimal(metrics["traffic_gb"]["used"]) - Decimal(3)) <= Decimal("0.01")
    disk = (Decimal((150 + on_panel.id % 50) * 1024 * 1024) / Decimal(10**9)).quantize(Decimal("0.001"))
    assert Decimal(metrics["disk_gb"]["used"]) == disk

    on_panel.started_at = time.time() - 2_000_000  # the counter grew to about 6 GB: 3 more
    _run(cli)
    metrics, _report = _usage(cli, service["id"])
    assert abs(Decimal(metrics["traffic_gb"]["used"]) - Decimal(6)) <= Decimal("0.02")

    on_panel.started_at = time.time() - 500_000  # restarted: the counter went back to about 1.5 GB, all of it new
    _run(cli)
    metrics, _report = _usage(cli, service["id"])
    assert abs(Decimal(metrics["traffic_gb"]["used"]) - Decimal("7.5")) <= Decimal("0.03")
    assert Decimal(metrics["disk_gb"]["used"]) == disk
    with db.read() as session:
        assert len(session.exec(select(Usage).where(Usage.service_id == service["id"])).all()) == 2
