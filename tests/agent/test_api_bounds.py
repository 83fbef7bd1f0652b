"""What a client sends is held to what the API documents (strict bodies, RFC 3339 timestamps, bounded
text) and what it gets back is bounded (pages of summaries with a cursor). Each of these was accepted
or unbounded before: `{"enabled": 0}`, `?since=0.5`, `endsAt: 0`, `truncatedAlerts: false`, a 3.9 MB
groupKey stored whole, `?limit=500` answers of 3.4 MB, deep JSON on a mutating route."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from agent.api.routes.incidents import MAX_PAGE
from agent.incidents.models import Incident, utcnow
from agent.intake.alertmanager import CUT, DEFAULT_LIMITS
from lab.standins import notification

from .agent_testkit import (
    LabUrls,
    agent_app,
    agent_settings,
    firing_alert,
    standin_reasoning,
    standin_runbooks,
)

TOKEN = "bounds-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(tmp_path: Path, lab_urls: LabUrls) -> Iterator[TestClient]:
    settings = agent_settings(
        tmp_path,
        lab_urls,
        WEBHOOK_TOKEN=SecretStr(TOKEN),
        API_TOKEN=SecretStr(TOKEN),
        AGENT_MODE="dry-run",
    )
    app = agent_app(settings, lab_urls, reasoning=standin_reasoning(), runbooks=standin_runbooks())
    with TestClient(app) as test_client:
        yield test_client


def refused(answer: object, where: str) -> bool:
    body = answer.json()  # type: ignore[attr-defined]
    return answer.status_code == 422 and any(where in e["loc"] for e in body["detail"])  # type: ignore[attr-defined]


def test_a_boolean_is_a_boolean(client: TestClient) -> None:
    for wrong in (0, 1, "true", None):
        assert refused(client.post("/agent/kill-switch", json={"enabled": wrong}, headers=AUTH), "enabled")
    assert refused(client.post("/agent/kill-switch", json={"enabled": True, "x": 1}, headers=AUTH), "x")
    assert client.get("/agent/status").json()["kill_switch_engaged"] is False
    assert client.post("/agent/kill-switch", json={"enabled": True}, headers=AUTH).json()[
        "kill_switch_engaged"
    ]


def test_a_timestamp_is_rfc_3339_text(client: TestClient) -> None:
    for wrong in ("0.5", "1700000000", "yesterday"):
        assert refused(client.get("/agent/incidents", params={"since": wrong}), "since")
    for right in ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00+01:00", "2026-01-01T00:00:00"):
        assert client.get("/agent/incidents", params={"since": right}).status_code == 200

    def page(**alert: object) -> int:
        body = notification([{**firing_alert(), **alert}])
        return client.post("/webhooks/alertmanager", json=body, headers=AUTH).status_code

    assert page(endsAt=0) == 422 and page(startsAt=1700000000) == 422
    assert page(endsAt="0001-01-01T00:00:00Z") == 202  # Alertmanager's "no end yet"
    truncated = {**notification([firing_alert(fingerprint="t")]), "truncatedAlerts": False}
    assert client.post("/webhooks/alertmanager", json=truncated, headers=AUTH).status_code == 422


def test_oversized_notification_text_is_cut_not_refused(client: TestClient) -> None:
    """Alertmanager drops a 4xx notification for good: a long group key or fingerprint is cut."""
    body = notification([firing_alert(fingerprint="f" * 100_000)])
    body["groupKey"] = "{}:" + "k" * 1_000_000
    body["alerts"][0]["generatorURL"] = "http://prometheus/" + "g" * 100_000
    assert client.post("/webhooks/alertmanager", json=body, headers=AUTH).status_code == 202
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while not (found := runtime.store.history.find()) and time.monotonic() < deadline:
        time.sleep(0.02)
    (incident,) = found
    assert len(incident.group_key) == DEFAULT_LIMITS.max_group_key_chars and incident.group_key.endswith(CUT)
    assert incident.alerts[0].fingerprint.startswith("sha256:") and len(incident.alerts[0].fingerprint) < 64


def test_a_trigger_names_a_catalog_service_with_bounded_labels(client: TestClient) -> None:
    assert refused(client.post("/agent/trigger", json={"service": "x" * 3_000_000}, headers=AUTH), "service")
    long_label = {"service": "target", "labels": {"team": "v" * 5000}}
    assert refused(client.post("/agent/trigger", json=long_label, headers=AUTH), "team")
    assert client.post("/agent/trigger", json={"service": "target"}, headers=AUTH).status_code == 202


def test_json_nested_too_deep_on_a_mutating_route_is_a_4xx(client: TestClient) -> None:
    deep = b'{"enabled": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for path in ("/agent/kill-switch", "/agent/trigger", "/agent/incidents/x/approve"):
        answer = client.post(path, content=deep, headers={**AUTH, "Content-Type": "application/json"})
        assert 400 <= answer.status_code < 500, (path, answer.status_code)


def test_the_list_is_pages_of_summaries_with_a_cursor(client: TestClient) -> None:
    history = client.app.state.runtime.store.history  # type: ignore[attr-defined]
    for n in range(450):
        at = utcnow() - timedelta(minutes=450 - n)
        history.save(Incident(id=f"inc-{n:03d}", status="resolved", opened_at=at, closed_at=at))
    assert client.get("/agent/incidents", params={"limit": MAX_PAGE + 1}).status_code == 422
    seen: list[str] = []
    params: dict[str, object] = {"limit": MAX_PAGE}
    while True:
        page = client.get("/agent/incidents", params=params).json()
        assert page["count"] == len(page["incidents"]) <= MAX_PAGE
        assert all("timeline" not in i and "alerts" not in i for i in page["incidents"])
        seen += [i["id"] for i in page["incidents"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [f"inc-{n:03d}" for n in reversed(range(450))]
    assert refused(client.get("/agent/incidents", params={"cursor": "inc-001"}), "cursor")
