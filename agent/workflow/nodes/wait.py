"""wait: a guardrail held the planned action back for now (its cooldown, another fix on the service
being verified); pause, then gather again: the other fix may have been the answer."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.workflow.deps import WorkflowDeps
from agent.workflow.state import AgentState


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    deps.set_step(state["incident_id"], "wait")
    await (deps.sleep or asyncio.sleep)(float(state.get("wait_seconds") or 1.0))
    return {}
