"""escalate: hand the incident to a human, saying why and what to look at first."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.workflow.deps import WorkflowDeps
from agent.workflow.state import AgentState


def escalation_reason(state: AgentState, deps: WorkflowDeps) -> str:
    if state.get("escalation_reason"):
        return state["escalation_reason"]
    diagnosis = state.get("diagnosis") or {}
    if diagnosis.get("diagnosis_id", "unknown") == "unknown":
        return "diagnosis unknown: no runbook matches these symptoms"
    confidence = float(state.get("confidence") or 0.0)
    if confidence < deps.settings.MIN_CONFIDENCE:
        return f"confidence {confidence:.2f} below {deps.settings.MIN_CONFIDENCE:.2f}"
    if state.get("attempts", 0) >= deps.settings.MAX_ATTEMPTS:
        return f"{state['attempts']} attempts did not verify recovery"
    return "no further action available"


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident_id = state["incident_id"]
    deps.set_step(incident_id, "escalate")
    reason = escalation_reason(state, deps)
    runbook = deps.runbook((state.get("diagnosis") or {}).get("diagnosis_id"))
    recommendation = getattr(runbook, "escalate_when", "") or (
        "Check the target's health checks, recent error logs and release history; "
        "the evidence below is what the agent saw."
    )

    def mutate(incident: Any) -> None:
        incident.escalation_reason = reason

    deps.store.update(incident_id, mutate)
    entry = deps.record(incident_id, "escalate", f"escalated to a human: {reason}", {"reason": reason})
    return {
        "escalation_reason": reason,
        "recommendation": recommendation,
        "is_resolved": False,
        "timeline": [entry],
    }
