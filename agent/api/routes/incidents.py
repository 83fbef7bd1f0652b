"""Incidents: list, read, open one by hand, approve or reject a paused action, record a human's resolution.

Bodies are strict (`extra="forbid"`, no coercion: `"enabled": 0` is not a boolean) and bounded, so a
refusal says what is wrong. The list is a page of summaries (no timeline), at most MAX_PAGE, newest
first; `next_cursor` continues it.
"""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from agent.api.deps import RuntimeDep
from agent.api.responses import reads, writes
from agent.catalog.services import SERVICE_NAME
from agent.domain.signals import Symptoms
from agent.domain.timestamps import Timestamp
from agent.incidents.models import Incident, IncidentStatus, IncidentSummary, TimelineEntry, utcnow
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
MAX_PAGE = 200
# A page's end: its last incident's opened_at (as stored) and id, so it holds however the history changes.
CURSOR = r"^\d{4}-\d{2}-\d{2}T[0-9:.]{2,20}(\+00:00|Z)?\|[A-Za-z0-9_.:-]{1,64}$"
LabelName = Annotated[str, Field(min_length=1, max_length=128)]
LabelValue = Annotated[str, Field(max_length=1024)]


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TriggerRequest(RequestBody):
    """Open (or add to) an incident by hand for a catalog service."""

    service: str = Field(pattern=SERVICE_NAME, description="a service of the catalog")
    reason: Redacted = Field(default="manual trigger", max_length=500)
    labels: dict[LabelName, LabelValue] = Field(default_factory=dict, max_length=32)


class FollowUpClose(RequestBody):
    by: str = Field(default="operator", max_length=100)
    comment: Redacted = Field(default="", max_length=500)


class DecisionRequest(RequestBody):
    by: str = Field(default="operator", max_length=100)
    comment: Redacted = Field(default="", max_length=500)


class IncidentList(BaseModel):
    incidents: list[IncidentSummary]
    count: int
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page (older incidents); null: no more"
    )


@router.get("/incidents", response_model=IncidentList, responses=reads())
async def list_incidents(
    runtime: RuntimeDep,
    status_: IncidentStatus | None = Query(default=None, alias="status"),
    service: str | None = Query(default=None, max_length=63),
    diagnosis: str | None = Query(default=None, max_length=63),
    since: Timestamp | None = Query(default=None, description="opened at or after (RFC 3339)"),
    limit: int = Query(default=50, ge=1, le=MAX_PAGE),
    cursor: str | None = Query(default=None, pattern=CURSOR, description="`next_cursor` of the page before"),
) -> Response:
    """A page of summaries, newest first. The store keeps each summary's JSON (IncidentSummary's
    fields) beside its document, so a full page costs the event loop a string join."""
    before = _place(cursor) if cursor else None
    found = await runtime.store.summaries(status_, service, diagnosis, since, limit + 1, before)
    page = found[:limit]
    next_cursor = json.dumps("|".join(page[-1].place)) if len(found) > limit else "null"
    items = ",".join(summary.json for summary in page)
    body = f'{{"incidents":[{items}],"count":{len(page)},"next_cursor":{next_cursor}}}'
    return Response(body, media_type="application/json")


def _place(cursor: str) -> tuple[str, str]:
    opened_at, incident_id = cursor.rsplit("|", 1)
    return opened_at, incident_id


@router.get("/incidents/{incident_id}", responses=reads(404))
async def get_incident(incident_id: str, runtime: RuntimeDep) -> Incident:
    try:
        return await runtime.store.get(incident_id)
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
    return await runtime.correlator.open_or_merge(
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
        incident = await runtime.store.get(incident_id)
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

    updated = await runtime.store.update(incident_id, mutate)
    await runtime.refresh_follow_ups()
    return updated


async def _decide(
    runtime: RuntimeDep, incident_id: str, approved: bool, body: DecisionRequest
) -> dict[str, Any]:
    try:
        await runtime.store.get(incident_id)
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
        incident = await runtime.store.get(incident_id)
    except IncidentNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such incident") from None
    runbook = next((rb for rb in runtime.runbooks() if rb.id == body.diagnosis_id), None)
    if runbook is None:
        raise _invalid("body", "diagnosis_id", "not a known runbook id", body.diagnosis_id)
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


def _invalid(where: str, name: str, message: str, given: Any) -> RequestValidationError:
    """A refusal in the same 422 shape as FastAPI's own validation errors."""
    return RequestValidationError(
        [{"type": "value_error", "loc": (where, name), "msg": message, "input": given}]
    )


def _symptoms_query(runtime: RuntimeDep) -> Any:
    reasoning = runtime.reasoning
    if reasoning is not None:
        return reasoning.symptoms_query
    from agent.diagnosis.symptoms_text import symptoms_query

    return symptoms_query
