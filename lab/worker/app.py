"""The queue worker: `create_app(settings)` builds its metrics; the lifespan, the queue and consumers."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from lab.memory_retainer import MemoryRetainer
from lab.worker import admin, api, hooks
from lab.worker.config import Settings
from lab.worker.consumers import ConsumerPool
from lab.worker.handler import SCHEMA, Downstream, JobHandler
from lab.worker.http_metrics import RequestDuration
from lab.worker.jobqueue import JobQueue
from lab.worker.metrics import QueueCollector, WorkerMetrics, new_registry
from lab.worker.runtime import Runtime

log = structlog.get_logger("worker")


def build_runtime(settings: Settings, metrics: WorkerMetrics) -> Runtime:
    queue = JobQueue(settings.queue_path, settings.partitions, extra_schema=SCHEMA)
    downstream = Downstream(settings.job_seconds)
    memory = MemoryRetainer(settings.memory_retain_cap_bytes)
    pool = ConsumerPool(
        queue,
        JobHandler(downstream),
        metrics,
        memory,
        settings.retry_backoff_seconds,
        settings.poll_seconds,
    )
    return Runtime(
        settings=settings, queue=queue, downstream=downstream, memory=memory, metrics=metrics, pool=pool
    )


async def _prune(rt: Runtime) -> None:
    """Deletes done jobs past their retention, every interval."""
    while True:
        await asyncio.sleep(rt.settings.prune_interval_seconds)
        try:
            await asyncio.to_thread(rt.queue.prune, rt.settings.done_retention_seconds)
        except sqlite3.Error as exc:
            log.error("queue file error", error=f"{type(exc).__name__}: {exc}"[:200])


def create_app(settings: Settings, registry: CollectorRegistry | None = None) -> FastAPI:
    """`registry`: where the metrics go (a fresh one with the process collectors by default)."""
    registry = registry or new_registry()
    metrics = WorkerMetrics(registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = await asyncio.to_thread(build_runtime, settings, metrics)
        recovered = await asyncio.to_thread(rt.queue.recover)
        collector = QueueCollector(rt.queue, lambda: rt.pool.count)
        registry.register(collector)
        app.state.runtime = rt
        rt.pool.resize(settings.consumers)
        log.info(
            "worker started",
            consumers=settings.consumers,
            partitions=settings.partitions,
            requeued_unfinished_jobs=recovered,
            port=settings.port,
        )
        pruner = asyncio.create_task(_prune(rt))
        try:
            yield
        finally:
            pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruner
            log.info("worker stopping")
            rt.downstream.close()  # jobs being processed stay uncommitted: ready again after the restart
            await asyncio.to_thread(rt.pool.close)
            registry.unregister(collector)
            rt.queue.close()

    app = FastAPI(title="Jobs worker", version="1.0", lifespan=lifespan)
    app.include_router(api.build_router(registry))
    app.include_router(admin.build_router(settings.admin_token.get_secret_value()))
    app.include_router(hooks.build_router(settings.hook_token.get_secret_value()))
    app.add_middleware(RequestDuration, histogram=metrics.http, routes=api.BUSINESS_ROUTES)
    return app
