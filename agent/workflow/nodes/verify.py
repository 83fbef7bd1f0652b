"""verify: the fix holds for the hold period, or give up at the deadline; what else still fires is the
next problem, not a failure of this one.

Healthy means the runbook's own checks hold (its PromQL, scoped to the service, and its signal
conditions; with neither, the action backend's health verdict) and none of the service's alerts that
this runbook explains fires in Prometheus now (`ALERTS` by the service's `owns` matchers), but those it
says a mitigation leaves on (`may_keep_firing`). Alerts of other problems do not hold a fix back: the
incident's alerts that the runbook does not explain and still fire when the fix holds are handed to a
new incident (`handoff`). A fix whose own checks already held before it ran cannot show that it worked:
it is verified only when every alert of the incident has stopped (a fix for the wrong cause cannot
"verify" while the page goes on).

Another incident's fix on the same service after this one changes what the checks can see: from then
on they read windows that start at that later fix (samples before it show a service that is no longer
there, the other problem's errors among them), and the deadline gives that fix the settle time and the
hold too (at most twice the deadline in all). The verification says so (`windows_from`): the service was
judged after both fixes.

When it was mitigated and when that was confirmed are two times. The runbook's checks read windows
that start at the fix (`$since`): checks that failed before it and then hold for the hold period mark
the incident mitigated at that moment. The alerts' rate windows still hold the fault's samples for a
while; their stopping confirms the mitigation and ends verification. A fix whose alerts never stop is
not verified, and has no mitigation time.

What still fires is judged once the service's signals have settled (its `settle` time, by default its
rate window, plus the hold; at most the deadline): until then a windowed ratio still holds the errors
of the problem just fixed. When the fix shows progress but the page goes on for twice the hold period
(its checks hold while alerts it explains still fire, or checks that failed before the action hold
while others still fail) and the signals have settled, the service is looked at again, once: if the
evidence now points to another problem, this one is resolved and what still fires goes to the next
incident; if it is still this problem, verification goes on to its deadline. A fix whose checks
already held before it changed nothing: no look, no progress.

With SILENCE_WHILE_VERIFYING the incident's firing alerts are silenced at Alertmanager for the
verification (`agent.paging.silences`), and the silence removed when it ends, either way.

Prometheus that cannot answer at all (unreachable or 5xx for every query; a bad query is not that) is
not a verdict on the fix: those polls ask the action backend's health verdict instead, as an engineer
would look at the service itself.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig

from agent.catalog.catalog import Service
from agent.incidents.models import Verification, utcnow
from agent.workflow.deps import WorkflowDeps
from agent.workflow.looking import diagnose_now
from agent.workflow.state import AgentState
from agent.workflow.verification import alerts_firing, own_checks

Method = Literal["promql", "health"]


@dataclass
class Poll:
    healthy: bool
    own_ok: bool
    method: Method
    progress: set[str] = field(default_factory=set)  # checks that failed before the action and hold now
    blocking: set[str] = field(default_factory=set)
    others: set[str] = field(default_factory=set)
    last: dict[str, Any] = field(default_factory=dict)


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident_id = state["incident_id"]
    await deps.set_step(incident_id, "verify", "verifying")
    incident = await deps.store.get(incident_id)
    service = deps.service(incident.service)
    action = state["action_plan"][0]["action"]
    diagnosis_id = (state.get("diagnosis") or {}).get("diagnosis_id")
    runbook = deps.runbook(diagnosis_id)
    spec = getattr(runbook, "verification", None)
    hold = min(
        float(getattr(spec, "hold_seconds", None) or deps.settings.VERIFY_HOLD_SECONDS),
        deps.settings.VERIFY_HOLD_SECONDS,
    )
    deadline = min(
        float(getattr(spec, "deadline_seconds", None) or deps.settings.VERIFY_DEADLINE_SECONDS),
        deps.settings.VERIFY_DEADLINE_SECONDS,
    )
    # What fires after a fix is judged once the service's signals cover only time after it (its rate
    # window, then one hold for the alerts to be evaluated): before that, a windowed error ratio still
    # holds the errors of the problem just fixed and reads as another one.
    settle = min((service.settle_seconds if service is not None else 0.0) + hold, deadline)
    strict = state.get("verified_before") is not False
    before = dict(state.get("checks_before") or {})
    may_keep = set(getattr(spec, "may_keep_firing", None) or [])
    explained = set(getattr(runbook, "alerts", None) or []) - may_keep
    sleep = deps.sleep or asyncio.sleep
    entries = [await _silence(deps, incident_id, deadline + deps.settings.VERIFY_POLL_SECONDS)]
    started, started_at = time.monotonic(), utcnow()
    healthy_since: float | None = None
    fixed_since: float | None = None  # the runbook's own checks held, on windows that start at the fix
    mitigated: tuple[float, datetime] | None = None  # when they had held for the hold
    stuck_since: float | None = None  # progress shown, the page still on
    polls, healthy, looked_again = 0, False, False
    next_problem: list[str] = []
    elsewhere: str | None = None
    poll = Poll(healthy=False, own_ok=False, method="promql")
    limit = deadline
    windows_from: tuple[str, float] | None = None  # another incident's later fix: (its id, seconds ago)
    while service is not None:
        mine = {a.name for a in (await deps.store.get(incident_id)).alerts} - may_keep
        since_fix = time.monotonic() - started
        windows_from = await _later_fix(deps, incident_id, service.name, started_at) or windows_from
        if windows_from is not None:
            since_fix = min(since_fix, windows_from[1])
            limit = min(max(limit, time.monotonic() - started - windows_from[1] + settle), 2 * deadline)
        poll = await _poll(deps, service, spec, explained, mine, strict, before, since_fix)
        polls += 1
        now = time.monotonic()
        healthy_since = (healthy_since or now) if poll.healthy else None
        # Checks that failed before the fix and hold on its own windows show it worked: held for the
        # hold, that is when it was mitigated; the alerts stopping, once their windows forget the fault,
        # confirms it (and a fix for the wrong cause never gets that far).
        fixed_since = (fixed_since or now) if not strict and poll.own_ok and poll.method == "promql" else None
        if fixed_since is None:
            mitigated = None
        elif mitigated is None and now - fixed_since >= hold:
            mitigated = (now - fixed_since, utcnow())
        stuck = (
            not poll.healthy and not strict and ((poll.own_ok and bool(poll.blocking)) or bool(poll.progress))
        )
        stuck_since = (stuck_since or now) if stuck else None
        settled = now - started >= settle
        confirmed = poll.healthy and mitigated is not None
        held_long = healthy_since is not None and now - healthy_since >= hold
        if (confirmed or held_long) and (settled or not poll.others):
            healthy, next_problem = True, sorted(poll.others)
            break
        if stuck_since is not None and now - stuck_since >= 2 * hold and settled and not looked_again:
            looked_again = True
            elsewhere = await _look_again(deps, incident_id, diagnosis_id)
            if elsewhere is not None:
                healthy, next_problem = True, sorted(poll.blocking | poll.others)
                break
        if now - started >= limit:
            break
        await sleep(deps.settings.VERIFY_POLL_SECONDS)

    has_checks = bool(getattr(spec, "promql", None) or getattr(spec, "signals", None))
    held = time.monotonic() - healthy_since if healthy_since is not None else 0.0
    if healthy and mitigated is not None:
        held = mitigated[0]
    detail = _detail(healthy, held, hold, limit, poll.method == "health" and has_checks)
    if healthy and elsewhere is not None:
        detail = f"its own checks showed the fix worked; what still fires now points to {elsewhere}"
    elif looked_again and not healthy:
        detail += "; looked at again meanwhile: still this problem"
    finished_at = utcnow()
    mitigated_at = mitigated[1] if healthy and mitigated is not None else finished_at
    if healthy and mitigated is not None and elsewhere is None:
        confirmed_after = (finished_at - mitigated_at).total_seconds()
        detail += " on windows that start at the fix; " + (
            f"its alerts stopped {confirmed_after:.0f}s later"
            if confirmed_after >= 1
            else "its alerts had stopped by then"
        )
    if windows_from is not None:
        detail += f"; judged after {windows_from[0]}'s later fix on the service too"
    verification = Verification(
        healthy=healthy,
        windows_from=windows_from[0] if windows_from is not None else None,
        method=poll.method,
        attempt=state.get("attempts", 1),
        started_at=started_at,
        finished_at=finished_at,
        mitigated_at=mitigated_at if healthy else None,
        healthy_for_seconds=round(held, 2),
        polls=polls,
        detail=detail if service is not None else f"service {incident.service!r} is not in the catalog",
        last_results=poll.last,
    )

    def mutate(incident: Any) -> None:
        incident.verification.append(verification)
        if healthy:
            incident.mitigated_at = verification.mitigated_at

    await deps.store.update(incident_id, mutate)
    entries.append(await _unsilence(deps, incident_id))
    if healthy:
        deps.guardrails.breakers.record_success(incident.service, action)
    else:
        deps.guardrails.breakers.record_failure(incident.service, action)
    data = verification.model_dump(mode="json", include={"healthy", "method", "polls", "last_results"})
    message = f"after {action}: {verification.detail}"
    if next_problem:
        data["next_problem"] = next_problem
        message += f"; still firing, another problem: {', '.join(next_problem)}"
    entry = await deps.record(incident_id, "verify", message, data)
    return {
        "verification": verification.model_dump(mode="json"),
        "is_resolved": healthy,
        "next_problem": next_problem,
        "timeline": [*(e for e in entries if e is not None), entry],
    }


async def _later_fix(
    deps: WorkflowDeps, incident_id: str, service: str, after: datetime
) -> tuple[str, float] | None:
    """The latest action another incident ran on `service` since `after`: its incident and how many
    seconds ago it ended (was sent, while it runs)."""
    seconds = (utcnow() - after).total_seconds() + 1.0
    later = [
        (ts, owner)
        for owner, _, ts in await deps.store.actions_in_last(seconds, service)
        if owner != incident_id and ts > after
    ]
    if not later:
        return None
    ts, owner = max(later)
    return owner, max(0.0, (utcnow() - ts).total_seconds())


async def _silence(deps: WorkflowDeps, incident_id: str, seconds: float) -> dict[str, Any] | None:
    """With SILENCE_WHILE_VERIFYING, people are not paged again about alerts this fix is being checked on."""
    held = await deps.handover.silence(incident_id, seconds) if deps.handover is not None else None
    if held is None:
        return None
    made, ends = held
    return await deps.record(
        incident_id,
        "verify",
        f"silenced {len(made)} alert(s) at Alertmanager while verifying, until {ends:%H:%M:%S} UTC",
        {"silences": made, "ends_at": ends.isoformat()},
    )


async def _unsilence(deps: WorkflowDeps, incident_id: str) -> dict[str, Any] | None:
    removed = await deps.handover.unsilence(incident_id) if deps.handover is not None else []
    if not removed:
        return None
    return await deps.record(
        incident_id, "verify", f"removed {len(removed)} silence(s) at Alertmanager", {"silences": removed}
    )


async def _poll(
    deps: WorkflowDeps,
    service: Service,
    spec: Any,
    explained: set[str],
    mine: set[str],
    strict: bool,
    before: dict[str, bool],
    since_fix: float,
) -> Poll:
    """One look: the runbook's own checks, then which of the service's alerts fire."""
    own = await own_checks(deps, service, spec, since_fix)
    if not own.ran or own.unavailable:
        ok, last = await _health_verdict(deps, service)
        if own.unavailable:
            last = {"prometheus": "unavailable", **last}
        if own.unavailable or (not own.ran and not explained and not mine):
            return Poll(healthy=ok, own_ok=ok, method="health", last=last)
        own_ok, details = ok, last
    else:
        own_ok, details = own.ok, own.details
    method: Method = "promql" if own.ran else "health"
    firing = await alerts_firing(deps, service)
    if firing is None:
        return Poll(healthy=False, own_ok=own_ok, method=method, last={**details, "alerts": "unreadable"})
    blocking = firing & (explained | mine if strict else explained)
    others = (firing & mine) - blocking
    last = {**details, "alerts still firing": sorted(firing & (explained | mine))}
    return Poll(
        healthy=own_ok and not blocking,
        own_ok=own_ok,
        method=method,
        progress=own.progress(before),
        blocking=blocking,
        others=others,
        last=last,
    )


async def _look_again(deps: WorkflowDeps, incident_id: str, diagnosis_id: str | None) -> str | None:
    """The fix shows progress but the page goes on: the other problem the evidence points to now, or None
    when it is still this one (or nothing conclusive)."""
    incident = await deps.store.get(incident_id)
    service = deps.service(incident.service)
    now = await diagnose_now(deps, incident)
    await deps.record(
        incident_id,
        "verify",
        f"looked at the service again: {now.diagnosis_id} ({now.confidence:.2f})",
        {"diagnosis": now.diagnosis_id, "confidence": now.confidence, "evidence": now.evidence},
    )
    if (
        now.is_known
        and now.diagnosis_id != diagnosis_id
        and now.confidence >= deps.limits(service).min_confidence
    ):
        return str(now.diagnosis_id)
    return None


def _detail(healthy: bool, held: float, hold: float, deadline: float, fell_back: bool) -> str:
    verdict = (
        f"healthy for {held:.1f}s (hold {hold:.1f}s)" if healthy else f"not healthy within {deadline:.0f}s"
    )
    return verdict + (" by the service's health verdict: Prometheus unavailable" if fell_back else "")


async def _health_verdict(deps: WorkflowDeps, service: Service) -> tuple[bool, dict[str, Any]]:
    backend = deps.backend(service)
    if backend is None:
        return False, {"error": "no action backend"}
    verdict = await backend.health_verdict()
    if verdict.value is None:
        return False, {"error": verdict.error}
    return verdict.value.is_healthy, {"status": verdict.value.status, "error_rate": verdict.value.error_rate}
