"""POST /webhooks/alertmanager: check, validate, queue, answer 202 at once (503 only to ask for a re-send)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from agent.api.auth import check_bearer
from agent.api.deps import RuntimeDep
from agent.api.responses import errors, inline_schema
from agent.intake.alertmanager import WebhookNotification

router = APIRouter()


@router.post(
    "/webhooks/alertmanager",
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(401, 422),
    # The body is parsed here, not by FastAPI, so each refusal is counted; the document still says it.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(WebhookNotification)}},
        }
    },
)
async def alertmanager_webhook(
    request: Request, runtime: RuntimeDep, authorization: str | None = Header(default=None)
) -> JSONResponse:
    counter = runtime.metrics.webhook_requests_total
    try:
        check_bearer(authorization, runtime.settings.WEBHOOK_TOKEN)
    except HTTPException:
        counter.labels(result="unauthorized").inc()
        raise
    try:
        notification = WebhookNotification.model_validate(json.loads(await request.body()))
    except (ValueError, ValidationError) as exc:
        counter.labels(result="invalid").inc()
        raise HTTPException(422, detail=_reason(exc)) from None
    if not runtime.queue.offer(notification):
        counter.labels(result="queue_full").inc()
        return JSONResponse(
            {"detail": "intake queue full, re-send later"},
            status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    counter.labels(result="accepted").inc()
    return JSONResponse(
        {"accepted": True, "alerts": len(notification.alerts), "queue_depth": runtime.queue.depth},
        status.HTTP_202_ACCEPTED,
    )


def _reason(exc: Exception) -> str:
    """A client-safe reason: the first invalid field and what is wrong with it."""
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        return f"invalid Alertmanager payload: {where}: {error['msg']}"
    return "body is not valid JSON"
