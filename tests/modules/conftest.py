"""Fixtures for the module tests: sandbox panels on loopback and the snapshots the adapters get."""

from __future__ import annotations

import itertools
import ssl
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from svcconsole.modules.base import CustomerRef, ProductRef, ServerRef, ServiceRef
from svcconsole.modules.http import close_clients
from svcconsole.modules.ratelimits import reset_rate_limiters
from svcconsole.modules.sandbox import ProxmoxSandbox, PterodactylSandbox
from svcconsole.modules.sandbox.http import SandboxServer

CLIENT_TIMEOUT = 1.5
FAULT_DELAY = 2.0
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def fresh_http_state() -> Iterator[None]:
    """Every test starts with full token buckets and no pooled connection."""
    reset_rate_limiters()
    yield
    close_clients()
    reset_rate_limiters()


@pytest.fixture
def ptero() -> Iterator[PterodactylSandbox]:
    sandbox = PterodactylSandbox(install_delay=0.15, power_delay=0.02, fault_delay=FAULT_DELAY, rate_limit_per_minute=None, tls=True)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def pve() -> Iterator[ProxmoxSandbox]:
    sandbox = ProxmoxSandbox(task_delay=0.05, fault_delay=FAULT_DELAY, rate_limit_per_minute=None, tls=True)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def trusting(sandbox: SandboxServer) -> ssl.SSLContext:
    """A client TLS context that trusts the CA of a sandbox started with `tls=True`."""
    assert sandbox.ca_file is not None
    return ssl.create_default_context(cafile=sandbox.ca_file)


def base_config(**overrides: Any) -> dict[str, Any]:
    """Server config for tests: short timeouts and polls, no client-side limit unless asked."""
    config: dict[str, Any] = {
        "timeout": CLIENT_TIMEOUT,
        "poll_interval": 0.02,
        "install_wait_seconds": 1.0,
        "task_timeout": 5.0,
        "rate_limit_per_minute": 0,
        "max_retry_after": 2.0,
    }
    config.update(overrides)
    return config


@pytest.fixture
def ptero_server(ptero: PterodactylSandbox) -> ServerRef:
    return ServerRef(
        id=1, name="panel", module="pterodactyl", url=ptero.url, credentials=ptero.credentials, node="1", config=base_config(tls_fingerprint=ptero.fingerprint)
    )


@pytest.fixture
def pve_server(pve: ProxmoxSandbox) -> ServerRef:
    return ServerRef(
        id=2, name="cluster", module="proxmox", url=pve.url, credentials=pve.token, node="pve1", config=base_config(tls_fingerprint=pve.fingerprint)
    )


@pytest.fixture
def game_product() -> ProductRef:
    return ProductRef(
        id=10,
        name="Minecraft 2G",
        type="pterodactyl",
        config={
            "nest": 1,
            "egg": 1,
            "memory": 2048,
            "disk": 10240,
            "cpu": 150,
            "databases": 1,
            "backups": 2,
            "environment": {"MINECRAFT_VERSION": "1.21.1"},
        },
    )


@pytest.fixture
def vps_product() -> ProductRef:
    return ProductRef(id=20, name="VPS S", type="proxmox", config={"template": 9000, "cores": 2, "memory": 2048})


@pytest.fixture
def customer() -> CustomerRef:
    return CustomerRef(id=7, name="Ada Lovelace", email="ada@example.com")


ServiceFactory = Callable[..., ServiceRef]


def make_service(
    server: ServerRef | None, product: ProductRef | None, customer: CustomerRef, external: dict[str, Any] | None = None, **fields: Any
) -> ServiceRef:
    """A service snapshot with a fresh id and uuid unless given."""
    service_id = fields.pop("id", None) or next(_ids)
    return ServiceRef(
        id=service_id,
        uuid=fields.pop("uuid", None) or str(uuid.uuid4()),
        name=fields.pop("name", None) or f"service-{service_id}",
        customer=customer,
        product=product,
        server=server,
        external=dict(external or {}),
        **fields,
    )


@pytest.fixture
def game_service(ptero_server: ServerRef, game_product: ProductRef, customer: CustomerRef) -> ServiceFactory:
    def factory(**fields: Any) -> ServiceRef:
        return make_service(fields.pop("server", ptero_server), fields.pop("product", game_product), fields.pop("customer", customer), **fields)

    return factory


@pytest.fixture
def vps_service(pve_server: ServerRef, vps_product: ProductRef, customer: CustomerRef) -> ServiceFactory:
    def factory(**fields: Any) -> ServiceRef:
        return make_service(fields.pop("server", pve_server), fields.pop("product", vps_product), fields.pop("customer", customer), **fields)

    return factory
