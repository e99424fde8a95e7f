"""HTTP plumbing shared by the remote modules: pooled httpx clients, a per-credential token
bucket, one log line per call, 429 retries, and transport failures as retryable ModuleErrors.

Credentials only ever travel in request headers: they are never logged, never put in a
message, and `scrub()` masks them in any text built from a panel's answer.
"""

from __future__ import annotations

import email.utils
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from svcconsole.modules.base import ModuleError
from svcconsole.modules.ratelimits import (
    WINDOW_SECONDS,
    rate_limiter_for,
)
from svcconsole.modules.tls import FingerprintMismatch, client_context, peer_fingerprint, tls_failure

logger = logging.getLogger("svcconsole.modules")

DEFAULT_RATE_LIMIT_PER_MINUTE = 240
DEFAULT_TIMEOUT_SECONDS = 15.0
DEFAULT_MAX_RETRY_AFTER_SECONDS = 10.0
DEFAULT_RATE_LIMIT_RETRIES = 3
_clients: dict[tuple[str, bool, str, str, float], httpx.Client] = {}
_clients_lock = threading.Lock()


def _shared_client(base_url: str, settings: HttpSettings) -> httpx.Client:
    key = (base_url.rstrip("/"), settings.verify_tls, settings.tls_fingerprint, settings.ca_file, settings.timeout)
    timeout = settings.timeout
    with _clients_lock:
        client = _clients.get(key)
        if client is None or client.is_closed:
            client = httpx.Client(
                base_url=key[0],
                verify=client_context(verify=settings.verify_tls, fingerprint=settings.tls_fingerprint, ca_file=settings.ca_file),
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
                follow_redirects=False,
                trust_env=False,
            )
            _clients[key] = client
        return client


def close_clients() -> None:
    """Close every pooled connection (at exit, or between tests)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


def config_float(config: dict[str, Any], key: str, default: float) -> float:
    """A number from a server or product config, with a default for missing or bad values."""
    value = config.get(key, default)
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def config_bool(config: dict[str, Any], key: str, default: bool) -> bool:
    """A boolean from a config that may hold true/false, 1/0 or "yes"/"no" strings."""
    value = config.get(key, default)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace so a message fits on one line, and cut it at `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def retry_after_seconds(response: httpx.Response, default: float = 1.0) -> float:
    """The Retry-After header in seconds (delta-seconds or an HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


ErrorMapper = Callable[[httpx.Response, str], ModuleError]


@dataclass(frozen=True)
class HttpSettings:
    """Per-server knobs read from `server.config`."""

    timeout: float = DEFAULT_TIMEOUT_SECONDS
    verify_tls: bool = True
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT_PER_MINUTE
    rate_limit_window_seconds: float = WINDOW_SECONDS
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER_SECONDS
    rate_limit_retries: int = DEFAULT_RATE_LIMIT_RETRIES
    tls_fingerprint: str = ""
    ca_file: str = ""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> HttpSettings:
        """Read `timeout`, `verify_tls`, `tls_fingerprint` (the pinned SHA-256 of the panel's
        certificate), `ca_file`, `rate_limit_per_minute`, `rate_limit_window_seconds` (the panel's
        limit period, 60 unless the panel was configured otherwise), `max_retry_after` and
        `rate_limit_retries`."""
        return cls(
            timeout=config_float(config, "timeout", DEFAULT_TIMEOUT_SECONDS),
            verify_tls=config_bool(config, "verify_tls", True),
            tls_fingerprint=str(config.get("tls_fingerprint") or ""),
            ca_file=str(config.get("ca_file") or ""),
            rate_limit_per_minute=int(config_float(config, "rate_limit_per_minute", DEFAULT_RATE_LIMIT_PER_MINUTE)),
            rate_limit_window_seconds=max(1.0, config_float(config, "rate_limit_window_seconds", WINDOW_SECONDS)),
            max_retry_after=config_float(config, "max_retry_after", DEFAULT_MAX_RETRY_AFTER_SECONDS),
            rate_limit_retries=int(config_float(config, "rate_limit_retries", DEFAULT_RATE_LIMIT_RETRIES)),
        )


class PanelHttp:
    """Calls one panel with one credential: rate limit, logging, 429 retries, error mapping."""

    def __init__(
        self,
        *,
        panel: str,
        base_url: str,
        auth_headers: dict[str, str],
        secrets: Iterable[str],
        settings: HttpSettings,
        error_mapper: ErrorMapper,
        extra_headers: dict[str, str] | None = None,
        rate_limit_key: str | None = None,
    ) -> None:
        """`rate_limit_key` names the bucket the panel counts these calls in (e.g. its user and
        API) when that is not the credential itself."""
        self.panel = panel
        self.base_url = base_url.rstrip("/")
        self.settings = settings
        self._auth_headers = dict(auth_headers)
        self._extra_headers = dict(extra_headers or {})
        self._secrets = tuple(s for s in secrets if s)
        self._error_mapper = error_mapper
        credential = rate_limit_key or "\0".join(sorted(self._auth_headers.values()))
        self._limiter = rate_limiter_for(self.base_url, credential, settings.rate_limit_per_minute, settings.rate_limit_window_seconds)
        try:
            self._client = _shared_client(self.base_url, settings)
        except (ValueError, OSError) as exc:
            raise ModuleError(one_line(f"{panel}: the server's TLS settings: {exc}"), retryable=False, code="config") from None

    def __repr__(self) -> str:
        return f"PanelHttp(panel={self.panel!r}, base_url={self.base_url!r})"

    def scrub(self, text: str) -> str:
        """`text` with every credential replaced by `***`."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def error(self, operation: str, detail: str, **kwargs: Any) -> ModuleError:
        """A ModuleError whose one-line message names the panel and operation, credentials masked."""
        return ModuleError(self.scrub(one_line(f"{self.panel} {operation}: {detail}")), **kwargs)

    def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, Any] | None = None,
        allow: Iterable[int] = (),
        auth_headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one call and return its response when it succeeded or its status is in `allow`.

        429 answers are retried after Retry-After when it is short enough; any other failure
        raises a ModuleError (transport failures and 5xx are retryable).
        """
        allowed = set(allow)
        headers = {**self._extra_headers, **(auth_headers or self._auth_headers)}
        attempts = max(0, self.settings.rate_limit_retries) + 1
        for attempt in range(attempts):
            if self._limiter is not None:
                self._limiter.acquire()
            response, elapsed_ms = self._send(method, path, operation, headers, params, json, data)
            status = response.status_code
            expected = status < 400 or status in allowed
            logger.log(logging.INFO if expected else logging.WARNING, "%s %s %s -> %d (%.0f ms)", self.panel, method, path, status, elapsed_ms)
            if status == 429 and not expected:
                wait = retry_after_seconds(response)
                if attempt + 1 < attempts and wait <= self.settings.max_retry_after:
                    time.sleep(wait)
                    continue
                raise self.error(
                    operation,
                    f"rate limited by the panel (HTTP 429); retry after {wait:.0f} s",
                    retryable=True,
                    retry_after=wait,
                    code="rate_limited",
                    status=429,
                )
            if expected:
                return response
            mapped = self._error_mapper(response, operation)
            mapped.message = self.scrub(one_line(mapped.message))
            mapped.args = (mapped.message,)
            raise mapped
        raise AssertionError("unreachable")

    def _send(
        self,
        method: str,
        path: str,
        operation: str,
        headers: dict[str, str],
        params: dict[str, Any] | None,
        json: Any,
        data: dict[str, Any] | None,
    ) -> tuple[httpx.Response, float]:
        started = time.perf_counter()
        failure: str | None = None
        code = "connection"
        try:
            response = self._client.request(method, path, headers=headers, params=params, json=json, data=data)
        except httpx.TimeoutException:
            failure, code = f"no answer within {self.settings.timeout:g} s (timeout)", "timeout"
        except httpx.ConnectError as exc:
            refused = tls_failure(exc)
            if refused is not None:
                logger.warning("%s %s %s -> tls (%.0f ms)", self.panel, method, path, (time.perf_counter() - started) * 1000)
                raise self.error(operation, self._untrusted(refused), retryable=False, code="tls") from None
            failure = "cannot connect to the panel (connection refused or unreachable)"
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            failure = "the connection was closed before an answer (connection reset)"
        except httpx.TransportError as exc:
            failure = f"transport error ({type(exc).__name__})"
        elapsed_ms = (time.perf_counter() - started) * 1000
        if failure is not None:
            logger.warning("%s %s %s -> %s (%.0f ms)", self.panel, method, path, code, elapsed_ms)
            raise self.error(operation, failure, retryable=True, code=code)
        return response, elapsed_ms

    def _untrusted(self, error: ssl.SSLError) -> str:
        """Why the panel's certificate was refused, naming the fingerprint seen and how to trust it."""
        if isinstance(error, FingerprintMismatch):
            return f"the certificate does not match the pinned --tls-fingerprint; the panel presents {error.seen}"
        if not isinstance(error, ssl.SSLCertVerificationError):
            return f"TLS handshake failed ({error.reason or type(error).__name__})"
        seen = peer_fingerprint(self.base_url, self.settings.timeout)
        reason = error.verify_message or "certificate verify failed"
        if seen is None:
            return f"the certificate is not trusted ({reason}); give the panel's CA with --ca-file PATH"
        return (
            f"the certificate is not trusted ({reason}); to trust it, pin its SHA-256 fingerprint "
            f"with --tls-fingerprint {seen} (or give the panel's CA with --ca-file PATH)"
        )
