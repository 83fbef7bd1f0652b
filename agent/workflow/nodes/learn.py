"""learn: close the incident, write its report, remember it in the knowledge store, count it in metrics,
and propose a runbook amendment when a resolved incident taught its runbook something."""

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
    proposed = await _propose_amendment(deps, incident, state)
    if deps.annotations is not None:
        deps.annotations.close_incident(
            incident_id, diagnosis_id, outcome, f"{incident_id}: {outcome}", opened_at=incident.opened_at
        )
    data: dict[str, Any] = {"remembered": remembered}
    message = f"incident {outcome}"
    if proposed is not None:
        data["proposed_amendment"] = proposed.model_dump(exclude_none=True)
        if proposed.status == "written":
            message += f"; runbook amendment proposed: proposed/{proposed.file}"
    entry = deps.record(incident_id, "learn", message, data)
    return {"timeline": [entry], "recommendation": state.get("recommendation", "")}


async def _propose_amendment(deps: WorkflowDeps, incident: Incident, state: AgentState) -> Any | None:
    """A reviewable proposal in RUNBOOKS_PATH/proposed when the incident taught its runbook something.

    Never edits the runbook; never fails the learn step (a failure is logged). A replayed learn step finds
    the incident's proposal written and leaves it as it is.
    """
    runbook = deps.runbook(incident.diagnosis_id)
    if deps.amendments is None or runbook is None or incident.status != "resolved":
        return None
    try:
        from agent.learning.amendments import from_incident

        amendment = from_incident(incident, runbook, Symptoms.model_validate(state.get("symptoms") or {}))
        if amendment is None:
            return None
        return await asyncio.to_thread(deps.amendments.write, amendment)
    except Exception as exc:  # a proposal is an aid to people; the incident itself is closed
        deps.log.warning("amendment_not_proposed", error=type(exc).__name__)
        return None


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
