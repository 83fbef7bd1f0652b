"""Operator endpoints (`/admin/...`, WORKER_ADMIN_TOKEN): the levers the action server pulls.

Hidden from OpenAPI. Effects a real service would log (consumers changed, jobs set aside) are logged.
Restarts need nothing from here: the action server's supervisor signals the process.
"""

from __future__ import annotations

import time
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from lab.auth import require_bearer
from lab.worker.runtime import Runtime, get_runtime
from lab.worker.schemas import ConsumersIn, ConsumersOut, DeadLetterIn, DeadLetterOut, HeadOut, QueueState

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
log = structlog.get_logger("worker")


def build_router(admin_token: str) -> APIRouter:
    router = APIRouter(
        prefix="/admin", include_in_schema=False, dependencies=[Depends(require_bearer(lambda: admin_token))]
    )

    @router.post("/consumers", response_model=ConsumersOut)
    def set_consumers(rt: RuntimeDep, body: ConsumersIn) -> ConsumersOut:
        previous = rt.pool.resize(body.consumers)
        log.info("consumers changed", previous=previous, consumers=body.consumers)
        return ConsumersOut(consumers=body.consumers, previous=previous)

    @router.post("/dead-letter", response_model=DeadLetterOut)
    async def dead_letter(rt: RuntimeDep, body: DeadLetterIn) -> DeadLetterOut:
        moved = await run_in_threadpool(rt.queue.dead_letter, body.min_attempts)
        log.warning("jobs moved to the dead letter queue", count=moved, min_attempts=body.min_attempts)
        return DeadLetterOut(moved=moved, min_attempts=body.min_attempts)

    @router.get("/queue", response_model=QueueState)
    async def queue_state(rt: RuntimeDep) -> QueueState:
        snapshot = await run_in_threadpool(rt.queue.snapshot)
        heads = await run_in_threadpool(rt.queue.heads)
        now = time.time()
        return QueueState(
            consumers=rt.pool.count,
            partitions=rt.queue.partitions,
            ready=snapshot.ready,
            in_flight=snapshot.in_flight,
            dead_letter=snapshot.dead_letter,
            heads=[
                HeadOut(
                    partition=head.partition,
                    job_id=head.job_id,
                    state=head.state,
                    attempts=head.attempts,
                    age_seconds=round(max(0.0, now - head.enqueued_at), 3),
                    last_error=head.last_error,
                )
                for head in heads
            ],
        )

    return router
