"""Incidents: list, read, open one by hand, approve or reject a paused action, record a human's resolution."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from agent.api.deps import RuntimeDep
from agent.api.responses import reads, writes
from agent.domain.signals import Symptoms
from agent.incidents.models import Incident, IncidentSummary, TimelineEntry, utcnow
from agent.incidents.store import IncidentNotFound
from agent.intake.alertmanager import Alert
from agent.intake.correlation import IngestResult
from agent.learning.resolution import (
    ResolutionRefused,
    ResolutionRequest,
    ResolutionResult,
    check_resolvable,
    record_resolution,
)
from agent.redaction import Redacted
from agent.workflow.nodes.approve import ApprovalDecision
from agent.workflow.runner import NotAwaitingApproval

router = APIRouter(prefix="/agent")


class TriggerRequest(BaseModel):
    """Open (or add to) an incident by hand for a catalog service."""

    service: str = Field(min_length=1, max_length=64, description="a service of the catalog")
    reason: Redacted = Field(default="manual trigger", max_length=500)
    labels: dict[str, str] = Field(default_factory=dict, max_length=32)


class FollowUpClose(BaseModel):
    by: str = Field(default="operator", max_length=100)
    comment: Redacted = Field(default="", max_length=500)


class DecisionRequest(BaseModel):
    by: str = Field(default="operator", max_length=100)
    comment: Redacted = Field(default="", max_length=500)


class IncidentList(BaseModel):
    incidents: list[IncidentSummary]
    count: int


@router.get("/incidents", responses=reads())
async def list_incidents(
    runtime: RuntimeDep,
    status_: str | None = Query(default=None, alias="status"),
    service: str | None = None,
    diagnosis: str | None = None,
    since: datetime | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> IncidentList:
    found = runtime.store.find(status=status_, service=service, diagnosis=diagnosis, since=since, limit=limit)
    return IncidentList(incidents=[IncidentSummary.of(i) for i in found], count=len(found))


@router.get("/incidents/{incident_id}", responses=reads(404))
async def get_incident(incident_id: str, runtime: RuntimeDep) -> Incident:
    try:
        return runtime.store.get(incident_id)
    except IncidentNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such incident") from None


@router.post("/trigger", status_code=status.HTTP_202_ACCEPTED, responses=writes(400, 404))
async def trigger(runtime: RuntimeDep, body: TriggerRequest) -> IngestResult:
    """The service must be in the catalog: a trigger never acts on, or spends the budget of, anything else."""
    service = body.service
    known = sorted(runtime.catalog.services())
    if service not in known:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"unknown service {service!r}: the catalog has {', '.join(known) or 'none'}",
        )
    labels = {"alertname": "ManualTrigger", "severity": "warning", **body.labels, "service": service}
    alert = Alert(
        status="firing",
        labels=labels,
        annotations={"summary": body.reason},
        startsAt=utcnow(),
        fingerprint=f"manual-{utcnow():%Y%m%d%H%M%S%f}",
    )
    return runtime.correlator.open_or_merge(
        source="manual", service=service, group_key=f"manual:{service}", alerts=[alert], reason=body.reason
    )


@router.post(
    "/incidents/{incident_id}/approve",
    status_code=status.HTTP_202_ACCEPTED,
    responses=writes(400, 404, 409),
)
async def approve(
    incident_id: str, runtime: RuntimeDep, body: DecisionRequest | None = None
) -> dict[str, Any]:
    return await _decide(runtime, incident_id, True, body or DecisionRequest())


@router.post(
    "/incidents/{incident_id}/reject",
    status_code=status.HTTP_202_ACCEPTED,
    responses=writes(400, 404, 409),
)
async def reject(
    incident_id: str, runtime: RuntimeDep, body: DecisionRequest | None = None
) -> dict[str, Any]:
    return await _decide(runtime, incident_id, False, body or DecisionRequest())


@router.post(
    "/incidents/{incident_id}/follow-ups/{index}/close",
    responses=writes(400, 404, 409),
)
async def close_follow_up(
    incident_id: str, index: int, runtime: RuntimeDep, body: FollowUpClose | None = None
) -> Incident:
    """A person dealt with what a mitigation left behind (the leak fixed, the fallback turned off)."""
    body = body or FollowUpClose()
    try:
        incident = runtime.store.get(incident_id)
    except IncidentNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such incident") from None
    if not 0 <= index < len(incident.follow_ups):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such follow-up")
    if incident.follow_ups[index].status == "closed":
        raise HTTPException(status.HTTP_409_CONFLICT, detail="the follow-up is already closed")

    def mutate(i: Incident) -> None:
        follow_up = i.follow_ups[index]
        follow_up.status, follow_up.closed_at = "closed", utcnow()
        follow_up.closed_by, follow_up.comment = body.by, body.comment
        i.timeline.append(
            TimelineEntry(step="follow-up", message=f"follow-up closed by {body.by}: {follow_up.note}")
        )

    updated = runtime.store.update(incident_id, mutate)
    runtime.refresh_follow_ups()
    return updated


async def _decide(
    runtime: RuntimeDep, incident_id: str, approved: bool, body: DecisionRequest
) -> dict[str, Any]:
    try:
        runtime.store.get(incident_id)
        await runtime.runner.decide(
            incident_id, ApprovalDecision(approved=approved, by=body.by, comment=body.comment)
        )
    except IncidentNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such incident") from None
    except NotAwaitingApproval as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    return {"incident_id": incident_id, "decision": "approved" if approved else "rejected"}


@router.post("/incidents/{incident_id}/resolution", responses=writes(400, 404, 409))
async def resolution(incident_id: str, body: ResolutionRequest, runtime: RuntimeDep) -> ResolutionResult:
    """How a person resolved an escalated or failed incident: recorded in its history, remembered as
    resolved for the next incident with the same symptoms, and proposed as a runbook amendment."""
    try:
        incident = runtime.store.get(incident_id)
    except IncidentNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such incident") from None
    runbook = next((rb for rb in runtime.runbooks() if rb.id == body.diagnosis_id), None)
    if runbook is None:  # the same 422 shape as the body's own validation errors
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", "diagnosis_id"),
                    "msg": "not a known runbook id",
                    "input": body.diagnosis_id,
                }
            ]
        )
    try:
        check_resolvable(incident)
        if incident_id in runtime.runner.running():  # closed a moment ago: learn is finishing
            with contextlib.suppress(TimeoutError):
                await runtime.runner.wait(incident_id, timeout=5.0)
            if incident_id in runtime.runner.running():
                raise ResolutionRefused("the incident's workflow is still running")
        snapshot = await runtime.runner.graph.aget_state(runtime.runner.config(incident_id))
        symptoms = Symptoms.model_validate((snapshot.values or {}).get("symptoms") or {})
        return await record_resolution(
            incident_id,
            body,
            store=runtime.store,
            runbook=runbook,
            symptoms=symptoms,
            knowledge=runtime.knowledge,
            amendments=runtime.amendments,
            symptoms_query=_symptoms_query(runtime),
            runbook_names=service.runbook_names()
            if (service := runtime.catalog.get(incident.service))
            else {},
        )
    except ResolutionRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None


def _symptoms_query(runtime: RuntimeDep) -> Any:
    reasoning = runtime.reasoning
    if reasoning is not None:
        return reasoning.symptoms_query
    from agent.diagnosis.symptoms_text import symptoms_query

    return symptoms_query
