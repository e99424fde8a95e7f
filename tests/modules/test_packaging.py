"""The modules package stays free of front ends and core, and the sandbox serves from a process."""

from __future__ import annotations

import json
import os
import re
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx

from svcconsole.modules.tls import fingerprint_of

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, timeout=30).stdout


def test_modules_import_no_front_end_nor_core() -> None:
    loaded = json.loads(
        run_python("import json, sys, svcconsole.modules, svcconsole.modules.sandbox; svcconsole.modules.module_names();print(json.dumps(sorted(sys.modules)))")
    )
    forbidden = ("textual", "typer", "svcconsole.core", "svcconsole.store", "svcconsole.cli")
    assert not [name for name in loaded if name.startswith(forbidden)]
    assert "svcconsole.modules.pterodactyl" in loaded and "svcconsole.modules.proxmox" in loaded


def test_serve_forever_prints_url_and_key_and_stops_on_interrupt() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", "from svcconsole.modules.sandbox import serve_forever; serve_forever('proxmox', 0, 'root@pam!demo=s3cret')"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        banner = [process.stderr.readline() for _ in range(2)]
        url = re.search(r"(http://\S+)/api2/json", banner[0]).group(1)
        assert "root@pam!demo=s3cret" in banner[1]
        response = httpx.get(url + "/api2/json/version", headers={"Authorization": "PVEAPIToken=root@pam!demo=s3cret"})
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "proxmox sandbox stopped" in rest


def test_serve_forever_without_a_key_prints_a_generated_one() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", "from svcconsole.modules.sandbox import serve_forever; serve_forever('pterodactyl', 0, None)"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        banner = [process.stderr.readline() for _ in range(4)]
        url = re.search(r"listening on (http://\S+)", banner[0]).group(1)
        application_key = re.search(r"(ptla_\S+)", banner[1]).group(1)
        assert re.search(r"ptlc_\S+", banner[2])
        assert banner[3].split("server credentials:")[1].split()[0] == application_key
        response = httpx.get(url + "/api/application/nodes", headers={"Authorization": f"Bearer {application_key}", "Accept": "application/json"})
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_sandbox_tls_serves_https_and_prints_the_certificate_fingerprint() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "svcconsole", "sandbox", "proxmox", "--tls", "--api-key", "root@pam!demo=s3cret"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        banner = [process.stderr.readline() for _ in range(5)]
        url = re.search(r"(https://\S+)/api2/json", banner[0]).group(1)
        fingerprint = re.fullmatch(r"fingerprint: ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})\n", banner[3]).group(1)
        ca_file = re.search(r"CA file: (\S+)", banner[4]).group(1)
        headers = {"Authorization": "PVEAPIToken=root@pam!demo=s3cret"}
        response = httpx.get(url + "/api2/json/version", headers=headers, verify=ssl.create_default_context(cafile=ca_file))
        assert response.status_code == 200
        seen = ssl.get_server_certificate(tuple(url.removeprefix("https://").split(":")))  # type: ignore[arg-type]
        assert fingerprint_of(ssl.PEM_cert_to_DER_cert(seen)) == fingerprint
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    assert process.returncode == 0
