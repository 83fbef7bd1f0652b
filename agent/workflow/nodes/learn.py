"""learn: close the incident, write its report, remember it in the knowledge store, count it in metrics,
open the next problem when alerts outlived a verified fix, keep what a masking mitigation left for a
person as a follow-up, and propose a runbook amendment when a resolved incident taught its runbook
something."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig

from agent.domain.signals import Symptoms
from agent.incidents.models import FollowUp, Incident, utcnow
from agent.workflow.deps import WorkflowDeps
from agent.workflow.report import render_report
from agent.workflow.state import AgentState

Outcome = Literal["resolved", "escalated", "failed", "merged"]
EXECUTED = frozenset({"intent", "succeeded", "failed", "unknown"})


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident_id = state["incident_id"]
    await deps.set_step(incident_id, "learn")
    resolved = bool(state.get("is_resolved"))
    incident = await deps.store.get(incident_id)
    acted = any(a.status in EXECUTED for a in incident.actions)
    outcome: Outcome = (
        "merged"
        if state.get("merged_into")
        else "resolved"
        if resolved
        else ("failed" if acted else "escalated")
    )
    follow_up = _follow_up(state, incident) if outcome == "resolved" else None
    if deps.handover is not None and incident.silences:  # verify removes them; a resumed run may not have
        await deps.handover.unsilence(incident_id)

    def mutate(i: Incident) -> None:
        i.status = outcome
        i.step = "done"
        i.closed_at = utcnow()
        if follow_up is not None:
            i.follow_ups.append(follow_up)
        i.report = render_report(i, state.get("recommendation", ""))

    incident = await deps.store.update(incident_id, mutate)
    diagnosis_id = incident.diagnosis_id or "unknown"
    service = incident.service
    deps.metrics.incidents_total.labels(service=service, diagnosis=diagnosis_id, outcome=outcome).inc()
    if resolved and incident.mitigated_at:
        ttm = (incident.mitigated_at - incident.opened_at).total_seconds()
        deps.metrics.time_to_mitigate.labels(service=service, diagnosis=diagnosis_id).observe(ttm)
    deps.metrics.incidents_open.set(await deps.store.count_unfinished())
    if follow_up is not None:
        deps.metrics.follow_ups_open.labels(service=service, diagnosis=diagnosis_id).inc()
    data: dict[str, Any] = {}
    message = f"incident {outcome}"
    if outcome == "merged":
        message += f" into {state.get('merged_into')}"
    else:
        data["remembered"] = await _remember(deps, incident, state, outcome)
    proposed = await _propose_amendment(deps, incident, state)
    if deps.annotations is not None:
        deps.annotations.close_incident(
            incident_id, diagnosis_id, outcome, f"{incident_id}: {outcome}", opened_at=incident.opened_at
        )
    if follow_up is not None:
        data["follow_up"] = follow_up.note
        message += f"; follow-up left for a person: {follow_up.note}"
    next_id = (
        await _next_problem(deps, incident, state.get("next_problem") or [])
        if outcome == "resolved"
        else None
    )
    if next_id is not None:
        data["next_incident"] = next_id
        message += f"; the alerts still firing are the next problem: {next_id}"
    if proposed is not None:
        data["proposed_amendment"] = proposed.model_dump(exclude_none=True)
        if proposed.status == "written":
            message += f"; runbook amendment proposed: proposed/{proposed.file}"
    entry = await deps.record(incident_id, "learn", message, data)
    return {"timeline": [entry], "recommendation": state.get("recommendation", "")}


def _follow_up(state: AgentState, incident: Incident) -> FollowUp | None:
    """The mitigation that was verified, when its runbook says it leaves a cause behind."""
    plan = state.get("action_plan") or []
    if not plan or not plan[0].get("follow_up"):
        return None
    return FollowUp(
        action=plan[0]["action"], runbook=incident.diagnosis_id or "unknown", note=plan[0]["follow_up"]
    )


async def _next_problem(deps: WorkflowDeps, incident: Incident, names: list[str]) -> str | None:
    """Alerts of this incident still firing after its fix was verified open the next incident."""
    if not names or deps.open_incident is None:
        return None
    alerts = [a for a in incident.alerts if a.name in set(names) and a.status == "firing"]
    if not alerts:
        return None
    try:
        return await deps.open_incident(incident.service, alerts, incident.id)
    except Exception as exc:  # the incident itself is closed; the alerts page again if they go on
        deps.log.warning("next_problem_not_opened", error=type(exc).__name__)
        return None


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


async def _remember(
    deps: WorkflowDeps,
    incident: Incident,
    state: AgentState,
    outcome: Literal["resolved", "escalated", "failed"],
) -> bool:
    """Store the incident in the knowledge store for similar incidents to find; a failure is logged only.

    In a thread: the store may wait on Weaviate, and the event loop answers webhooks meanwhile.
    """
    if deps.knowledge is None:
        return False
    try:
        from agent.knowledge.store import IncidentMemory

        symptoms = Symptoms.model_validate(state.get("symptoms") or {})
        executed = [a for a in incident.actions if a.status in EXECUTED]
        verified = [executed[-1].action] if outcome == "resolved" and executed else []
        # judged after another incident's later fix on the service too: neither worked nor failed alone
        shared = bool(incident.verification) and incident.verification[-1].windows_from is not None
        worked = [] if shared else verified
        ttm = (incident.mitigated_at - incident.opened_at).total_seconds() if incident.mitigated_at else None
        memory = IncidentMemory(
            incident_id=incident.id,
            symptoms_text=deps.reasoning.symptoms_query(symptoms),
            diagnosis_id=incident.diagnosis_id or "unknown",
            root_cause=incident.diagnosis.root_cause if incident.diagnosis else "",
            actions_tried=[a.action for a in executed],
            actions_worked=worked,
            actions_failed=[a.action for a in executed if a.action not in verified],
            outcome=outcome,
            time_to_mitigate_seconds=ttm,
            created_at=utcnow(),
        )
        await asyncio.to_thread(deps.knowledge.add_incident, memory)
        return True
    except Exception as exc:  # memory is an aid; the incident itself is already stored
        deps.log.warning("remember_failed", error=type(exc).__name__)
        return False
