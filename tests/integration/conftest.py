"""Sandbox panels on loopback wired to servers and products in a fresh database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from svcconsole.modules.http import close_clients
from svcconsole.modules.ratelimits import reset_rate_limiters
from svcconsole.modules.sandbox import ProxmoxSandbox, PterodactylSandbox

FAST = [
    "--config",
    "timeout=0.5",
    "--config",
    "poll_interval=0.02",
    "--config",
    "install_wait_seconds=1",
    "--config",
    "task_timeout=5",
    "--config",
    "rate_limit_per_minute=0",
    "--config",
    "max_retry_after=2",
]


@dataclass
class Panels:
    ptero: PterodactylSandbox
    pve: ProxmoxSandbox


@pytest.fixture
def panels(cli) -> Iterator[Panels]:
    reset_rate_limiters()
    ptero = PterodactylSandbox(install_delay=0.05, power_delay=0.01, fault_delay=1.0, rate_limit_per_minute=None, tls=True)
    pve = ProxmoxSandbox(task_delay=0.02, fault_delay=1.0, rate_limit_per_minute=None, tls=True)
    ptero.start()
    pve.start()
    for args in (
        ["customers", "add", "--name", "Greta Keller", "--email", "greta@example.com"],
        [
            "servers",
            "add",
            "--name",
            "ptero-1",
            "--module",
            "pterodactyl",
            "--url",
            ptero.url,
            "--credentials",
            ptero.credentials,
            "--node",
            "1",
            "--tls-fingerprint",
            ptero.fingerprint,
            *FAST,
        ],
        [
            "servers",
            "add",
            "--name",
            "pve-1",
            "--module",
            "proxmox",
            "--url",
            pve.url,
            "--credentials",
            pve.token,
            "--node",
            "pve1",
            "--ca-file",
            pve.ca_file,
            *FAST,
        ],
        [
            "products",
            "add",
            "--name",
            "Paper 4GB",
            "--type",
            "pterodactyl",
            "--price",
            "monthly=12.00",
            "--config",
            "nest=1",
            "--config",
            "egg=1",
            "--config",
            "memory=4096",
            "--config",
            "disk=20480",
            "--config",
            "node=1",
        ],
        [
            "products",
            "add",
            "--name",
            "VPS M",
            "--type",
            "proxmox",
            "--price",
            "monthly=10.00",
            "--config",
            "template=9000",
            "--config",
            "cores=2",
            "--config",
            "memory=4096",
        ],
    ):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.stderr)
    yield Panels(ptero, pve)
    ptero.stop()
    pve.stop()
    close_clients()
    reset_rate_limiters()
