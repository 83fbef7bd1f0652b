"""POST /webhooks/alertmanager: check, validate, queue, answer 202 at once (503 only to ask for a re-send).

Hostile or runaway input is bounded, never a 5xx (which Alertmanager would re-send forever): a body
over MAX_REQUEST_BODY_BYTES is a 413 (`agent.api.limits`), JSON too deep or not UTF-8 a 422 (pydantic's
parser has a recursion limit, `json.loads` raised RecursionError), and a notification with more than
WEBHOOK_MAX_ALERTS alerts is accepted with the first ones kept, firing first, the rest counted in
`sre_agent_webhook_alerts_dropped_total` and named in the answer, the way Alertmanager's own
`max_alerts` truncates; oversized text in an alert is cut with a mark (`agent.intake.alertmanager`).
A 4xx drops the page for good, so a page is never refused for its size alone below the body limit.

A body over INLINE_BODY_BYTES is validated in a worker thread: a notification of 500 alerts is a few
milliseconds of parsing, bounding and redaction, and the event loop must answer other requests
meanwhile (Alertmanager waits for each answer). A small one, a re-send or a page of a few alerts, is
validated on the loop, where a thread hop would cost more than the work.
"""

from __future__ import annotations

import functools

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from agent.api.deps import RuntimeDep
from agent.api.responses import inline_schema, writes
from agent.intake.alertmanager import WebhookNotification

router = APIRouter()
INLINE_BODY_BYTES = 16 * 1024  # ~30 alerts, well under a millisecond to validate


@router.post(
    "/webhooks/alertmanager",
    status_code=status.HTTP_202_ACCEPTED,
    responses=writes(413, 422),
    # The body is parsed here, not by FastAPI, so each refusal is counted; the document still says it.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(WebhookNotification)}},
        }
    },
)
async def alertmanager_webhook(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """WEBHOOK_TOKEN and the JSON content type are checked before (`agent.api.guard`, counted there)."""
    counter = runtime.metrics.webhook_requests_total
    try:
        limits = runtime.settings.alert_limits()
        body = await request.body()
        validate = functools.partial(WebhookNotification.model_validate_json, body, context=limits)
        notification = validate() if len(body) <= INLINE_BODY_BYTES else await run_in_threadpool(validate)
    except ValidationError as exc:
        counter.labels(result="invalid").inc()
        raise HTTPException(422, detail=_reason(exc)) from None
    notification, dropped = notification.capped(runtime.settings.WEBHOOK_MAX_ALERTS)
    if runtime.queue.offer(notification) == "full":
        counter.labels(result="queue_full").inc()
        return JSONResponse(
            {"detail": "intake queue full, re-send later"},
            status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    counter.labels(result="accepted").inc()
    answer = {"accepted": True, "alerts": len(notification.alerts), "queue_depth": runtime.queue.depth}
    if dropped:
        runtime.metrics.webhook_alerts_dropped_total.inc(dropped)
        answer["alerts_dropped"] = dropped
    return JSONResponse(answer, status.HTTP_202_ACCEPTED)


def _reason(exc: ValidationError) -> str:
    """A client-safe reason: the first invalid field and what is wrong with it (never the input)."""
    error = exc.errors(include_input=False)[0]
    if error["type"] == "json_invalid":
        cause = str(error.get("ctx", {}).get("error", "")).split(" at line")[0]
        return f"body is not valid JSON ({cause})" if cause else "body is not valid JSON"
    where = ".".join(str(part) for part in error["loc"]) or "body"
    return f"invalid Alertmanager payload: {where}: {error['msg']}"
