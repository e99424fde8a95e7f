"""The Pterodactyl panel's HTTP APIs as one server's credentials see them, and its errors mapped.

`Api` holds the Application API client (and the Client API's, when the credentials carry a
client key), follows pagination, and finds servers; `error_from_response` turns a panel error
answer into a one-line `ModuleError` that never echoes a key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from svcconsole.modules.base import ModuleError, ServerRef, refuse_demo_server
from svcconsole.modules.http import HttpSettings, PanelHttp, config_float, one_line

PANEL = "Pterodactyl"
APPLICATION = "/api/application"
CLIENT = "/api/client"
_RESOURCE_NAMES = frozenset({"servers", "nodes", "allocations", "users", "locations", "nests", "eggs", "databases"})
PAGE_SIZE = 100


@dataclass(frozen=True)
class Keys:
    """The API keys parsed from `server.credentials`."""

    application: str
    client: str | None

    def __repr__(self) -> str:
        return f"Keys(application=***, client={'***' if self.client else None})"


def parse_credentials(raw: str | None) -> Keys:
    parts = (raw or "").split()
    application = next((p for p in parts if p.startswith("ptla_")), None)
    client = next((p for p in parts if p.startswith("ptlc_")), None)
    unprefixed = [p for p in parts if not p.startswith(("ptla_", "ptlc_"))]
    if application is None and unprefixed:
        application = unprefixed.pop(0)
    if client is None and unprefixed:
        client = unprefixed.pop(0)
    if not application:
        raise ModuleError(
            f"{PANEL}: the server's credentials need an application API key (ptla_...), optionally followed by a space and a client API key (ptlc_...)",
            retryable=False,
            code="config",
        )
    return Keys(application, client)


DAEMON_DOWN = "DaemonConnectionException"
"""The panel's error code when a node's Wings daemon cannot be reached."""


def _resource_denied(response: httpx.Response) -> str | None:
    """Which application API resource a 403 refused, in words (the panel's text names none)."""
    path = response.request.url.path if response.request is not None else ""
    if not path.startswith(APPLICATION):
        return None
    names = [part for part in path[len(APPLICATION) :].split("/") if part and not part.isdigit()]
    if not names:
        return None
    verb = "read" if response.request.method == "GET" else "change"
    return f" (the application key may not {verb} {names[-1] if names[-1] in _RESOURCE_NAMES else names[0]})"


def error_from_response(response: httpx.Response, operation: str) -> ModuleError:
    """Map a panel error answer to a ModuleError (never echoing request headers)."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {}
    errors = body.get("errors") if isinstance(body, dict) else None
    errors = errors if isinstance(errors, list) else []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    code = str(first.get("code") or "") or None
    detail = one_line(first.get("detail") or response.reason_phrase or f"HTTP {status}")
    prefix = f"{PANEL} {operation}"
    if status == 401:
        return ModuleError(f"{prefix}: authentication failed (HTTP 401): check the API key", retryable=False, code="auth", status=status)
    if status == 403:
        resource = _resource_denied(response)
        return ModuleError(f"{prefix}: access denied (HTTP 403): {detail}" + (resource or ""), retryable=False, code="auth", status=status)
    if status == 404:
        return ModuleError(f"{prefix}: not found on the panel (HTTP 404)", retryable=False, code="not_found", status=status)
    if status == 409:
        return ModuleError(f"{prefix}: conflict (HTTP 409): {detail}", retryable=True, code="conflict", status=status)
    if status in (400, 422):
        field = (first.get("meta") or {}).get("source_field") if isinstance(first.get("meta"), dict) else None
        more = f"; and {len(errors) - 1} more" if len(errors) > 1 else ""
        where = f" (field {field})" if field else ""
        return ModuleError(f"{prefix}: rejected (HTTP {status}): {detail}{where}{more}", retryable=False, code="invalid", status=status)
    if status >= 500:
        return ModuleError(f"{prefix}: panel error (HTTP {status}): {detail}", retryable=True, code=code or "server_error", status=status)
    return ModuleError(f"{prefix}: HTTP {status}: {detail}", retryable=False, code=code, status=status)


def validation_errors(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return []
    return [e for e in errors if isinstance(e, dict)]


def source_fields(response: httpx.Response) -> set[str]:
    return {str((e.get("meta") or {}).get("source_field")) for e in validation_errors(response)}


class Api:
    """The panel as seen with one server's credentials."""

    def __init__(self, server: ServerRef) -> None:
        if not server.url:
            raise ModuleError(f"{PANEL}: the server has no panel URL", retryable=False, code="config")
        refuse_demo_server(server)
        self.server = server
        self.keys = parse_credentials(server.credentials)
        self.settings = HttpSettings.from_config(server.config)
        panel_user = str(server.config.get("panel_user") or "").strip()
        headers = {"Accept": "application/json", "Content-Type": "application/json", "User-Agent": "svcconsole"}
        self.application = PanelHttp(
            panel=PANEL,
            base_url=server.url,
            auth_headers={"Authorization": f"Bearer {self.keys.application}"},
            secrets=[self.keys.application, self.keys.client or ""],
            settings=self.settings,
            error_mapper=error_from_response,
            extra_headers=headers,
            rate_limit_key=f"user {panel_user}: application API" if panel_user else None,
        )
        self.client = None
        if self.keys.client:
            client_settings = dataclasses.replace(
                self.settings,
                rate_limit_per_minute=int(config_float(server.config, "client_rate_limit_per_minute", 720)),
            )
            self.client = PanelHttp(
                panel=PANEL,
                base_url=server.url,
                auth_headers={"Authorization": f"Bearer {self.keys.client}"},
                secrets=[self.keys.application, self.keys.client],
                settings=client_settings,
                error_mapper=error_from_response,
                extra_headers=headers,
                rate_limit_key=f"user {panel_user}: client API" if panel_user else None,
            )

    def __repr__(self) -> str:
        return f"Api(url={self.server.url!r})"

    def app(self, method: str, path: str, operation: str, **kwargs: Any) -> httpx.Response:
        return self.application.request(method, APPLICATION + path, operation=operation, **kwargs)

    def user_api(self, method: str, path: str, operation: str, **kwargs: Any) -> httpx.Response:
        if self.client is None:
            raise ModuleError(
                f"{PANEL} {operation}: needs a client API key (ptlc_...) after the application key in the server's credentials",
                retryable=False,
                code="config",
            )
        return self.client.request(method, CLIENT + path, operation=operation, **kwargs)

    def error(self, operation: str, detail: str, **kwargs: Any) -> ModuleError:
        return self.application.error(operation, detail, **kwargs)

    def pages(self, path: str, operation: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a paginated list, following `meta.pagination` to the last page."""
        return list(self.each(path, operation, params))

    def each(
        self, path: str, operation: str, params: dict[str, Any] | None = None, *, on_total: Callable[[int], None] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The items of a paginated list one page at a time (one page held in memory); `on_total`
        hears the list's length from the first page's `meta.pagination.total`."""
        page = 1
        while True:
            response = self.app("GET", path, operation, params={**(params or {}), "page": page, "per_page": PAGE_SIZE})
            body = response.json()
            pagination = (body.get("meta") or {}).get("pagination") or {}
            if page == 1 and on_total is not None and pagination.get("total") is not None:
                on_total(int(pagination["total"]))
            yield from (entry["attributes"] for entry in body.get("data", []))
            total_pages = int(pagination.get("total_pages") or 1)
            if page >= total_pages or not body.get("data"):
                return
            page += 1

    def server_by_external_id(self, external_id: str, operation: str) -> dict[str, Any] | None:
        response = self.app("GET", f"/servers/external/{external_id}", operation, params={"include": "allocations"}, allow=(404,))
        return None if response.status_code == 404 else response.json()["attributes"]

    def server_by_id(self, server_id: int, operation: str, *, missing_ok: bool = False) -> dict[str, Any] | None:
        response = self.app("GET", f"/servers/{server_id}", operation, params={"include": "allocations"}, allow=(404,) if missing_ok else ())
        return None if response.status_code == 404 else response.json()["attributes"]
