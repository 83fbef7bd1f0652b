"""The intake queue's back-pressure, LLM fallback counting, and incident-scoped log lines."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from agent.diagnosis.llm import LLMOutcome
from agent.domain.diagnosis import Diagnosis
from agent.intake.alertmanager import WebhookNotification
from agent.intake.correlation import IngestResult
from agent.intake.queue import IntakeQueue, coalesced
from agent.telemetry.metrics import AgentMetrics

from .agent_testkit import FIRING, Lab, WorkflowFactory, open_incident, pool_alert, standin_reasoning


def group(key: str, *alerts: tuple[str, str]) -> WebhookNotification:
    """A notification of group `key` with alerts (fingerprint, status)."""
    template = FIRING["alerts"][0]
    return WebhookNotification.model_validate(
        {
            **FIRING,
            "groupKey": key,
            "alerts": [{**template, "fingerprint": fp, "status": status} for fp, status in alerts],
        }
    )


class Recording:
    """Stands in for the correlator: keeps what the worker hands it."""

    def __init__(self) -> None:
        self.handled: list[WebhookNotification] = []

    async def ingest(self, notification: WebhookNotification) -> Any:
        self.handled.append(notification)
        return IngestResult()


def test_a_full_queue_refuses_so_the_route_can_answer_503() -> None:
    metrics = AgentMetrics(CollectorRegistry())
    queue = IntakeQueue(correlator=None, metrics=metrics, maxsize=1)  # type: ignore[arg-type]
    assert queue.offer(group("a", ("fp1", "firing"))) == "queued"
    assert queue.offer(group("b", ("fp2", "firing"))) == "full"
    assert queue.depth == 1 and metrics.registry.get_sample_value("sre_agent_queue_depth") == 1


async def test_a_re_sent_group_takes_its_waiting_notifications_place_and_no_alert_is_lost() -> None:
    """Alertmanager sends a group's whole state each time: a re-send storm holds one slot per group, and
    the worker handles the latest state once, with the alerts only an earlier copy carried."""
    metrics = AgentMetrics(CollectorRegistry())
    correlator = Recording()
    queue = IntakeQueue(correlator=correlator, metrics=metrics, maxsize=2, max_alerts=3)  # type: ignore[arg-type]
    assert queue.offer(group("a", ("fp1", "firing"), ("fp2", "resolved"))) == "queued"
    for _ in range(50):
        assert queue.offer(group("a", ("fp1", "firing"))) == "coalesced"
    assert queue.offer(group("b", ("fp9", "firing"))) == "queued"
    assert queue.offer(group("a", ("fp1", "resolved"), ("fp3", "firing"))) == "coalesced"
    assert queue.offer(group("c", ("fp8", "firing"))) == "full"  # a and b hold the two slots
    # with the waiting one, over the 3 alerts a notification may hold: a slot of its own, not a drop
    assert queue.offer(group("a", ("fp4", "firing"), ("fp5", "firing"))) == "full"
    assert queue.depth == 2
    worker = asyncio.create_task(queue.run())
    await asyncio.wait_for(queue.join(), 5)
    assert queue.offer(group("a", ("fp4", "firing"), ("fp5", "firing"))) == "queued"  # handled: a new slot
    await asyncio.wait_for(queue.join(), 5)
    worker.cancel()
    first, second, third = correlator.handled
    assert second.groupKey == "b" and third.groupKey == "a"
    # the newest state of fp1, the firing fp3, and fp2 (resolved), which only the first copy carried
    assert first.groupKey == "a" and first.status == "firing"
    assert [(a.fingerprint, a.status) for a in first.alerts] == [
        ("fp1", "resolved"),
        ("fp3", "firing"),
        ("fp2", "resolved"),
    ]
    assert metrics.registry.get_sample_value("sre_agent_intake_coalesced_total") == 51


def test_a_resolved_alert_only_the_waiting_copy_carried_is_kept() -> None:
    merged = coalesced(group("a", ("fp1", "firing"), ("fp2", "resolved")), group("a", ("fp1", "resolved")))
    assert [(a.fingerprint, a.status) for a in merged.alerts] == [("fp1", "resolved"), ("fp2", "resolved")]
    assert merged.status == "resolved"
    same = group("a", ("fp1", "firing"))
    assert coalesced(group("a", ("fp1", "firing")), same) is same


class BrokenLLM:
    async def diagnose(self, *args: Any) -> Any:
        raise TimeoutError("model did not answer")


async def test_llm_failure_falls_back_to_the_deterministic_diagnoser(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    reasoning = standin_reasoning()
    reasoning.llm = BrokenLLM()
    wf = await workflows.build(reasoning=reasoning)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    assert (await wf.store.get(incident_id)).status == "resolved"
    assert wf.metric("sre_agent_llm_fallbacks_total", reason="exception") == 1
    assert wf.metric("sre_agent_llm_calls_total", result="error") == 1


class ScriptedLLM:
    """Answers every diagnosis with the same runbook id, as a (weak) model might."""

    def __init__(self, answer: str) -> None:
        self.answer = answer

    async def diagnose(self, *args: Any) -> LLMOutcome:
        diagnosis = Diagnosis(diagnosis_id=self.answer, confidence=0.97, source="llm")
        return LLMOutcome(diagnosis=diagnosis, prompt_tokens=900, completion_tokens=40)


async def _diagnose_data(wf: Any, incident_id: str) -> dict[str, Any]:
    (entry,) = [e for e in (await wf.store.get(incident_id)).timeline if e.step == "diagnose"]
    return dict(entry.data)


async def test_an_llm_answer_agreeing_with_the_evidence_is_acted_on_and_recorded(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    reasoning = standin_reasoning()
    reasoning.llm = ScriptedLLM("db-pool-exhaustion")
    wf = await workflows.build(reasoning=reasoning)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    assert (await wf.store.get(incident_id)).status == "resolved"
    data = await _diagnose_data(wf, incident_id)
    assert data["source"] == "llm" and data["llm_tokens"] == 940
    assert data["llm_answer"] == "db-pool-exhaustion"
    assert (data["llm_agreed"], data["llm_fallback"]) == (True, None)
    assert wf.metric("sre_agent_llm_calls_total", result="ok") == 1


async def test_an_llm_answer_the_evidence_does_not_support_is_not_acted_on(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    """A pool page answered "bad-release": a known runbook, valid JSON, but nothing measured points there."""
    reasoning = standin_reasoning()
    reasoning.llm = ScriptedLLM("bad-release")
    wf = await workflows.build(reasoning=reasoning)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert incident.status == "resolved"
    assert [a.action for a in incident.actions] == ["remediate-db-pool-exhaustion"]  # never a rollback
    data = await _diagnose_data(wf, incident_id)
    assert data["diagnosis"] == "db-pool-exhaustion" and data["source"] == "deterministic"
    assert data["llm_answer"] == "bad-release"
    assert (data["llm_agreed"], data["llm_fallback"]) == (False, "unsupported")
    assert data["deterministic_diagnosis"] == "db-pool-exhaustion"
    assert wf.metric("sre_agent_llm_fallbacks_total", reason="unsupported") == 1


async def test_every_workflow_log_line_carries_the_incident_id(lab: Lab, workflows: WorkflowFactory) -> None:
    wf = await workflows.build()
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        incident_id = await open_incident(wf, pool_alert())
        await wf.runner.wait(incident_id)
    workflow_lines = [line for line in logs if line["event"] in {"timeline", "workflow_finished"}]
    assert len(workflow_lines) >= 8
    assert all(line.get("incident_id") == incident_id for line in workflow_lines)
