"""verify: healthy continuously for the hold period, or give up at the deadline.

Healthy means every runbook verification query returns a non-empty result and none of the alerts that
paged for this incident is still firing in Prometheus (`ALERTS`), but those the runbook says a
mitigation leaves on (`may_keep_firing`). Without the alerts, a fix for the wrong cause could "verify"
on its own queries while the page goes on. A runbook without queries is verified by the action
server's target health verdict. Settings cap the runbook's hold and deadline.

Prometheus that cannot answer at all (unreachable or 5xx for every query; a bad query is not that) is
not a verdict on the fix: those polls ask the action server's health verdict instead, as an engineer
would look at the service itself, so a fix that worked is not followed by the runbook's next approach
because the monitoring went down.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig

from agent.clients.prometheus import QueryResult
from agent.incidents.models import Incident, Verification, utcnow
from agent.workflow.deps import WorkflowDeps
from agent.workflow.state import AgentState

_ALERT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # Prometheus alert names; anything else is skipped
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.:-]+$")


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident_id = state["incident_id"]
    deps.set_step(incident_id, "verify", "verifying")
    action = state["action_plan"][0]["action"]
    runbook = deps.runbook(state.get("diagnosis", {}).get("diagnosis_id"))
    spec = getattr(runbook, "verification", None)
    queries = list(getattr(spec, "promql", None) or [])
    hold = min(
        float(getattr(spec, "hold_seconds", None) or deps.settings.VERIFY_HOLD_SECONDS),
        deps.settings.VERIFY_HOLD_SECONDS,
    )
    deadline = min(
        float(getattr(spec, "deadline_seconds", None) or deps.settings.VERIFY_DEADLINE_SECONDS),
        deps.settings.VERIFY_DEADLINE_SECONDS,
    )
    sleep = deps.sleep or asyncio.sleep
    paging = alerts_query(deps.store.get(incident_id), getattr(spec, "may_keep_firing", None) or [])
    started, started_at = time.monotonic(), utcnow()
    healthy_since: float | None = None
    polls, healthy = 0, False
    last: dict[str, Any] = {}
    method: Literal["promql", "health"] = "promql" if queries else "health"
    while True:
        ok, last, method = await _poll(deps, queries, paging)
        polls += 1
        now = time.monotonic()
        healthy_since = (healthy_since or now) if ok else None
        if healthy_since is not None and now - healthy_since >= hold:
            healthy = True
            break
        if now - started >= deadline:
            break
        await sleep(deps.settings.VERIFY_POLL_SECONDS)

    held = time.monotonic() - healthy_since if healthy_since is not None else 0.0
    verification = Verification(
        healthy=healthy,
        method=method,
        attempt=state.get("attempts", 1),
        started_at=started_at,
        finished_at=utcnow(),
        healthy_for_seconds=round(held, 2),
        polls=polls,
        detail=_detail(healthy, held, hold, deadline, fell_back=bool(queries) and method == "health"),
        last_results=last,
    )

    def mutate(incident: Any) -> None:
        incident.verification.append(verification)
        if healthy:
            incident.mitigated_at = verification.finished_at

    deps.store.update(incident_id, mutate)
    if healthy:
        deps.guardrails.breakers.record_success(action)
    else:
        deps.guardrails.breakers.record_failure(action)
    entry = deps.record(
        incident_id,
        "verify",
        f"after {action}: {verification.detail}",
        verification.model_dump(mode="json", include={"healthy", "method", "polls", "last_results"}),
    )
    return {"verification": verification.model_dump(mode="json"), "is_resolved": healthy, "timeline": [entry]}


def _detail(healthy: bool, held: float, hold: float, deadline: float, fell_back: bool) -> str:
    verdict = (
        f"healthy for {held:.1f}s (hold {hold:.1f}s)" if healthy else f"not healthy within {deadline:.0f}s"
    )
    return verdict + (" by the target's health: Prometheus unavailable" if fell_back else "")


def alerts_query(incident: Incident, may_keep_firing: list[str]) -> str | None:
    """PromQL that is non-empty while one of the incident's alerts still fires; None if none applies."""
    names = sorted({a.name for a in incident.alerts} - set(may_keep_firing))
    names = [n for n in names if _ALERT_NAME.match(n)]
    if not names:
        return None
    service = f',service="{incident.service}"' if _LABEL_VALUE.match(incident.service) else ""
    return f'ALERTS{{alertstate="firing",alertname=~"{"|".join(names)}"{service}}}'


async def _poll(
    deps: WorkflowDeps, queries: list[str], paging: str | None
) -> tuple[bool, dict[str, Any], Literal["promql", "health"]]:
    """One look: the runbook's PromQL, or the target's health when there is none or Prometheus is down."""
    if not queries:
        return (*await _health_verdict(deps), "health")
    results = await asyncio.gather(*(deps.prometheus.query(q) for q in queries))
    if all(r.unavailable for r in results):
        ok, last = await _health_verdict(deps)
        return ok, {"prometheus": results[0].error, **last}, "health"
    return (*await _promql_healthy(deps, results, paging), "promql")


async def _promql_healthy(
    deps: WorkflowDeps, results: list[QueryResult], paging: str | None
) -> tuple[bool, dict[str, Any]]:
    last: dict[str, Any] = {r.query: (r.error or len(r.samples)) for r in results}
    healthy = all(r.ok and r.samples for r in results)
    if paging is not None:
        firing = await deps.prometheus.query(paging)
        still = sorted({s.metric.get("alertname", "?") for s in firing.samples})
        last["alerts still firing"] = firing.error or still
        healthy = healthy and firing.ok and not still
    return healthy, last


async def _health_verdict(deps: WorkflowDeps) -> tuple[bool, dict[str, Any]]:
    verdict = await deps.actions.verify_target_health()
    if verdict.value is None:
        return False, {"error": verdict.error}
    return verdict.value.is_healthy, {"status": verdict.value.status, "error_rate": verdict.value.error_rate}
