"""The target's public JSON endpoints, read with lenient models: a missing or odd field becomes None."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from agent.clients.http import Fetched, get_json, lenient


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CheckView(_Lenient):
    status: str | None = None
    detail: str = ""
    latency_ms: float | None = None


class HealthView(_Lenient):
    status: str | None = None
    release: str | None = None
    uptime_seconds: float | None = None
    checks: dict[str, Any] = Field(default_factory=dict)

    def check_views(self) -> dict[str, CheckView]:
        return {name: lenient(CheckView, raw) for name, raw in self.checks.items()}


class MetricsView(_Lenient):
    window_seconds: float | None = None
    error_rate: float | None = None
    avg_response_time_ms: float | None = None
    p95_response_time_ms: float | None = None
    requests_per_second: float | None = None
    requests_total: float | None = None
    errors_total: float | None = None
    throttled_total: float | None = None
    db_query_avg_ms: float | None = None
    dependency_avg_ms: float | None = None
    memory_rss_bytes: float | None = None
    cpu_ratio: float | None = None
    disk_used_ratio: float | None = None
    release: str | None = None
    release_changed_at: float | None = None
    rate_limit_rps: float | None = None
    dependency_fallback: bool | None = None


class PoolView(_Lenient):
    size: int | None = None
    checked_out: int | None = None
    overflow: int | None = None
    max_overflow: int | None = None
    waiting: int | None = None
    utilization: float | None = Field(default=None, description="percent")
    pool_health: str | None = None


class LogEntry(_Lenient):
    ts: str = ""
    level: str = ""
    event: str = ""
    fields: dict[str, Any] = Field(default_factory=dict)
    traceback: str | None = None


class TargetClient:
    """Reads `/api/v1/health|metrics|pool/status|logs`. Never raises: each call returns a `Fetched`."""

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")

    async def health(self) -> Fetched[HealthView]:
        # An unhealthy target answers 503 with a valid body: read the body whatever the status.
        response = await get_json(self._client, f"{self._base}/api/v1/health", retries=1)
        if isinstance(response.body, dict) and "status" in response.body:
            return Fetched(value=lenient(HealthView, response.body), status_code=response.status_code)
        return Fetched(error=response.error or "no health body", status_code=response.status_code)

    async def metrics(self) -> Fetched[MetricsView]:
        return await self._read("/api/v1/metrics", MetricsView)

    async def pool(self) -> Fetched[PoolView]:
        return await self._read("/api/v1/pool/status", PoolView)

    async def logs(
        self, level: str = "ERROR", limit: int = 200, since: str | None = None
    ) -> Fetched[list[LogEntry]]:
        params: dict[str, Any] = {"level": level, "limit": limit}
        if since:
            params["since"] = since
        response = await get_json(self._client, f"{self._base}/api/v1/logs", params=params, retries=1)
        if response.error:
            return Fetched(error=response.error, status_code=response.status_code)
        raw = response.body.get("logs", []) if isinstance(response.body, dict) else []
        entries = [lenient(LogEntry, item) for item in raw if isinstance(item, dict)]
        return Fetched(value=entries, status_code=response.status_code)

    async def _read(self, path: str, model: type[Any]) -> Fetched[Any]:
        response = await get_json(self._client, f"{self._base}{path}", retries=1)
        if response.error or not isinstance(response.body, dict):
            return Fetched(error=response.error or "not a JSON object", status_code=response.status_code)
        return Fetched(value=lenient(model, response.body), status_code=response.status_code)
