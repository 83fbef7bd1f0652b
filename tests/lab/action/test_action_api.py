"""The action server in process against a stand-in target: validation, auth, results, the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lab.action.app import create_app
from lab.action.catalog import ACTIONS
from lab.runner.ports import free_port

from .admin_standin import ACTION_TOKEN, ADMIN_TOKEN, AdminStandIn, action_settings

AUTH = {"Authorization": f"Bearer {ACTION_TOKEN}"}


@pytest.fixture(scope="module")
def standin_server() -> Iterator[AdminStandIn]:
    with AdminStandIn().serve() as standin:
        yield standin


@pytest.fixture
def standin(standin_server: AdminStandIn) -> AdminStandIn:
    standin_server.calls.clear()
    standin_server.health_status = "healthy"
    standin_server.rollback_possible = True
    return standin_server


@pytest.fixture
def client(tmp_path: Path, standin: AdminStandIn) -> Iterator[TestClient]:
    with TestClient(create_app(action_settings(tmp_path, standin.url))) as test_client:
        yield test_client


def test_health_is_open_and_everything_else_needs_the_token(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    for method, path in [
        ("GET", "/action/catalog"),
        ("GET", "/action/audit"),
        ("GET", "/action/verify-target-health"),
        ("POST", "/action/clean-disk"),
    ]:
        assert client.request(method, path).status_code == 401
        bad = client.request(method, path, headers={"Authorization": "Bearer wrong"})
        assert bad.status_code == 401 and "wrong" not in bad.text


def test_catalog_lists_every_action_with_typed_parameters(client: TestClient) -> None:
    actions = client.get("/action/catalog", headers=AUTH).json()["actions"]
    assert [a["name"] for a in actions] == list(ACTIONS)
    by_name = {a["name"]: a for a in actions}
    assert by_name["restart-target"]["risk"] == "medium"
    pool = {p["name"]: p for p in by_name["remediate-db-pool-exhaustion"]["parameters"]}
    assert pool["escalate_to_db_restart"] == {
        "name": "escalate_to_db_restart",
        "type": "bool",
        "default": False,
        "required": False,
        "description": pool["escalate_to_db_restart"]["description"],
    }
    assert by_name["enable-rate-limit"]["parameters"][0]["default"] == 20.0
    assert all(a["description"] and a["used_for"] for a in actions)


def test_unknown_action_is_404_and_bad_params_422(client: TestClient, standin: AdminStandIn) -> None:
    unknown = client.post("/action/reboot-the-world", headers=AUTH)
    assert unknown.status_code == 404 and "restart-target" in unknown.json()["detail"]["known_actions"]
    for url, body in [
        ("/action/remediate-db-pool-exhaustion", {"escalate_to_db_restart": "perhaps"}),
        ("/action/enable-rate-limit", {"requests_per_second": -1}),
        ("/action/clean-disk", {"everything": True}),
        ("/action/enable-rate-limit", [1, 2]),
    ]:
        response = client.post(url, json=body, headers=AUTH)
        assert response.status_code == 422, url
        assert isinstance(response.json()["detail"], str)
    assert standin.calls == []


def test_a_rate_limit_below_the_floor_is_refused(client: TestClient, standin: AdminStandIn) -> None:
    """1e-06 req/s (2 x a tiny baseline) would shed all traffic and look like a fix."""
    for rate in (1e-06, 0.02, 4.9):
        response = client.post("/action/enable-rate-limit", json={"requests_per_second": rate}, headers=AUTH)
        assert response.status_code == 422 and "greater than or equal to 5" in response.json()["detail"]
    assert standin.calls == []
    floor = client.post("/action/enable-rate-limit", json={"requests_per_second": 5}, headers=AUTH)
    assert floor.status_code == 200 and standin.calls == [("rate-limit", {"requests_per_second": 5.0})]


def test_parameters_come_from_the_body_only(client: TestClient, standin: AdminStandIn) -> None:
    """A query string used to override the body (`?requests_per_second=1e-06` beside a sane body)."""
    sneaky = client.post(
        "/action/enable-rate-limit?requests_per_second=1e-06", json={"requests_per_second": 30}, headers=AUTH
    )
    assert sneaky.status_code == 422 and "JSON body" in sneaky.json()["detail"]
    alone = client.post("/action/remediate-db-pool-exhaustion?escalate_to_db_restart=true", headers=AUTH)
    assert alone.status_code == 422 and standin.calls == []


def test_json_nested_too_deep_is_422_not_500(client: TestClient, standin: AdminStandIn) -> None:
    deep = b'{"requests_per_second": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = client.post(
        "/action/enable-rate-limit", content=deep, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422 and response.json() == {"detail": "body nested too deeply"}
    assert standin.calls == []


def test_params_in_the_body(client: TestClient, standin: AdminStandIn) -> None:
    response = client.post(
        "/action/remediate-db-pool-exhaustion", json={"escalate_to_db_restart": True}, headers=AUTH
    )
    assert response.status_code == 200
    result = response.json()
    assert set(result) == {"action", "status", "detail", "duration_seconds", "changes"}
    assert result["status"] == "succeeded" and result["changes"]["disposed"] is True
    assert standin.calls == [
        ("pool/reclaim", {"max_held_seconds": 5.0, "enable_reaper": True}),
        ("pool/dispose", {}),
    ]


@pytest.mark.parametrize(
    ("action", "body", "call"),
    [
        ("rollback-release", None, ("release/rollback", {})),
        ("enable-dependency-fallback", None, ("dependency/fallback", {"enabled": True})),
        ("enable-rate-limit", {"requests_per_second": 15}, ("rate-limit", {"requests_per_second": 15.0})),
        ("clean-disk", None, ("disk/clean", {})),
    ],
)
def test_admin_actions_call_the_target(
    client: TestClient, standin: AdminStandIn, action: str, body: object, call: tuple[str, dict[str, object]]
) -> None:
    response = client.post(f"/action/{action}", json=body, headers=AUTH)
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    assert standin.calls == [call]


def test_rollback_with_nothing_to_roll_back_is_409_failed(client: TestClient, standin: AdminStandIn) -> None:
    standin.rollback_possible = False
    response = client.post("/action/rollback-release", headers=AUTH)
    assert response.status_code == 409
    assert response.json()["status"] == "failed" and "no previous release" in response.json()["detail"]


def test_restart_without_supervision_is_refused(client: TestClient) -> None:
    response = client.post("/action/restart-target", headers=AUTH)
    assert response.status_code == 409 and response.json()["status"] == "failed"


def test_unreachable_target_is_502_and_audited(tmp_path: Path) -> None:
    settings = action_settings(tmp_path, f"http://127.0.0.1:{free_port()}")
    with TestClient(create_app(settings)) as client:
        response = client.post("/action/clean-disk", headers={**AUTH, "X-Caller": "pytest"})
        assert response.status_code == 502
        assert response.json()["status"] == "failed" and "not reachable" in response.json()["detail"]
        health = client.get("/action/verify-target-health", headers=AUTH).json()
        assert health["reachable"] is False and health["is_healthy"] is False
        records = client.get("/action/audit", headers=AUTH).json()["records"]
    assert records[0]["action"] == "clean-disk" and records[0]["http_status"] == 502
    assert records[0]["caller"].endswith("pytest")
    assert (tmp_path / "action" / "audit.jsonl").read_text().count("\n") == 1


def test_audit_is_newest_first_with_parameters(client: TestClient) -> None:
    client.post("/action/enable-rate-limit", json={"requests_per_second": 30}, headers=AUTH)
    client.post("/action/clean-disk", headers=AUTH)
    records = client.get("/action/audit?limit=5", headers=AUTH).json()["records"]
    assert [r["action"] for r in records] == ["clean-disk", "enable-rate-limit"]
    assert records[1]["parameters"] == {"requests_per_second": 30.0}
    assert records[1]["status"] == "succeeded" and records[1]["duration_seconds"] >= 0
    assert ADMIN_TOKEN not in str(records) and ACTION_TOKEN not in str(records)
    assert client.get("/action/audit?limit=0", headers=AUTH).status_code == 422


def test_verify_target_health(client: TestClient, standin: AdminStandIn) -> None:
    healthy = client.get("/action/verify-target-health", headers=AUTH).json()
    assert healthy["is_healthy"] is True and healthy["reachable"] is True
    assert healthy["error_rate"] == 1.5 and healthy["p95_response_time_ms"] == 42.0
    standin.health_status = "unhealthy"
    sick = client.get("/action/verify-target-health", headers=AUTH).json()
    assert sick["is_healthy"] is False and sick["checks"]["database"] == "failing"
    assert "database" in sick["detail"]
