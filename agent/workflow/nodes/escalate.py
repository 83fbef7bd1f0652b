"""escalate: hand the incident to a human, saying why and what to look at first; with an Alertmanager,
as the `SREAgentEscalated` alert people's routes carry (`agent.paging`)."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.workflow.deps import WorkflowDeps
from agent.workflow.nodes.observe import why_not_look_again
from agent.workflow.state import AgentState


async def escalation_reason(state: AgentState, deps: WorkflowDeps) -> str:
    if state.get("escalation_reason"):
        return state["escalation_reason"]
    diagnosis = state.get("diagnosis") or {}
    if diagnosis.get("diagnosis_id", "unknown") == "unknown":
        return await _with_looks("diagnosis unknown: no runbook matches these symptoms", state, deps)
    limits = deps.limits(deps.service((await deps.store.get(state["incident_id"])).service))
    confidence = float(state.get("confidence") or 0.0)
    if confidence < limits.min_confidence:
        return await _with_looks(
            f"confidence {confidence:.2f} below {limits.min_confidence:.2f}", state, deps
        )
    if state.get("attempts", 0) >= limits.max_attempts:
        return f"{state['attempts']} attempts did not verify recovery"
    return "no further action available"


async def _with_looks(reason: str, state: AgentState, deps: WorkflowDeps) -> str:
    """Why the agent stopped looking again (observe), when it looked more than once or had a reason."""
    stopped = await why_not_look_again(state, deps)
    return f"{reason} ({stopped})" if stopped else reason


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident_id = state["incident_id"]
    await deps.set_step(incident_id, "escalate")
    reason = await escalation_reason(state, deps)
    runbook = deps.runbook((state.get("diagnosis") or {}).get("diagnosis_id"))
    recommendation = getattr(runbook, "escalate_when", "") or (
        "Check the service's health, recent error logs and release history; "
        "the evidence below is what the agent saw."
    )

    incident = await deps.store.get(incident_id)
    service = deps.service(incident.service)
    labels = dict(service.entry.escalation.labels) if service is not None else {}

    def mutate(incident: Any) -> None:
        incident.escalation_reason = reason
        incident.escalation_labels = labels

    await deps.store.update(incident_id, mutate)
    entry = await deps.record(
        incident_id, "escalate", f"escalated to a human: {reason}", {"reason": reason, "labels": labels}
    )
    if deps.handover is not None:  # the silence goes first: what still fires is a person's now
        await deps.handover.unsilence(incident_id)
        await deps.handover.escalated(incident_id, recommendation)
    return {
        "escalation_reason": reason,
        "recommendation": recommendation,
        "is_resolved": False,
        "timeline": [entry],
    }
