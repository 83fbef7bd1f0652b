"""The agent's HTTP API through the real app factory (lifespan, SQLite, checkpointer) and HTTP stand-ins."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from .agent_testkit import (
    FIRING,
    Lab,
    LabUrls,
    agent_app,
    agent_settings,
    standin_reasoning,
    standin_runbooks,
)

WEBHOOK_TOKEN = "hook-secret"
API_TOKEN = "api-secret"
HOOK = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
API = {"Authorization": f"Bearer {API_TOKEN}"}

AgentFactory = Callable[..., TestClient]


@pytest.fixture
def agent(tmp_path: Path, lab_urls: LabUrls) -> Iterator[AgentFactory]:
    clients: list[TestClient] = []

    def start(**overrides: Any) -> TestClient:
        values = dict(WEBHOOK_TOKEN=SecretStr(WEBHOOK_TOKEN), API_TOKEN=SecretStr(API_TOKEN)) | overrides
        settings = agent_settings(tmp_path, lab_urls, **values)
        app = agent_app(settings, lab_urls, reasoning=standin_reasoning(), runbooks=standin_runbooks())
        client = TestClient(app).__enter__()
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def wait_for(
    client: TestClient, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10
) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        incidents = client.get("/agent/incidents").json()["incidents"]
        if predicate(incidents):
            return incidents
        time.sleep(0.02)
    raise AssertionError(f"condition not met: {client.get('/agent/incidents').json()}")


def final(incidents: list[dict[str, Any]]) -> bool:
    return bool(incidents) and all(i["status"] in {"resolved", "escalated", "failed"} for i in incidents)


def test_webhook_needs_the_token(agent: AgentFactory) -> None:
    client = agent()
    assert client.post("/webhooks/alertmanager", json=FIRING).status_code == 401
    wrong = client.post("/webhooks/alertmanager", json=FIRING, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "nope" not in wrong.text
    assert client.post("/webhooks/alertmanager", json=FIRING, headers=HOOK).status_code == 202
    metrics = client.get("/metrics").text
    assert 'sre_agent_webhook_requests_total{result="unauthorized"} 2.0' in metrics


def test_malformed_webhooks_get_422_with_a_reason(agent: AgentFactory) -> None:
    client = agent()
    not_json = client.post(
        "/webhooks/alertmanager", content=b"{nope", headers={**HOOK, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 422 and not_json.json()["detail"].startswith("body is not valid JSON")
    bad = client.post(
        "/webhooks/alertmanager", json={**FIRING, "alerts": [{"status": "weird"}]}, headers=HOOK
    )
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("invalid Alertmanager payload: alerts.0.status")
    assert client.get("/agent/incidents").json()["count"] == 0


def test_resent_and_updated_notifications_make_one_incident_and_one_remediation(
    agent: AgentFactory, lab: Lab
) -> None:
    client = agent(VERIFY_HOLD_SECONDS=1.0, VERIFY_DEADLINE_SECONDS=3.0)
    second_alert = {
        **FIRING["alerts"][0],
        "fingerprint": "aaaa",
        "labels": {**FIRING["alerts"][0]["labels"], "alertname": "TargetHighErrorRatio"},
    }
    updated = {**FIRING, "alerts": [FIRING["alerts"][0], second_alert]}
    resolved = {**FIRING, "status": "resolved", "alerts": [{**FIRING["alerts"][0], "status": "resolved"}]}
    for payload in (FIRING, FIRING, updated, FIRING):
        assert client.post("/webhooks/alertmanager", json=payload, headers=HOOK).status_code == 202
    # the pool alert resolving, then a stale re-send of it firing, once the agent has acted on it (before
    # gather, a resolved pool alert would leave nothing for the stand-in diagnosis to match)
    deadline = time.monotonic() + 10
    while not lab.calls and time.monotonic() < deadline:
        time.sleep(0.02)
    for payload in (resolved, updated):
        assert client.post("/webhooks/alertmanager", json=payload, headers=HOOK).status_code == 202
    incidents = wait_for(client, final)
    assert len(incidents) == 1
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion"]
    detail = client.get(f"/agent/incidents/{incidents[0]['id']}").json()
    assert detail["status"] == "resolved"
    merges = [e["message"] for e in detail["timeline"] if e["step"] == "intake"]
    assert len(merges) == 2, merges
    assert "TargetHighErrorRatio firing" in merges[0] and "recorded" in merges[1]
    # the same alerts re-sent after the incident closed are not a new page
    assert client.post("/webhooks/alertmanager", json=updated, headers=HOOK).status_code == 202
    time.sleep(0.2)
    assert client.get("/agent/incidents").json()["count"] == 1


def test_manual_trigger_and_incident_queries(agent: AgentFactory, lab: Lab) -> None:
    client = agent()
    assert client.post("/agent/trigger", json={"reason": "x"}).status_code == 401
    # A trigger names a catalog service: never a default one, never one the agent does not know.
    unnamed = client.post("/agent/trigger", json={"reason": "x"}, headers=API)
    assert unnamed.status_code == 422 and unnamed.json()["detail"][0]["loc"] == ["body", "service"]
    for fake in ("fake1", "fake2"):
        refused = client.post("/agent/trigger", json={"service": fake}, headers=API)
        assert refused.status_code == 404 and refused.json()["detail"] == (
            f"unknown service '{fake}': the catalog has target, worker"
        )
    assert client.get("/agent/incidents").json()["count"] == 0 and lab.calls == []
    answer = client.post(
        "/agent/trigger",
        json={
            "service": "target",
            "reason": "pool looks stuck",
            "labels": {"alertname": "TargetDbPoolExhausted"},
        },
        headers=API,
    )
    assert answer.status_code == 202 and answer.json()["created"]
    incident_id = answer.json()["incident_id"]
    wait_for(client, final)
    detail = client.get(f"/agent/incidents/{incident_id}").json()
    assert detail["source"] == "manual" and detail["status"] == "resolved"
    assert detail["report"].startswith(f"# Incident {incident_id}: resolved")
    assert client.get("/agent/incidents", params={"status": "resolved"}).json()["count"] == 1
    assert client.get("/agent/incidents", params={"status": "escalated"}).json()["count"] == 0
    assert client.get("/agent/incidents", params={"diagnosis": "db-pool-exhaustion"}).json()["count"] == 1
    assert client.get("/agent/incidents/nope").status_code == 404


def test_approve_and_reject_over_http(agent: AgentFactory, lab: Lab) -> None:
    client = agent(AGENT_MODE="approval")
    incident_id = client.post(
        "/agent/trigger",
        json={"service": "target", "labels": {"alertname": "TargetDbPoolExhausted"}},
        headers=API,
    ).json()["incident_id"]
    wait_for(client, lambda items: items[0]["status"] == "awaiting_approval")
    assert client.post(f"/agent/incidents/{incident_id}/approve").status_code == 401
    assert (
        client.post(f"/agent/incidents/{incident_id}/approve", json={"by": "carol"}, headers=API).status_code
        == 202
    )
    wait_for(client, final)
    assert client.get(f"/agent/incidents/{incident_id}").json()["status"] == "resolved"
    assert client.post(f"/agent/incidents/{incident_id}/reject", headers=API).status_code == 409
    assert client.post("/agent/incidents/nope/approve", headers=API).status_code == 404
    assert len(lab.calls) == 1


def test_kill_switch_status_health_and_metrics(agent: AgentFactory, lab: Lab) -> None:
    client = agent()
    assert client.post("/agent/kill-switch", json={"enabled": True}).status_code == 401
    assert (
        client.post("/agent/kill-switch", json={"enabled": True}, headers=API).json()["remediation_enabled"]
        is False
    )
    trigger = {"service": "target", "labels": {"alertname": "TargetDbPoolExhausted"}}
    client.post("/agent/trigger", json=trigger, headers=API)
    incidents = wait_for(client, final)
    assert incidents[0]["status"] == "escalated" and lab.calls == []

    status = client.get("/agent/status")
    body = status.json()
    assert body["kill_switch_engaged"] is True and body["mode"] == "autonomous"
    assert body["dependencies"]["actions:target"]["ok"] is True
    assert body["services"]["target"]["actions"] and body["unowned_alerts"]["distinct"] == 0
    for secret in (API_TOKEN, WEBHOOK_TOKEN, "action-secret"):
        assert secret not in status.text
    health = client.get("/health").json()  # every dependency answers; remediation is halted
    assert health["status"] == "degraded" and health["degraded"] == ["remediation"]

    metrics = client.get("/metrics", follow_redirects=False)
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert "sre_agent_remediation_enabled 0.0" in metrics.text
    assert (
        'sre_agent_incidents_total{diagnosis="db-pool-exhaustion",outcome="escalated",service="target"} 1.0'
        in metrics.text
    )
    # Series an incident has not touched yet start at 0, so increase() over them is not empty or NaN.
    assert (
        'sre_agent_incidents_total{diagnosis="bad-release",outcome="resolved",service="target"} 0.0'
        in metrics.text
    )
    assert (
        'sre_agent_time_to_mitigate_seconds_count{diagnosis="traffic-surge",service="target"} 0.0'
        in metrics.text
    )


def test_health_names_the_degraded_dependency(tmp_path: Path, lab_urls: LabUrls) -> None:
    from lab.runner.ports import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    settings = agent_settings(tmp_path, lab_urls, PROMETHEUS_URL=dead)
    with TestClient(
        agent_app(settings, lab_urls, reasoning=standin_reasoning(), runbooks=standin_runbooks())
    ) as client:
        body = client.get("/health").json()
    assert body["status"] == "degraded" and body["degraded"] == ["prometheus"]
