"""wait: a guardrail held the planned action back for now (its cooldown, another incident's fix on the
service being verified); pause until the cooldown is over or that incident is done (bounded), then gather
again: the other fix may have been the answer.

When it was: the other incident resolved and none of this incident's alerts fires any more (Prometheus'
`ALERTS`, else the notifications received), this incident was the same problem. It closes as merged into
the other, and nothing is done: gathering again would read whatever else the service shows now (a process
warming up after the fix, say) as this page's cause and act on it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.guardrails.policy import BUSY
from agent.workflow.deps import WorkflowDeps
from agent.workflow.state import AgentState
from agent.workflow.verification import alerts_firing

POLL_SECONDS = 1.0


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    await deps.set_step(state["incident_id"], "wait")
    sleep = deps.sleep or asyncio.sleep
    seconds = float(state.get("wait_seconds") or 1.0)
    other = state.get("wait_for") or ""
    if not other:
        await sleep(seconds)
        return {}
    end = time.monotonic() + seconds
    while time.monotonic() < end and (await deps.store.get(other)).status in BUSY:
        await sleep(POLL_SECONDS)
    if (await deps.store.get(other)).status != "resolved" or await _still_firing(deps, state["incident_id"]):
        return {}
    incident_id = state["incident_id"]
    await deps.store.update(incident_id, lambda i: setattr(i, "merged_into", other))
    entry = await deps.record(
        incident_id,
        "wait",
        f"its alerts stopped when {other}'s fix was verified: the same problem; nothing was done",
        {"merged_into": other},
    )
    return {"merged_into": other, "timeline": [entry]}


async def _still_firing(deps: WorkflowDeps, incident_id: str) -> bool:
    """Whether any of the incident's alerts fires now; an incident not opened by alerts (a trigger, the
    monitor) has no alerts to stop, so it goes on."""
    incident = await deps.store.get(incident_id)
    if incident.source not in ("alertmanager", "handoff") or not incident.alerts:
        return True
    service = deps.service(incident.service)
    firing = await alerts_firing(deps, service) if service is not None else None
    if firing is None:
        return any(a.status == "firing" for a in incident.alerts)
    return bool(firing & {a.name for a in incident.alerts})
