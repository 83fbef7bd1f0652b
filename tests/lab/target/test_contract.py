"""The target's public contract on a real process (shapes, orders, validation, auth, what OpenAPI shows),
and the agent's catalog entry held to it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from lab.target.schemas import Health, LogLine, Logs, Metrics, PoolStatus

from .target_testkit import ADMIN, HOOK, Target

CATALOG_ENTRY = Path(__file__).resolve().parents[3] / "services" / "target.yml"
ENDPOINTS: dict[str, type[BaseModel]] = {
    "/api/v1/health": Health,
    "/api/v1/metrics": Metrics,
    "/api/v1/pool/status": PoolStatus,
    "/api/v1/logs": Logs,
}


def test_the_agent_reads_only_fields_the_contract_has() -> None:
    """The agent's view of the target is data (services/target.yml probes): each path it reads names a
    field of the endpoint's model, so a renamed field fails here rather than as a silent missing signal."""
    probes = yaml.safe_load(CATALOG_ENTRY.read_text())["probes"]
    unknown = []
    for probe in probes:
        model = ENDPOINTS[probe["url"].split("}", 1)[-1]]
        paths = [s["path"] for s in probe.get("signals", {}).values()]
        paths += [probe["checks"]["path"]] if "checks" in probe else []
        paths += [probe["entries"]] if "entries" in probe else []
        unknown += [f"{probe['name']}: {p}" for p in paths if p.split(".")[0] not in model.model_fields]
        line_fields = [m.split(".")[0] for m in probe.get("message", [])]
        unknown += [f"{probe['name']}: {f}" for f in line_fields if f not in LogLine.model_fields]
    assert len(probes) == 4 and not unknown, unknown


def test_monitoring_endpoints_match_the_schemas(shared_target: Target) -> None:
    health = shared_target.get("/api/v1/health")
    assert health.status_code in (200, 503)
    Health.model_validate_json(health.content)
    metrics = Metrics.model_validate_json(shared_target.get("/api/v1/metrics").content)
    assert metrics.disk_quota_bytes == 8 * 1024 * 1024 and metrics.window_seconds == 3
    pool = PoolStatus.model_validate_json(shared_target.get("/api/v1/pool/status").content)
    assert (pool.size, pool.max_overflow, pool.timeout_seconds) == (5, 5, 0.5)
    logs = Logs.model_validate_json(shared_target.get("/api/v1/logs").content)
    assert any(line.event == "service started" for line in logs.logs)


def test_orders_round_trip(shared_target: Target) -> None:
    created = shared_target.order("gadget", 3)
    assert created.status_code == 201, created.text
    order = created.json()
    assert (
        order["item"] == "gadget"
        and order["quantity"] == 3
        and order["status"] in ("accepted", "backordered")
    )
    fetched = shared_target.get(f"/api/v1/orders/{order['id']}").json()
    assert {k: fetched[k] for k in ("id", "item", "quantity")} == {
        k: order[k] for k in ("id", "item", "quantity")
    }
    listed = shared_target.get("/api/v1/orders", params={"limit": 3}).json()["orders"]
    assert len(listed) == 3 and listed[0]["id"] == order["id"]
    assert (shared_target.data_dir / "receipts" / f"{order['id']:08d}.json").is_file()
    missing = shared_target.get("/api/v1/orders/99999999")
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"item": "x"}',
        b'{"item": "x", "quantity": 0}',
        b'{"item": "a/b", "quantity": 1}',
        b'{"item": "x", "quantity": 1, "extra": true}',
    ],
)
def test_bad_order_bodies_answer_422_with_a_reason(shared_target: Target, body: bytes) -> None:
    response = shared_target.post(
        "/api/v1/orders", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"]


def test_bad_query_parameters_answer_422(shared_target: Target) -> None:
    assert shared_target.get("/api/v1/orders", params={"limit": 0}).status_code == 422
    assert shared_target.get("/api/v1/orders/abc").status_code == 422
    assert shared_target.get("/api/v1/logs", params={"level": "LOUD"}).status_code == 422
    bad_since = shared_target.get("/api/v1/logs", params={"since": "yesterday"})
    assert bad_since.status_code == 422
    assert bad_since.json()["detail"][0]["loc"] == ["query", "since"]
    assert "ISO 8601" in bad_since.json()["detail"][0]["msg"]
    # a number past what a timestamp can hold is a bad value too, not a server error
    assert shared_target.get("/api/v1/logs", params={"since": "1e300"}).status_code == 422
    assert shared_target.get("/api/v1/orders/99999999999999999999999").status_code == 422


def test_logs_filter_by_level_since_and_limit(shared_target: Target) -> None:
    shared_target.get("/api/v1/orders")
    assert shared_target.get("/api/v1/logs", params={"limit": 1}).json()["logs"][-1]["event"] == "request"
    assert all(line["level"] == "ERROR" for line in shared_target.logs("ERROR"))
    assert shared_target.get("/api/v1/logs", params={"since": "2999-01-01T00:00:00Z"}).json() == {"logs": []}
    assert shared_target.get("/api/v1/logs", params={"since": "0"}).json()["logs"]


def test_only_business_requests_are_counted(shared_target: Target) -> None:
    before = shared_target.metrics()["requests_total"]
    for path in ("/api/v1/health", "/api/v1/pool/status", "/api/v1/logs", "/openapi.json"):
        shared_target.get(path)
    shared_target.admin("state")
    assert shared_target.metrics()["requests_total"] == before
    shared_target.get("/api/v1/orders")
    assert shared_target.metrics()["requests_total"] == before + 1


ADMIN_CALLS = [
    ("pool/reclaim", {}),
    ("pool/dispose", None),
    ("release/rollback", None),
    ("release/deploy", {"release": "2026.11.9"}),
    ("dependency/fallback", {"enabled": False}),
    ("rate-limit", {"requests_per_second": None}),
    ("disk/clean", None),
]
LEVER_CALLS = [
    ("pool-leak", {"enabled": False}),
    ("memory-retain", {"enabled": False}),
    ("cpu-burn", {"enabled": False}),
    ("release", {"release": "2026.11.9"}),
    ("disk-fill", {"bytes": 0}),
    ("exit", {"code": 1}),
]


@pytest.mark.parametrize(("path", "body"), ADMIN_CALLS)
def test_admin_needs_the_admin_token(shared_target: Target, path: str, body: object) -> None:
    assert shared_target.post(f"/admin/{path}", json=body).status_code == 401
    assert shared_target.admin(path, body, token="wrong").status_code == 401
    assert shared_target.admin(path, body, token=HOOK).status_code == 401


@pytest.mark.parametrize(("path", "body"), LEVER_CALLS)
def test_levers_need_their_own_token(shared_target: Target, path: str, body: object) -> None:
    assert shared_target.post(f"/_hooks/{path}", json=body).status_code == 401
    assert shared_target.lever(path, body, token="wrong").status_code == 401
    assert shared_target.lever(path, body, token=ADMIN).status_code == 401


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("pool/reclaim", {"max_held_seconds": -1}),
        ("release/deploy", {"release": "latest"}),
        ("release/deploy", {}),
        ("dependency/fallback", {"enabled": "maybe"}),
        ("rate-limit", {"requests_per_second": 0}),
        ("rate-limit", {}),
    ],
)
def test_admin_rejects_bad_parameters(shared_target: Target, path: str, body: object) -> None:
    response = shared_target.admin(path, body)
    assert response.status_code == 422 and response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("pool-leak", {}),
        ("memory-retain", {"enabled": True, "bytes_per_request": 0}),
        ("cpu-burn", {"enabled": True, "threads": 0}),
        ("release", {"release": "v2", "defective": True}),
        ("disk-fill", {"bytes": -5}),
        ("exit", {"code": 999}),
    ],
)
def test_levers_reject_bad_parameters(shared_target: Target, path: str, body: object) -> None:
    response = shared_target.lever(path, body)
    assert response.status_code == 422 and response.json()["detail"]


def test_admin_state_and_release_conflicts(shared_target: Target) -> None:
    state = shared_target.http.get("/admin/state", headers={"Authorization": f"Bearer {ADMIN}"}).json()
    assert state["release"] == "2026.11.3" and state["dependency_fallback"] is False
    rollback = shared_target.admin("release/rollback")
    assert rollback.status_code == 409 and "roll back" in rollback.json()["detail"]
    same = shared_target.admin("release/deploy", {"release": "2026.11.3"})
    assert same.status_code == 409 and "already running" in same.json()["detail"]


def test_openapi_shows_only_public_routes(shared_target: Target) -> None:
    spec = shared_target.get("/openapi.json").json()
    assert sorted(spec["paths"]) == [
        "/api/v1/health",
        "/api/v1/logs",
        "/api/v1/metrics",
        "/api/v1/orders",
        "/api/v1/orders/{order_id}",
        "/api/v1/pool/status",
    ]
    assert shared_target.get("/docs").status_code == 200


def test_rate_limit_sheds_with_429_not_errors(start_target) -> None:  # type: ignore[no-untyped-def]
    target = start_target()
    assert target.admin("rate-limit", {"requests_per_second": 2}).json() == {"requests_per_second": 2}
    codes = [target.get("/api/v1/orders").status_code for _ in range(12)]
    assert codes.count(429) >= 5 and codes.count(200) >= 2
    metrics = target.metrics()
    assert metrics["throttled_total"] == codes.count(429) and metrics["errors_total"] == 0
    assert metrics["requests_total"] == codes.count(200) and metrics["rate_limit_rps"] == 2
    target.admin("rate-limit", {"requests_per_second": None})
    assert all(target.get("/api/v1/orders").status_code == 200 for _ in range(5))


def test_malformed_json_on_admin_and_levers_is_422(shared_target: Target) -> None:
    for path, token in (("/admin/dependency/fallback", ADMIN), ("/_hooks/pool-leak", HOOK)):
        response = shared_target.post(
            path,
            content=b'{"enabled": tru',
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert response.status_code == 422 and response.json()["detail"][0]["msg"]
