"""The Pterodactyl sandbox behaves like the real panel: envelopes, errors, install, limits, faults."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from svcconsole.modules.sandbox import PterodactylSandbox

from .conftest import trusting


def application(sandbox: PterodactylSandbox, **headers: str) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.url + "/api/application",
        headers={"Authorization": f"Bearer {sandbox.application_key}", "Accept": "application/json", **headers},
        verify=trusting(sandbox),
        timeout=5,
    )


def client_api(sandbox: PterodactylSandbox) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.url + "/api/client",
        headers={"Authorization": f"Bearer {sandbox.client_key}", "Accept": "application/json"},
        verify=trusting(sandbox),
        timeout=5,
    )


def server_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "mc-1",
        "user": 1,
        "egg": 1,
        "docker_image": "ghcr.io/pterodactyl/yolks:java_21",
        "startup": "java -jar {{SERVER_JARFILE}}",
        "environment": {"SERVER_JARFILE": "server.jar", "BUILD_NUMBER": "latest"},
        "limits": {"memory": 1024, "swap": 0, "disk": 4096, "io": 500, "cpu": 100},
        "feature_limits": {"databases": 0, "allocations": 0, "backups": 0},
        "allocation": {"default": 1},
    }
    body.update(overrides)
    return body


def test_missing_or_wrong_key_gets_the_real_401_shape(ptero: PterodactylSandbox) -> None:
    for headers in ({"Accept": "application/json"}, {"Accept": "application/json", "Authorization": "Bearer ptla_wrong"}):
        response = httpx.get(ptero.url + "/api/application/servers", headers=headers, verify=trusting(ptero))
        assert response.status_code == 401
        assert response.json() == {"errors": [{"code": "AuthenticationException", "status": "401", "detail": "Unauthenticated."}]}


def test_unauthenticated_request_without_json_accept_is_redirected_to_login(ptero: PterodactylSandbox) -> None:
    response = httpx.get(ptero.url + "/api/application/servers", verify=trusting(ptero))
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"


def test_application_key_is_refused_on_the_client_api(ptero: PterodactylSandbox) -> None:
    response = httpx.get(
        ptero.url + "/api/client", headers={"Authorization": f"Bearer {ptero.application_key}", "Accept": "application/json"}, verify=trusting(ptero)
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "AccessDeniedHttpException"


def test_seed_has_node_allocations_egg_with_variables_and_admin(ptero: PterodactylSandbox) -> None:
    with application(ptero) as api:
        node = api.get("/nodes/1").json()
        assert node["object"] == "node"
        assert node["attributes"]["fqdn"] == "node1.sandbox.test"
        allocations = api.get("/nodes/1/allocations", params={"per_page": 100}).json()
        assert allocations["meta"]["pagination"]["total"] == 50
        assert all(not a["attributes"]["assigned"] for a in allocations["data"])
        egg = api.get("/nests/1/eggs/1", params={"include": "variables"}).json()["attributes"]
        variables = {v["attributes"]["env_variable"]: v["attributes"] for v in egg["relationships"]["variables"]["data"]}
        assert variables["SERVER_JARFILE"]["rules"].startswith("required")
        assert egg["docker_image"] == next(iter(egg["docker_images"].values()))
        users = api.get("/users").json()["data"]
        assert users[0]["attributes"]["root_admin"] is True


def test_create_server_envelope_then_installing_turns_to_null(ptero: PterodactylSandbox) -> None:
    with application(ptero) as api:
        created = api.post("/servers", json=server_body(external_id="svc-1"))
        assert created.status_code == 201
        body = created.json()
        assert body["object"] == "server"
        attributes = body["attributes"]
        assert attributes["status"] == "installing"
        assert attributes["container"]["installed"] == 0
        assert attributes["identifier"] == attributes["uuid"][:8]
        assert attributes["container"]["environment"]["P_SERVER_UUID"] == attributes["uuid"]
        time.sleep(0.2)
        later = api.get(f"/servers/{attributes['id']}").json()["attributes"]
        assert later["status"] is None
        assert later["container"]["installed"] == 1
        assert api.get("/servers/external/svc-1").json()["attributes"]["id"] == attributes["id"]


def test_validation_errors_carry_rule_and_source_field(ptero: PterodactylSandbox) -> None:
    with application(ptero) as api:
        response = api.post("/servers", json={"name": "x"})
        assert response.status_code == 422
        errors = response.json()["errors"]
        fields = {e["meta"]["source_field"]: e for e in errors}
        assert {"user", "egg", "docker_image", "limits", "allocation.default"} <= set(fields)
        assert all(e["code"] == "ValidationException" and e["status"] == "422" for e in errors)
        assert fields["user"]["detail"] == "The user field is required."
        assert fields["user"]["meta"]["rule"] == "required"


def test_missing_required_egg_variable_is_a_422_on_environment(ptero: PterodactylSandbox) -> None:
    with application(ptero) as api:
        response = api.post("/servers", json=server_body(environment={"BUILD_NUMBER": "latest"}))
        assert response.status_code == 422
        error = response.json()["errors"][0]
        assert error["meta"] == {"source_field": "environment.SERVER_JARFILE", "rule": "required"}
        assert error["detail"] == "The Server Jar File variable field is required."
        assert ptero.server_count() == 0


def test_duplicate_external_id_is_a_unique_validation_error(ptero: PterodactylSandbox) -> None:
    with application(ptero) as api:
        assert api.post("/servers", json=server_body(external_id="dup")).status_code == 201
        again = api.post("/servers", json=server_body(external_id="dup", allocation={"default": 2}))
        assert again.status_code == 422
        error = again.json()["errors"][0]
        assert error["meta"] == {"source_field": "external_id", "rule": "unique"}
        assert error["detail"] == "The external id has already been taken."
        assert ptero.server_count() == 1


def test_taken_allocation_is_refused(ptero: PterodactylSandbox) -> None:
    with application(ptero) as api:
        api.post("/servers", json=server_body())
        again = api.post("/servers", json=server_body())
        assert again.status_code == 422
        assert again.json()["errors"][0]["meta"]["source_field"] == "allocation.default"


def test_deploy_block_picks_an_allocation_in_the_port_range(ptero: PterodactylSandbox) -> None:
    body = server_body(deploy={"locations": [1], "dedicated_ip": False, "port_range": ["25570-25580"]})
    del body["allocation"]
    with application(ptero) as api:
        created = api.post("/servers", json=body).json()["attributes"]
        allocation = ptero.allocations[created["allocation"]]
        assert 25570 <= allocation.port <= 25580
        body["deploy"] = {"locations": [99], "dedicated_ip": False, "port_range": []}
        refused = api.post("/servers", json=body)
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["code"] == "NoViableNodeException"


def test_install_failed_fault_ends_the_install_in_install_failed(ptero: PterodactylSandbox) -> None:
    ptero.fail_next("POST /api/application/servers", "install_failed")
    with application(ptero) as api:
        server_id = api.post("/servers", json=server_body()).json()["attributes"]["id"]
        time.sleep(0.2)
        assert api.get(f"/servers/{server_id}").json()["attributes"]["status"] == "install_failed"


def test_pagination_meta_and_links(ptero: PterodactylSandbox) -> None:
    ptero.seed_servers(7)
    with application(ptero) as api:
        page = api.get("/servers", params={"per_page": 3, "page": 2}).json()
        pagination = page["meta"]["pagination"]
        assert pagination == {
            "total": 7,
            "count": 3,
            "per_page": 3,
            "current_page": 2,
            "total_pages": 3,
            "links": {"previous": pagination["links"]["previous"], "next": pagination["links"]["next"]},
        }
        assert pagination["links"]["next"].endswith("page=3")
        last = api.get("/servers", params={"per_page": 3, "page": 3}).json()
        assert last["meta"]["pagination"]["count"] == 1
        assert "next" not in last["meta"]["pagination"]["links"]


def test_unknown_server_is_not_found(ptero: PterodactylSandbox) -> None:
    with application(ptero) as api:
        response = api.get("/servers/4242")
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "NotFoundHttpException"


def test_suspend_unsuspend_reinstall_delete_answer_204(ptero: PterodactylSandbox) -> None:
    server_id = ptero.seed_servers(1)[0]
    with application(ptero) as api:
        assert api.post(f"/servers/{server_id}/suspend").status_code == 204
        assert api.get(f"/servers/{server_id}").json()["attributes"]["status"] == "suspended"
        assert api.post(f"/servers/{server_id}/unsuspend").status_code == 204
        assert api.post(f"/servers/{server_id}/reinstall").status_code == 204
        assert api.get(f"/servers/{server_id}").json()["attributes"]["status"] == "installing"
        assert api.delete(f"/servers/{server_id}").status_code == 204
        assert api.get(f"/servers/{server_id}").status_code == 404


def test_build_patch_updates_limits(ptero: PterodactylSandbox) -> None:
    server_id = ptero.seed_servers(1)[0]
    allocation = ptero.servers[server_id].allocation_id
    with application(ptero) as api:
        response = api.patch(
            f"/servers/{server_id}/build",
            json={
                "allocation": allocation,
                "limits": {"memory": 4096, "swap": 0, "disk": 20000, "io": 500, "cpu": 200},
                "feature_limits": {"databases": 2, "allocations": 1, "backups": 3},
            },
        )
        assert response.status_code == 200
        attributes = response.json()["attributes"]
        assert attributes["limits"]["memory"] == 4096
        assert attributes["feature_limits"]["backups"] == 3
        missing = api.patch(f"/servers/{server_id}/build", json={"allocation": allocation})
        assert missing.status_code == 422
        fields = {e["meta"]["source_field"] for e in missing.json()["errors"]}
        assert {"memory", "disk", "cpu", "feature_limits"} <= fields


def test_power_is_refused_while_installing_and_when_suspended(ptero: PterodactylSandbox) -> None:
    with application(ptero) as api, client_api(ptero) as user:
        created = api.post("/servers", json=server_body()).json()["attributes"]
        busy = user.post(f"/servers/{created['identifier']}/power", json={"signal": "start"})
        assert busy.status_code == 409
        assert "installation" in busy.json()["errors"][0]["detail"]
        time.sleep(0.2)
        assert user.post(f"/servers/{created['identifier']}/power", json={"signal": "start"}).status_code == 204
        time.sleep(0.05)
        stats = user.get(f"/servers/{created['identifier']}/resources").json()["attributes"]
        assert stats["current_state"] == "running"
        assert stats["resources"]["memory_bytes"] > 0
        api.post(f"/servers/{created['id']}/suspend")
        refused = user.post(f"/servers/{created['identifier']}/power", json={"signal": "start"})
        assert refused.status_code == 409
        assert "suspended" in refused.json()["errors"][0]["detail"]


def test_bad_power_signal_is_a_validation_error(ptero: PterodactylSandbox) -> None:
    server_id = ptero.seed_servers(1)[0]
    identifier = ptero.servers[server_id].identifier
    with client_api(ptero) as user:
        response = user.post(f"/servers/{identifier}/power", json={"signal": "explode"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["meta"] == {"source_field": "signal", "rule": "in"}


def test_node_down_fails_daemon_actions_but_force_delete_works(ptero: PterodactylSandbox) -> None:
    server_id = ptero.seed_servers(1)[0]
    ptero.set_node_online(1, False)
    with application(ptero) as api:
        refused = api.delete(f"/servers/{server_id}")
        assert refused.status_code == 504
        assert refused.json()["errors"][0]["code"] == "DaemonConnectionException"
        assert api.delete(f"/servers/{server_id}/force").status_code == 204
        assert ptero.server_count() == 0


def test_rate_limit_answers_429_with_retry_after_and_headers() -> None:
    with PterodactylSandbox(rate_limit_per_minute=3, tls=True) as sandbox, application(sandbox) as api:
        first = api.get("/nodes")
        assert first.headers["X-RateLimit-Limit"] == "3"
        assert first.headers["X-RateLimit-Remaining"] == "2"
        statuses = [api.get("/nodes").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = api.get("/nodes")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert limited.json()["errors"][0] == {"code": "ThrottleRequestsException", "status": "429", "detail": "Too Many Attempts."}
        sandbox.set_rate_limit(None)
        assert api.get("/nodes").status_code == 200


def test_faults_500_reset_and_timeout(ptero: PterodactylSandbox) -> None:
    ptero.fail_next("GET /api/application/nodes", "500")
    ptero.fail_next("GET /api/application/locations", "reset")
    ptero.fail_next("POST", "timeout", delay=0.6)
    with application(ptero) as api:
        assert api.get("/nodes").status_code == 500
        assert api.get("/nodes").status_code == 200
        with pytest.raises(httpx.TransportError):
            api.get("/locations")
        with pytest.raises(httpx.ReadTimeout):
            api.post("/servers", json=server_body(), timeout=0.2)
    time.sleep(0.6)
    assert ptero.server_count() == 1


def test_unknown_fault_kind_is_refused(ptero: PterodactylSandbox) -> None:
    with pytest.raises(ValueError):
        ptero.fail_next("*", "task_error")


def test_the_rate_limit_is_counted_per_panel_user_shared_by_its_keys() -> None:
    with PterodactylSandbox(rate_limit_per_minute=3, tls=True) as sandbox:
        sandbox.add_key("ptla_" + "s" * 43, owner=1)
        sandbox.add_key("ptla_" + "o" * 43, owner=2)
        first, same_user, other_user = sandbox.application_key, "ptla_" + "s" * 43, "ptla_" + "o" * 43
        with application(sandbox) as api:

            def status(key: str) -> int:
                return api.get("/nodes", headers={"Authorization": f"Bearer {key}"}).status_code

            assert [status(first), status(same_user), status(first)] == [200, 200, 200]
            limited = api.get("/nodes", headers={"Authorization": f"Bearer {same_user}"})
            assert limited.status_code == 429
            assert 55 <= int(limited.headers["Retry-After"]) <= 60
            assert status(other_user) == 200


def test_startup_patch_changes_the_command_image_and_variables(ptero: PterodactylSandbox) -> None:
    (server_id,) = ptero.seed_servers(1)
    with application(ptero) as api:
        changed = api.patch(
            f"/servers/{server_id}/startup",
            json={
                "startup": "java -Xms128M -jar server.jar",
                "environment": {"MINECRAFT_VERSION": "1.20.4"},
                "egg": 1,
                "image": "ghcr.io/pterodactyl/yolks:java_21",
                "skip_scripts": False,
            },
        )
        assert changed.status_code == 200, changed.json()
        container = changed.json()["attributes"]["container"]
        assert container["startup_command"] == "java -Xms128M -jar server.jar"
        assert container["image"] == "ghcr.io/pterodactyl/yolks:java_21"
        assert container["environment"]["MINECRAFT_VERSION"] == "1.20.4"
        missing = api.patch(f"/servers/{server_id}/startup", json={"startup": "x"})
    assert missing.status_code == 422
    assert {e["meta"]["source_field"] for e in missing.json()["errors"]} >= {"egg", "image", "environment"}


def test_unknown_list_filters_are_a_400_naming_the_allowed_ones(ptero: PterodactylSandbox) -> None:
    with application(ptero) as api:
        response = api.get("/users", params={"filter[colour]": "red"})
        assert api.get("/nodes/1/allocations", params={"filter[rack]": "3"}).status_code == 400
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "InvalidFilterQuery"
    assert error["detail"] == ("Requested filter(s) `colour` are not allowed. Allowed filter(s) are `email, uuid, username, external_id`.")


def test_the_client_list_shows_the_key_owner_s_servers_unless_type_admin(ptero: PterodactylSandbox) -> None:
    with application(ptero) as admin:
        customer = admin.post("/users", json={"email": "c@example.com", "username": "cora", "first_name": "Cora", "last_name": "Diaz"}).json()["attributes"][
            "id"
        ]
    owned_by_others = ptero.seed_servers(2, owner_id=customer)
    (own,) = ptero.seed_servers(1, name_prefix="admin-own")

    def listed(**params: str) -> list[int]:
        return [s["attributes"]["internal_id"] for s in api.get("", params=params).json()["data"]]

    with client_api(ptero) as api:
        assert listed() == [own]
        assert listed(type="admin") == owned_by_others
        assert sorted(listed(type="admin-all")) == sorted([*owned_by_others, own])
