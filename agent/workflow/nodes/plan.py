"""plan: the runbook's next untried action that the service's catalog entry allows, its backend offers
and the guardrails let through now.

A runbook names actions as the catalog allows them (`restart`); the entry maps each to its backend's
name (`rollout-restart`) and bounds its parameters. Memory reorders, never adds: an action that did not
fix a past incident with the same diagnosis and the same symptom pattern (and never fixed one) is
planned after the runbook's other actions. An action the guardrails hold back for now (its cooldown,
another fix on this service being verified) is waited for, not replaced by the next, riskier one.

Dry-run mode records the whole remaining plan and hands over to a human without running anything.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.actions.params import bounded_params
from agent.diagnosis.symptoms_text import same_pattern
from agent.domain.signals import Symptoms
from agent.incidents.models import ActionRecord
from agent.knowledge.store import IncidentMemory
from agent.workflow.deps import WorkflowDeps
from agent.workflow.state import AgentState, action_key

EXECUTED = frozenset({"intent", "succeeded", "failed", "unknown"})
MIN_WAIT_SECONDS = 2.0
MAX_WAIT_SECONDS = 30.0


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident_id = state["incident_id"]
    await deps.set_step(incident_id, "plan")
    incident = await deps.store.get(incident_id)
    service = deps.service(incident.service)
    diagnosis_id = state.get("diagnosis", {}).get("diagnosis_id")
    runbook = deps.runbook(diagnosis_id)
    if runbook is None:
        return await _escalate(deps, incident_id, f"no runbook for diagnosis {diagnosis_id}")
    backend = deps.backend(service)
    if service is None or backend is None:
        return await _escalate(
            deps, incident_id, f"no action backend for service {incident.service!r} in the catalog"
        )
    catalog = await backend.catalog()
    if not catalog.ok:
        return await _escalate(
            deps, incident_id, f"action catalog of {service.name} unavailable ({catalog.error})"
        )
    offered = {a.name for a in catalog.value or []}
    tried = set(state.get("tried", []))
    attempt = state.get("attempts", 0) + 1
    notes: list[str] = []
    candidates = []
    signals = Symptoms.model_validate(state.get("symptoms") or {}).as_signals()
    for ra in runbook.actions:
        allowed = service.allowed(ra.action)
        if allowed is None:
            notes.append(f"{ra.action} is not allowed for {service.name} in the service catalog")
            continue
        name = service.backend_action(ra.action)
        if name not in offered:
            notes.append(f"{name} is not in the action catalog of {service.name}")
        elif action_key(ra.action, ra.params) not in tried:
            params = _resolve(ra, signals)
            dropped = sorted(set(ra.params) - set(params))
            if dropped:
                notes.append(f"{ra.action}: {', '.join(dropped)} left to the action's default (no input)")
            params, bounded = bounded_params(allowed, params)
            notes += [f"{ra.action}: {note}" for note in bounded]
            risk = _stricter(ra.risk, allowed.risk)
            candidates.append(
                {
                    "key": f"{incident_id}:{attempt}:{action_key(ra.action, ra.params)}",
                    "approach": action_key(ra.action, ra.params),
                    "runbook_action": ra.action,
                    "action": name,
                    "params": params,
                    "risk": risk,
                    "attempt": attempt,
                    "follow_up": ra.follow_up,
                }
            )
    if not candidates:
        return await _escalate(
            deps, incident_id, "; ".join(["no untried action left in the runbook", *notes])
        )
    failed_before = remembered_failures(deps, state, runbook.id)
    if failed_before:
        candidates.sort(key=lambda c: c["action"] in failed_before)  # stable: the runbook's order otherwise
        notes += [
            f"{name} planned last: it did not fix {past} with the same symptoms"
            for name, past in failed_before.items()
            if any(c["action"] == name for c in candidates)
        ]

    limits = deps.limits(service)
    if limits.mode == "dry-run":
        records = [
            ActionRecord(**{**_record_fields(c), "key": f"{c['key']}:dry-run", "status": "dry-run"})
            for c in candidates
        ]
        await deps.store.update(incident_id, lambda i: i.actions.extend(records))
        plan_text = ", ".join(f"{c['action']}{c['params'] or ''}" for c in candidates)
        return await _escalate(
            deps, incident_id, f"dry-run mode: planned {plan_text}; nothing executed", plan=candidates
        )

    executed = sum(1 for a in incident.actions if a.status in EXECUTED)
    for index, candidate in enumerate(candidates):
        decision = await deps.guardrails.check(
            incident_id,
            service.name,
            candidate["action"],
            candidate["risk"],
            executed,
            limits,
            diagnosis_id=diagnosis_id,
            settle_seconds=service.settle_seconds,
        )
        if decision.verdict == "stop":
            return await _escalate(deps, incident_id, decision.reason, plan=candidates[index:])
        if decision.verdict == "skip":
            notes.append(decision.reason)
            continue
        if decision.verdict == "wait":
            return await _wait(deps, state, decision, candidates[index:])
        plan = candidates[index:]
        route = "approve" if decision.verdict == "approval" else "execute"
        entry = await deps.record(
            incident_id,
            "plan",
            f"next: {candidate['action']} {candidate['params'] or ''}".strip(),
            {"plan": plan, "needs_approval": route == "approve", "why": decision.reason, "notes": notes},
        )
        return {"action_plan": plan, "plan_decision": route, "timeline": [entry]}
    return await _escalate(
        deps, incident_id, "; ".join(["every remaining action is blocked", *notes]), plan=candidates
    )


async def _wait(
    deps: WorkflowDeps, state: AgentState, decision: Any, plan: list[dict[str, Any]]
) -> dict[str, Any]:
    """Hold the plan and look again after a while, or once the incident it waits for is done verifying
    (bounded: the budget of waits escalates in the end)."""
    waits = int(state.get("waits") or 0)
    reason = decision.reason
    if waits >= deps.settings.MAX_PLAN_WAITS:
        return await _escalate(
            deps, state["incident_id"], f"still held back after {waits} waits: {reason}", plan
        )
    pause = min(MAX_WAIT_SECONDS, max(MIN_WAIT_SECONDS, decision.wait_seconds))
    if decision.wait_for is not None:
        pause = deps.settings.VERIFY_DEADLINE_SECONDS  # at most; the wait ends when that incident does
    look_after = decision.look_after if decision.wait_for is not None else None
    data = {"plan": plan, "wait_seconds": pause, "wait_for": decision.wait_for, "waits": waits + 1}
    if look_after is not None:
        data["look_after_seconds"] = round(look_after, 1)
        reason += (
            f"; a different problem: looking at it again once that fix has had {look_after:.0f}s to show"
        )
    entry = await deps.record(state["incident_id"], "plan", f"waiting, then looking again: {reason}", data)
    return {
        "plan_decision": "wait",
        "wait_seconds": pause,
        "wait_for": decision.wait_for or "",
        "look_after": -1.0 if look_after is None else look_after,
        "waits": waits + 1,
        "timeline": [entry],
    }


def _stricter(runbook_risk: str, catalog_risk: str | None) -> str:
    order = ["low", "medium", "high"]
    if catalog_risk is None:
        return runbook_risk
    return max(runbook_risk, catalog_risk, key=order.index)


def _record_fields(candidate: dict[str, Any]) -> dict[str, Any]:
    return {k: candidate[k] for k in ("key", "action", "runbook_action", "params", "risk", "attempt")}


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


async def _escalate(
    deps: WorkflowDeps, incident_id: str, reason: str, plan: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    entry = await deps.record(incident_id, "plan", f"no action to run: {reason}", {"plan": plan or []})
    return {
        "action_plan": plan or [],
        "plan_decision": "escalate",
        "escalation_reason": reason,
        "timeline": [entry],
    }
