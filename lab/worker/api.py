"""The public API: `POST /jobs` (enqueue), `GET /healthz` (liveness), `GET /metrics` (Prometheus).

`/metrics` serves `generate_latest()` itself rather than a mounted ASGI app, whose `/metrics` answers
a 307 some scrapers do not follow.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.concurrency import run_in_threadpool

from lab.errors import bounded_body, documented, parse_json_object, validated
from lab.worker.runtime import Runtime, get_runtime
from lab.worker.schemas import Accepted, JobIn

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
BUSINESS_ROUTES = frozenset({"/jobs"})
JOB_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": JobIn.model_json_schema()}}}
}


def build_router(registry: CollectorRegistry) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/jobs",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses=documented({413: "the body is too large", 422: "the body is not a job"}),
        openapi_extra=JOB_BODY,
    )
    async def enqueue(request: Request, rt: RuntimeDep) -> Accepted:
        """Queues a job behind the earlier jobs of its key; answers before it is processed."""
        body = parse_json_object(await bounded_body(request, rt.settings.max_body_bytes))
        job = validated(JobIn, body)
        payload = json.dumps(body, separators=(",", ":"))
        job_id, partition = await run_in_threadpool(rt.queue.enqueue, job.key, payload)
        rt.metrics.sent.inc()
        return Accepted(id=job_id, partition=partition)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @router.get("/metrics", response_class=Response)
    def metrics() -> Response:
        """Prometheus text exposition."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
