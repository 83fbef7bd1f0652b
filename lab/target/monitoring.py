"""Public monitoring endpoints: health, metrics, pool status, logs. Not counted as business traffic.

They run on the event loop (or the loop's own small executor), never in the request thread pool,
so they still answer while every request thread is stuck waiting for a database connection.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import JSONResponse
from pydantic import BeforeValidator

from lab.target.health import health
from lab.target.runtime import Runtime, get_runtime
from lab.target.schemas import Health, LogLevel, Logs, Metrics, PoolStatus

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
router = APIRouter(prefix="/api/v1", tags=["monitoring"])


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def get_health(rt: RuntimeDep) -> JSONResponse:
    """Overall and per-check health; 503 when unhealthy."""
    report = await health(rt)
    code = status.HTTP_503_SERVICE_UNAVAILABLE if report.status == "unhealthy" else status.HTTP_200_OK
    return JSONResponse(report.model_dump(), status_code=code)


@router.get("/metrics", response_model=Metrics)
async def get_metrics(rt: RuntimeDep) -> Metrics:
    t = rt.telemetry
    used = rt.storage.used_bytes()
    release = rt.releases.current
    return Metrics(
        window_seconds=t.window_seconds,
        **t.request_stats(),
        requests_total=t.requests_total,
        errors_total=t.errors_total,
        throttled_total=t.throttled_total,
        request_duration_buckets=t.duration_buckets(),
        request_duration_seconds_total=round(t.request_seconds_total, 6),
        db_query_avg_ms=t.average_ms(t.queries),
        db_queries_total=t.queries_total,
        db_query_seconds_total=round(t.query_seconds_total, 6),
        dependency_avg_ms=t.average_ms(t.dependency),
        dependency_errors_total=t.dependency_errors_total,
        memory_rss_bytes=t.rss_bytes(),
        cpu_seconds_total=round(t.cpu_seconds(), 3),
        cpu_ratio=t.cpu_ratio(),
        disk_used_bytes=used,
        disk_quota_bytes=rt.storage.quota_bytes,
        disk_used_ratio=round(used / rt.storage.quota_bytes, 4),
        release=release.release,
        release_changed_at=release.changed_at,
        started_at=t.started_at,
        uptime_seconds=round(t.uptime(), 3),
        rate_limit_rps=rt.limiter.rate,
        dependency_fallback=rt.inventory.fallback,
    )


@router.get("/pool/status", response_model=PoolStatus)
async def get_pool_status(rt: RuntimeDep) -> PoolStatus:
    return rt.db.status()


@router.get("/logs", response_model=Logs)
async def get_logs(
    rt: RuntimeDep,
    level: Annotated[LogLevel | None, Query(description="minimum level")] = None,
    since: Annotated[
        datetime | None, BeforeValidator(parse_since), Query(description="ISO 8601 time or unix seconds")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 100,
) -> Logs:
    """Recent structured log lines, oldest first."""
    return Logs(logs=rt.log.query(level=level, since=since, limit=limit))


def parse_since(value: object) -> datetime | None:
    """A validator, so a bad value is refused like every other bad parameter (422, FastAPI's shape)."""
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    value = str(value)
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("since must be an ISO 8601 time or unix seconds") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
