"""Learning end to end: runbook files the agent reads, amendments it proposes, memory that changes what it
does next. Real runbook files in a tmp folder, the real deterministic diagnoser, the real embedded
knowledge store, the stand-in lab over real HTTP (tests/agent/agent_testkit.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr

from agent.knowledge.library import RunbookLibrary
from agent.knowledge.store import open_knowledge_store
from agent.learning.proposed import ProposedAmendments
from agent.workflow.deps import default_reasoning
from agent.workflow.nodes import learn

from .agent_testkit import (
    Lab,
    LabUrls,
    WorkflowFactory,
    agent_app,
    agent_settings,
    firing_alert,
    open_incident,
    pool_alert,
)

API = {"Authorization": "Bearer api-secret"}
# The stand-in lab's pool page: pool 100 % used, "QueuePool limit ..." timeouts in the error log.
POOL_RUNBOOK = """---
id: db-pool-exhaustion
title: Database connection pool exhausted by leaked connections
alerts: [TargetDbPoolExhausted]
signals:
  - {signal: pool_utilization_ratio, op: ">=", value: 0.9, weight: 2.5, description: "pool utilization"}
  - {signal: "log:queuepool limit", op: ">", value: 0, weight: 2.5, description: "pool checkout timeouts"}
actions:
  - {action: remediate-db-pool-exhaustion, params: {}, risk: low}
  - {action: restart, params: {}, risk: medium}
verification:
  promql: ["healthy:db-pool-exhaustion"]
  hold_seconds: 0.2
  deadline_seconds: 1.5
escalate_when: the pool fills again after a restart
---
# Pool exhaustion
"""
# Covers a dead inventory service, not the stand-in lab's pool page.
DEPENDENCY_RUNBOOK = """---
id: dependency-outage
title: Inventory service not answering in time
alerts: [TargetDependencyDown]
signals:
  - {signal: "check_failing:dependency", op: "==", value: true, weight: 3, description: "dependency down"}
  - {signal: "log:inventory", op: ">", value: 0, weight: 2, description: "inventory errors in the log"}
actions:
  - {action: enable-dependency-fallback, params: {}, risk: low}
verification:
  promql: ["healthy:dependency-outage"]
  hold_seconds: 0.2
  deadline_seconds: 1.5
escalate_when: the inventory service stays down
---
# Dependency outage
"""


def runbook_folder(tmp_path: Path, *texts: str) -> Path:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    for text in texts:
        rid = text.split("id: ", 1)[1].split("\n", 1)[0]
        (folder / f"{rid}.md").write_text(text)
    return folder


async def build(workflows: WorkflowFactory, folder: Path, tmp_path: Path, **overrides: Any) -> Any:
    library = RunbookLibrary(folder)
    library.refresh()
    return await workflows.build(
        runbooks=library.runbooks,
        reasoning=default_reasoning(),
        knowledge=open_knowledge_store(tmp_path / "knowledge.json"),
        RUNBOOKS_PATH=folder,
        PROPOSED_RUNBOOKS_ENABLED=True,
        **overrides,
    )


async def learned(wf: Any, incident_id: str) -> dict[str, Any]:
    return next(e.data for e in reversed((await wf.store.get(incident_id)).timeline) if e.step == "learn")


async def test_an_action_that_failed_before_another_worked_is_proposed_and_planned_last(
    lab: Lab, workflows: WorkflowFactory, tmp_path: Path
) -> None:
    folder = runbook_folder(tmp_path, POOL_RUNBOOK)
    runbook_bytes = (folder / "db-pool-exhaustion.md").read_bytes()
    lab.fix_action = "restart-target"
    wf = await build(workflows, folder, tmp_path, VERIFY_DEADLINE_SECONDS=0.3, ACTION_COOLDOWN_SECONDS=0)
    first = await open_incident(wf, pool_alert("fp1"))
    await wf.runner.wait(first)

    assert (await wf.store.get(first)).status == "resolved"
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion", "restart-target"]
    proposal = folder / "proposed" / f"db-pool-exhaustion--{first}.md"
    text = proposal.read_text()
    assert text.startswith("---\nrunbook: db-pool-exhaustion\n")
    assert "`remediate-db-pool-exhaustion` ran (attempt 1) and recovery was not verified" in text
    assert "`restart` ran next (attempt 2) and recovery was verified" in text
    assert "actions: try `restart` before `remediate-db-pool-exhaustion`" in text
    assert f"`GET /agent/incidents/{first}`" in text
    assert "alerts: add" not in text and "signals: add" not in text  # the runbook covers the symptoms
    assert (await learned(wf, first))["proposed_amendment"] == {
        "status": "written",
        "file": proposal.name,
        "detail": "",
    }
    assert (folder / "db-pool-exhaustion.md").read_bytes() == runbook_bytes  # never edited in place

    # A learn step replayed (a resume after a restart) leaves the proposal as it is.
    snapshot = await wf.runner.graph.aget_state(wf.runner.config(first))
    await learn.node(snapshot.values, {}, deps=wf.deps)
    assert proposal.read_text() == text
    assert (await learned(wf, first))["proposed_amendment"]["status"] == "exists"

    # The same page again: what did not fix it last time is planned after what did.
    lab.healthy = False
    lab.calls.clear()
    second = await open_incident(wf, pool_alert("fp2"))
    await wf.runner.wait(second)
    incident = await wf.store.get(second)
    assert incident.status == "resolved"
    assert [c["action"] for c in lab.calls] == ["restart-target"]
    plan = next(e for e in incident.timeline if e.step == "plan")
    assert (
        f"remediate-db-pool-exhaustion planned last: it did not fix {first} with the same symptoms"
        in (plan.data["notes"])
    )
    assert [p["action"] for p in plan.data["plan"]] == ["restart-target", "remediate-db-pool-exhaustion"]
    assert [p.incident_id for p in ProposedAmendments(folder / "proposed").list()] == [first]


async def test_a_clean_resolution_proposes_nothing(
    lab: Lab, workflows: WorkflowFactory, tmp_path: Path
) -> None:
    folder = runbook_folder(tmp_path, POOL_RUNBOOK)
    wf = await build(workflows, folder, tmp_path)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    assert (await wf.store.get(incident_id)).status == "resolved"
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion"]
    assert not (folder / "proposed").exists()
    assert await learned(wf, incident_id) == {"remembered": True}


def page(client: TestClient, fingerprint: str, starts: str) -> str:
    payload = {
        "receiver": "sre-agent",
        "status": "firing",
        "alerts": [firing_alert("TargetDbPoolExhausted", fingerprint, starts)],
        "groupLabels": {"service": "target"},
        "commonLabels": {"service": "target"},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "version": "4",
        "groupKey": '{}:{service="target"}',
        "truncatedAlerts": 0,
    }
    assert client.post("/webhooks/alertmanager", json=payload).status_code == 202
    return wait_final(client, lambda i: any(a["fingerprint"] == fingerprint for a in i["alerts"]))["id"]


def wait_final(client: TestClient, match: Any, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for summary in client.get("/agent/incidents").json()["incidents"]:
            incident = client.get(f"/agent/incidents/{summary['id']}").json()
            learned = incident["timeline"] and incident["timeline"][-1]["step"] == "learn"
            if match(incident) and incident["status"] in {"resolved", "escalated", "failed"} and learned:
                return incident
        time.sleep(0.05)
    raise AssertionError(client.get("/agent/incidents").json())


def test_a_humans_resolution_makes_the_next_occurrence_a_diagnosis_from_memory(
    tmp_path: Path, lab_urls: LabUrls, lab: Lab
) -> None:
    folder = runbook_folder(tmp_path, DEPENDENCY_RUNBOOK)
    settings = agent_settings(
        tmp_path,
        lab_urls,
        RUNBOOKS_PATH=folder,
        API_TOKEN=SecretStr("api-secret"),
        PROPOSED_RUNBOOKS_ENABLED=True,
    )
    lab.fix_action = "enable-dependency-fallback"
    # the real loaders: library, knowledge store, diagnoser
    with TestClient(agent_app(settings, lab_urls)) as client:
        first = page(client, "fp1", "2026-11-24T10:00:00Z")
        incident = client.get(f"/agent/incidents/{first}").json()
        assert incident["status"] == "escalated" and lab.calls == []
        assert incident["diagnosis"]["diagnosis_id"] == "unknown"
        first_confidence = incident["diagnosis"]["confidence"]

        url = f"/agent/incidents/{first}/resolution"
        body = {
            "diagnosis_id": "dependency-outage",
            "root_cause": "inventory calls hung and held every pool connection",
            "actions_worked": ["enable-dependency-fallback"],
            "by": "alice",
        }
        assert client.post(url, json=body).status_code == 401
        unknown = client.post(url, json={**body, "diagnosis_id": "made-up"}, headers=API)
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "diagnosis_id"]
        assert client.post(url, json={**body, "extra": 1}, headers=API).status_code == 422
        assert client.post("/agent/incidents/nope/resolution", json=body, headers=API).status_code == 404
        answer = client.post(url, json=body, headers=API)
        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert result["remembered"] is True
        assert result["proposed_amendment"]["status"] == "written"
        assert client.post(url, json=body, headers=API).status_code == 409

        incident = client.get(f"/agent/incidents/{first}").json()
        assert incident["resolution"]["by"] == "alice" and incident["status"] == "escalated"
        assert incident["timeline"][-1]["step"] == "resolution"
        assert "## Resolved by a human" in incident["report"]
        proposal = (folder / "proposed" / f"dependency-outage--{first}.md").read_text()
        assert "inventory calls hung and held every pool connection" in proposal
        assert "alerts: add `TargetDbPoolExhausted`" in proposal
        assert 'signals: add `{signal: "log:queuepool limit of size"' in proposal
        listed = client.get("/agent/runbooks/proposed").json()
        assert listed["enabled"] is True
        assert [(p["runbook_id"], p["incident_id"]) for p in listed["proposals"]] == [
            ("dependency-outage", first)
        ]

        second = page(client, "fp2", "2026-11-24T11:00:00Z")
        incident = client.get(f"/agent/incidents/{second}").json()
        diagnosis = incident["diagnosis"]
        assert incident["status"] == "resolved", incident["timeline"]
        assert diagnosis["diagnosis_id"] == "dependency-outage" and diagnosis["source"] == "memory"
        assert (
            diagnosis["confidence"] > first_confidence and diagnosis["confidence"] >= settings.MIN_CONFIDENCE
        )
        assert any(
            f"past incident {first} with the same pattern (similarity" in e for e in diagnosis["evidence"]
        )
        assert [c["action"] for c in lab.calls] == ["enable-dependency-fallback"]
        assert client.get("/agent/runbooks/proposed").json()["count"] == 1  # its lessons are pending already
        learn = incident["timeline"][-1]["data"]["proposed_amendment"]
        assert learn == {"status": "already_proposed", "detail": f"pending in dependency-outage--{first}.md"}
        resolved = client.post(f"/agent/incidents/{second}/resolution", json=body, headers=API)
        assert resolved.status_code == 409 and "this one is resolved" in resolved.json()["detail"]


def test_proposals_can_be_turned_off(tmp_path: Path, lab_urls: LabUrls, lab: Lab) -> None:
    folder = runbook_folder(tmp_path, POOL_RUNBOOK)
    lab.fix_action = "restart-target"
    settings = agent_settings(
        tmp_path, lab_urls, RUNBOOKS_PATH=folder, PROPOSED_RUNBOOKS_ENABLED=False, VERIFY_DEADLINE_SECONDS=1.0
    )
    with TestClient(agent_app(settings, lab_urls)) as client:
        incident = client.get(f"/agent/incidents/{page(client, 'fp1', '2026-11-24T10:00:00Z')}").json()
        assert incident["status"] == "resolved" and len(lab.calls) == 2  # a lesson, not written down
        assert client.get("/agent/runbooks/proposed").json() == {
            "enabled": False,
            "proposals": [],
            "count": 0,
        }
    assert not (folder / "proposed").exists()
