"""wait: a guardrail held the planned action back for now (its cooldown, another incident's fix on the
service being verified); pause until the cooldown is over or that incident is done (bounded), then gather
again: the other fix may have been the answer."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.guardrails.policy import BUSY
from agent.workflow.deps import WorkflowDeps
from agent.workflow.state import AgentState

POLL_SECONDS = 1.0


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    deps.set_step(state["incident_id"], "wait")
    sleep = deps.sleep or asyncio.sleep
    seconds = float(state.get("wait_seconds") or 1.0)
    other = state.get("wait_for") or ""
    if not other:
        await sleep(seconds)
        return {}
    end = time.monotonic() + seconds
    while time.monotonic() < end and deps.store.get(other).status in BUSY:
        await sleep(POLL_SECONDS)
    return {}
