"""Hostile and runaway webhook bodies against the real app on a real port: every one is bounded work
and a clear answer, never a 5xx (Alertmanager would re-send it forever) and never a 202 that is then
lost (before, a lone surrogate was accepted and the incident store could not save it)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
from pydantic import SecretStr

from agent.intake.alertmanager import CUT, DEFAULT_LIMITS
from lab.standins import notification

from .agent_testkit import Lab, ServedApp, firing_alert

TOKEN = "hook-secret"
HOOK = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def post(url: str, body: bytes | Iterator[bytes], **headers: str) -> httpx.Response:
    return httpx.post(f"{url}/webhooks/alertmanager", content=body, headers={**HOOK, **headers}, timeout=30)


def incidents(url: str) -> list[dict]:
    return httpx.get(f"{url}/agent/incidents", timeout=5).json()["incidents"]


def wait_for_incidents(url: str, count: int, timeout: float = 10) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(found := incidents(url)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def agent(served_agent: Callable[..., ServedApp], **overrides: object) -> str:
    return served_agent(WEBHOOK_TOKEN=SecretStr(TOKEN), AGENT_MODE="dry-run", **overrides).url


def test_a_body_over_the_limit_is_413_with_the_reason_declared_or_chunked(
    served_agent: Callable[..., ServedApp],
) -> None:
    url = agent(served_agent, MAX_REQUEST_BODY_BYTES=100_000)
    declared = post(url, b"{" + b" " * 200_000 + b"}")
    assert declared.status_code == 413
    assert declared.json() == {"detail": "request body larger than 100000 bytes"}
    chunked = post(url, iter([b" " * 60_000] * 4))  # no Content-Length: counted as it arrives
    assert chunked.status_code == 413
    assert metric(url, "sre_agent_request_bodies_refused_total") == 2
    assert post(url, b"{nope").status_code == 422  # still answering, nothing half-read left behind
    assert incidents(url) == []


def test_json_too_deep_or_not_unicode_is_422_never_a_500(served_agent: Callable[..., ServedApp]) -> None:
    url = agent(served_agent)
    deep = (
        b'{"status": "firing", "alerts": [{"status": "firing", "labels": ' + b"[" * 100_000 + b"]" * 100_000
    )
    answer = post(url, deep + b"}]}")
    assert answer.status_code == 422 and "recursion limit" in answer.json()["detail"]
    surrogate = b'{"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "A\\ud800"}}]}'
    assert post(url, surrogate).status_code == 422
    assert (
        post(url, b'{"status": "firing", "alerts": [{"status": "firing", "x": "\xff"}]}').status_code == 422
    )
    assert incidents(url) == []


def test_unicode_labels_are_kept_and_make_one_incident(served_agent: Callable[..., ServedApp]) -> None:
    url = agent(served_agent)
    alert = firing_alert()
    alert["labels"] |= {"team": "payments 💳 ‮evil‬ \u0000 e\u0301", "région": "東京"}
    assert post(url, httpx.Request("POST", "/", json=notification([alert])).content).status_code == 202
    (incident,) = wait_for_incidents(url, 1)
    stored = httpx.get(f"{url}/agent/incidents/{incident['id']}", timeout=5).json()
    assert stored["alerts"][0]["labels"]["région"] == "東京"
    assert "\u0000" in stored["alerts"][0]["labels"]["team"]


def test_huge_labels_are_cut_and_the_page_kept(served_agent: Callable[..., ServedApp]) -> None:
    url = agent(served_agent)
    alert = firing_alert()
    alert["labels"] |= {f"label{i:04d}": "v" * 10_000 for i in range(300)}
    assert post(url, httpx.Request("POST", "/", json=notification([alert])).content).status_code == 202
    (incident,) = wait_for_incidents(url, 1)
    labels = httpx.get(f"{url}/agent/incidents/{incident['id']}", timeout=5).json()["alerts"][0]["labels"]
    assert sum(len(k) + len(v) for k, v in labels.items()) <= DEFAULT_LIMITS.max_alert_chars
    assert len(labels) <= DEFAULT_LIMITS.max_pairs and labels["alertname"] == "TargetDbPoolExhausted"
    assert all(len(v) <= DEFAULT_LIMITS.max_label_chars for v in labels.values())
    assert labels["label0000"].endswith(CUT)


def test_thousands_of_alerts_in_one_notification_are_capped_firing_first(
    served_agent: Callable[..., ServedApp], lab: Lab
) -> None:
    url = agent(served_agent, WEBHOOK_MAX_ALERTS=200)
    alerts = [firing_alert(fingerprint=f"r{i}", status="resolved") for i in range(2000)]
    alerts += [firing_alert(fingerprint=f"f{i}") for i in range(3000)]
    started = time.monotonic()
    answer = post(url, httpx.Request("POST", "/", json=notification(alerts)).content)
    assert answer.status_code == 202 and time.monotonic() - started < 5
    assert answer.json()["alerts"] == 200 and answer.json()["alerts_dropped"] == 4800
    (incident,) = wait_for_incidents(url, 1)
    stored = httpx.get(f"{url}/agent/incidents/{incident['id']}", timeout=5).json()
    assert metric(url, "sre_agent_webhook_alerts_dropped_total") == 4800
    # the 200 kept by the webhook, bounded again by the incident (INCIDENT_MAX_ALERTS, 100)
    assert len(stored["alerts"]) == 100 and {a["status"] for a in stored["alerts"]} == {"firing"}
    assert stored["alerts_dropped"] == 100
    assert lab.calls == []  # dry-run
