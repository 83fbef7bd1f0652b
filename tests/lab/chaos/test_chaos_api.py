"""The chaos API in process, its hooks answered by a recording transport (the real hooks run in e2e)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from lab.action.catalog import ACTIONS, WORKER_ACTIONS
from lab.chaos.app import create_app
from lab.chaos.catalog import FAULTS
from lab.chaos.config import Settings
from lab.chaos.faults import next_release

from .hook_recorder import HOOK_TOKEN, HookRecorder


@pytest.fixture
def recorder() -> HookRecorder:
    return HookRecorder()


def _client(recorder: HookRecorder, **overrides: Any) -> TestClient:
    settings = Settings(
        hook_token=HOOK_TOKEN,
        target_url="http://target:8000",
        dependency_url="http://dependency:8001",
        loadgen_url="http://loadgen:8002",
        worker_url="http://worker:8010",
        **overrides,
    )
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    return TestClient(create_app(settings, http=http))


@pytest.fixture
def client(recorder: HookRecorder) -> Iterator[TestClient]:
    with _client(recorder) as test_client:
        yield test_client


def test_catalog_carries_the_ground_truth_and_names_real_actions(client: TestClient) -> None:
    faults = client.get("/api/v1/faults").json()["faults"]
    assert [f["name"] for f in faults] == list(FAULTS)
    catalogs = {"target": ACTIONS, "worker": WORKER_ACTIONS}
    for fault in faults:
        for key in ("mechanism", "expected_diagnosis", "persists_after_stop", "stop_ends", "parameters"):
            assert fault[key], (fault["name"], key)
        assert set(fault["fixed_by"]) <= set(catalogs[fault["service"]]), fault["name"]
        assert set(fault["not_fixed_by"]) <= set(catalogs[fault["service"]]), fault["name"]
        assert not set(fault["fixed_by"]) & set(fault["not_fixed_by"])
        assert "duration_seconds" in fault["parameters"]["properties"]


def test_unknown_fault_is_404_with_the_known_ones(client: TestClient) -> None:
    response = client.post("/api/v1/break/gremlins")
    assert response.status_code == 404
    assert response.json()["detail"]["known_faults"] == sorted(FAULTS)


@pytest.mark.parametrize(
    ("fault", "body"),
    [
        ("cpu_hog", {"threads": 100}),
        ("db_pool", {"speed": "fast"}),
        ("bad_deploy", {"release": "v2-latest"}),
        ("memory_leak", {"duration_seconds": -1}),
    ],
)
def test_bad_params_are_422_with_a_reason(
    client: TestClient, recorder: HookRecorder, fault: str, body: Any
) -> None:
    response = client.post(f"/api/v1/break/{fault}", json=body)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]
    assert recorder.calls == []


def test_json_nested_too_deep_is_422_not_500(client: TestClient, recorder: HookRecorder) -> None:
    deep = b'{"duration_seconds": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = client.post(
        "/api/v1/break/db_pool", content=deep, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422 and response.json() == {"detail": "body nested too deeply"}
    assert recorder.calls == []


def test_inject_list_stop_and_stop_twice(client: TestClient, recorder: HookRecorder) -> None:
    started = client.post("/api/v1/break/db_pool")
    assert started.status_code == 200
    attack = started.json()
    assert {"attack_id", "fault", "started_at", "status"} <= set(attack)
    assert attack["status"] == "active"
    assert recorder.calls == [("8000/_hooks/pool-leak", {"enabled": True})]
    assert client.post("/api/v1/break/db_pool").status_code == 409

    listed = client.get("/api/v1/attacks").json()
    assert [a["attack_id"] for a in listed["active"]] == [attack["attack_id"]]

    stop_url = f"/api/v1/break/db_pool/{attack['attack_id']}/stop"
    stopped = client.post(stop_url)
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    assert recorder.calls[-1] == ("8000/_hooks/pool-leak", {"enabled": False})
    assert client.post(stop_url).status_code == 409
    assert client.post("/api/v1/break/db_pool/nope/stop").status_code == 404
    assert client.post(f"/api/v1/break/cpu_hog/{attack['attack_id']}/stop").status_code == 404
    listed = client.get("/api/v1/attacks").json()
    assert listed["active"] == [] and listed["recent"][0]["attack_id"] == attack["attack_id"]


@pytest.mark.parametrize(
    ("fault", "body", "hook", "sent", "undo"),
    [
        (
            "memory_leak",
            {},
            "8000/_hooks/memory-retain",
            {"enabled": True, "bytes_per_request": 262144},
            True,
        ),
        ("cpu_hog", {"threads": 3}, "8000/_hooks/cpu-burn", {"enabled": True, "threads": 3}, True),
        ("dependency_outage", {}, "8001/_hooks/latency", {"seconds": 5.0}, True),
        ("traffic_spike", {"multiplier": 4}, "8002/_hooks/rate", {"multiplier": 4.0}, True),
        ("disk_fill", {}, "8000/_hooks/disk-fill", {"bytes": None}, False),
        ("bad_deploy", {}, "8000/_hooks/release", {"release": "2026.11.4", "defective": True}, False),
        ("crash", {}, "8000/_hooks/exit", {"code": 1}, False),
        (
            "job_poison",
            {},
            "8010/jobs",
            {"kind": "invoice", "key": "customer-1017", "amount": "12,50"},
            False,
        ),
        ("worker_stall", {}, "8010/_hooks/stall", {}, False),
        (
            "worker_memory_leak",
            {},
            "8010/_hooks/memory-retain",
            {"enabled": True, "bytes_per_job": 1048576},
            True,
        ),
        ("job_flood", {}, "8002/_hooks/jobs-rate", {"multiplier": 6.0}, True),
        ("worker_crash", {"exit_code": 3}, "8010/_hooks/exit", {"code": 3}, False),
    ],
)
def test_each_fault_drives_its_hook_and_stop_undoes_only_the_injection(
    client: TestClient, recorder: HookRecorder, fault: str, body: Any, hook: str, sent: Any, undo: bool
) -> None:
    attack = client.post(f"/api/v1/break/{fault}", json=body).json()
    assert recorder.calls == [(hook, sent)]
    assert client.post(f"/api/v1/break/{fault}/{attack['attack_id']}/stop").status_code == 200
    assert len(recorder.calls) == (2 if undo else 1)


def test_duration_stops_the_attack_by_itself(client: TestClient, recorder: HookRecorder) -> None:
    attack = client.post("/api/v1/break/cpu_hog", json={"duration_seconds": 0.2}).json()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        recent = client.get("/api/v1/attacks").json()["recent"]
        if recent:
            break
        time.sleep(0.05)
    assert recent[0]["attack_id"] == attack["attack_id"] and recent[0]["status"] == "expired"
    assert recorder.calls[-1] == ("8000/_hooks/cpu-burn", {"enabled": False})


def test_a_failing_hook_is_502_and_leaves_no_attack(client: TestClient, recorder: HookRecorder) -> None:
    recorder.fail_with = 503
    response = client.post("/api/v1/break/memory_leak")
    assert response.status_code == 502
    assert "503" in response.json()["detail"]
    assert HOOK_TOKEN not in response.text
    assert client.get("/api/v1/attacks").json()["active"] == []


def test_api_token_is_required_when_set(recorder: HookRecorder) -> None:
    with _client(recorder, api_token="chaos-secret") as client:
        assert client.get("/api/v1/faults").status_code == 401
        assert client.post("/api/v1/break/db_pool").status_code == 401
        ok = client.get("/api/v1/faults", headers={"Authorization": "Bearer chaos-secret"})
        assert ok.status_code == 200
    assert recorder.calls == []


def test_next_release_bumps_the_patch() -> None:
    assert next_release("2026.11.3") == "2026.11.4"
    assert next_release(None).count(".") == 2


def test_the_worker_faults_and_their_ground_truth(client: TestClient) -> None:
    faults = {f["name"]: f for f in client.get("/api/v1/faults").json()["faults"]}
    worker = {name: f for name, f in faults.items() if f["service"] == "worker"}
    truth = {name: (f["expected_diagnosis"], f["fixed_by"], f["not_fixed_by"]) for name, f in worker.items()}
    assert truth == {
        "job_poison": ("poison-message", ["dead-letter-jobs"], ["restart-worker", "scale-consumers"]),
        "worker_stall": ("consumer-stalled", ["restart-worker"], ["dead-letter-jobs", "scale-consumers"]),
        "worker_memory_leak": ("memory-leak", ["restart-worker"], []),
        "job_flood": ("consumer-saturation", ["scale-consumers"], ["restart-worker", "dead-letter-jobs"]),
        "worker_crash": ("service-down", ["restart-worker"], []),
    }
    assert faults["crash"]["expected_diagnosis"] == "service-down"
    assert {f["service"] for name, f in faults.items() if name not in worker} == {"target"}


def test_the_bad_message_is_published_and_its_place_reported(client: TestClient) -> None:
    attack = client.post("/api/v1/break/job_poison", json={"key": "customer-5"}).json()
    assert attack["details"] == {"key": "customer-5", "id": 41, "partition": 3}
    assert attack["confirmed"] is True
    assert client.post("/api/v1/break/job_poison", json={"key": "customer 5"}).status_code == 422
