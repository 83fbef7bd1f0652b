"""A human's resolution of an incident the agent handed over: the feedback that teaches the agent a case.

An escalated (or failed) incident is closed by the agent, not solved. When the person who solved it says
what it was (`POST /agent/incidents/{id}/resolution`), the incident's history records it, the knowledge
store remembers the incident as resolved with that diagnosis (replacing the agent's escalated memory of
it, same incident id), so the next incident with the same symptom pattern is diagnosed from memory, and
a proposed amendment tells the runbook's owners what it lacked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import structlog
from pydantic import BaseModel, ConfigDict, Field

from agent.domain.signals import Symptoms
from agent.incidents.models import HumanResolution, Incident, utcnow
from agent.incidents.store import IncidentStore
from agent.knowledge.runbooks import RUNBOOK_ID, Runbook
from agent.knowledge.store import IncidentMemory
from agent.learning.amendments import EXECUTED, from_resolution
from agent.learning.proposed import ProposalResult, ProposedAmendments
from agent.markdown import inline
from agent.redaction import Redacted

log = structlog.get_logger("agent.learning")
RESOLVABLE = frozenset({"escalated", "failed"})


class ResolutionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    diagnosis_id: str = Field(
        pattern=RUNBOOK_ID,
        description="the id of a runbook the agent has loaded, the one that explains it; while the agent "
        "runs, its /openapi.json lists them here (`enum`)",
    )
    root_cause: Redacted = Field(min_length=1, max_length=2000, description="what it was, in words")
    actions_worked: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=10, description="action names that fixed it, in order"
    )
    by: str = Field(default="operator", min_length=1, max_length=100)


class ResolutionResult(BaseModel):
    incident_id: str
    diagnosis_id: str
    remembered: bool
    proposed_amendment: ProposalResult | None = None


class ResolutionRefused(Exception):
    """The incident cannot take a resolution (still running, resolved by the agent, or resolved already)."""


def check_resolvable(incident: Incident) -> None:
    if incident.status not in RESOLVABLE:
        raise ResolutionRefused(
            f"only an escalated or failed incident takes a resolution; this one is {incident.status}"
        )
    if incident.resolution is not None:
        raise ResolutionRefused(
            f"resolved already by {incident.resolution.by} as {incident.resolution.diagnosis_id}"
        )


async def record_resolution(
    incident_id: str,
    request: ResolutionRequest,
    *,
    store: IncidentStore,
    runbook: Runbook,
    symptoms: Symptoms,
    knowledge: Any | None,
    amendments: ProposedAmendments | None,
    symptoms_query: Callable[[Symptoms], str],
    runbook_names: Mapping[str, str] | None = None,
) -> ResolutionResult:
    """History first (the record people read), then memory, then the proposal; the last two may fail."""
    resolution = HumanResolution(**request.model_dump(), at=utcnow())

    def mutate(incident: Incident) -> None:
        check_resolvable(incident)  # checked again here: two answers at once must not both land
        incident.resolution = resolution
        incident.report += _report_section(resolution)

    incident = await store.update(incident_id, mutate)
    remembered = await _remember(incident, resolution, symptoms, knowledge, symptoms_query)
    proposed = await _propose(incident, runbook, symptoms, resolution, amendments, runbook_names or {})
    await store.append(
        incident_id,
        "resolution",
        f"resolved by {resolution.by} as {resolution.diagnosis_id}: {resolution.root_cause[:200]}",
        {
            "diagnosis": resolution.diagnosis_id,
            "root_cause": resolution.root_cause,
            "actions_worked": resolution.actions_worked,
            "by": resolution.by,
            "remembered": remembered,
            "proposed_amendment": proposed.model_dump(exclude_none=True) if proposed else None,
        },
    )
    return ResolutionResult(
        incident_id=incident_id,
        diagnosis_id=resolution.diagnosis_id,
        remembered=remembered,
        proposed_amendment=proposed,
    )


async def _remember(
    incident: Incident,
    resolution: HumanResolution,
    symptoms: Symptoms,
    knowledge: Any | None,
    symptoms_query: Callable[[Symptoms], str],
) -> bool:
    """Upsert the incident's memory as resolved, with the symptom text learn stored when there is one."""
    if knowledge is None:
        return False
    try:
        previous = await asyncio.to_thread(_remembered, knowledge, incident.id)
        text = previous.symptoms_text if previous is not None else symptoms_query(symptoms)
        executed = [a.action for a in incident.actions if a.status in EXECUTED]
        memory = IncidentMemory(
            incident_id=incident.id,
            symptoms_text=text,
            diagnosis_id=resolution.diagnosis_id,
            root_cause=resolution.root_cause,
            actions_tried=executed,
            actions_worked=resolution.actions_worked,
            actions_failed=[a for a in executed if a not in resolution.actions_worked],
            outcome="resolved",
            created_at=utcnow(),
        )
        await asyncio.to_thread(knowledge.add_incident, memory)
        return True
    except Exception as exc:  # the resolution is in the history; memory is an aid
        log.warning("resolution_not_remembered", error=type(exc).__name__)
        return False


def _remembered(knowledge: Any, incident_id: str) -> IncidentMemory | None:
    record = getattr(knowledge, "record", knowledge)  # the Weaviate store's record is the embedded file
    incidents = getattr(record, "incidents", None)
    if not callable(incidents):
        return None
    return next((m for m in incidents() if m.incident_id == incident_id), None)


async def _propose(
    incident: Incident,
    runbook: Runbook,
    symptoms: Symptoms,
    resolution: HumanResolution,
    amendments: ProposedAmendments | None,
    runbook_names: Mapping[str, str],
) -> ProposalResult | None:
    if amendments is None:
        return None
    try:
        amendment = from_resolution(incident, runbook, symptoms, resolution, runbook_names)
        return None if amendment is None else await asyncio.to_thread(amendments.write, amendment)
    except Exception as exc:  # a proposal is an aid to people
        log.warning("amendment_not_proposed", error=type(exc).__name__)
        return None


def _report_section(resolution: HumanResolution) -> str:
    lines = ["", "## Resolved by a human", ""]
    when = resolution.at.isoformat()
    who, what = inline(resolution.by), inline(resolution.diagnosis_id)
    lines.append(f"{who} at {when}: **{what}**. {inline(resolution.root_cause)}")
    if resolution.actions_worked:
        lines.append("- fixed by: " + inline(", ".join(resolution.actions_worked)))
    return "\n".join(lines) + "\n"
