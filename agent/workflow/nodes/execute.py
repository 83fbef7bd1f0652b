"""execute: one action through the action server, intent recorded before the call.

After a restart this node may run again for the same action. The intent record (by key) tells: a
finished call is not repeated; an unfinished one is looked up in the action server's audit, and when
that cannot be read the action is treated as possibly run and left to verification, never re-sent.

A call that got no answer (a timeout, a dropped connection) may have run too: it is `unknown` and
verified like any other before the plan moves on, unless the audit shows that it failed. Only a call
that provably never reached the server, or one the server answered with a failure, is `failed`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.incidents.models import ActionRecord, Incident, utcnow
from agent.workflow.deps import WorkflowDeps
from agent.workflow.state import AgentState, action_key


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident_id = state["incident_id"]
    planned = state["action_plan"][0]
    key = planned["key"]
    attempts = state.get("attempts", 0) + 1
    tried = [*state.get("tried", []), action_key(planned["action"], planned["params"])]
    done = {"attempts": attempts, "tried": tried}

    previous = _record(deps.store.get(incident_id), key)
    if previous is not None and previous.status != "intent":
        entry = deps.record(
            incident_id,
            "execute",
            f"{planned['action']} already ran before a restart: {previous.status}",
            {"key": key},
        )
        return {**done, "execution_results": [previous.model_dump(mode="json")], "timeline": [entry]}
    if previous is not None and await _ran_per_audit(deps, previous):
        result = _finish(deps, incident_id, key, "unknown", {}, "interrupted; the audit shows it ran")
        entry = deps.record(
            incident_id,
            "execute",
            f"{planned['action']} was sent before a restart; not repeated",
            {"key": key},
        )
        return {**done, "execution_results": [result.model_dump(mode="json")], "timeline": [entry]}
    if deps.guardrails.kill_switch.engaged:
        entry = deps.record(incident_id, "execute", "kill switch engaged before the call: nothing executed")
        return {
            "plan_decision": "escalate",
            "escalation_reason": "kill switch engaged: remediation disabled",
            "timeline": [entry],
        }

    deps.set_step(incident_id, "execute", "remediating")
    intent = ActionRecord(
        **{k: planned[k] for k in ("key", "action", "params", "risk", "attempt")},
        status="intent",
        started_at=utcnow(),
    )
    deps.store.update(incident_id, lambda i: _upsert(i, intent))
    deps.store.log_action(key, incident_id, planned["action"], "intent")
    deps.record(
        incident_id, "execute", f"calling {planned['action']}", {"key": key, "params": planned["params"]}
    )
    outcome = await deps.actions.run(planned["action"], planned["params"])
    status = "succeeded" if outcome.ok else "failed"
    error = outcome.error
    if outcome.may_have_run:
        status, error = await _unanswered(deps, intent, outcome.error or "no answer")
    result = _finish(deps, incident_id, key, status, outcome.body, error)
    deps.store.log_action(key, incident_id, planned["action"], status)
    deps.metrics.actions_total.labels(action=planned["action"], result=status).inc()
    if deps.annotations is not None:
        diagnosis = (state.get("diagnosis") or {}).get("diagnosis_id", "unknown")
        deps.annotations.add_event(
            incident_id, diagnosis, f"{planned['action']} {status}", tags=[planned["action"], status], key=key
        )
    entry = deps.record(
        incident_id,
        "execute",
        f"{planned['action']} {status}",
        {
            "key": key,
            "status_code": outcome.status_code,
            "error": error,
            "body": _short(outcome.body),
        },
    )
    return {**done, "execution_results": [result.model_dump(mode="json")], "timeline": [entry]}


def _record(incident: Incident, key: str) -> ActionRecord | None:
    return next((a for a in incident.actions if a.key == key), None)


def _upsert(incident: Incident, record: ActionRecord) -> None:
    incident.actions = [a for a in incident.actions if a.key != record.key] + [record]


def _finish(
    deps: WorkflowDeps, incident_id: str, key: str, status: str, body: dict[str, Any], error: str | None
) -> ActionRecord:
    def mutate(incident: Incident) -> None:
        record = _record(incident, key)
        if record is not None:
            record.status = status  # type: ignore[assignment]
            record.finished_at = utcnow()
            record.result = _short(body)
            record.error = error

    incident = deps.store.update(incident_id, mutate)
    found = _record(incident, key)
    assert found is not None
    return found


async def _unanswered(deps: WorkflowDeps, intent: ActionRecord, error: str) -> tuple[str, str]:
    """A call without an answer: `failed` only if the audit shows it ended in failure, else `unknown`."""
    audit = await deps.actions.audit()
    if not audit.ok:
        return "unknown", f"{error}; the audit cannot be read ({audit.error}): left to verification"
    ended = [e for e in audit.value or [] if e.action == intent.action and _since(e.ts, intent.started_at)]
    if ended and ended[0].ok is False:
        return "failed", f"{error}; the audit shows it failed"
    if ended:
        return "unknown", f"{error}; the audit shows it ran: left to verification"
    return "unknown", f"{error}; not in the audit yet (it may still be running): left to verification"


def _since(ts: datetime | None, started: datetime | None) -> bool:
    return ts is None or started is None or _aware(ts) >= started


async def _ran_per_audit(deps: WorkflowDeps, intent: ActionRecord) -> bool:
    audit = await deps.actions.audit()
    if not audit.ok:
        return True
    return any(e.action == intent.action and _since(e.ts, intent.started_at) for e in audit.value or [])


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _short(body: dict[str, Any], limit: int = 2000) -> dict[str, Any]:
    text = str(body)
    return body if len(text) <= limit else {"truncated": text[:limit]}
