"""The intake queue's back-pressure, LLM fallback counting, and incident-scoped log lines."""

from __future__ import annotations

from typing import Any

import structlog
from agent_testkit import Lab, WorkflowFactory, standin_reasoning
from prometheus_client import CollectorRegistry
from test_alertmanager_model import FIRING
from test_workflow import open_incident, pool_alert

from agent.intake.alertmanager import WebhookNotification
from agent.intake.queue import IntakeQueue
from agent.telemetry.metrics import AgentMetrics


def test_a_full_queue_refuses_so_the_route_can_answer_503() -> None:
    metrics = AgentMetrics(CollectorRegistry())
    queue = IntakeQueue(correlator=None, metrics=metrics, maxsize=1)  # type: ignore[arg-type]
    notification = WebhookNotification.model_validate(FIRING)
    assert queue.offer(notification) is True
    assert queue.offer(notification) is False
    assert queue.depth == 1 and metrics.registry.get_sample_value("sre_agent_queue_depth") == 1


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
    assert wf.store.get(incident_id).status == "resolved"
    assert wf.metric("sre_agent_llm_fallbacks_total", reason="exception") == 1
    assert wf.metric("sre_agent_llm_calls_total", result="error") == 1


async def test_every_workflow_log_line_carries_the_incident_id(lab: Lab, workflows: WorkflowFactory) -> None:
    wf = await workflows.build()
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        incident_id = await open_incident(wf, pool_alert())
        await wf.runner.wait(incident_id)
    workflow_lines = [line for line in logs if line["event"] in {"timeline", "workflow_finished"}]
    assert len(workflow_lines) >= 8
    assert all(line.get("incident_id") == incident_id for line in workflow_lines)
