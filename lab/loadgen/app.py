"""The control API: `GET /status`, and hidden levers `POST /_hooks/rate` and `/_hooks/jobs-rate` that
scale the orders and the jobs rates.

The generators run as background tasks of the app's lifespan, so one uvicorn process is the service.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from lab.auth import require_bearer
from lab.loadgen.config import Settings
from lab.loadgen.generator import LoadGenerator, LoadStatus, OpenLoop
from lab.loadgen.jobs import JobProducer


class RateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    multiplier: float = Field(ge=0, le=100)


class Status(LoadStatus):
    """The orders traffic, and the jobs traffic when a worker is configured."""

    jobs: LoadStatus | None = None


def get_generator(request: Request) -> LoadGenerator:
    return request.app.state.generator  # type: ignore[no-any-return]


def get_producer(request: Request) -> JobProducer:
    producer: JobProducer | None = request.app.state.producer
    if producer is None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="no worker URL is configured: no jobs are sent")
    return producer


GeneratorDep = Annotated[LoadGenerator, Depends(get_generator)]
ProducerDep = Annotated[JobProducer, Depends(get_producer)]


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=settings.max_in_flight, max_keepalive_connections=20)
        async with httpx.AsyncClient(limits=limits) as http, httpx.AsyncClient(limits=limits) as jobs_http:
            generator = LoadGenerator(
                http,
                settings.target_url,
                settings.rate_rps,
                settings.read_ratio,
                settings.max_in_flight,
                settings.request_timeout_seconds,
            )
            producer = None
            if settings.worker_url:
                producer = JobProducer(
                    jobs_http,
                    settings.worker_url,
                    settings.jobs_rps,
                    settings.max_in_flight,
                    settings.request_timeout_seconds,
                )
            app.state.generator, app.state.producer = generator, producer
            loops: list[OpenLoop] = [generator] + ([producer] if producer else [])
            tasks = [asyncio.create_task(loop.run()) for loop in loops]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                for loop in loops:
                    await loop.stop()

    app = FastAPI(title="Load generator", version="1.0", lifespan=lifespan)

    @app.get("/status", response_model=Status)
    def status_(request: Request, generator: GeneratorDep) -> Status:
        producer: JobProducer | None = request.app.state.producer
        return Status(**generator.status().model_dump(), jobs=producer.status() if producer else None)

    token = settings.hook_token.get_secret_value()
    levers = APIRouter(
        prefix="/_hooks", include_in_schema=False, dependencies=[Depends(require_bearer(lambda: token))]
    )

    @levers.post("/rate", response_model=LoadStatus)
    def rate(generator: GeneratorDep, body: RateIn) -> LoadStatus:
        generator.multiplier = body.multiplier
        return generator.status()

    @levers.post("/jobs-rate", response_model=LoadStatus)
    def jobs_rate(producer: ProducerDep, body: RateIn) -> LoadStatus:
        producer.multiplier = body.multiplier
        return producer.status()

    app.include_router(levers)
    return app
