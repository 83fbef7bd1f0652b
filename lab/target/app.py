"""The orders API: `create_app(settings)` wires the runtime in a lifespan and mounts the routers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import httpx
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from lab.memory_retainer import MemoryRetainer
from lab.target import admin, hooks, monitoring, orders
from lab.target.config import Settings
from lab.target.db import Database
from lab.target.inventory import Inventory
from lab.target.logbuffer import LogBuffer
from lab.target.middleware import RequestAccounting
from lab.target.ratelimit import TokenBucket
from lab.target.releases import Releases
from lab.target.runtime import Runtime
from lab.target.storage import Storage
from lab.target.stress import CpuBurner
from lab.target.telemetry import Telemetry


def build_runtime(settings: Settings, http: httpx.AsyncClient) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    telemetry = Telemetry(settings.metrics_window_seconds)
    log = LogBuffer(settings.log_file, settings.log_buffer_lines, settings.log_max_bytes, settings.log_level)
    return Runtime(
        settings=settings,
        db=Database(settings, log),
        telemetry=telemetry,
        log=log,
        releases=Releases(settings.data_dir / "release.json", settings.initial_release),
        storage=Storage(settings.data_dir, settings.disk_quota_bytes, settings.disk_scan_interval_seconds),
        limiter=TokenBucket(settings.rate_limit_rps),
        inventory=Inventory(
            http,
            settings.dependency_url,
            settings.dependency_timeout_seconds,
            settings.dependency_default_stock,
            telemetry,
            log,
        ),
        memory=MemoryRetainer(settings.memory_retain_cap_bytes),
        cpu=CpuBurner(),
    )


async def _sample(rt: Runtime) -> None:
    """Once a second: a CPU sample for `cpu_ratio`, and a fresh disk usage scan when it is due."""
    while True:
        await asyncio.sleep(1.0)
        rt.telemetry.sample_cpu()
        if rt.storage.stale():
            await asyncio.to_thread(rt.storage.refresh)


class _RuntimeProxy:
    """Lets the middleware be added at build time while the runtime is only created in the lifespan."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def __getattr__(self, name: str) -> object:
        return getattr(self._app.state.runtime, name)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=10)
        async with httpx.AsyncClient(limits=limits) as http:
            rt = build_runtime(settings, http)
            await run_in_threadpool(orders.init_schema, rt)
            app.state.runtime = rt
            rt.log.info("service started", release=rt.releases.current.release, port=settings.port)
            tasks = [asyncio.create_task(_sample(rt)), asyncio.create_task(admin.reaper(rt))]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                rt.cpu.stop()
                rt.log.info("service stopping")
                rt.db.close()
                rt.log.close()

    app = FastAPI(title="Orders API", version="1.0", lifespan=lifespan)
    app.include_router(orders.router)
    app.include_router(monitoring.router)
    app.include_router(admin.build_router(settings.admin_token.get_secret_value()))
    app.include_router(hooks.build_router(settings.hook_token.get_secret_value()))
    app.add_middleware(RequestAccounting, runtime=cast(Runtime, _RuntimeProxy(app)))
    return app
