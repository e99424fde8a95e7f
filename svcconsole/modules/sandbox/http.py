"""A threaded in-memory HTTP server shared by the sandbox panels: routing, faults and rate limits.

Each sandbox subclasses `SandboxServer`, declares its routes and says how it authenticates,
answers a rate-limited request and renders an error; this module does the HTTP plumbing.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import re
import shutil
import socket
import ssl
import struct
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

from svcconsole.modules.sandbox.tls import SandboxCertificate
from svcconsole.modules.sandbox.tls import generate as generate_certificate

HANDSHAKE_TIMEOUT = 10.0
"""Seconds a client has to finish the TLS handshake."""

SEEN_KEPT = 1000
"""How many requests `requests_seen` remembers."""

NETWORK_FAULTS = frozenset({"timeout", "reset", "429"})
"""Faults every sandbox understands; a status code such as "500" or "503" is one too."""


@dataclass
class Request:
    """One parsed HTTP request, with the fault (if any) that the handler should act out."""

    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes
    fault: Fault | None = None

    def header(self, name: str, default: str = "") -> str:
        """The value of header `name` (case-insensitive), or `default`."""
        value = self.headers.get(name)
        return default if value is None else value

    def json_body(self) -> Any:
        """The body decoded as JSON (None when empty); raises ValueError when malformed."""
        if not self.body.strip():
            return None
        return json.loads(self.body)

    def form_body(self) -> dict[str, str]:
        """The body decoded as application/x-www-form-urlencoded."""
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass
class Response:
    """What a handler answers: status, raw body, headers and an optional reason phrase."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    reason: str | None = None


def json_response(
    status: int,
    payload: Any,
    headers: dict[str, str] | None = None,
    reason: str | None = None,
    content_type: str = "application/json",
) -> Response:
    """A JSON response with its content type set."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    all_headers = {"Content-Type": content_type}
    all_headers.update(headers or {})
    return Response(status, body, all_headers, reason)


@dataclass
class Fault:
    """A failure to act out on the next `remaining` requests that match `match`."""

    match: str
    kind: str
    remaining: int
    delay: float | None = None
    retry_after: int | None = None
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """True when this fault applies to a request: `METHOD`, `/glob/path` or `METHOD /glob`."""
        pattern = self.match.strip()
        if pattern in ("", "*"):
            return True
        wanted_method, _, wanted_path = pattern.partition(" ")
        if wanted_method.startswith("/") or wanted_method == "*":
            wanted_method, wanted_path = "", pattern
        if wanted_method and wanted_method.upper() != method:
            return False
        return not wanted_path or fnmatch.fnmatchcase(path, wanted_path.strip())


@dataclass
class RateDecision:
    """The outcome of counting one request against a rate limit."""

    allowed: bool
    limit: int | None
    remaining: int | None
    retry_after: int = 0
    reset_at: float = 0.0


class FixedWindowRateLimiter:
    """Counts hits per key in fixed windows that open on a key's first hit, as Laravel does."""

    def __init__(self, per_minute: int | None, window_seconds: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window_seconds = window_seconds
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def set_limit(self, per_minute: int | None) -> None:
        """Change the limit (None or 0 turns it off) and forget the open windows."""
        with self._lock:
            self.per_minute = per_minute or None
            self._windows.clear()

    def hit(self, key: str) -> RateDecision:
        """Count one request for `key` and say whether it is allowed."""
        with self._lock:
            limit = self.per_minute
            if not limit:
                return RateDecision(True, None, None)
            now = time.monotonic()
            opened, count = self._windows.get(key, (now, 0))
            if now - opened >= self.window_seconds:
                opened, count = now, 0
            reset_at = time.time() + (opened + self.window_seconds - now)
            if count >= limit:
                wait = max(1, int(opened + self.window_seconds - now + 0.999))
                return RateDecision(False, limit, 0, wait, reset_at)
            self._windows[key] = (opened, count + 1)
            return RateDecision(True, limit, limit - count - 1, 0, reset_at)


RouteHandler = Callable[..., Response]


@dataclass
class Route:
    """A method and a path regex bound to a handler that receives the named groups."""

    method: str
    pattern: re.Pattern[str]
    handler: RouteHandler


class _TrackingHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that remembers its open connections so `stop()` can cut them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, *args: Any, ssl_context: ssl.SSLContext | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ssl_context = ssl_context
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Serve one connection, first doing the TLS handshake (in the connection's own thread)."""
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            secured = self.ssl_context.wrap_socket(request, server_side=True)
        except OSError:
            return
        secured.settimeout(None)
        with self.connections_lock:
            self.open_connections.discard(request)
            self.open_connections.add(secured)
        try:
            super().finish_request(secured, client_address)
        finally:
            with self.connections_lock:
                self.open_connections.discard(secured)
            with contextlib.suppress(OSError):
                secured.close()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Broken connections are part of the faults a sandbox acts out; they are not errors."""


class _RequestHandler(BaseHTTPRequestHandler):
    """Turns each HTTP request into a `Request`, asks the sandbox, and writes its `Response`."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    sandbox: SandboxServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command.upper(),
            path=unquote(parts.path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=self.headers,
            body=body,
        )
        response = self.sandbox.handle(request)
        if response is None:
            self._reset_connection()
            return
        try:
            self._write(response)
        except OSError:
            self.close_connection = True

    def _write(self, response: Response) -> None:
        reason = (response.reason or "").replace("\r", " ").replace("\n", " ").strip() or None
        if reason is not None:
            reason = reason.encode("latin-1", "replace").decode("latin-1")
        self.send_response(response.status, reason)
        for name, value in response.headers.items():
            self.send_header(name, value)
        has_body = response.status not in (204, 304) and 100 <= response.status
        if has_body:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if has_body and response.body:
            self.wfile.write(response.body)
        self.wfile.flush()

    def _reset_connection(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        if self.sandbox.verbose:
            sys.stderr.write(f"[{self.sandbox.kind} sandbox] {format % args}\n")


class SandboxServer:
    """Base of the sandbox panels: an in-memory HTTP server run in a background thread."""

    kind: ClassVar[str] = "sandbox"
    effect_faults: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit_per_minute: int | None = 240,
        rate_window_seconds: float = 60.0,
        fault_delay: float = 2.0,
        verbose: bool = False,
        tls: bool = False,
    ) -> None:
        self.host = host
        self.tls = tls
        self.certificate: SandboxCertificate | None = None
        self.port = port
        self.fault_delay = fault_delay
        self.verbose = verbose
        self.lock = threading.RLock()
        self.rate_limiter = FixedWindowRateLimiter(rate_limit_per_minute, rate_window_seconds)
        self.routes: list[Route] = []
        self.stats = {"requests": 0, "rate_limited": 0, "faults": 0}
        self.calls: Counter[tuple[str, str]] = Counter()
        """Every request answered, by method and path, never cut: the request log benchmarks read."""
        self.response_delay = 0.0
        self._seen: deque[tuple[str, str]] = deque(maxlen=SEEN_KEPT)
        self._faults: list[Fault] = []
        self._httpd: _TrackingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url if self._httpd else None!r})"

    def route(self, method: str, pattern: str, handler: RouteHandler) -> None:
        """Bind `METHOD pattern` (a regex over the whole path, with named groups) to a handler."""
        self.routes.append(Route(method.upper(), re.compile(pattern + r"/?\Z"), handler))

    @property
    def url(self) -> str:
        """The base URL the server listens on (after `start()`)."""
        if self._httpd is None:
            raise RuntimeError("the sandbox is not started")
        host, port = self._httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host!s}:{port}"

    @property
    def fingerprint(self) -> str | None:
        """The SHA-256 fingerprint of the certificate served (with `tls`), as AA:BB:..."""
        return self.certificate.fingerprint if self.certificate else None

    @property
    def ca_file(self) -> str | None:
        """The PEM file of the CA that signed the served certificate (with `tls`)."""
        return self.certificate.ca_file if self.certificate else None

    def start(self) -> str:
        """Bind (port 0 picks a free port), serve in a daemon thread, and return the base URL."""
        if self._httpd is not None:
            return self.url
        handler = type(f"{type(self).__name__}Handler", (_RequestHandler,), {"sandbox": self})
        context = None
        if self.tls:
            if self.certificate is None:
                self.certificate = generate_certificate(tuple(dict.fromkeys((self.host, "127.0.0.1", "localhost"))))
            context = self.certificate.server_context()
        self._httpd = _TrackingHTTPServer((self.host, self.port), handler, ssl_context=context)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.kind}-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving, close the listening socket and cut every open connection."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with httpd.connections_lock:
            connections = list(httpd.open_connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        certificate, self.certificate = self.certificate, None
        if certificate is not None:
            shutil.rmtree(certificate.directory, ignore_errors=True)

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(
        self,
        match: str,
        kind: str,
        count: int = 1,
        *,
        delay: float | None = None,
        retry_after: int | None = None,
        message: str | None = None,
    ) -> None:
        """Make the next `count` requests matching `match` fail with `kind`.

        `match` is a method ("POST"), a path glob ("/api2/json/nodes/*/qemu/*/clone"), both
        ("POST /api/application/servers") or "*". `kind`: "timeout" (the request takes effect
        but the answer comes `delay` seconds late, past the client's timeout), "reset" (the
        connection is cut), "429", an HTTP 5xx status such as "500", or one of the sandbox's
        effect faults (`effect_faults`, acted out by the route itself).
        """
        if kind not in NETWORK_FAULTS and kind not in self.effect_faults and not _is_server_error(kind):
            raise ValueError(f"unknown fault kind {kind!r}")
        with self.lock:
            self._faults.append(Fault(match, kind, count, delay, retry_after, message))

    def clear_faults(self) -> None:
        """Forget every pending fault."""
        with self.lock:
            self._faults.clear()

    def set_response_delay(self, seconds: float) -> None:
        """Answer every request `seconds` late (the time a real panel takes), each in its own thread."""
        self.response_delay = seconds

    def set_rate_limit(self, per_minute: int | None) -> None:
        """Set the requests allowed per window (a minute by default) per API key; None lifts it."""
        self.rate_limiter.set_limit(per_minute)

    def _take_fault(self, request: Request) -> Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(request.method, request.path):
                    fault.remaining -= 1
                    self.stats["faults"] += 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def requests_seen(self) -> list[tuple[str, str]]:
        """The method and path of the latest requests (up to SEEN_KEPT), oldest first: what a
        client really sent, for tests."""
        with self.lock:
            return list(self._seen)

    def handle(self, request: Request) -> Response | None:
        """Answer one request; None means: cut the connection without an answer."""
        with self.lock:
            self.stats["requests"] += 1
            self._seen.append((request.method, request.path))
        fault = self._take_fault(request)
        if fault is not None:
            if fault.kind == "reset":
                return None
            if fault.kind == "429":
                with self.lock:
                    self.stats["rate_limited"] += 1
                decision = RateDecision(False, self.rate_limiter.per_minute, 0, fault.retry_after or 1)
                return self.rate_limited_response(decision)
            if _is_server_error(fault.kind):
                return self.error_response(request, int(fault.kind), fault.message)
            if fault.kind in self.effect_faults:
                request.fault = fault
        response = self._process(request)
        with self.lock:
            self.calls[(request.method, request.path)] += 1
        if self.response_delay:
            time.sleep(self.response_delay)
        if fault is not None and fault.kind == "timeout":
            time.sleep(self.fault_delay if fault.delay is None else fault.delay)
        return response

    def _process(self, request: Request) -> Response:
        auth = self.authenticate(request)
        if isinstance(auth, Response):
            return auth
        decision = self.limiter_for(auth).hit(auth)
        if not decision.allowed:
            with self.lock:
                self.stats["rate_limited"] += 1
            return self.rate_limited_response(decision)
        with self.lock:
            response = self._route(request)
        return self.decorate(response, decision)

    def _route(self, request: Request) -> Response:
        path_matched = False
        for route in self.routes:
            found = route.pattern.match(request.path)
            if found is None:
                continue
            path_matched = True
            if route.method != request.method:
                continue
            try:
                return route.handler(request, **found.groupdict())
            except Exception as exc:  # noqa: BLE001 - every failure must become an HTTP answer
                return self.handle_exception(request, exc)
        if path_matched:
            return self.method_not_allowed(request)
        return self.not_found(request)

    def limiter_for(self, key: str) -> FixedWindowRateLimiter:
        """The rate limiter that counts requests made with `key`."""
        return self.rate_limiter

    def handle_exception(self, request: Request, exc: Exception) -> Response:
        """Turn an exception raised by a route into an answer (a sandbox bug answers 500)."""
        return self.error_response(request, 500, f"sandbox error: {type(exc).__name__}: {exc}")

    def authenticate(self, request: Request) -> str | Response:
        """The rate-limit key of the caller, or the response refusing it."""
        return "anonymous"

    def rate_limited_response(self, decision: RateDecision) -> Response:
        """The answer to a request over the limit."""
        return json_response(429, {"error": "Too Many Requests"}, {"Retry-After": str(decision.retry_after)})

    def decorate(self, response: Response, decision: RateDecision) -> Response:
        """Add rate-limit headers (or anything else) to an answer."""
        return response

    def error_response(self, request: Request, status: int, message: str | None = None) -> Response:
        """A server-side error in the panel's own shape."""
        return json_response(status, {"error": message or "Server Error"})

    def not_found(self, request: Request) -> Response:
        """The answer to a path no route knows."""
        return json_response(404, {"error": "Not Found"})

    def method_not_allowed(self, request: Request) -> Response:
        """The answer to a known path with a method no route takes."""
        return json_response(405, {"error": "Method Not Allowed"})


def _is_server_error(kind: str) -> bool:
    return kind.isdigit() and 500 <= int(kind) <= 599


def iso_timestamp(epoch: float) -> str:
    """An ISO 8601 UTC timestamp with offset, as the panels print them."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))
