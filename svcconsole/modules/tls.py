"""Trusting a panel's certificate: the system's CAs, a CA file, or a pinned SHA-256 fingerprint.

A fresh Proxmox VE serves a self-signed certificate; its admins trust it by pinning the
certificate's SHA-256 fingerprint (as PVE's own tools and Proxmox Backup Server do) or by giving
the cluster's CA file. A pin is checked right after the TLS handshake, before any request (and so
any credential) is sent.
"""

from __future__ import annotations

import hashlib
import re
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

FINGERPRINT_FORMAT = "64 hex digits, optionally in pairs separated by ':' (AA:BB:...)"
_HEX = re.compile(r"^[0-9a-f]{64}$")


class FingerprintMismatch(ssl.SSLError):
    """The panel's certificate is not the pinned one."""

    def __init__(self, seen: str, pinned: str) -> None:
        super().__init__(f"certificate fingerprint {seen} does not match the pinned {pinned}")
        self.seen = seen
        self.pinned = pinned


def format_fingerprint(digest: bytes) -> str:
    """A digest as upper-case hex pairs joined by ':' (the way PVE and openssl print them)."""
    return ":".join(f"{byte:02X}" for byte in digest)


def fingerprint_of(der: bytes) -> str:
    """The SHA-256 fingerprint of a DER certificate, as AA:BB:..."""
    return format_fingerprint(hashlib.sha256(der).digest())


def parse_fingerprint(text: str) -> str | None:
    """`text` as AA:BB:... when it is a SHA-256 fingerprint (any case, ':' or no separator); else None."""
    compact = re.sub(r"[\s:]", "", str(text or "")).lower()
    if not _HEX.match(compact):
        return None
    return format_fingerprint(bytes.fromhex(compact))


class _PinnedSocket(ssl.SSLSocket):
    """An SSL socket that compares the peer certificate with its context's pin after the handshake."""

    def do_handshake(self, block: bool = False) -> None:
        super().do_handshake(block)
        context = self.context
        pinned = getattr(context, "pinned_fingerprint", None)
        if pinned is None:
            return
        seen = fingerprint_of(self.getpeercert(binary_form=True) or b"")
        if seen != pinned:
            self.close()
            raise FingerprintMismatch(seen, pinned)


class PinnedContext(ssl.SSLContext):
    """A client context that trusts exactly one certificate, named by its SHA-256 fingerprint."""

    pinned_fingerprint: str | None = None
    sslsocket_class = _PinnedSocket


def client_context(*, verify: bool = True, fingerprint: str | None = None, ca_file: str | None = None) -> ssl.SSLContext | bool:
    """What httpx's `verify` takes for a panel: a pinning context, a context with a CA file, or a bool."""
    if fingerprint:
        pinned = parse_fingerprint(fingerprint)
        if pinned is None:
            raise ValueError(f"tls_fingerprint must be {FINGERPRINT_FORMAT}")
        context = PinnedContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.pinned_fingerprint = pinned
        return context
    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    return verify


def peer_fingerprint(url: str, timeout: float = 5.0) -> str | None:
    """The SHA-256 fingerprint of the certificate the server at `url` presents (unverified, no
    request sent); None when it cannot be read."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=parts.hostname) as tls:
                der = tls.getpeercert(binary_form=True)
    except OSError:
        return None
    return fingerprint_of(der) if der else None


def tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a transport exception (httpx wraps it in ConnectError), if any."""
    seen: set[int] = set()
    current: Any = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        current = current.__cause__ or current.__context__
    return None
