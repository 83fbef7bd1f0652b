"""The exporter's HTTP face: `/metrics` answers the exposition directly (no redirect)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from exporters.collector import TargetCollector
from exporters.settings import Settings
from exporters.source import TargetSource


def create_app(settings: Settings, source: TargetSource | None = None) -> FastAPI:
    """The source is built in the lifespan unless a test passes one; the registry is fresh per app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        target = source or TargetSource(settings.target_url, settings.timeout_seconds)
        registry = CollectorRegistry()
        TargetCollector(target, registry)
        app.state.registry = registry
        try:
            yield
        finally:
            if source is None:
                target.close()

    app = FastAPI(title="target exporter", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    # A plain `def`: FastAPI runs it in its thread pool, so a slow target never blocks the event loop.
    @app.get("/metrics")
    def metrics(request: Request) -> Response:
        return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/")
    def index() -> PlainTextResponse:
        return PlainTextResponse(f"target exporter for {settings.target_url}: see /metrics\n")

    return app
