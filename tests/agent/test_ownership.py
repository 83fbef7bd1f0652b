"""Only the catalog's own alerts are acted on: an alert no service owns (a kube-prometheus-stack page
about another workload among them), or several services own, is recorded as unowned, counted and shown,
never defaulted to a service; a truncated notification fetches only what the owning services' matchers
select. The agent's real app over real HTTP, the stand-in lab and a stand-in Alertmanager API."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import SecretStr

from agent.catalog.catalog import ServiceCatalog
from agent.catalog.services import ServiceEntry
from agent.domain.matchers import all_match, parse_matchers
from lab.standins import notification

from .agent_testkit import Lab, LabUrls, ServedApp, agent_app, agent_settings, firing_alert, standin_env

ROOT = Path(__file__).resolve().parents[2]
HOOK = {"Authorization": "Bearer hook"}

# A real kube-prometheus-stack page: kube-state-metrics' own `service` label, another team's namespace.
CRASH_LOOPING = {
    "receiver": "sre-agent",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "KubePodCrashLooping",
                "container": "api",
                "endpoint": "http",
                "instance": "10.0.1.7:8080",
                "job": "kube-state-metrics",
                "namespace": "payments",
                "pod": "payments-api-7c9f8d6b5-x2x9k",
                "prometheus": "monitoring/kube-prometheus-stack-prometheus",
                "reason": "CrashLoopBackOff",
                "service": "kube-prometheus-stack-kube-state-metrics",
                "severity": "warning",
                "uid": "1c6f5d5e-4c1b-4a4c-9f62-0d3c2b8f7a11",
            },
            "annotations": {
                "description": "Pod payments/payments-api-7c9f8d6b5-x2x9k (api) is in waiting state "
                '(reason: "CrashLoopBackOff").',
                "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping",
                "summary": "Pod is crash looping.",
            },
            "startsAt": "2026-12-03T09:58:12.345Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.monitoring:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason",
            "fingerprint": "6f8c0f9d2b1e4a77",
        }
    ],
    "groupLabels": {"namespace": "payments"},
    "commonLabels": {"alertname": "KubePodCrashLooping", "namespace": "payments", "severity": "warning"},
    "commonAnnotations": {"summary": "Pod is crash looping."},
    "externalURL": "http://kube-prometheus-stack-alertmanager.monitoring:9093",
    "version": "4",
    "groupKey": '{}/{namespace=~".+"}:{namespace="payments"}',
    "truncatedAlerts": 0,
}


@pytest.fixture
def client(tmp_path: Path, lab_urls: LabUrls) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def start(catalog: ServiceCatalog | None = None, **overrides: Any) -> TestClient:
        settings = agent_settings(tmp_path, lab_urls, WEBHOOK_TOKEN=SecretStr("hook"), **overrides)
        app = agent_app(settings, lab_urls, **({"catalog": catalog} if catalog else {}))
        started = TestClient(app).__enter__()
        clients.append(started)
        return started

    yield start
    for started in clients:
        started.__exit__(None, None, None)


def settle(client: TestClient, seconds: float = 0.5, expect: int = 0) -> list[dict[str, Any]]:
    """Lets the intake worker take what was queued; returns the incidents, once there are `expect`
    (the queue empties when the worker takes a notification, before it has handled it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and client.get("/agent/status").json()["queue_depth"]:
        time.sleep(0.02)
    time.sleep(0.2)
    incidents = client.get("/agent/incidents").json()["incidents"]
    while len(incidents) < expect and time.monotonic() < deadline:
        time.sleep(0.05)
        incidents = client.get("/agent/incidents").json()["incidents"]
    return incidents


def unowned_metric(client: TestClient, reason: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'sre_agent_alerts_unowned_total{{reason="{reason}"}}'):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no unowned series")


def test_a_page_about_another_workload_is_recorded_never_acted_on(
    client: Callable[..., TestClient], lab: Lab
) -> None:
    agent = client()
    assert agent.post("/webhooks/alertmanager", json=CRASH_LOOPING, headers=HOOK).status_code == 202
    assert settle(agent) == [] and lab.calls == []
    status = agent.get("/agent/status").json()
    assert status["unowned_alerts"]["distinct"] == 1
    (seen,) = status["unowned_alerts"]["recent"]
    assert seen["alertname"] == "KubePodCrashLooping" and seen["labels"]["namespace"] == "payments"
    assert seen["reason"] == "no catalog service owns it"
    assert unowned_metric(agent, "no_owner") == 1
    # Alertmanager re-sends it: still one unowned alert, counted once, never an incident
    assert agent.post("/webhooks/alertmanager", json=CRASH_LOOPING, headers=HOOK).status_code == 202
    assert settle(agent) == [] and unowned_metric(agent, "no_owner") == 1
    assert agent.get("/agent/status").json()["unowned_alerts"]["recent"][0]["notifications"] == 2


def test_only_the_owned_alerts_of_a_mixed_notification_open_an_incident(
    client: Callable[..., TestClient], lab: Lab
) -> None:
    agent = client()
    mixed = notification([firing_alert(fingerprint="fp1"), CRASH_LOOPING["alerts"][0]])
    assert agent.post("/webhooks/alertmanager", json=mixed, headers=HOOK).status_code == 202
    incidents = settle(agent, 5, expect=1)
    assert [i["service"] for i in incidents] == ["target"]
    incident = agent.get(f"/agent/incidents/{incidents[0]['id']}").json()
    assert [a["name"] for a in incident["alerts"]] == ["TargetDbPoolExhausted"]
    assert unowned_metric(agent, "no_owner") == 1


def test_an_alert_two_services_own_is_nobodys(
    client: Callable[..., TestClient], lab: Lab, lab_urls: LabUrls
) -> None:
    target = ServiceEntry.model_validate(
        {"service": "target", "owns": ['service="target"'], "selector": '{job="target"}'}
    )
    greedy = ServiceEntry.model_validate(
        {"service": "greedy", "owns": ['severity="critical"'], "selector": '{job="greedy"}'}
    )
    agent = client(catalog=ServiceCatalog.of([target, greedy], env=standin_env(lab_urls)))
    assert (
        agent.post("/webhooks/alertmanager", json=notification([firing_alert()]), headers=HOOK).status_code
        == 202
    )
    assert settle(agent) == [] and lab.calls == []
    (seen,) = agent.get("/agent/status").json()["unowned_alerts"]["recent"]
    assert seen["reason"] == "owned by several services: greedy, target"
    assert unowned_metric(agent, "several_owners") == 1


def test_unowned_alerts_escalate_to_a_person_when_configured(
    client: Callable[..., TestClient], lab: Lab
) -> None:
    agent = client(UNOWNED_ALERTS="escalate")
    assert agent.post("/webhooks/alertmanager", json=CRASH_LOOPING, headers=HOOK).status_code == 202
    (incident,) = settle(agent)
    assert incident["service"] == "" and incident["status"] == "escalated" and incident["actions"] == []
    detail = agent.get(f"/agent/incidents/{incident['id']}").json()
    assert "no catalog service owns it: KubePodCrashLooping" in detail["escalation_reason"]
    assert lab.calls == []
    assert agent.post("/webhooks/alertmanager", json=CRASH_LOOPING, headers=HOOK).status_code == 202
    assert len(settle(agent)) == 1  # a re-send is the same page


def test_a_truncated_notification_without_group_labels_fetches_only_the_owners_alerts(
    client: Callable[..., TestClient], lab: Lab, serve: Callable[[FastAPI], ServedApp]
) -> None:
    """Seen on what had landed: a truncated notification with empty groupLabels fetched every active
    alert unfiltered, and an unrelated incident took in the target's pool alert."""
    asked: list[list[str]] = []
    alertmanager = FastAPI()

    @alertmanager.get("/api/v2/alerts")
    def alerts(request: Request) -> list[dict[str, Any]]:
        """Alertmanager's API: the active alerts matching every `filter` matcher."""
        filters = request.query_params.getlist("filter")
        asked.append(filters)
        active = [firing_alert(name="TargetHighErrorRatio", fingerprint="fp2"), CRASH_LOOPING["alerts"][0]]
        matchers = [m for text in filters for m in parse_matchers(text)]
        return [{**a, "status": {"state": "active"}} for a in active if all_match(matchers, a["labels"])]

    url = serve(alertmanager).url
    agent = client(ALERTMANAGER_URL=url)
    truncated = {**notification([firing_alert(fingerprint="fp1")]), "truncatedAlerts": 1, "groupLabels": {}}
    assert agent.post("/webhooks/alertmanager", json=truncated, headers=HOOK).status_code == 202
    (incident,) = settle(agent, 5, expect=1)
    assert asked == [['service="target"']]
    detail = agent.get(f"/agent/incidents/{incident['id']}").json()
    assert sorted(a["name"] for a in detail["alerts"]) == ["TargetDbPoolExhausted", "TargetHighErrorRatio"]
    assert unowned_metric(agent, "no_owner") == 0
