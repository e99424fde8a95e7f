"""The client-side token bucket keeps bulk runs under the panel's limit without 429s."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from svcconsole.modules import CustomerRef, ModuleError, ServerRef, get_module
from svcconsole.modules.ratelimits import TokenBucket, rate_limiter_for
from svcconsole.modules.sandbox import PterodactylSandbox

from .conftest import base_config, make_service

module = get_module("pterodactyl")
WINDOW = 2.0
LIMIT = 24


def most_in_any_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_bucket_never_lets_more_than_the_limit_into_any_window() -> None:
    bucket = TokenBucket(LIMIT, WINDOW)
    times: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        bucket.acquire()
        with lock:
            times.append(time.monotonic())

    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(36):
            pool.submit(take)
    assert len(times) == 36
    assert most_in_any_window(times, WINDOW) <= LIMIT
    assert max(times) - min(times) >= (36 - bucket.burst) / bucket.rate * 0.95


def test_bucket_allows_the_burst_at_once() -> None:
    bucket = TokenBucket(240)
    assert bucket.burst == 4
    started = time.monotonic()
    waits = [bucket.acquire() for _ in range(4)]
    assert waits == [0.0, 0.0, 0.0, 0.0]
    assert time.monotonic() - started < 0.05
    assert bucket.acquire() > 0


def test_one_bucket_per_panel_and_credential() -> None:
    first = rate_limiter_for("http://panel", "key-a", 240)
    assert rate_limiter_for("http://panel/", "key-a", 240) is first
    assert rate_limiter_for("http://panel", "key-b", 240) is not first
    assert rate_limiter_for("http://panel", "key-a", 0) is None


@pytest.fixture
def limited_panel() -> Iterator[PterodactylSandbox]:
    sandbox = PterodactylSandbox(rate_limit_per_minute=LIMIT, rate_window_seconds=WINDOW, tls=True)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def suspend_all(sandbox: PterodactylSandbox, server: ServerRef, count: int) -> list[BaseException]:
    ids = sandbox.seed_servers(count)
    customer = CustomerRef(id=1, name="Bulk", email="bulk@example.com")
    services = [make_service(server, None, customer, external={"server_id": i}) for i in ids]
    errors: list[BaseException] = []

    def suspend(service) -> None:
        try:
            module.suspend(service)
        except ModuleError as exc:
            errors.append(exc)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(suspend, services))
    return errors


def limited_server(sandbox: PterodactylSandbox, **config: object) -> ServerRef:
    return ServerRef(
        id=3,
        name="limited",
        module="pterodactyl",
        url=sandbox.url,
        credentials=sandbox.credentials,
        node="1",
        config=base_config(rate_limit_window_seconds=WINDOW, tls_fingerprint=sandbox.fingerprint, **config),
    )


def test_bulk_suspend_through_the_bucket_sees_no_429(limited_panel: PterodactylSandbox) -> None:
    server = limited_server(limited_panel, rate_limit_per_minute=LIMIT)
    started = time.monotonic()
    errors = suspend_all(limited_panel, server, 36)
    elapsed = time.monotonic() - started
    assert errors == []
    assert limited_panel.stats["rate_limited"] == 0
    assert sum(s.status == "suspended" for s in limited_panel.servers.values()) == 36
    assert elapsed >= WINDOW


def test_without_the_bucket_the_same_bulk_hits_429(limited_panel: PterodactylSandbox) -> None:
    server = limited_server(limited_panel, rate_limit_per_minute=0, rate_limit_retries=0)
    errors = suspend_all(limited_panel, server, 36)
    assert limited_panel.stats["rate_limited"] > 0
    assert errors and all(e.status == 429 and e.retryable for e in errors)


def test_without_the_bucket_429s_are_waited_out_when_retry_after_is_short(limited_panel: PterodactylSandbox) -> None:
    server = limited_server(limited_panel, rate_limit_per_minute=0, rate_limit_retries=3, max_retry_after=WINDOW + 1)
    errors = suspend_all(limited_panel, server, 30)
    assert errors == []
    assert limited_panel.stats["rate_limited"] > 0
    assert sum(s.status == "suspended" for s in limited_panel.servers.values()) == 30


def test_a_replaced_server_config_changes_the_rate(limited_panel: PterodactylSandbox) -> None:
    server = limited_server(limited_panel, rate_limit_per_minute=LIMIT)
    module.test_connection(server)
    application_bucket = rate_limiter_for(server.url, f"Bearer {limited_panel.application_key}", LIMIT, WINDOW)
    client_bucket = rate_limiter_for(server.url, f"Bearer {limited_panel.client_key}", 720, WINDOW)
    assert application_bucket is not client_bucket
    assert isinstance(application_bucket, TokenBucket) and application_bucket.limit == LIMIT
    faster = dataclasses.replace(server, config={**server.config, "rate_limit_per_minute": LIMIT * 2})
    module.test_connection(faster)
    assert application_bucket.limit == LIMIT * 2


def test_workers_starting_together_share_one_database_bucket(db) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from svcconsole.core.ratelimit import DatabaseTokenBucket
    from svcconsole.store.models import RateBucket

    workers = 8
    start = threading.Barrier(workers)

    def first_call() -> float:
        bucket = DatabaseTokenBucket(db, "panel-a", limit=240, window=60.0)
        start.wait()
        return bucket.acquire()

    with ThreadPoolExecutor(workers) as pool:
        waits = list(pool.map(lambda _: first_call(), range(workers)))
    with db.read() as session:
        rows = session.exec(select(RateBucket).where(RateBucket.key == "panel-a")).all()
    assert len(rows) == 1, "the first calls create the bucket once and none of them fails"
    burst = DatabaseTokenBucket(db, "panel-a", limit=240, window=60.0).burst
    assert rows[0].tokens <= burst - workers + 1, "every call took its token from the one bucket"
    assert sum(1 for wait in waits if wait > 0) >= workers - burst


def test_a_replaced_server_config_changes_the_rate_of_a_bucket_kept_in_the_database(limited_panel: PterodactylSandbox, db) -> None:
    from svcconsole.core.ratelimit import DatabaseTokenBucket
    from svcconsole.modules.ratelimits import set_rate_limiter_factory

    set_rate_limiter_factory(lambda key, limit, window: DatabaseTokenBucket(db, key, limit, window))
    server = limited_server(limited_panel, rate_limit_per_minute=LIMIT)
    module.test_connection(server)
    bucket = rate_limiter_for(server.url, f"Bearer {limited_panel.application_key}", LIMIT, WINDOW)
    assert isinstance(bucket, DatabaseTokenBucket) and bucket.rate == TokenBucket(LIMIT, WINDOW).rate
    slower = dataclasses.replace(server, config={**server.config, "rate_limit_per_minute": LIMIT // 4})
    module.test_connection(slower)
    expected = TokenBucket(LIMIT // 4, WINDOW)
    assert (bucket.burst, bucket.rate) == (expected.burst, expected.rate)
    for _ in range(bucket.burst + 1):
        bucket.acquire()
    started = time.monotonic()
    bucket.acquire()
    assert time.monotonic() - started >= 0.8 / expected.rate


def test_two_server_records_with_keys_of_one_panel_user_share_its_bucket(limited_panel: PterodactylSandbox) -> None:
    second_key = "ptla_" + "b" * 43
    limited_panel.add_key(second_key, owner=1)
    first = limited_server(limited_panel, rate_limit_per_minute=LIMIT, panel_user="admin", rate_limit_retries=0)
    second = dataclasses.replace(first, id=4, credentials=second_key)
    ids = limited_panel.seed_servers(36)
    customer = CustomerRef(id=1, name="Bulk", email="bulk@example.com")
    services = [make_service(first if n % 2 else second, None, customer, external={"server_id": i}) for n, i in enumerate(ids)]
    errors: list[BaseException] = []

    def suspend(service) -> None:  # type: ignore[no-untyped-def]
        try:
            module.suspend(service)
        except ModuleError as exc:
            errors.append(exc)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(suspend, services))
    assert errors == []
    assert limited_panel.stats["rate_limited"] == 0
    assert sum(s.status == "suspended" for s in limited_panel.servers.values()) == 36


def test_keys_of_one_panel_user_without_panel_user_set_overrun_the_shared_limit(limited_panel: PterodactylSandbox) -> None:
    second_key = "ptla_" + "c" * 43
    limited_panel.add_key(second_key, owner=1)
    first = limited_server(limited_panel, rate_limit_per_minute=LIMIT, rate_limit_retries=0)
    second = dataclasses.replace(first, id=4, credentials=second_key)
    ids = limited_panel.seed_servers(36)
    customer = CustomerRef(id=1, name="Bulk", email="bulk@example.com")
    services = [make_service(first if n % 2 else second, None, customer, external={"server_id": i}) for n, i in enumerate(ids)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(_suspend_quietly, services))
    assert limited_panel.stats["rate_limited"] > 0


def _suspend_quietly(service) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(ModuleError):
        module.suspend(service)
