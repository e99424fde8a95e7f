"""The Pterodactyl adapter against the sandbox over loopback: every operation and error mapping."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from svcconsole.modules import ModuleError, ProductRef, ServerRef, get_module
from svcconsole.modules.pterodactyl import PterodactylModule
from svcconsole.modules.sandbox import PterodactylSandbox

from .conftest import ServiceFactory, trusting

module = get_module("pterodactyl")


def created(module_service_factory: ServiceFactory, ptero: PterodactylSandbox, **fields: object):
    service = module_service_factory(**fields)
    result = module.create(service)
    return dataclasses.replace(service, external=result.external), result


def test_is_registered_with_its_operations() -> None:
    assert isinstance(module, PterodactylModule)
    assert {
        "create",
        "suspend",
        "unsuspend",
        "terminate",
        "reinstall",
        "change_package",
        "list_importable",
        "panel",
        "power",
        "tabs",
        "test_connection",
    } <= module.supports


def test_test_connection_checks_both_keys(ptero_server: ServerRef) -> None:
    message = module.test_connection(ptero_server).message
    assert "1 node" in message
    assert "client key accepted" in message


def test_create_makes_the_user_and_the_server_from_the_product(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    service = game_service(name="Ada's survival world")
    checkpoints: list[dict] = []
    result = module.create(service, checkpoint=checkpoints.append)
    external = result.external
    server = ptero.servers[external["server_id"]]
    assert server.external_id == service.uuid
    assert (server.memory, server.disk, server.cpu, server.database_limit, server.backup_limit) == (2048, 10240, 150, 1, 2)
    assert server.environment["MINECRAFT_VERSION"] == "1.21.1"
    assert server.environment["SERVER_JARFILE"] == "server.jar"
    assert server.image == "ghcr.io/pterodactyl/yolks:java_21"
    owner = ptero.users[server.owner_id]
    assert (owner.email, owner.external_id) == ("ada@example.com", "svcconsole-customer-7")
    assert external["identifier"] == server.identifier
    assert external["address"] == "10.0.0.10:25565"
    assert checkpoints and checkpoints[0]["server_id"] == server.id
    assert "installed" in result.message


def test_create_returns_while_installing_when_not_asked_to_wait(ptero: PterodactylSandbox, ptero_server: ServerRef, game_service: ServiceFactory) -> None:
    impatient = dataclasses.replace(ptero_server, config={**ptero_server.config, "install_wait_seconds": 0})
    service = game_service(server=impatient)
    result = module.create(service)
    assert result.message.endswith("installing")
    assert module.panel(dataclasses.replace(service, external=result.external)).status == "installing"


def test_one_panel_user_per_customer_and_existing_email_is_reused(ptero: PterodactylSandbox, game_service: ServiceFactory, customer) -> None:
    with httpx.Client(
        base_url=ptero.url + "/api/application",
        verify=trusting(ptero),
        headers={"Authorization": f"Bearer {ptero.application_key}", "Accept": "application/json"},
    ) as api:
        api.post("/users", json={"email": "grace@example.com", "username": "grace", "first_name": "Grace", "last_name": "Hopper"})
    grace = dataclasses.replace(customer, id=8, name="Grace Hopper", email="Grace@Example.com")
    module.create(game_service())
    module.create(game_service())
    module.create(game_service(customer=grace))
    assert len(ptero.users) == 3
    assert {s.owner_id for s in ptero.servers.values()} == {2, 3}


def test_create_retried_after_a_timeout_makes_one_server(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    service = game_service()
    ptero.fail_next("POST /api/application/servers", "timeout")
    with pytest.raises(ModuleError) as failure:
        module.create(service)
    assert failure.value.retryable
    assert failure.value.code == "timeout"
    assert ptero.server_count() == 1
    result = module.create(service)
    assert result.message.startswith("found existing")
    assert ptero.server_count() == 1
    assert ptero.servers[result.external["server_id"]].external_id == service.uuid


def test_create_after_a_reset_connection_creates_on_retry(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    service = game_service()
    ptero.fail_next("POST /api/application/servers", "reset")
    with pytest.raises(ModuleError) as failure:
        module.create(service)
    assert failure.value.retryable
    assert ptero.server_count() == 0
    module.create(service)
    module.create(service)
    assert ptero.server_count() == 1


def test_install_failed_is_a_module_error_that_keeps_the_server_id(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    service = game_service()
    ptero.fail_next("POST /api/application/servers", "install_failed")
    with pytest.raises(ModuleError) as failure:
        module.create(service)
    error = failure.value
    assert error.code == "install_failed"
    assert not error.retryable
    assert "installation failed" in error.message and "install_failed" in error.message
    assert ptero.servers[error.external["server_id"]].status == "install_failed"
    with pytest.raises(ModuleError):
        module.create(service)
    assert ptero.server_count() == 1


def test_an_install_still_running_after_the_wait_is_retryable_and_the_retry_finds_the_server(
    ptero: PterodactylSandbox, ptero_server: ServerRef, game_service: ServiceFactory
) -> None:
    ptero.set_install_delay(0.6)
    service = game_service(server=dataclasses.replace(ptero_server, config={**ptero_server.config, "install_wait_seconds": 0.1}))
    with pytest.raises(ModuleError) as failure:
        module.create(service)
    error = failure.value
    assert (error.retryable, error.code) == (True, "installing")
    assert "still installing" in error.message
    assert ptero.servers[error.external["server_id"]].status == "installing"
    time.sleep(0.7)
    result = module.create(dataclasses.replace(service, external=error.external))
    assert result.message.startswith("found existing") and result.message.endswith("installed")
    assert ptero.server_count() == 1


def test_invalid_egg_variable_is_a_non_retryable_error_naming_the_field(
    ptero: PterodactylSandbox, game_service: ServiceFactory, game_product: ProductRef
) -> None:
    product = dataclasses.replace(game_product, config={**game_product.config, "environment": {"SERVER_JARFILE": "not a jar"}})
    with pytest.raises(ModuleError) as failure:
        module.create(game_service(product=product))
    error = failure.value
    assert (error.retryable, error.status, error.code) == (False, 422, "invalid")
    assert "The Server Jar File variable format is invalid." in error.message
    assert "environment.SERVER_JARFILE" in error.message
    assert ptero.server_count() == 0


def test_product_without_egg_is_a_config_error(game_service: ServiceFactory) -> None:
    product = ProductRef(id=11, name="broken", type="pterodactyl", config={"memory": 1024})
    with pytest.raises(ModuleError) as failure:
        module.create(game_service(product=product))
    assert failure.value.code == "config"
    assert not failure.value.retryable


def test_location_in_product_uses_the_panels_deploy(ptero: PterodactylSandbox, game_service: ServiceFactory, game_product: ProductRef) -> None:
    product = dataclasses.replace(game_product, config={**game_product.config, "location": 1, "port_range": "25600-25610"})
    result = module.create(game_service(product=product))
    port = int(result.external["address"].rsplit(":", 1)[1])
    assert 25600 <= port <= 25610


def test_parallel_creates_get_distinct_allocations(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    services = [game_service() for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(module.create, services))
    allocations = {r.external["allocation"] for r in results}
    assert len(allocations) == 8
    assert ptero.server_count() == 8


def test_suspend_unsuspend_and_reinstall(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    service, _ = created(game_service, ptero)
    server_id = service.external["server_id"]
    assert module.suspend(service).message == f"server {server_id} suspended"
    assert ptero.server_status(server_id) == "suspended"
    module.unsuspend(service)
    assert ptero.server_status(server_id) is None
    module.reinstall(service)
    assert ptero.server_status(server_id) == "installing"


def test_actions_find_the_server_by_external_id_when_nothing_was_stored(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    service, _ = created(game_service, ptero)
    forgetful = dataclasses.replace(service, external={})
    module.suspend(forgetful)
    assert ptero.server_status(service.external["server_id"]) == "suspended"


def test_terminate_deletes_and_is_idempotent(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    service, _ = created(game_service, ptero)
    allocation = service.external["allocation"]
    assert "deleted" in module.terminate(service).message
    assert ptero.server_count() == 0
    assert ptero.allocations[allocation].server_id is None
    assert "nothing to delete" in module.terminate(service).message


def test_terminate_with_the_node_down_falls_back_to_force_delete(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    service, _ = created(game_service, ptero)
    ptero.set_node_online(1, False)
    with pytest.raises(ModuleError) as failure:
        module.suspend(service)
    assert failure.value.retryable and failure.value.status == 504, "daemon actions fail with the node down"
    result = module.terminate(service)
    assert "forced: its node's daemon did not answer" in result.message
    assert ptero.server_count() == 0
    assert [(method, path) for method, path in ptero.requests_seen() if method == "DELETE"] == [
        ("DELETE", f"/api/application/servers/{service.external['server_id']}"),
        ("DELETE", f"/api/application/servers/{service.external['server_id']}/force"),
    ]


def test_terminate_with_force_goes_straight_to_force_delete(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    service, _ = created(game_service, ptero)
    assert module.terminate(service, force=True).message.endswith("deleted (forced)")
    assert ptero.server_count() == 0


def test_change_package_patches_the_build(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    service, _ = created(game_service, ptero)
    bigger = ProductRef(id=12, name="Minecraft 4G", type="pterodactyl", config={"nest": 1, "egg": 1, "memory": 4096, "disk": 20480, "cpu": 300, "backups": 5})
    result = module.change_package(service, bigger)
    server = ptero.servers[service.external["server_id"]]
    assert (server.memory, server.disk, server.cpu, server.backup_limit) == (4096, 20480, 300, 5)
    assert server.database_limit == 1
    assert "4096 MiB memory" in result.message


def test_import_follows_pagination_to_the_last_page(ptero: PterodactylSandbox, ptero_server: ServerRef, caplog: pytest.LogCaptureFixture) -> None:
    ids = ptero.seed_servers(230)
    caplog.set_level(logging.INFO, logger="svcconsole.modules")
    resources = module.list_importable(ptero_server)
    assert [int(r.external_ref) for r in resources] == ids
    assert resources[0].details["external"]["server_id"] == ids[0]
    assert resources[-1].details["external"]["address"].startswith("10.0.0.10:")
    assert sum("GET /api/application/servers" in r.getMessage() for r in caplog.records) == 3


def test_panel_power_and_live_resources(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    service, _ = created(game_service, ptero)
    state = module.panel(service)
    assert state.status == "offline"
    assert state.actions[0] == "start"
    assert state.addresses == [service.external["address"]]
    assert module.power(service, "start").message.endswith("start sent")
    time.sleep(0.05)
    running = module.panel(service)
    assert running.status == "running"
    assert {"stop", "restart", "kill"} <= set(running.actions)
    assert running.resources["memory"].endswith("/ 2048 MiB")
    module.power(service, "kill")
    assert module.panel(service).status == "offline"


def test_panel_reports_suspended_from_the_application_api(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    service, _ = created(game_service, ptero)
    module.suspend(service)
    state = module.panel(service)
    assert state.status == "suspended"
    assert "start" not in state.actions


def test_without_a_client_key_panel_is_static_and_power_is_refused(ptero: PterodactylSandbox, ptero_server: ServerRef, game_service: ServiceFactory) -> None:
    app_only = dataclasses.replace(ptero_server, credentials=ptero.application_key)
    service, _ = created(game_service, ptero, server=app_only)
    assert module.panel(service).status == "installed"
    with pytest.raises(ModuleError) as failure:
        module.power(service, "start")
    assert failure.value.code == "config"
    assert "client API key" in failure.value.message


def test_power_rejects_an_unknown_signal(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    service, _ = created(game_service, ptero)
    with pytest.raises(ModuleError) as failure:
        module.power(service, "explode")
    assert failure.value.code == "invalid"


def test_tabs_show_allocation_and_limits(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    service, _ = created(game_service, ptero)
    tabs = {tab.key: tab for tab in module.tabs(service)}
    assert tabs["allocation"].title == "Allocation"
    assert ("10.0.0.10:25565", "default") in tabs["allocation"].rows
    assert ("memory", "2048 MiB") in tabs["limits"].rows
    assert ("backups", "2") in tabs["limits"].rows


# ----- error mapping -------------------------------------------------------------------------


def test_wrong_key_is_a_non_retryable_authentication_error(ptero_server: ServerRef) -> None:
    wrong = dataclasses.replace(ptero_server, credentials="ptla_not-the-key")
    with pytest.raises(ModuleError) as failure:
        module.test_connection(wrong)
    error = failure.value
    assert (error.retryable, error.status, error.code) == (False, 401, "auth")
    assert "authentication failed" in error.message
    assert "ptla_not-the-key" not in error.message


def test_an_application_key_given_as_the_client_key_is_a_non_retryable_403(ptero: PterodactylSandbox, ptero_server: ServerRef) -> None:
    ptero.application_keys.append("second-application-key")
    mixed_up = dataclasses.replace(ptero_server, credentials=f"{ptero.application_key} second-application-key")
    with pytest.raises(ModuleError) as failure:
        module.test_connection(mixed_up)
    error = failure.value
    assert (error.retryable, error.status, error.code) == (False, 403, "auth")
    assert "access denied (HTTP 403)" in error.message and "requires a client API key" in error.message
    assert "second-application-key" not in error.message and ptero.application_key not in error.message


def test_missing_server_is_a_non_retryable_not_found(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    with pytest.raises(ModuleError) as failure:
        module.suspend(game_service(external={"server_id": 999}))
    assert (failure.value.retryable, failure.value.status, failure.value.code) == (False, 404, "not_found")


def test_conflict_while_installing_is_retryable(ptero: PterodactylSandbox, ptero_server: ServerRef, game_service: ServiceFactory) -> None:
    impatient = dataclasses.replace(ptero_server, config={**ptero_server.config, "install_wait_seconds": 0})
    service, _ = created(game_service, ptero, server=impatient)
    with pytest.raises(ModuleError) as failure:
        module.power(service, "start")
    assert (failure.value.retryable, failure.value.status, failure.value.code) == (True, 409, "conflict")
    assert "installation" in failure.value.message


def test_429_is_retried_after_retry_after(ptero: PterodactylSandbox, ptero_server: ServerRef) -> None:
    ptero.fail_next("GET /api/application/nodes", "429", retry_after=1)
    started = time.monotonic()
    assert "node" in module.test_connection(ptero_server).message
    assert time.monotonic() - started >= 1.0
    assert ptero.stats["rate_limited"] == 1


def test_429_with_a_long_retry_after_becomes_a_retryable_error(ptero: PterodactylSandbox, ptero_server: ServerRef) -> None:
    ptero.fail_next("GET /api/application/nodes", "429", retry_after=30)
    started = time.monotonic()
    with pytest.raises(ModuleError) as failure:
        module.test_connection(ptero_server)
    assert time.monotonic() - started < 1.0
    error = failure.value
    assert (error.retryable, error.status, error.retry_after, error.code) == (True, 429, 30.0, "rate_limited")


def test_server_error_is_retryable(ptero: PterodactylSandbox, game_service: ServiceFactory) -> None:
    service, _ = created(game_service, ptero)
    ptero.fail_next("POST /api/application/servers/*/suspend", "500")
    with pytest.raises(ModuleError) as failure:
        module.suspend(service)
    assert (failure.value.retryable, failure.value.status) == (True, 500)
    module.suspend(service)
    assert ptero.server_status(service.external["server_id"]) == "suspended"


def test_timeout_is_retryable(ptero: PterodactylSandbox, ptero_server: ServerRef) -> None:
    ptero.fail_next("GET /api/application/nodes", "timeout")
    with pytest.raises(ModuleError) as failure:
        module.test_connection(ptero_server)
    assert failure.value.retryable
    assert failure.value.code == "timeout"
    assert "timeout" in failure.value.message


def test_connection_refused_is_retryable(ptero_server: ServerRef) -> None:
    with PterodactylSandbox() as gone:
        url = gone.url
    with pytest.raises(ModuleError) as failure:
        module.test_connection(dataclasses.replace(ptero_server, url=url))
    assert failure.value.retryable
    assert failure.value.code == "connection"
    assert "cannot connect" in failure.value.message


def test_credentials_without_an_application_key_are_refused(ptero_server: ServerRef) -> None:
    with pytest.raises(ModuleError) as failure:
        module.test_connection(dataclasses.replace(ptero_server, credentials=""))
    assert failure.value.code == "config"


def test_credentials_never_leak_into_errors_reprs_or_logs(
    ptero: PterodactylSandbox, ptero_server: ServerRef, game_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [ptero.application_key, ptero.client_key]
    texts: list[str] = [repr(ptero_server), repr(module)]
    service, result = created(game_service, ptero)
    texts += [repr(service), repr(result), result.message, repr(module.panel(service))]
    failures = []
    ptero.fail_next("POST /api/application/servers/*/suspend", "timeout")
    ptero.fail_next("POST /api/application/servers/*/unsuspend", "500")
    for call in (
        lambda: module.suspend(service),
        lambda: module.unsuspend(service),
        lambda: module.test_connection(dataclasses.replace(ptero_server, credentials=f"{ptero.application_key}x {ptero.client_key}")),
        lambda: module.power(service, "explode"),
    ):
        with pytest.raises(ModuleError) as failure:
            call()
        failures.append(failure.value)
    for error in failures:
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
    texts.append(caplog.text)
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_one_log_line_per_call_with_method_path_status_and_time(ptero: PterodactylSandbox, ptero_server: ServerRef, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="svcconsole.modules")
    before = ptero.stats["requests"]
    module.test_connection(ptero_server)
    lines = [r.getMessage() for r in caplog.records if r.name == "svcconsole.modules"]
    assert len(lines) == ptero.stats["requests"] - before == 8
    assert lines[0].startswith("Pterodactyl GET /api/application/nodes -> 200 (")
    assert lines[0].endswith(" ms)")


def test_calls_from_many_threads_share_one_module_instance(ptero: PterodactylSandbox, ptero_server: ServerRef) -> None:
    errors: list[BaseException] = []

    def connect() -> None:
        try:
            module.test_connection(ptero_server)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=connect) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_test_connection_names_each_resource_the_application_key_may_not_read(ptero: PterodactylSandbox, ptero_server: ServerRef) -> None:
    limited = "ptla_" + "r" * 43
    ptero.add_key(limited, permissions={"servers": 3, "users": 3, "nodes": 1, "nests": 1, "eggs": 1})
    with pytest.raises(ModuleError) as failure:
        module.test_connection(dataclasses.replace(ptero_server, credentials=limited))
    assert (failure.value.code, failure.value.status) == ("auth", 403)
    assert "may not read allocations, locations (" in failure.value.message


def test_a_key_that_may_not_read_allocations_gets_a_null_resource_and_create_says_so(
    ptero: PterodactylSandbox, ptero_server: ServerRef, game_service: ServiceFactory
) -> None:
    limited = "ptla_" + "n" * 43
    ptero.add_key(limited, permissions={"servers": 3, "users": 3, "nodes": 1, "nests": 1, "eggs": 1, "locations": 1})
    seeded = ptero.seed_servers(1)[0]
    with httpx.Client(
        base_url=ptero.url + "/api/application", verify=trusting(ptero), headers={"Authorization": f"Bearer {limited}", "Accept": "application/json"}
    ) as api:
        body = api.get(f"/servers/{seeded}", params={"include": "allocations"}).json()
        assert body["attributes"]["relationships"]["allocations"] == {"object": "null_resource", "attributes": None}
        assert api.get("/nodes/1/allocations").status_code == 403
        assert api.post("/nests", json={}).status_code in (403, 405)
    with pytest.raises(ModuleError) as failure:
        module.create(game_service(server=dataclasses.replace(ptero_server, credentials=limited)))
    assert "allocations" in failure.value.message and failure.value.code == "auth"
