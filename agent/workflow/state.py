"""The workflow state. Values are plain JSON (model dumps), so every checkpoint is readable and portable.

The seed's fields are kept (symptoms, diagnosis, confidence, root_cause, action_plan, execution_results,
is_resolved, recommendation). `timeline` and `execution_results` accumulate; everything else is replaced.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

PlanDecision = Literal["execute", "approve", "escalate", "wait"]


class AgentState(TypedDict, total=False):
    incident_id: str
    alerts: list[dict[str, Any]]
    symptoms: dict[str, Any]
    evidence: dict[str, Any]
    looks: int
    first_look_at: str
    diagnosis: dict[str, Any]
    past_incidents: list[
        dict[str, Any]
    ]  # the similar past incidents diagnose retrieved (IncidentMemory dumps)
    confidence: float
    root_cause: str
    investigation: dict[str, Any]
    action_plan: list[dict[str, Any]]
    plan_decision: PlanDecision
    waits: int  # how many times the plan waited for a guardrail (bounded by MAX_PLAN_WAITS)
    wait_seconds: float
    wait_for: str  # an incident of the same service whose fix is verified first ("" for a cooldown)
    look_after: float  # waiting for it: seconds until this incident's own problem is looked at (-1: never)
    merged_into: str  # another open incident of the service turned out to be this problem
    tried: list[str]
    execution_results: Annotated[list[dict[str, Any]], operator.add]
    attempts: int
    verified_before: bool  # the runbook's own checks held before the action ran
    checks_before: dict[str, bool]  # each of them, before the action
    verification: dict[str, Any]
    next_problem: list[str]  # alerts of this incident still firing after its fix was verified
    is_resolved: bool
    escalation_reason: str
    recommendation: str
    timeline: Annotated[list[dict[str, Any]], operator.add]


def action_key(action: str, params: dict[str, Any]) -> str:
    """Identity of an approach: the same action with other params is another approach."""
    args = ",".join(f"{k}={params[k]}" for k in sorted(params))
    return f"{action}({args})"
