"""Per-check health: database (read + write probe), pool, dependency, disk, recent errors.

The overall status is the worst check (schemas.Health). Thresholds are constants here so operators
reading a failing check can find why in one place.
"""

from __future__ import annotations

import asyncio
import time

from lab.target.runtime import Runtime
from lab.target.schemas import Health, HealthCheck, HealthStatus

DISK_WARNING, DISK_FAILING = 0.80, 0.95
ERRORS_WARNING, ERRORS_FAILING = 5.0, 20.0  # percent of requests in the window
DEPENDENCY_RECENT_SECONDS = 60.0
STATUS_BY_WORST: dict[str, HealthStatus] = {"ok": "healthy", "warning": "degraded", "failing": "unhealthy"}


async def database_check(rt: Runtime) -> HealthCheck:
    latency, problem = await asyncio.to_thread(rt.db.probe)
    if problem:
        return HealthCheck(status="failing", latency_ms=round(latency * 1000, 2), detail=problem)
    return HealthCheck(status="ok", latency_ms=round(latency * 1000, 2))


def pool_check(rt: Runtime) -> HealthCheck:
    pool = rt.db.status()
    status = {"healthy": "ok", "warning": "warning", "critical": "failing"}[pool.pool_health]
    detail = (
        f"{pool.checked_out} of {pool.size + pool.max_overflow} connections in use, {pool.waiting} waiting"
    )
    return HealthCheck(status=status, detail=detail)  # type: ignore[arg-type]


def dependency_check(rt: Runtime) -> HealthCheck:
    cutoff = time.time() - min(DEPENDENCY_RECENT_SECONDS, rt.telemetry.window_seconds)
    recent = [ok for at, ok in rt.inventory.recent if at >= cutoff]
    failed = recent.count(False)
    latency = rt.telemetry.average_ms(rt.telemetry.dependency) or None
    summary = f"{failed} of {len(recent)} recent inventory calls failed"
    if rt.inventory.fallback:
        return HealthCheck(
            status="ok",
            latency_ms=latency,
            detail="inventory fallback enabled: using last known stock levels",
        )
    if not recent:
        return HealthCheck(status="ok", detail="no recent inventory calls")
    if failed * 2 >= len(recent):
        return HealthCheck(status="failing", latency_ms=latency, detail=summary)
    return HealthCheck(status="warning" if failed else "ok", latency_ms=latency, detail=summary)


def disk_check(rt: Runtime) -> HealthCheck:
    used = rt.storage.used_bytes()
    ratio = used / rt.storage.quota_bytes
    detail = f"{used} of {rt.storage.quota_bytes} bytes used ({ratio:.0%})"
    status = "failing" if ratio >= DISK_FAILING else "warning" if ratio >= DISK_WARNING else "ok"
    return HealthCheck(status=status, detail=detail)  # type: ignore[arg-type]


def errors_check(rt: Runtime) -> HealthCheck:
    rate = rt.telemetry.request_stats()["error_rate"]
    detail = f"{rate:.1f}% of requests failed in the last {rt.telemetry.window_seconds:g}s"
    status = "failing" if rate >= ERRORS_FAILING else "warning" if rate >= ERRORS_WARNING else "ok"
    return HealthCheck(status=status, detail=detail)  # type: ignore[arg-type]


async def health(rt: Runtime) -> Health:
    checks = {
        "database": await database_check(rt),
        "pool": pool_check(rt),
        "dependency": dependency_check(rt),
        "disk": disk_check(rt),
        "errors": errors_check(rt),
    }
    worst = max((c.status for c in checks.values()), key=["ok", "warning", "failing"].index)
    return Health(
        status=STATUS_BY_WORST[worst],
        release=rt.releases.current.release,
        uptime_seconds=round(rt.telemetry.uptime(), 3),
        checks=checks,
    )
