"""The agent's app factory: routes, who may call them (`agent.api.guard`), the body limit, and a lifespan
that builds the runtime (`agent.composition.build_runtime`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from starlette.middleware.trustedhost import TrustedHostMiddleware

from agent.api.guard import WEBHOOK_PATH, RequestGuard, access
from agent.api.limits import BodySizeLimit
from agent.api.openapi import with_runbook_ids
from agent.api.routes import control, health, incidents, webhooks
from agent.api.routes import knowledge as knowledge_routes
from agent.api.routes import runbooks as runbook_routes
from agent.composition import Parts, build_runtime
from agent.config import Settings

log = structlog.get_logger("agent")


def create_app(settings: Settings, parts: Parts | None = None) -> FastAPI:
    """`parts` put stand-ins in (tests); `python -m agent` builds everything from `settings`.

    UnauthenticatedRefused when a write token is empty without ALLOW_UNAUTHENTICATED."""
    settings.refuse_open_writes()
    if warning := access(settings).warning:  # past the refusal only with ALLOW_UNAUTHENTICATED
        log.warning("routes_open", reason=warning)
    parts = parts or Parts()
    registry = parts.registry or CollectorRegistry()
    parts.registry = registry

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with build_runtime(settings, parts) as runtime:
            app.state.runtime = runtime
            try:
                yield
            finally:
                app.state.runtime = None

    app = FastAPI(title="sre-agent", version="0.1.0", lifespan=lifespan)

    def count_too_large(path: str) -> None:
        runtime = app.state.runtime
        if runtime is not None:
            runtime.metrics.request_bodies_refused_total.inc()

    def count_refused(path: str, status: int) -> None:
        runtime = app.state.runtime
        if runtime is not None and path == WEBHOOK_PATH:
            result = "unauthorized" if status in (401, 403) else "invalid"
            runtime.metrics.webhook_requests_total.labels(result=result).inc()

    # The last added runs first: the Host, then who may call, then the body's size.
    app.add_middleware(BodySizeLimit, max_bytes=settings.MAX_REQUEST_BODY_BYTES, on_refused=count_too_large)
    app.add_middleware(RequestGuard, settings=settings, on_refused=count_refused)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts())
    app.state.runtime = None
    app.state.registry = registry
    for router in (
        webhooks.router,
        incidents.router,
        control.router,
        health.router,
        knowledge_routes.router,
        runbook_routes.router,
    ):
        app.include_router(router)
    app.openapi = with_runbook_ids(app, parts.runbooks)  # type: ignore[method-assign]
    return app
