"""The Proxmox VE API (`/api2/json`) as one server's token sees it, and its errors mapped.

`Api` makes the calls, waits for tasks (keeping the warnings they log) and runs status actions;
`error_from_response` turns an error answer into a one-line `ModuleError` that never echoes the
token.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import quote

import httpx

from svcconsole.modules.base import ModuleError, ServerRef, refuse_demo_server
from svcconsole.modules.http import HttpSettings, PanelHttp, config_float, one_line

logger = logging.getLogger("svcconsole.modules")

PANEL = "Proxmox VE"
PREFIX = "/api2/json"
TOKEN_PATTERN = re.compile(r"^[^!\s=]+@[^!\s=]+![A-Za-z][A-Za-z0-9._-]*=\S+$")
TASK_WARNINGS = re.compile(r"^WARNINGS: \d+$")


def parse_token(raw: str | None) -> str:
    token = (raw or "").strip().removeprefix("PVEAPIToken=")
    if not TOKEN_PATTERN.match(token):
        raise ModuleError(
            f"{PANEL}: the server's credentials must be an API token USER@REALM!TOKENID=SECRET",
            retryable=False,
            code="config",
        )
    return token


def message_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    return one_line(message or response.reason_phrase or f"HTTP {response.status_code}")


def error_from_response(response: httpx.Response, operation: str) -> ModuleError:
    """Map a Proxmox error answer (status line message, `errors` per parameter) to a ModuleError."""
    status = response.status_code
    message = message_of(response)
    prefix = f"{PANEL} {operation}"
    if status == 401:
        return ModuleError(f"{prefix}: authentication failed (HTTP 401): check the API token", retryable=False, code="auth", status=status)
    if status == 403:
        return ModuleError(f"{prefix}: permission denied (HTTP 403): {message}", retryable=False, code="auth", status=status)
    if status == 400:
        try:
            errors = response.json().get("errors") or {}
        except (ValueError, AttributeError):
            errors = {}
        fields = "; ".join(f"{name}: {one_line(str(text))}" for name, text in sorted(errors.items()))
        return ModuleError(f"{prefix}: rejected (HTTP 400): {message}" + (f" ({fields})" if fields else ""), retryable=False, code="invalid", status=status)
    if "does not exist" in message:
        return ModuleError(f"{prefix}: not found (HTTP {status}): {message}", retryable=False, code="not_found", status=status)
    if "is locked" in message:
        return ModuleError(f"{prefix}: busy (HTTP {status}): {message}", retryable=True, code="locked", status=status)
    if status in (404, 501):
        return ModuleError(f"{prefix}: not found (HTTP {status}): {message}", retryable=False, code="not_found", status=status)
    if status >= 500:
        return ModuleError(f"{prefix}: error (HTTP {status}): {message}", retryable=True, code="server_error", status=status)
    return ModuleError(f"{prefix}: HTTP {status}: {message}", retryable=False, status=status)


class Api:
    """The cluster as seen with one server's token."""

    def __init__(self, server: ServerRef) -> None:
        if not server.url:
            raise ModuleError(f"{PANEL}: the server has no URL", retryable=False, code="config")
        refuse_demo_server(server)
        self.server = server
        token = parse_token(server.credentials)
        self.secret = token.split("=", 1)[1]
        self.user = token.split("=", 1)[0]
        self.task_timeout = config_float(server.config, "task_timeout", 600.0)
        self.poll_interval = max(0.01, config_float(server.config, "poll_interval", 1.0))
        base = server.url.rstrip("/").removesuffix(PREFIX)
        self.http = PanelHttp(
            panel=PANEL,
            base_url=base,
            auth_headers={"Authorization": f"PVEAPIToken={token}"},
            secrets=[token, self.secret],
            settings=HttpSettings.from_config(server.config),
            error_mapper=error_from_response,
            extra_headers={"Accept": "application/json", "User-Agent": "svcconsole"},
        )

    def __repr__(self) -> str:
        return f"Api(url={self.server.url!r})"

    def call(self, method: str, path: str, operation: str, **kwargs: Any) -> Any:
        """The `data` of one call's answer."""
        return self.http.request(method, PREFIX + path, operation=operation, **kwargs).json().get("data")

    def raw(self, method: str, path: str, operation: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, PREFIX + path, operation=operation, **kwargs)

    def error(self, operation: str, detail: str, **kwargs: Any) -> ModuleError:
        return self.http.error(operation, detail, **kwargs)

    def vms(self, operation: str) -> list[dict[str, Any]]:
        return list(self.call("GET", "/cluster/resources", operation, params={"type": "vm"}) or [])

    def config(self, node: str, vmid: int, operation: str) -> dict[str, Any] | None:
        """The VM's config, or None when it does not exist on that node."""
        response = self.raw("GET", f"/nodes/{node}/qemu/{vmid}/config", operation, allow=(500,))
        if response.status_code == 500:
            if "does not exist" in message_of(response):
                return None
            raise error_from_response(response, operation)
        return response.json().get("data") or {}

    def status(self, node: str, vmid: int, operation: str) -> dict[str, Any]:
        return self.call("GET", f"/nodes/{node}/qemu/{vmid}/status/current", operation) or {}

    def wait_task(self, upid: str, operation: str, external: dict[str, Any] | None = None) -> list[str]:
        """Poll a task until it stops and return its warnings; raise with its exit status unless
        that is "OK" or "WARNINGS: N" (a success that logged N warnings, as PVE counts it)."""
        node = upid.split(":")[1] if upid.startswith("UPID:") else self.server.node
        deadline = time.monotonic() + self.task_timeout
        path = f"/nodes/{node}/tasks/{quote(upid, safe='')}"
        while True:
            task = self.call("GET", f"{path}/status", operation) or {}
            if task.get("status") == "stopped":
                exit_status = str(task.get("exitstatus") or "")
                if exit_status == "OK":
                    return []
                if TASK_WARNINGS.match(exit_status):
                    return self.task_warnings(path, exit_status, operation)
                raise self.error(
                    operation,
                    f"task {task.get('type', '')} failed: {exit_status or 'no exit status'}",
                    retryable="is locked" in exit_status,
                    code="task_error",
                    external=external,
                )
            if time.monotonic() >= deadline:
                raise self.error(operation, f"task still running after {self.task_timeout:g} s", retryable=True, code="timeout", external=external)
            time.sleep(self.poll_interval)

    def task_warnings(self, path: str, exit_status: str, operation: str) -> list[str]:
        """The `WARN:` lines of a task's log (its exit status when the log names none)."""
        lines = self.call("GET", f"{path}/log", operation, params={"limit": 500}) or []
        warnings = [one_line(str(line.get("t", "")).removeprefix("WARN:").strip()) for line in lines if str(line.get("t", "")).startswith("WARN:")]
        found = warnings or [exit_status]
        logger.warning("%s %s: task ended with %s: %s", PANEL, operation, exit_status, "; ".join(found))
        return found

    def action(self, node: str, vmid: int, action: str, operation: str, external: dict[str, Any] | None = None, **data: Any) -> list[str]:
        """Run a status action (start, stop, ...) and return the warnings its task logged."""
        upid = self.call("POST", f"/nodes/{node}/qemu/{vmid}/status/{action}", operation, data=data or None)
        return self.wait_task(str(upid), operation, external)
