"""observe: the evidence is inconclusive, so wait a moment and look again instead of escalating at once.

A page often arrives while symptoms are still developing: the first alert of a CPU hog is high latency
before the CPU alert's own `for` has passed, and windowed means (dependency call time, CPU) lag the
fault by their window. An on-call engineer looks again a minute later; so does the agent, within
`OBSERVE_WINDOW_SECONDS`, and only for pages a runbook claims (an alert nobody wrote a runbook for
escalates at once) whose alerts are still firing.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.incidents.models import utcnow
from agent.workflow.deps import WorkflowDeps
from agent.workflow.state import AgentState


def observing_for(state: AgentState) -> float:
    """Seconds since the first look (gather) of this incident."""
    first = state.get("first_look_at")
    if not first:
        return 0.0
    return max(0.0, (utcnow() - datetime.fromisoformat(first)).total_seconds())


async def why_not_look_again(state: AgentState, deps: WorkflowDeps) -> str | None:
    """None when another look is worth it; otherwise the reason to stop looking (for the escalation)."""
    window, interval = deps.settings.OBSERVE_WINDOW_SECONDS, deps.settings.OBSERVE_INTERVAL_SECONDS
    looks = int(state.get("looks") or 1)
    if window <= 0:
        return ""
    if observing_for(state) + interval > window:
        return f"still inconclusive after {looks} looks over {observing_for(state):.0f} s"
    incident = await deps.store.get(state["incident_id"])
    if incident.source != "alertmanager":
        return None
    firing = {a.name for a in incident.alerts if a.status == "firing"}
    if not firing:
        return "the alerts resolved before the evidence was conclusive; nothing was done"
    runbooks = deps.runbooks_for(deps.service(incident.service))
    claimed = {name for rb in runbooks for name in getattr(rb, "alerts", [])}
    if not firing & claimed:
        return ""  # no runbook covers these alerts: more looks cannot help
    return None


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident_id = state["incident_id"]
    await deps.set_step(incident_id, "observe")
    diagnosis = state.get("diagnosis") or {}
    interval = deps.settings.OBSERVE_INTERVAL_SECONDS
    looks = int(state.get("looks") or 1)
    entry = await deps.record(
        incident_id,
        "observe",
        f"evidence inconclusive ({diagnosis.get('diagnosis_id', 'unknown')}, confidence "
        f"{float(state.get('confidence') or 0.0):.2f}): looking again in {interval:g} s (look {looks + 1})",
        {"looks": looks, "observing_seconds": round(observing_for(state), 1)},
    )
    await (deps.sleep or asyncio.sleep)(interval)
    return {"timeline": [entry]}
