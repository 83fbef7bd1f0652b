"""The control API: `GET /status`, and a hidden lever `POST /_hooks/rate` that scales the rate.

The generator runs as a background task of the app's lifespan, so one uvicorn process is the service.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from lab.auth import require_bearer
from lab.loadgen.config import Settings
from lab.loadgen.generator import LoadGenerator, LoadStatus


class RateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    multiplier: float = Field(ge=0, le=100)


def get_generator(request: Request) -> LoadGenerator:
    return request.app.state.generator  # type: ignore[no-any-return]


GeneratorDep = Annotated[LoadGenerator, Depends(get_generator)]


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=settings.max_in_flight, max_keepalive_connections=20)
        async with httpx.AsyncClient(limits=limits) as http:
            generator = LoadGenerator(
                http,
                settings.target_url,
                settings.rate_rps,
                settings.read_ratio,
                settings.max_in_flight,
                settings.request_timeout_seconds,
            )
            app.state.generator = generator
            task = asyncio.create_task(generator.run())
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await generator.stop()

    app = FastAPI(title="Load generator", version="1.0", lifespan=lifespan)

    @app.get("/status", response_model=LoadStatus)
    def status(generator: GeneratorDep) -> LoadStatus:
        return generator.status()

    token = settings.hook_token.get_secret_value()
    levers = APIRouter(
        prefix="/_hooks", include_in_schema=False, dependencies=[Depends(require_bearer(lambda: token))]
    )

    @levers.post("/rate", response_model=LoadStatus)
    def rate(generator: GeneratorDep, body: RateIn) -> LoadStatus:
        generator.multiplier = body.multiplier
        return generator.status()

    app.include_router(levers)
    return app
