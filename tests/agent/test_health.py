"""GET /health over real HTTP: the dependencies and each of the agent's own degraded modes, with what
it does instead, while incidents are still recorded and handled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from agent.annotations.models import PendingEntry
from agent.diagnosis.llm import LLMDiagnoser
from lab.runner.ports import free_port
from lab.standins import LLMStandIn, notification

from .agent_testkit import Lab, ServedApp, firing_alert, standin_reasoning

TOKEN = "api-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def health(url: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}/health", timeout=10)
    assert answer.status_code == 200
    return answer.json()


def page(url: str, fingerprint: str = "fp1") -> None:
    body = notification([firing_alert(fingerprint=fingerprint)])
    assert httpx.post(f"{url}/webhooks/alertmanager", json=body, timeout=5).status_code == 202


def finished(url: str, count: int = 1, timeout: float = 15) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = httpx.get(f"{url}/agent/incidents", timeout=5).json()["incidents"]
        if len(found) >= count and all(i["status"] in {"resolved", "escalated", "failed"} for i in found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"not finished: {found}")


def learned(url: str, incident_id: str, timeout: float = 15) -> None:
    """Until the incident's learn step is in its timeline (it is recorded after the memory is written)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        timeline = httpx.get(f"{url}/agent/incidents/{incident_id}", timeout=5).json()["timeline"]
        if any(entry["step"] == "learn" for entry in timeline):
            return
        time.sleep(0.05)
    raise AssertionError(f"{incident_id} never learned")


def test_all_ok_names_every_part_and_the_document_declares_the_shape(
    served_agent: Callable[..., ServedApp],
) -> None:
    url = served_agent().url
    report = health(url)
    assert report["status"] == "ok" and report["degraded"] == []
    # the agent's own dependencies: a service being down is an incident, not a degraded agent
    assert set(report["dependencies"]) == {"actions:target", "actions:worker", "prometheus", "incident_store"}
    parts = report["agent"]
    assert set(parts) == {
        "knowledge",
        "llm",
        "remediation",
        "circuit_breakers",
        "intake",
        "annotations",
        "paging",
    }
    assert all(part["ok"] for part in parts.values())
    assert parts["knowledge"]["file_writable"] and parts["intake"]["queue_capacity"] == 100
    document = httpx.get(f"{url}/openapi.json", timeout=5).json()
    ok = document["paths"]["/health"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/HealthReport"}
    assert "security" not in document["paths"]["/health"]["get"]  # open, like /metrics


def test_kill_switch_and_an_open_breaker_are_degraded_remediation(
    served_agent: Callable[..., ServedApp], lab: Lab
) -> None:
    lab.fix_action = None  # the action runs but the page goes on: its breaker opens
    url = served_agent(API_TOKEN=SecretStr(TOKEN), CIRCUIT_BREAKER_FAILURES=1, MAX_ATTEMPTS=1).url
    page(url)
    assert finished(url)[0]["status"] == "failed"
    report = health(url)
    assert report["degraded"] == ["circuit_breakers"]
    assert report["agent"]["circuit_breakers"]["open"] == ["target/remediate-db-pool-exhaustion"]
    httpx.post(f"{url}/agent/kill-switch", json={"enabled": True}, headers=AUTH, timeout=5)
    report = health(url)
    assert report["degraded"] == ["circuit_breakers", "remediation"]
    assert "kill switch engaged" in report["agent"]["remediation"]["reason"]


def test_knowledge_directory_replaced_by_a_file_at_start(
    served_agent: Callable[..., ServedApp], tmp_path: Path, lab: Lab
) -> None:
    """chmod does not stop root; a path whose directory is a file fails for everyone (ENOTDIR)."""
    (tmp_path / "kdir").write_text("not a directory")
    url = served_agent(VECTOR_STORE_PATH=tmp_path / "kdir" / "knowledge.json").url
    page(url)
    assert finished(url)[0]["status"] == "resolved"
    knowledge = health(url)["agent"]["knowledge"]
    assert not knowledge["ok"] and knowledge["file_writable"] is False
    assert knowledge["last_failure"] == "add_incident: FileExistsError"  # mkdir of its directory
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion"]


def test_knowledge_file_corrupt_at_start_is_set_aside_and_said(
    served_agent: Callable[..., ServedApp], tmp_path: Path
) -> None:
    (tmp_path / "knowledge.json").write_text('{"version": 1, "incidents": [{"trunc')
    url = served_agent().url
    knowledge = health(url)["agent"]["knowledge"]
    assert not knowledge["ok"] and len(knowledge["set_aside_at_start"]) == 1
    assert knowledge["set_aside_at_start"][0].startswith("knowledge.json.corrupt-")
    page(url)
    assert finished(url)[0]["status"] == "resolved"


def test_knowledge_file_corrupted_mid_run_is_rewritten_by_the_next_incident(
    served_agent: Callable[..., ServedApp], tmp_path: Path
) -> None:
    url = served_agent().url
    page(url)
    (incident,) = finished(url)
    learned(url, incident["id"])  # resolved is shown before learn has written the knowledge file
    (tmp_path / "knowledge.json").write_text("\x00garbage")
    knowledge = health(url)["agent"]["knowledge"]
    assert knowledge["file_readable"] is False and "rewritten" in knowledge["reason"]
    page(url, fingerprint="fp2")
    finished(url, 2)
    assert health(url)["agent"]["knowledge"]["ok"]


def test_intake_queue_full_is_degraded_intake(
    served_agent: Callable[..., ServedApp], serve: Callable[[FastAPI], ServedApp]
) -> None:
    """The worker waits on a slow Alertmanager (a truncated notification): the queue fills with other
    groups' notifications (a group's re-send takes its waiting one's place), 503s."""
    slow = FastAPI()

    @slow.get("/api/v2/alerts")
    async def alerts() -> list[Any]:
        await asyncio.sleep(3)
        return []

    url = served_agent(INTAKE_QUEUE_SIZE=1, ALERTMANAGER_URL=serve(slow).url, HTTP_TIMEOUT_SECONDS=5).url
    truncated = notification([firing_alert()]) | {"truncatedAlerts": 3}
    groups = [truncated | {"groupKey": f"{{}}:{{g={n}}}"} for n in range(4)]
    codes = [httpx.post(f"{url}/webhooks/alertmanager", json=g, timeout=5).status_code for g in groups]
    assert 503 in codes
    intake = health(url)["agent"]["intake"]
    assert not intake["ok"] and intake["refused_recent"] >= 1 and intake["queue_capacity"] == 1


def test_an_erroring_llm_is_degraded_llm_and_the_page_handled_deterministically(
    serve: Callable[[FastAPI], ServedApp], served_agent: Callable[..., ServedApp]
) -> None:
    standin = LLMStandIn(answer={})
    standin.mode = "error"
    llm_url = f"{serve(standin.app).url}/v1"
    reasoning = standin_reasoning()
    reasoning.llm = LLMDiagnoser(model="openai/stand-in", api_base=llm_url, timeout_seconds=5, api_key="k")
    url = served_agent(reasoning=reasoning, LLM_MODEL="openai/stand-in").url
    assert health(url)["agent"]["llm"] == {
        "ok": True,
        "reason": "",
        "configured": True,
        "calls_recent": 0,
        "fallbacks_recent": {},
        "last_result": None,
    }
    page(url)
    assert finished(url, timeout=90)[0]["status"] == "resolved"  # litellm's import: up to 15 s here
    llm_part = health(url)["agent"]["llm"]
    assert not llm_part["ok"] and llm_part["fallbacks_recent"] == {"error": 1}
    assert "deterministic" in llm_part["reason"] and len(standin.requests) == 1


def test_an_annotation_backlog_grafana_does_not_take_is_degraded_annotations(
    served_agent: Callable[..., ServedApp], tmp_path: Path
) -> None:
    """Sixty annotations left in the outbox by an earlier run, and a Grafana that does not answer."""
    outbox = tmp_path / "agent" / "annotations.jsonl"
    outbox.parent.mkdir(parents=True)
    entries = [
        PendingEntry(key=f"k{i}", ref=f"r{i}", method="create", body={"text": "x"}, enqueued_at=time.time())
        for i in range(60)
    ]
    outbox.write_text("".join(e.model_dump_json() + "\n" for e in entries))
    url = served_agent(GRAFANA_URL=f"http://127.0.0.1:{free_port()}", GRAFANA_TOKEN=SecretStr("g")).url
    annotations = health(url)["agent"]["annotations"]
    assert annotations["grafana_configured"] and annotations["pending"] == 60
    assert not annotations["ok"] and "kept in the outbox" in annotations["reason"]
