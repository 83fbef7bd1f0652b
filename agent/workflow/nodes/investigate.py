"""investigate: the runbook's checks tell apart causes with the same symptoms (may revise the diagnosis
to a rival among the service's candidate runbooks, never to a problem another incident is handling)."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.domain.diagnosis import Diagnosis
from agent.domain.signals import Symptoms
from agent.workflow.deps import WorkflowDeps
from agent.workflow.state import AgentState


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident_id = state["incident_id"]
    await deps.set_step(incident_id, "investigate")
    incident = await deps.store.get(incident_id)
    symptoms = Symptoms.model_validate(state["symptoms"])
    before = Diagnosis.model_validate(state["diagnosis"])
    handled = await deps.handled_elsewhere(incident)
    runbooks = [rb for rb in deps.runbooks_for(deps.service(incident.service)) if rb.id not in handled]
    result = deps.reasoning.investigate(symptoms, runbooks, before)
    after: Diagnosis = result.diagnosis
    checks = [c.model_dump(mode="json") for c in result.checks]
    investigation = {
        "checks": checks,
        "revised": after.diagnosis_id != before.diagnosis_id,
        "diagnosis_before": before.diagnosis_id,
    }

    def mutate(incident: Any) -> None:
        incident.investigation = investigation
        incident.diagnosis = after
        incident.evidence = list(after.evidence)

    await deps.store.update(incident_id, mutate)
    passed = sum(1 for c in checks if c.get("passed"))
    message = f"{passed}/{len(checks)} checks passed"
    if investigation["revised"]:
        message += f"; diagnosis revised {before.diagnosis_id} → {after.diagnosis_id}"
    entry = await deps.record(
        incident_id,
        "investigate",
        message,
        {"checks": checks, "diagnosis": after.diagnosis_id, "confidence": after.confidence},
    )
    return {
        "investigation": investigation,
        "diagnosis": after.model_dump(mode="json"),
        "confidence": after.confidence,
        "root_cause": after.root_cause,
        "timeline": [entry],
    }
