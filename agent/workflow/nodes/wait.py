"""wait: a guardrail held the planned action back for now (its cooldown, another incident's fix on the
service being verified); pause until the cooldown is over or that incident is done (bounded), then gather
again: the other fix may have been the answer.

When it was: the other incident resolved and none of this incident's alerts fires any more (Prometheus'
`ALERTS`, else the notifications received), this incident was the same problem. It closes as merged into
the other, and nothing is done: gathering again would read whatever else the service shows now (a process
warming up after the fix, say) as this page's cause and act on it.

When this incident's diagnosis differs from the other's, the wait need not last the other's whole
verification: once that fix has had the service's settle time to show, the service is looked at every
poll (from what it shows alone, leaving out the problems other incidents handle). Still this incident's
problem, confidently: the other fix was not its answer, and the plan goes on (gather, diagnose, plan
again). Anything else (nothing conclusive, another problem): the wait goes on until the other is done."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.guardrails.policy import BUSY
from agent.workflow.deps import WorkflowDeps
from agent.workflow.looking import diagnose_now
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
    incident_id = state["incident_id"]
    start = time.monotonic()
    end = start + seconds
    look_after = float(state.get("look_after", -1.0))
    next_look = start + look_after if look_after >= 0 else end
    while time.monotonic() < end and (status := (await deps.store.get(other)).status) in BUSY:
        if status == "verifying" and time.monotonic() >= next_look:
            entry = await _own_problem_still_shows(deps, state, other)
            if entry is not None:
                return {"timeline": [entry]}
            next_look = time.monotonic() + deps.settings.VERIFY_POLL_SECONDS
        await sleep(POLL_SECONDS)
    if (await deps.store.get(other)).status != "resolved" or await _still_firing(deps, incident_id):
        return {}
    await deps.store.update(incident_id, lambda i: setattr(i, "merged_into", other))
    entry = await deps.record(
        incident_id,
        "wait",
        f"its alerts stopped when {other}'s fix was verified: the same problem; nothing was done",
        {"merged_into": other},
    )
    return {"merged_into": other, "timeline": [entry]}


async def _own_problem_still_shows(
    deps: WorkflowDeps, state: AgentState, other: str
) -> dict[str, Any] | None:
    """The timeline entry when the service, looked at now, still shows this incident's own diagnosis
    with confidence after `other`'s fix had its time to show; None otherwise."""
    incident = await deps.store.get(state["incident_id"])
    mine = (state.get("diagnosis") or {}).get("diagnosis_id")
    handled = await deps.handled_elsewhere(incident)
    now = await diagnose_now(deps, incident, leaving_out=handled)
    limits = deps.limits(deps.service(incident.service))
    if not now.is_known or now.diagnosis_id != mine or now.confidence < limits.min_confidence:
        return None
    return await deps.record(
        incident.id,
        "wait",
        f"looked at the service again while {other}'s fix is verified: still {mine} "
        f"({now.confidence:.2f}); that fix was not its answer, planning again",
        {"diagnosis": mine, "confidence": now.confidence, "evidence": now.evidence, "waited_for": other},
    )


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
