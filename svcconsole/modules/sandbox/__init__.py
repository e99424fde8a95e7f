"""Sandbox panels: local in-memory Pterodactyl and Proxmox VE servers for tests and demos."""

from __future__ import annotations

import sys
import threading

from svcconsole.modules.sandbox.http import SandboxServer
from svcconsole.modules.sandbox.proxmox import TOKEN_FORMAT, TOKEN_PATTERN, ProxmoxSandbox, new_token
from svcconsole.modules.sandbox.pterodactyl import PterodactylSandbox, new_application_key, new_client_key

KINDS = ("pterodactyl", "proxmox")

__all__ = [
    "KINDS",
    "ProxmoxSandbox",
    "PterodactylSandbox",
    "SandboxServer",
    "api_key_problem",
    "make_sandbox",
    "serve_forever",
]


def make_sandbox(kind: str, port: int = 0, api_key: str | None = None, **options: object) -> SandboxServer:
    """A sandbox of `kind` ("pterodactyl" or "proxmox") that accepts `api_key` (or a fresh one).

    For Pterodactyl the key may be an application key (`ptla_...`), a client key (`ptlc_...`)
    or both separated by a space; whichever is missing is generated.
    """
    if kind == "pterodactyl":
        application_keys: list[str] = []
        client_keys: list[str] = []
        for part in (api_key or "").split():
            (client_keys if part.startswith("ptlc_") else application_keys).append(part)
        return PterodactylSandbox(
            port=port,
            application_keys=application_keys or [new_application_key()],
            client_keys=client_keys or [new_client_key()],
            **options,  # type: ignore[arg-type]  # options are the sandbox's own keyword arguments, passed through
        )
    if kind == "proxmox":
        return ProxmoxSandbox(port=port, tokens=[api_key or new_token()], **options)  # type: ignore[arg-type]  # options are the sandbox's own keyword arguments, passed through
    raise ValueError(f"unknown sandbox {kind!r}; choose one of: {', '.join(KINDS)}")


def api_key_problem(kind: str, api_key: str | None) -> str | None:
    """What is wrong with `api_key` for a sandbox of `kind`, in words; None when it is usable."""
    if api_key is None:
        return None
    if not api_key.strip():
        return "is empty; leave it out to have a key generated"
    if kind == "proxmox" and TOKEN_PATTERN.match(api_key) is None:
        return f"{TOKEN_FORMAT} (e.g. root@pam!svc=0123abcd)"
    return None


def serve_forever(kind: str, port: int, api_key: str | None, *, tls: bool = False) -> None:
    """Serve a sandbox panel until interrupted, printing its URL and accepted keys to stderr
    (with `tls`: over HTTPS, with its certificate's fingerprint and CA file)."""
    sandbox = make_sandbox(kind, port, api_key, verbose=True, tls=tls)
    url = sandbox.start()
    if isinstance(sandbox, PterodactylSandbox):
        lines = [
            f"Pterodactyl sandbox listening on {url}",
            f"  application API key: {sandbox.application_key}",
            f"  client API key:      {sandbox.client_key}",
            f"  server credentials:  {sandbox.credentials}",
            "  seeded: location 1, node 1 (node1.sandbox.test), 50 allocations, nest 1 / egg 1 (Paper)",
        ]
    else:
        assert isinstance(sandbox, ProxmoxSandbox)
        lines = [
            f"Proxmox VE sandbox listening on {url}/api2/json",
            f"  API token (server credentials): {sandbox.token}",
            "  seeded: node pve1, template VM 9000 (debian-12-template)",
        ]
    if sandbox.certificate is not None:
        lines += [
            f"fingerprint: {sandbox.certificate.fingerprint}",
            f"  CA file: {sandbox.certificate.ca_file}",
            f"  trust it: svcconsole servers add ... --tls-fingerprint {sandbox.certificate.fingerprint}",
        ]
    sys.stderr.write("\n".join(lines) + "\n  press Ctrl+C to stop\n")
    sys.stderr.flush()
    stopped = threading.Event()
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        sys.stderr.write(f"{kind} sandbox stopped\n")
