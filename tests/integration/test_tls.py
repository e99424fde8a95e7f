"""HTTPS as an admin meets it: a self-signed panel is refused until its certificate is pinned or its
CA given, a pin is checked against the certificate the panel really presents, and the refusal is
one line naming the fingerprint seen and the option that trusts it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from svcconsole.modules.http import close_clients
from svcconsole.modules.ratelimits import reset_rate_limiters
from svcconsole.modules.sandbox import ProxmoxSandbox, PterodactylSandbox

from .conftest import FAST

FINGERPRINT = re.compile(r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")


@pytest.fixture
def https_pve() -> Iterator[ProxmoxSandbox]:
    reset_rate_limiters()
    sandbox = ProxmoxSandbox(task_delay=0.02, rate_limit_per_minute=None, tls=True)
    sandbox.start()
    yield sandbox
    sandbox.stop()
    close_clients()
    reset_rate_limiters()


def add_pve(cli, sandbox: ProxmoxSandbox, *trust: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("servers", "add", "--name", "pve-tls", "--module", "proxmox", "--url", sandbox.url, "--credentials", sandbox.token, *trust, *FAST)
    assert result.exit_code == 0, result.stderr


def test_an_untrusted_certificate_is_refused_in_one_line_naming_its_fingerprint_and_the_pin_option(cli, https_pve):
    add_pve(cli, https_pve)
    result = cli("servers", "test", "pve-tls")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "not trusted" in lines[0]
    assert f"--tls-fingerprint {https_pve.fingerprint}" in lines[0]
    assert https_pve.requests_seen() == []


def test_the_pinned_fingerprint_from_the_refusal_makes_the_server_trusted(cli, https_pve):
    add_pve(cli, https_pve)
    refusal = cli("servers", "test", "pve-tls").stderr
    seen = re.search(r"--tls-fingerprint (\S+)", refusal).group(1)
    assert FINGERPRINT.match(seen) and seen == https_pve.fingerprint
    assert cli("servers", "edit", "pve-tls", "--tls-fingerprint", seen.replace(":", "").lower()).exit_code == 0
    result = cli("servers", "test", "pve-tls")
    assert result.exit_code == 0, result.stderr
    assert "connected to Proxmox VE" in result.stdout
    shown = json.loads(cli("servers", "show", "pve-tls", "--format", "json").stdout)
    assert shown["config"]["tls_fingerprint"] == https_pve.fingerprint


def test_a_wrong_pin_is_refused_before_any_request_is_sent(cli, https_pve):
    add_pve(cli, https_pve, "--tls-fingerprint", "AB" * 32)
    result = cli("servers", "test", "pve-tls")
    assert result.exit_code == 1
    assert "does not match the pinned --tls-fingerprint" in result.stderr
    assert https_pve.fingerprint in result.stderr
    assert https_pve.requests_seen() == []


def test_a_pin_of_another_sandbox_certificate_is_refused(cli, https_pve):
    with PterodactylSandbox(tls=True) as other:
        assert other.fingerprint != https_pve.fingerprint
        add_pve(cli, https_pve, "--tls-fingerprint", other.fingerprint)
    assert cli("servers", "test", "pve-tls").exit_code == 1


def test_the_panel_ca_file_makes_the_server_trusted(cli, https_pve):
    add_pve(cli, https_pve, "--ca-file", https_pve.ca_file)
    result = cli("servers", "test", "pve-tls")
    assert result.exit_code == 0, result.stderr
    assert cli("servers", "edit", "pve-tls", "--ca-file", "").exit_code == 0
    assert cli("servers", "test", "pve-tls").exit_code == 1


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--tls-fingerprint", "AB:CD", "--tls-fingerprint"),
        ("--tls-fingerprint", "zz" * 32, "--tls-fingerprint"),
        ("--ca-file", "/nonexistent/ca.pem", "--ca-file"),
    ],
)
def test_a_bad_trust_option_is_bad_input_naming_it_and_adds_nothing(cli, option, value, named):
    result = cli(
        "servers", "add", "--name", "bad", "--module", "proxmox", "--url", "https://pve.example.net:8006", "--credentials", "root@pam!svc=secret", option, value
    )
    assert result.exit_code == 2
    assert named in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert json.loads(cli("servers", "list", "--format", "json").stdout) == []


def test_a_pin_and_a_ca_file_together_are_refused(cli, https_pve):
    result = cli(
        "servers",
        "add",
        "--name",
        "both",
        "--module",
        "proxmox",
        "--url",
        https_pve.url,
        "--credentials",
        https_pve.token,
        "--tls-fingerprint",
        https_pve.fingerprint,
        "--ca-file",
        https_pve.ca_file,
    )
    assert result.exit_code == 2
    assert "--tls-fingerprint" in result.stderr
