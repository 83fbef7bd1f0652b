"""plan: the runbook's next untried action that the catalog offers and the guardrails allow.

Memory reorders, never adds: an action that did not fix a past incident with the same diagnosis and
the same symptom pattern (and never fixed one) is planned after the runbook's other actions.

Dry-run mode records the whole remaining plan and hands over to a human without running anything.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.diagnosis.models import Symptoms
from agent.diagnosis.symptoms_text import same_pattern
from agent.incidents.models import ActionRecord
from agent.knowledge.store import IncidentMemory
from agent.workflow.deps import WorkflowDeps
from agent.workflow.state import AgentState, action_key

EXECUTED = frozenset({"intent", "succeeded", "failed", "unknown"})


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident_id = state["incident_id"]
    deps.set_step(incident_id, "plan")
    diagnosis_id = state.get("diagnosis", {}).get("diagnosis_id")
    runbook = deps.runbook(diagnosis_id)
    if runbook is None:
        return _escalate(deps, incident_id, f"no runbook for diagnosis {diagnosis_id}")
    catalog = await deps.actions.catalog()
    if not catalog.ok:
        return _escalate(deps, incident_id, f"action catalog unavailable ({catalog.error})")
    offered = {a.name for a in catalog.value or []}
    tried = set(state.get("tried", []))
    attempt = state.get("attempts", 0) + 1
    notes: list[str] = []
    candidates = []
    signals = Symptoms.model_validate(state.get("symptoms") or {}).as_signals()
    for ra in runbook.actions:
        if ra.action not in offered:
            notes.append(f"{ra.action} is not in the action catalog")
        elif action_key(ra.action, ra.params) not in tried:
            params = _resolve(ra, signals)
            dropped = sorted(set(ra.params) - set(params))
            if dropped:
                notes.append(f"{ra.action}: {', '.join(dropped)} left to the action's default (no input)")
            candidates.append(
                {
                    "key": f"{incident_id}:{attempt}:{action_key(ra.action, ra.params)}",
                    "action": ra.action,
                    "params": params,
                    "risk": ra.risk,
                    "attempt": attempt,
                }
            )
    if not candidates:
        return _escalate(deps, incident_id, "; ".join(["no untried action left in the runbook", *notes]))
    failed_before = remembered_failures(deps, state, runbook.id)
    if failed_before:
        candidates.sort(key=lambda c: c["action"] in failed_before)  # stable: the runbook's order otherwise
        notes += [
            f"{name} planned last: it did not fix {incident} with the same symptoms"
            for name, incident in failed_before.items()
            if any(c["action"] == name for c in candidates)
        ]

    if deps.settings.AGENT_MODE == "dry-run":
        records = [
            ActionRecord(**{**c, "key": f"{c['key']}:dry-run", "status": "dry-run"}) for c in candidates
        ]
        deps.store.update(incident_id, lambda i: i.actions.extend(records))
        plan_text = ", ".join(f"{c['action']}{c['params'] or ''}" for c in candidates)
        return _escalate(
            deps, incident_id, f"dry-run mode: planned {plan_text}; nothing executed", plan=candidates
        )

    incident = deps.store.get(incident_id)
    executed = sum(1 for a in incident.actions if a.status in EXECUTED)
    for index, candidate in enumerate(candidates):
        decision = deps.guardrails.check(incident_id, candidate["action"], candidate["risk"], executed)
        if decision.verdict == "stop":
            return _escalate(deps, incident_id, decision.reason, plan=candidates[index:])
        if decision.verdict == "skip":
            notes.append(decision.reason)
            continue
        plan = candidates[index:]
        route = "approve" if decision.verdict == "approval" else "execute"
        entry = deps.record(
            incident_id,
            "plan",
            f"next: {candidate['action']} {candidate['params'] or ''}".strip(),
            {"plan": plan, "needs_approval": route == "approve", "why": decision.reason, "notes": notes},
        )
        return {"action_plan": plan, "plan_decision": route, "timeline": [entry]}
    return _escalate(
        deps, incident_id, "; ".join(["every remaining action is blocked", *notes]), plan=candidates
    )


def remembered_failures(deps: WorkflowDeps, state: AgentState, diagnosis_id: str) -> dict[str, str]:
    """Action → a past incident (same diagnosis, same pattern) it did not fix, unless it fixed another."""
    query = deps.reasoning.symptoms_query(Symptoms.model_validate(state.get("symptoms") or {}))
    failed: dict[str, str] = {}
    worked: set[str] = set()
    for raw in state.get("past_incidents") or []:
        memory = IncidentMemory.model_validate(raw)
        if memory.diagnosis_id != diagnosis_id or memory.incident_id == state["incident_id"]:
            continue
        if same_pattern(query, memory.symptoms_text) is None:
            continue
        worked.update(memory.actions_worked)
        for name in memory.actions_failed:
            failed.setdefault(name, memory.incident_id)
    return {name: incident for name, incident in failed.items() if name not in worked}


def _resolve(runbook_action: Any, signals: dict[str, Any]) -> dict[str, Any]:
    """Runbook params may be templates over the signals (e.g. twice the baseline request rate)."""
    resolve = getattr(runbook_action, "resolve_params", None)
    return dict(resolve(signals)) if callable(resolve) else dict(runbook_action.params)


def _escalate(
    deps: WorkflowDeps, incident_id: str, reason: str, plan: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    entry = deps.record(incident_id, "plan", f"no action to run: {reason}", {"plan": plan or []})
    return {
        "action_plan": plan or [],
        "plan_decision": "escalate",
        "escalation_reason": reason,
        "timeline": [entry],
    }
