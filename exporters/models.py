"""Lenient readers of the target's JSON (lab/target/schemas.py is the contract).

Unknown keys are ignored and every field may be missing, so a newer or older target still yields
what it does answer; a value of the wrong type fails the whole endpoint (counted as a scrape error),
because a half-trusted body is worse than an absent series. Not imported from the lab: the exporter
runs without it; tests/exporters/test_exporter_contract.py holds these fields to the contract.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class HealthCheckBody(_Lenient):
    status: str | None = None
    latency_ms: float | None = None


class HealthBody(_Lenient):
    status: str | None = None
    release: str | None = None
    uptime_seconds: float | None = None
    checks: dict[str, HealthCheckBody] = {}


class MetricsBody(_Lenient):
    error_rate: float | None = None
    avg_response_time_ms: float | None = None
    p95_response_time_ms: float | None = None
    requests_per_second: float | None = None
    requests_total: float | None = None
    errors_total: float | None = None
    throttled_total: float | None = None
    request_duration_buckets: dict[str, float] | None = None
    request_duration_seconds_total: float | None = None
    db_query_avg_ms: float | None = None
    db_queries_total: float | None = None
    db_query_seconds_total: float | None = None
    dependency_avg_ms: float | None = None
    dependency_errors_total: float | None = None
    memory_rss_bytes: float | None = None
    cpu_seconds_total: float | None = None
    cpu_ratio: float | None = None
    disk_used_bytes: float | None = None
    disk_quota_bytes: float | None = None
    disk_used_ratio: float | None = None
    release: str | None = None
    release_changed_at: float | None = None
    started_at: float | None = None
    rate_limit_rps: float | None = None
    dependency_fallback: bool | None = None


class PoolBody(_Lenient):
    size: float | None = None
    checked_out: float | None = None
    overflow: float | None = None
    max_overflow: float | None = None
    checked_in: float | None = None
    waiting: float | None = None
    utilization: float | None = None
    pool_health: str | None = None
