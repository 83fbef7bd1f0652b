"""The target's public JSON contract.

These models are the shapes `GET /api/v1/health`, `/api/v1/metrics`, `/api/v1/pool/status`
and `/api/v1/logs` answer with. Their readers never import them: the exporter has its own lenient
models (exporters/models.py), the agent reads paths named in its catalog entry (services/target.yml);
tests hold both to these (tests/exporters/test_exporter_contract.py, tests/lab/target/test_contract.py).
Nothing here may ever carry a fault name, an attack id or the word for the tool that injects faults
(the blind rule in DESIGN.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

HealthStatus = Literal["healthy", "degraded", "unhealthy"]
CheckStatus = Literal["ok", "warning", "failing"]
PoolHealth = Literal["healthy", "warning", "critical"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class HealthCheck(BaseModel):
    status: CheckStatus
    latency_ms: float | None = None
    detail: str = ""


class Health(BaseModel):
    """Overall status is the worst of the checks: any failing → unhealthy, any warning → degraded.

    Checks: `database` (a read probe and a short write probe), `pool`, `dependency`
    (the inventory service), `disk` (data directory against its quota), `errors` (recent error rate).
    """

    status: HealthStatus
    release: str
    uptime_seconds: float
    checks: dict[str, HealthCheck]


class Metrics(BaseModel):
    """Windowed values cover the last `window_seconds`; `*_total` values only ever grow within one process."""

    window_seconds: float
    error_rate: float = Field(description="percent of requests in the window that failed (5xx)")
    avg_response_time_ms: float
    p95_response_time_ms: float
    requests_per_second: float
    requests_total: int
    errors_total: int
    throttled_total: int = Field(description="requests shed by the rate limiter (429), not errors")
    request_duration_buckets: dict[str, int] = Field(
        default_factory=dict,
        description="cumulative requests per duration upper bound in seconds (`+Inf`: all)",
    )
    request_duration_seconds_total: float = 0.0
    db_query_avg_ms: float
    db_queries_total: int = 0
    db_query_seconds_total: float = 0.0
    dependency_avg_ms: float
    dependency_errors_total: int
    memory_rss_bytes: int
    cpu_seconds_total: float
    cpu_ratio: float = Field(description="CPU cores used by the process over the window (1.0 = one core)")
    disk_used_bytes: int
    disk_quota_bytes: int
    disk_used_ratio: float
    release: str
    release_changed_at: float = Field(description="unix time of the last release change")
    started_at: float
    uptime_seconds: float
    rate_limit_rps: float | None = None
    dependency_fallback: bool = False


class PoolStatus(BaseModel):
    size: int
    checked_out: int
    overflow: int
    max_overflow: int
    checked_in: int
    waiting: int
    utilization: float = Field(description="percent of size + max_overflow checked out")
    pool_health: PoolHealth
    timeout_seconds: float
    leak_reaper_seconds: float | None = None


class LogLine(BaseModel):
    ts: str = Field(description="ISO 8601 UTC")
    level: LogLevel
    event: str
    logger: str = "target"
    fields: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    traceback: str | None = None


class Logs(BaseModel):
    logs: list[LogLine]
