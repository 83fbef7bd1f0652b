"""learn: close the incident, write its report, remember it in the knowledge store, count it in metrics."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig

from agent.diagnosis.models import Symptoms
from agent.incidents.models import Incident, utcnow
from agent.workflow.deps import WorkflowDeps
from agent.workflow.report import render_report
from agent.workflow.state import AgentState

Outcome = Literal["resolved", "escalated", "failed"]
EXECUTED = frozenset({"intent", "succeeded", "failed", "unknown"})


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident_id = state["incident_id"]
    deps.set_step(incident_id, "learn")
    resolved = bool(state.get("is_resolved"))
    incident = deps.store.get(incident_id)
    acted = any(a.status in EXECUTED for a in incident.actions)
    outcome: Outcome = "resolved" if resolved else ("failed" if acted else "escalated")

    def mutate(i: Incident) -> None:
        i.status = outcome
        i.step = "done"
        i.closed_at = utcnow()
        i.report = render_report(i, state.get("recommendation", ""))

    incident = deps.store.update(incident_id, mutate)
    diagnosis_id = incident.diagnosis_id or "unknown"
    deps.metrics.incidents_total.labels(diagnosis=diagnosis_id, outcome=outcome).inc()
    if resolved and incident.mitigated_at:
        ttm = (incident.mitigated_at - incident.opened_at).total_seconds()
        deps.metrics.time_to_mitigate.labels(diagnosis=diagnosis_id).observe(ttm)
    deps.metrics.incidents_open.set(deps.store.count_unfinished())
    remembered = await _remember(deps, incident, state, outcome)
    if deps.annotations is not None:
        deps.annotations.close_incident(
            incident_id, diagnosis_id, outcome, f"{incident_id}: {outcome}", opened_at=incident.opened_at
        )
    entry = deps.record(incident_id, "learn", f"incident {outcome}", {"remembered": remembered})
    return {"timeline": [entry], "recommendation": state.get("recommendation", "")}


async def _remember(deps: WorkflowDeps, incident: Incident, state: AgentState, outcome: Outcome) -> bool:
    """Store the incident in the knowledge store for similar incidents to find; a failure is logged only.

    In a thread: the store may wait on Weaviate, and the event loop answers webhooks meanwhile.
    """
    if deps.knowledge is None:
        return False
    try:
        from agent.knowledge.store import IncidentMemory

        symptoms = Symptoms.model_validate(state.get("symptoms") or {})
        executed = [a for a in incident.actions if a.status in EXECUTED]
        worked = [executed[-1].action] if outcome == "resolved" and executed else []  # the one verified
        ttm = (incident.mitigated_at - incident.opened_at).total_seconds() if incident.mitigated_at else None
        memory = IncidentMemory(
            incident_id=incident.id,
            symptoms_text=deps.reasoning.symptoms_query(symptoms),
            diagnosis_id=incident.diagnosis_id or "unknown",
            root_cause=incident.diagnosis.root_cause if incident.diagnosis else "",
            actions_tried=[a.action for a in executed],
            actions_worked=worked,
            actions_failed=[a.action for a in executed if a.action not in worked],
            outcome=outcome,
            time_to_mitigate_seconds=ttm,
            created_at=utcnow(),
        )
        await asyncio.to_thread(deps.knowledge.add_incident, memory)
        return True
    except Exception as exc:  # memory is an aid; the incident itself is already stored
        deps.log.warning("remember_failed", error=type(exc).__name__)
        return False
