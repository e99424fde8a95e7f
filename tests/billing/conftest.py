"""Fixtures for the money side: services in a given state at a given time, a recording panel
module, and a real local SMTP server (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlmodel import func, select

from svcconsole.core import action_base, actions, clock, lookups
from svcconsole.core import catalog as catalog_module
from svcconsole.core import settings as settings_module
from svcconsole.core.operators import SYSTEM, Actor
from svcconsole.modules.base import Checkpoint, Module, ModuleError, ModuleResult, ProductRef, ServiceRef, register, unregister
from svcconsole.store.engine import Database
from tests.conftest import FROZEN_NOW, Fixtures, new_service

NOW = FROZEN_NOW


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def active_service(db: Database, actor: Actor, catalog: Fixtures, *, expires: datetime, at: datetime | None = None, **fields: str) -> int:
    """A delivered (active) service of the catalog's product expiring at `expires`."""
    with clock.frozen_at(at or NOW):
        service_id = new_service(db, actor, catalog, expires=iso(expires), **fields)
        db.transaction(lambda session: actions.perform(session, actor, "deliver", service_id, {}))
    return service_id


def act(db: Database, actor: Actor, action: str, service_id: int, params: dict[str, Any] | None = None, *, at: datetime | None = None) -> action_base.Outcome:
    """Perform one action (at the time `at`, default the frozen now)."""
    with clock.frozen_at(at or NOW):
        return db.transaction(lambda session: actions.perform(session, actor, action, service_id, params or {}))


def set_setting(db: Database, key: str, value: str) -> None:
    db.transaction(lambda session: settings_module.set_value(session, SYSTEM, key, value))


def count(db: Database, model: Any, *conditions: Any) -> int:
    with db.read() as session:
        return session.exec(select(func.count()).select_from(model).where(*conditions)).one()


def rows(db: Database, model: Any, *conditions: Any) -> list[Any]:
    with db.read() as session:
        query = select(model).where(*conditions)
        if "id" in model.model_fields:
            query = query.order_by(model.id)
        return list(session.exec(query).all())


def service(db: Database, service_id: int) -> Any:
    with db.read() as session:
        return lookups.get_service(session, service_id)


@pytest.fixture
def catalog(db: Database, admin: Actor) -> Fixtures:
    """The shared catalog plus an upgrade target ("Web Max", 22.00 a month) for "Web Pro"."""

    def work(session):  # type: ignore[no-untyped-def]
        customer = catalog_module.add_customer(session, admin, name="Alice Martin", email="alice@example.com")
        target = catalog_module.add_product(
            session, admin, name="Web Max", type="manual", prices=["monthly=22.00", "annually=220.00", "weekly=5.00", "quarterly=60.00"]
        )
        product = catalog_module.add_product(
            session,
            admin,
            name="Web Pro",
            type="manual",
            prices=["monthly=12.00", "annually=120.00", "weekly=3.00", "quarterly=33.00"],
            upgrade_to=[str(target.id)],
        )
        server = catalog_module.add_server(session, admin, name="shared-1", module="manual", url="https://shared-1.example.net")
        return Fixtures(customer.id or 0, product.id or 0, server.id or 0)

    return db.transaction(work)


@pytest.fixture
def second_customer(db: Database, admin: Actor) -> int:
    return db.transaction(lambda session: catalog_module.add_customer(session, admin, name="Bruno Costa", email="bruno@example.com").id)


# ----------------------------------------------------------------------------- a recording panel module


class RecordingPanel(Module):
    """A panel module that records its calls; `failures` makes an operation fail."""

    name = "recpanel"
    label = "Recording panel"
    supports = frozenset({"create", "suspend", "unsuspend", "terminate", "change_package"})
    calls: ClassVar[list[tuple[str, int, Any]]] = []
    failures: ClassVar[dict[str, ModuleError]] = {}

    def _call(self, operation: str, service: ServiceRef, extra: Any = None) -> ModuleResult:
        RecordingPanel.calls.append((operation, service.id, extra))
        if operation in RecordingPanel.failures:
            raise RecordingPanel.failures[operation]
        return ModuleResult(message=f"{operation} done", external={"panel_id": service.id})

    def create(self, service: ServiceRef, *, checkpoint: Checkpoint | None = None) -> ModuleResult:
        return self._call("create", service)

    def suspend(self, service: ServiceRef) -> ModuleResult:
        return self._call("suspend", service)

    def unsuspend(self, service: ServiceRef) -> ModuleResult:
        return self._call("unsuspend", service)

    def terminate(self, service: ServiceRef, *, force: bool = False) -> ModuleResult:
        return self._call("terminate", service)

    def change_package(self, service: ServiceRef, product: ProductRef) -> ModuleResult:
        return self._call("change_package", service, product)


@dataclass
class PanelCatalog:
    """Products delivered by the recording panel: "Panel S" (10.00) upgradable to "Panel L" (30.00)."""

    small: int
    large: int
    calls: list[tuple[str, int, Any]] = field(default_factory=list)


@pytest.fixture
def panel(db: Database, admin: Actor) -> Iterator[PanelCatalog]:
    register(RecordingPanel)
    RecordingPanel.calls = []
    RecordingPanel.failures = {}

    def work(session):  # type: ignore[no-untyped-def]
        large = catalog_module.add_product(session, admin, name="Panel L", type="recpanel", prices=["monthly=30.00"], config=["memory=8192"])
        small = catalog_module.add_product(
            session, admin, name="Panel S", type="recpanel", prices=["monthly=10.00"], config=["memory=2048"], upgrade_to=[str(large.id)]
        )
        return PanelCatalog(small.id or 0, large.id or 0, RecordingPanel.calls)

    yield db.transaction(work)
    unregister("recpanel")


# ----------------------------------------------------------------------------- a local SMTP server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts.

    `accept_only` makes it answer 421 (closing) to MAIL once it holds that many messages;
    `on_message` is called with each message as it is accepted.
    """

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.accept_only: int | None = None
        self.on_message: Any = None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # type: ignore[no-untyped-def]
        if self.accept_only is not None and len(self.messages) >= self.accept_only:
            return "421 4.3.2 too many messages, closing connection"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address.endswith("@refused.example"):
            return "550 5.1.1 no such mailbox"
        if address.endswith("@busy.example"):
            return "450 4.2.1 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        import email
        from email import policy

        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(
                {
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "subject": str(parsed["Subject"]),
                    "body": parsed.get_content(),
                    "login": getattr(session, "authenticated_login", None),
                    "tls": session.ssl is not None,
                    "date": str(parsed["Date"]),
                    "header_from": str(parsed["From"]),
                    "message_id": str(parsed["Message-ID"]),
                }
            )
        if self.on_message is not None:
            self.on_message(self.messages[-1])
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    mailbox: Mailbox
    controller: Controller


def start_smtp(port: int | None = None, **smtp_options: Any) -> SmtpServer:
    """Start a real SMTP server on loopback (stop it with `.controller.stop()`)."""
    mailbox = Mailbox()
    chosen = port or free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=chosen, **smtp_options)
    controller.start()
    return SmtpServer("127.0.0.1", chosen, mailbox, controller)


@pytest.fixture
def smtp(db: Database) -> Iterator[SmtpServer]:
    """A plain SMTP server, and the settings pointing at it."""
    server = start_smtp()
    set_setting(db, "smtp_host", server.host)
    set_setting(db, "smtp_port", str(server.port))
    set_setting(db, "smtp_from", "billing@hosting.example")
    yield server
    server.controller.stop()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 / localhost and its key, as PEM files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_smtp(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """An SMTP server that requires STARTTLS and a login (billing / s3cret)."""
    cert_path, key_path = self_signed_certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))

    def authenticate(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"billing" and auth_data.password == b"s3cret"
        if ok:
            session.authenticated_login = auth_data.login.decode()
        return AuthResult(success=ok, handled=False)

    server = start_smtp(tls_context=server_context, require_starttls=True, authenticator=authenticate, auth_required=True, auth_require_tls=True)
    for key, value in (
        ("smtp_host", server.host),
        ("smtp_port", str(server.port)),
        ("smtp_from", "billing@hosting.example"),
        ("smtp_starttls", "true"),
        ("smtp_user", "billing"),
        ("smtp_password", "s3cret"),
    ):
        set_setting(db, key, value)
    yield server
    server.controller.stop()
