"""Looking at an incident's service now: what gather does, what verification asks again when the
alerts outlive a fix whose own checks held, and what an incident waiting for another's fix asks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from agent.domain.diagnosis import Diagnosis
from agent.domain.signals import Symptoms
from agent.incidents.models import Incident
from agent.signals.reader import read_symptoms
from agent.workflow.deps import WorkflowDeps

MAX_LOG_LOOKBACK = timedelta(minutes=10)


async def look(deps: WorkflowDeps, incident: Incident) -> tuple[Symptoms, dict[str, Any]]:
    """The incident's service as it is now (a service gone from the catalog is a gap, not an error)."""
    service = deps.service(incident.service)
    if service is None:
        return Symptoms(service=incident.service, alerts=incident.alerts, gaps=["catalog"]), {}
    return await read_symptoms(
        service, deps.sources(service), incident.alerts, since=await log_window_start(incident, deps)
    )


async def diagnose_now(deps: WorkflowDeps, incident: Incident, leaving_out: Iterable[str] = ()) -> Diagnosis:
    """The service looked at now and diagnosed from what it shows alone (no memory), among its runbooks
    but those `leaving_out` names (problems other incidents handle): a second look while a fix is
    verified or waited for."""
    symptoms, _ = await look(deps, incident)
    left_out = set(leaving_out)
    runbooks = [rb for rb in deps.runbooks_for(deps.service(incident.service)) if rb.id not in left_out]
    return deps.reasoning.diagnose(symptoms, runbooks, [])


async def log_window_start(incident: Incident, deps: WorkflowDeps) -> datetime:
    """Where this incident's error logs begin: shortly before its first alert fired, after the last
    verified recovery of the same service, and after this incident's own last fix (errors from before
    either belong to the problem it fixed, not to what the service shows now)."""
    starts = [a.starts_at for a in incident.alerts if a.status == "firing" and a.starts_at]
    onset = min(starts) if starts else incident.opened_at
    since = max(
        onset - timedelta(seconds=deps.settings.LOG_LOOKBACK_SECONDS), incident.opened_at - MAX_LOG_LOOKBACK
    )
    earlier = await deps.store.find(service=incident.service, since=incident.opened_at - MAX_LOG_LOOKBACK)
    recoveries = [
        i.mitigated_at
        for i in earlier
        if i.id != incident.id and i.mitigated_at is not None and i.mitigated_at < incident.opened_at
    ]
    fixes = [a.finished_at for a in incident.actions if a.status == "succeeded" and a.finished_at is not None]
    return max([since, *recoveries, *fixes])
