"""GET /health (is the agent and what it depends on answering) and GET /metrics (at exactly /metrics)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agent.api.deps import RuntimeDep
from agent.api.responses import errors
from agent.runtime import AgentRuntime

router = APIRouter()


async def probe_dependencies(runtime: AgentRuntime) -> dict[str, dict[str, Any]]:
    """Ask each dependency once, concurrently: did it answer, and how fast (no URLs, no tokens)."""

    async def timed(check: Awaitable[bool]) -> dict[str, Any]:
        started = time.monotonic()
        try:
            ok = await asyncio.wait_for(check, timeout=3.0)
        except TimeoutError:
            ok = False
        return {"ok": ok, "seconds": round(time.monotonic() - started, 3)}

    async def target() -> bool:
        return (await runtime.target.health()).value is not None

    async def action_server() -> bool:
        return (await runtime.actions.catalog()).ok

    async def store() -> bool:
        return runtime.store.ping()

    names = ("target", "action_server", "prometheus", "incident_store")
    results = await asyncio.gather(
        timed(target()), timed(action_server()), timed(runtime.prometheus.ready()), timed(store())
    )
    return dict(zip(names, results, strict=True))


@router.get("/health", responses=errors())
async def health(runtime: RuntimeDep) -> dict[str, Any]:
    dependencies = await probe_dependencies(runtime)
    degraded = sorted(name for name, result in dependencies.items() if not result["ok"])
    return {"status": "degraded" if degraded else "ok", "degraded": degraded, "dependencies": dependencies}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}, **errors()},
)
async def metrics(runtime: RuntimeDep) -> Response:
    runtime.metrics.queue_depth.set(runtime.queue.depth)
    return Response(generate_latest(runtime.registry), media_type=CONTENT_TYPE_LATEST)
