"""execute: one action through the service's action backend, intent recorded before the call.

Just before the call the runbook's own verification checks are asked once (`verified_before`): checks
that already hold cannot show that this action worked (see `agent.workflow.verification`).

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

from agent.actions.backend import ActionBackend
from agent.incidents.models import ActionRecord, Incident, utcnow
from agent.workflow.deps import WorkflowDeps
from agent.workflow.state import AgentState, action_key
from agent.workflow.verification import own_checks


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident_id = state["incident_id"]
    planned = state["action_plan"][0]
    key = planned["key"]
    attempts = state.get("attempts", 0) + 1
    approach = planned.get("approach") or action_key(planned["action"], planned["params"])
    tried = [*state.get("tried", []), approach]
    done: dict[str, Any] = {"attempts": attempts, "tried": tried}
    incident = await deps.store.get(incident_id)
    service = deps.service(incident.service)
    backend = deps.backend(service)
    if service is None or backend is None:
        entry = await deps.record(
            incident_id, "execute", f"no action backend for {incident.service!r}: nothing executed"
        )
        return {"plan_decision": "escalate", "escalation_reason": "no action backend", "timeline": [entry]}

    previous = _record(incident, key)
    if previous is not None and previous.status != "intent":
        entry = await deps.record(
            incident_id,
            "execute",
            f"{planned['action']} already ran before a restart: {previous.status}",
            {"key": key},
        )
        return {**done, "execution_results": [previous.model_dump(mode="json")], "timeline": [entry]}
    if previous is not None and await _ran_per_audit(backend, previous):
        result = await _finish(deps, incident_id, key, "unknown", {}, "interrupted; the audit shows it ran")
        entry = await deps.record(
            incident_id,
            "execute",
            f"{planned['action']} was sent before a restart; not repeated",
            {"key": key},
        )
        return {**done, "execution_results": [result.model_dump(mode="json")], "timeline": [entry]}
    if deps.guardrails.kill_switch.engaged:
        entry = await deps.record(
            incident_id, "execute", "kill switch engaged before the call: nothing executed"
        )
        return {
            "plan_decision": "escalate",
            "escalation_reason": "kill switch engaged: remediation disabled",
            "timeline": [entry],
        }

    runbook = deps.runbook((state.get("diagnosis") or {}).get("diagnosis_id"))
    before = await own_checks(deps, service, getattr(runbook, "verification", None))
    done["verified_before"] = before.ok and before.ran and not before.unavailable
    done["checks_before"] = {} if before.unavailable else before.passed
    await deps.set_step(incident_id, "execute", "remediating")
    intent = ActionRecord(
        **{k: planned[k] for k in ("key", "action", "params", "risk", "attempt")},
        runbook_action=planned.get("runbook_action", ""),
        status="intent",
        started_at=utcnow(),
    )
    await deps.store.update(incident_id, lambda i: _upsert(i, intent))
    await deps.store.log_action(key, incident_id, planned["action"], "intent", service.name)
    await deps.record(
        incident_id,
        "execute",
        f"calling {planned['action']} on {service.name}",
        {"key": key, "params": planned["params"], "verified_before": done["verified_before"]},
    )
    outcome = await backend.run(planned["action"], planned["params"])
    status = "succeeded" if outcome.ok else "failed"
    error = outcome.error
    if outcome.may_have_run:
        status, error = await _unanswered(backend, intent, outcome.error or "no answer")
    result = await _finish(deps, incident_id, key, status, outcome.body, error)
    await deps.store.log_action(key, incident_id, planned["action"], status, service.name)
    deps.metrics.actions_total.labels(service=service.name, action=planned["action"], result=status).inc()
    if deps.annotations is not None:
        diagnosis = (state.get("diagnosis") or {}).get("diagnosis_id", "unknown")
        deps.annotations.add_event(
            incident_id, diagnosis, f"{planned['action']} {status}", tags=[planned["action"], status], key=key
        )
    entry = await deps.record(
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


async def _finish(
    deps: WorkflowDeps, incident_id: str, key: str, status: str, body: dict[str, Any], error: str | None
) -> ActionRecord:
    def mutate(incident: Incident) -> None:
        record = _record(incident, key)
        if record is not None:
            record.status = status  # type: ignore[assignment]
            record.finished_at = utcnow()
            record.result = _short(body)
            record.error = error

    incident = await deps.store.update(incident_id, mutate)
    found = _record(incident, key)
    assert found is not None
    return found


async def _unanswered(backend: ActionBackend, intent: ActionRecord, error: str) -> tuple[str, str]:
    """A call without an answer: `failed` only if the audit shows it ended in failure, else `unknown`."""
    audit = await backend.audit()
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


async def _ran_per_audit(backend: ActionBackend, intent: ActionRecord) -> bool:
    audit = await backend.audit()
    if not audit.ok:
        return True
    return any(e.action == intent.action and _since(e.ts, intent.started_at) for e in audit.value or [])


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _short(body: dict[str, Any], limit: int = 2000) -> dict[str, Any]:
    text = str(body)
    return body if len(text) <= limit else {"truncated": text[:limit]}
