"""approve: pause the graph with `interrupt()` until a human POSTs /agent/incidents/{id}/approve|reject.

LangGraph re-runs this node from the top on resume, so the request is recorded only once per action key.
With an Alertmanager, the request is the `SREAgentApprovalNeeded` alert (its annotations carry the approve
and reject calls) until the decision comes.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt
from pydantic import BaseModel

from agent.incidents.models import ActionRecord, Incident
from agent.workflow.deps import WorkflowDeps
from agent.workflow.state import AgentState


class ApprovalDecision(BaseModel):
    approved: bool
    by: str = "operator"
    comment: str = ""


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident_id = state["incident_id"]
    planned = state["action_plan"][0]
    incident = await deps.store.get(incident_id)
    if not any(e.step == "approve" and e.data.get("key") == planned["key"] for e in incident.timeline):
        await deps.set_step(incident_id, "approve", "awaiting_approval")
        await deps.record(
            incident_id, "approve", f"waiting for approval of {planned['action']}", {"key": planned["key"]}
        )
        if deps.handover is not None:
            await deps.handover.approval_needed(incident_id, planned, _why(incident))
    answer = interrupt(
        {
            "incident_id": incident_id,
            "action": planned["action"],
            "params": planned["params"],
            "risk": planned["risk"],
        }
    )
    decision = ApprovalDecision.model_validate(answer)
    if deps.handover is not None:
        await deps.handover.approval_decided(incident_id)
    if decision.approved:
        await deps.set_step(incident_id, "approve", "remediating")
        entry = await deps.record(
            incident_id,
            "approve",
            f"{planned['action']} approved by {decision.by}",
            {"key": planned["key"], "decision": "approved", "comment": decision.comment},
        )
        return {"plan_decision": "execute", "timeline": [entry]}
    record = ActionRecord(**{**planned, "key": f"{planned['key']}:rejected", "status": "rejected"})
    await deps.store.update(incident_id, lambda i: i.actions.append(record))
    reason = f"{planned['action']} rejected by {decision.by}" + (
        f": {decision.comment}" if decision.comment else ""
    )
    entry = await deps.record(incident_id, "approve", reason, {"key": planned["key"], "decision": "rejected"})
    return {"plan_decision": "escalate", "escalation_reason": reason, "timeline": [entry]}


def _why(incident: Incident) -> str:
    """What the plan said approval is needed for (a high-risk action, approval mode)."""
    for entry in reversed(incident.timeline):
        if entry.step == "plan" and entry.data.get("needs_approval"):
            return str(entry.data.get("why") or "")
    return ""
