"""The incident workflow graph, compiled per caller with its own checkpointer and dependencies."""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph

from agent.guardrails.policy import Limits
from agent.workflow.deps import WorkflowDeps
from agent.workflow.nodes import (
    approve,
    diagnose,
    escalate,
    execute,
    gather,
    investigate,
    learn,
    observe,
    plan,
    verify,
    wait,
)
from agent.workflow.nodes.observe import why_not_look_again
from agent.workflow.state import AgentState

NODES = {
    "gather": gather,
    "diagnose": diagnose,
    "investigate": investigate,
    "observe": observe,
    "plan": plan,
    "wait": wait,
    "approve": approve,
    "execute": execute,
    "verify": verify,
    "escalate": escalate,
    "learn": learn,
}


def create_graph(
    checkpointer: BaseCheckpointSaver[Any] | None,
    deps: WorkflowDeps,
    *,
    interrupt_after: list[str] | None = None,
) -> Any:
    builder = StateGraph(AgentState)
    for name, module in NODES.items():
        builder.add_node(name, partial(module.node, deps=deps))
    builder.add_edge(START, "gather")
    builder.add_edge("gather", "diagnose")
    builder.add_conditional_edges("diagnose", after_diagnose)
    builder.add_conditional_edges("investigate", partial(after_investigate, deps=deps))
    builder.add_edge("observe", "gather")
    builder.add_conditional_edges("plan", after_plan)
    builder.add_conditional_edges("wait", after_wait)
    builder.add_conditional_edges("approve", after_approve)
    builder.add_conditional_edges("execute", partial(after_execute, deps=deps))
    builder.add_conditional_edges("verify", partial(after_verify, deps=deps))
    builder.add_edge("escalate", "learn")
    builder.add_edge("learn", END)
    return builder.compile(checkpointer=checkpointer, interrupt_after=interrupt_after)


async def limits(state: AgentState, deps: WorkflowDeps) -> Limits:
    """The incident's service's guardrails (its catalog overrides over the settings)."""
    return deps.limits(deps.service((await deps.store.get(state["incident_id"])).service))


async def conclusive(state: AgentState, deps: WorkflowDeps) -> bool:
    diagnosis = state.get("diagnosis") or {}
    known = diagnosis.get("diagnosis_id", "unknown") != "unknown"
    return known and float(state.get("confidence") or 0.0) >= (await limits(state, deps)).min_confidence


def after_diagnose(state: AgentState) -> Literal["investigate", "learn"]:
    """Another open incident of the service is this problem: this one closes as merged into it."""
    return "learn" if state.get("merged_into") else "investigate"


def after_wait(state: AgentState) -> Literal["gather", "learn"]:
    """The fix waited for was this problem's too: merged into it; otherwise look again."""
    return "learn" if state.get("merged_into") else "gather"


async def after_investigate(
    state: AgentState, *, deps: WorkflowDeps
) -> Literal["plan", "observe", "escalate"]:
    """Act on a conclusive diagnosis; otherwise look again while that can still help, then escalate."""
    if await conclusive(state, deps):
        return "plan"
    return "observe" if await why_not_look_again(state, deps) is None else "escalate"


def after_plan(state: AgentState) -> Literal["execute", "approve", "escalate", "wait"]:
    return state.get("plan_decision", "escalate")


def after_approve(state: AgentState) -> Literal["execute", "escalate"]:
    return "execute" if state.get("plan_decision") == "execute" else "escalate"


async def after_execute(state: AgentState, *, deps: WorkflowDeps) -> Literal["verify", "plan", "escalate"]:
    """A call the action server refused or failed changed nothing: no point waiting to verify it."""
    if state.get("plan_decision") == "escalate":
        return "escalate"
    results = state.get("execution_results") or []
    if results and results[-1].get("status") == "failed":
        return "plan" if state.get("attempts", 0) < (await limits(state, deps)).max_attempts else "escalate"
    return "verify"


async def after_verify(state: AgentState, *, deps: WorkflowDeps) -> Literal["learn", "plan", "escalate"]:
    if state.get("is_resolved"):
        return "learn"
    return "plan" if state.get("attempts", 0) < (await limits(state, deps)).max_attempts else "escalate"
