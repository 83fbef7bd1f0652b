"""A stand-in for the target's three JSON endpoints, with replies a test can change while it runs.

Served by a real uvicorn on a free port in a thread, so the exporter talks real HTTP to it. Counters
grow with wall time (10 req/s, 0.2 CPU s/s) so Prometheus sees a live, healthy service.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse

from lab.runner.ports import free_port


@dataclass
class Reply:
    """A replacement answer: JSON-able `body` (or raw `text`), a status code and a delay before answering."""

    body: Any = None
    text: str | None = None
    status: int = 200
    delay: float = 0.0


class TargetStandIn:
    def __init__(self) -> None:
        self.started_at = time.time()
        self.patches: dict[str, dict[str, Any]] = {"health": {}, "metrics": {}, "pool": {}}
        self.replies: dict[str, Reply] = {}
        self.url = ""

    def healthy(self) -> None:
        """Back to the default healthy documents."""
        self.patches = {"health": {}, "metrics": {}, "pool": {}}
        self.replies = {}

    def health(self) -> dict[str, Any]:
        checks = {
            name: {"status": "ok", "latency_ms": 1.5, "detail": ""}
            for name in ("database", "pool", "dependency", "disk", "errors")
        }
        return {
            "status": "healthy",
            "release": "2026.11.3",
            "uptime_seconds": self._elapsed(),
            "checks": checks,
        } | self.patches["health"]

    def metrics(self) -> dict[str, Any]:
        elapsed = self._elapsed()
        return {
            "window_seconds": 30.0,
            "error_rate": 0.2,
            "avg_response_time_ms": 12.0,
            "p95_response_time_ms": 35.0,
            "requests_per_second": 10.0,
            "requests_total": int(1000 + 10 * elapsed),
            "errors_total": 2,
            "throttled_total": 0,
            "request_duration_buckets": {"0.01": 400, "0.05": 990, "0.5": 1000, "+Inf": 1002},
            "request_duration_seconds_total": 14.5,
            "db_query_avg_ms": 1.5,
            "db_queries_total": 3000,
            "db_query_seconds_total": 4.5,
            "dependency_avg_ms": 8.0,
            "dependency_errors_total": 0,
            "memory_rss_bytes": 83_886_080,
            "cpu_seconds_total": 5 + 0.2 * elapsed,
            "cpu_ratio": 0.2,
            "disk_used_bytes": 6_710_886,
            "disk_quota_bytes": 67_108_864,
            "disk_used_ratio": 0.1,
            "release": "2026.11.3",
            "release_changed_at": self.started_at - 86_400,
            "started_at": self.started_at - 100,
            "uptime_seconds": elapsed + 100,
            "rate_limit_rps": None,
            "dependency_fallback": False,
        } | self.patches["metrics"]

    def pool(self) -> dict[str, Any]:
        return {
            "size": 5,
            "checked_out": 1,
            "overflow": -4,
            "max_overflow": 5,
            "checked_in": 4,
            "waiting": 0,
            "utilization": 10.0,
            "pool_health": "healthy",
            "timeout_seconds": 2.0,
            "leak_reaper_seconds": None,
        } | self.patches["pool"]

    def app(self) -> FastAPI:
        app = FastAPI()
        documents = {"health": self.health, "metrics": self.metrics, "pool": self.pool}

        async def answer(endpoint: str) -> Response:
            reply = self.replies.get(endpoint)
            if reply is None:
                return JSONResponse(documents[endpoint]())
            await asyncio.sleep(reply.delay)
            if reply.text is not None:
                return Response(reply.text, status_code=reply.status, media_type="application/json")
            body = documents[endpoint]() if reply.body is None else reply.body
            return JSONResponse(body, status_code=reply.status)

        @app.get("/api/v1/health")
        async def health() -> Response:
            return await answer("health")

        @app.get("/api/v1/metrics")
        async def metrics() -> Response:
            return await answer("metrics")

        @app.get("/api/v1/pool/status")
        async def pool() -> Response:
            return await answer("pool")

        return app

    @contextmanager
    def serve(self, port: int | None = None) -> Iterator[TargetStandIn]:
        port = port or free_port()
        server = uvicorn.Server(
            uvicorn.Config(self.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, name="target-standin", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the target stand-in did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port}"
        try:
            yield self
        finally:
            server.should_exit = True
            thread.join(timeout=10)

    def _elapsed(self) -> float:
        return time.time() - self.started_at
