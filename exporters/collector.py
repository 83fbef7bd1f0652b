"""The `target_*` metrics, built fresh from one read of the target on every scrape.

Sample exposition (healthy target, abridged)::

    # HELP target_up 1 when the target answered at least one of its JSON endpoints during this scrape.
    # TYPE target_up gauge
    target_up 1.0
    target_scrape_duration_seconds 0.0042
    target_exporter_scrape_errors_total{endpoint="health"} 0.0
    target_exporter_scrape_errors_total{endpoint="metrics"} 3.0
    target_exporter_scrape_errors_total{endpoint="pool"} 0.0
    target_health_status{state="healthy"} 1.0
    target_health_status{state="degraded"} 0.0
    target_health_status{state="unhealthy"} 0.0
    target_health_check_ok{check="database"} 1.0
    target_health_check_status{check="database",state="ok"} 1.0
    target_health_check_status{check="database",state="warning"} 0.0
    target_health_check_status{check="database",state="failing"} 0.0
    target_error_ratio 0.002
    target_response_time_avg_seconds 0.012
    target_response_time_p95_seconds 0.035
    target_requests_total 12345.0
    target_request_duration_seconds_bucket{le="0.5"} 12301.0
    target_request_duration_seconds_bucket{le="+Inf"} 12345.0
    target_request_duration_seconds_sum 148.1
    target_request_duration_seconds_count 12345.0
    target_db_pool_utilization_ratio 0.1
    target_db_pool_health{state="healthy"} 1.0
    target_resident_memory_bytes 8.3886080e+07
    target_release_info{release="2026.11.3"} 1.0

Windowed values are the target's own (over its window); the counters, the request duration histogram
and the query duration summary let PromQL take any range instead, such as the time since a fix.
Units are converted to base units (ms → seconds, percent → ratio). An endpoint that failed this
scrape contributes no series at all (no stale values); its failure is counted in
`target_exporter_scrape_errors_total{endpoint}`. `target_up` is 1 when the target process answered
at least one endpoint, so one slow endpoint shows as errors on that endpoint, not as the target down.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import CollectorRegistry

from exporters.models import HealthBody, MetricsBody, PoolBody
from exporters.source import ENDPOINTS, TargetSource

HEALTH_STATES = ("healthy", "degraded", "unhealthy")
CHECK_STATES = ("ok", "warning", "failing")
POOL_STATES = ("healthy", "warning", "critical")
# Check names and releases become label values: only short, plain names, and only a few of them.
_CHECK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_RELEASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
MAX_CHECKS = 16


def _gauge(
    name: str, doc: str, value: float | None, labels: dict[str, str] | None = None
) -> Iterator[Metric]:
    if value is None:
        return
    family = GaugeMetricFamily(name, doc, labels=list(labels or {}))
    family.add_metric(list((labels or {}).values()), value)
    yield family


def _counter(name: str, doc: str, value: float | None) -> Iterator[Metric]:
    if value is None:
        return
    family = CounterMetricFamily(name, doc)
    family.add_metric([], value)
    yield family


def _histogram(
    name: str, doc: str, buckets: dict[str, float] | None, total: float | None
) -> Iterator[Metric]:
    """Cumulative counts per upper bound as the target reports them; none unless whole (`+Inf` there)."""
    if not buckets or "+Inf" not in buckets or total is None:
        return
    try:
        ordered = sorted(buckets.items(), key=lambda item: float(item[0]))
    except ValueError:
        return
    family = HistogramMetricFamily(name, doc)
    family.add_metric([], buckets=ordered, sum_value=total)
    yield family


def _ms(value: float | None) -> float | None:
    return None if value is None else value / 1000.0


def _percent(value: float | None) -> float | None:
    return None if value is None else value / 100.0


def _state_set(name: str, doc: str, states: tuple[str, ...], current: str | None) -> Iterator[Metric]:
    """A state set as gauges (1 for the current state), which every Prometheus version reads."""
    if current not in states:
        return
    family = GaugeMetricFamily(name, doc, labels=["state"])
    for state in states:
        family.add_metric([state], 1.0 if state == current else 0.0)
    yield family


class TargetCollector:
    """A prometheus_client custom collector over a `TargetSource`; registers itself on `registry`."""

    def __init__(self, source: TargetSource, registry: CollectorRegistry | None = None) -> None:
        self._source = source
        self._errors: dict[str, int] = dict.fromkeys(ENDPOINTS, 0)
        self._lock = threading.Lock()
        if registry is not None:
            registry.register(self)

    def describe(self) -> list[Metric]:
        """Nothing up front: registering must not scrape the target."""
        return []

    def collect(self) -> Iterator[Metric]:
        snapshot = self._source.fetch()
        with self._lock:
            for endpoint in snapshot.errors:
                self._errors[endpoint] = self._errors.get(endpoint, 0) + 1
            errors = dict(self._errors)
        yield from _gauge(
            "target_up",
            "1 when the target answered at least one of its JSON endpoints during this scrape.",
            1.0 if snapshot.answered else 0.0,
        )
        yield from _gauge(
            "target_scrape_duration_seconds",
            "Time this scrape spent reading the target.",
            snapshot.duration_seconds,
        )
        scrape_errors = CounterMetricFamily(
            "target_exporter_scrape_errors",
            "Failed reads of a target endpoint (timeout, refused, bad JSON)",
            labels=["endpoint"],
        )
        for endpoint in ENDPOINTS:
            scrape_errors.add_metric([endpoint], float(errors[endpoint]))
        yield scrape_errors
        if snapshot.health is not None:
            yield from self._health(snapshot.health)
        if snapshot.metrics is not None:
            yield from self._metrics(snapshot.metrics, fallback_release=snapshot.health)
        elif snapshot.health is not None:
            yield from self._release(snapshot.health.release)
        if snapshot.pool is not None:
            yield from self._pool(snapshot.pool)

    def _health(self, health: HealthBody) -> Iterator[Metric]:
        yield from _state_set(
            "target_health_status", "Overall health reported by the target.", HEALTH_STATES, health.status
        )
        checks = [(name, check) for name, check in sorted(health.checks.items()) if _CHECK_NAME.match(name)]
        checks = [(name, check) for name, check in checks if check.status in CHECK_STATES][:MAX_CHECKS]
        if not checks:
            return
        ok = GaugeMetricFamily("target_health_check_ok", "1 when the health check is ok.", labels=["check"])
        status = GaugeMetricFamily(
            "target_health_check_status",
            "State of each health check (1 for the current state).",
            labels=["check", "state"],
        )
        for name, check in checks:
            ok.add_metric([name], 1.0 if check.status == "ok" else 0.0)
            for state in CHECK_STATES:
                status.add_metric([name, state], 1.0 if check.status == state else 0.0)
        yield ok
        yield status

    def _metrics(self, m: MetricsBody, fallback_release: HealthBody | None) -> Iterator[Metric]:
        for name, doc, value in (
            (
                "target_error_ratio",
                "Failed (5xx) share of requests over the target's window.",
                _percent(m.error_rate),
            ),
            (
                "target_response_time_avg_seconds",
                "Mean response time over the target's window.",
                _ms(m.avg_response_time_ms),
            ),
            (
                "target_response_time_p95_seconds",
                "95th percentile response time over the target's window.",
                _ms(m.p95_response_time_ms),
            ),
            ("target_requests_per_second", "Request rate over the target's window.", m.requests_per_second),
            ("target_db_query_avg_seconds", "Mean database query time.", _ms(m.db_query_avg_ms)),
            (
                "target_dependency_avg_seconds",
                "Mean inventory-service call time over the window.",
                _ms(m.dependency_avg_ms),
            ),
            ("target_resident_memory_bytes", "Resident memory of the target process.", m.memory_rss_bytes),
            ("target_cpu_ratio", "CPU cores used by the target over its window (1 = one core).", m.cpu_ratio),
            ("target_data_disk_used_ratio", "Data directory usage of its quota (0..1).", m.disk_used_ratio),
            ("target_data_disk_used_bytes", "Bytes used in the data directory.", m.disk_used_bytes),
            ("target_data_disk_quota_bytes", "Quota of the data directory.", m.disk_quota_bytes),
            (
                "target_release_changed_timestamp_seconds",
                "Unix time of the last release change.",
                m.release_changed_at,
            ),
            ("target_start_time_seconds", "Unix time the target process started.", m.started_at),
            (
                "target_rate_limit_enabled",
                "1 when the target sheds load above a set rate.",
                1.0 if m.rate_limit_rps is not None else 0.0,
            ),
            ("target_rate_limit_requests_per_second", "The rate limit, when one is set.", m.rate_limit_rps),
            (
                "target_dependency_fallback_enabled",
                "1 when the target answers from last known stock instead of asking the dependency.",
                None if m.dependency_fallback is None else float(m.dependency_fallback),
            ),
        ):
            yield from _gauge(name, doc, value)
        for name, doc, value in (
            ("target_requests", "Business requests served (throttled ones excluded).", m.requests_total),
            ("target_errors", "Business requests that failed (5xx).", m.errors_total),
            ("target_throttled_requests", "Requests shed by the rate limiter (429).", m.throttled_total),
            ("target_dependency_errors", "Failed inventory-service calls.", m.dependency_errors_total),
            ("target_cpu_seconds", "CPU time used by the target process.", m.cpu_seconds_total),
        ):
            yield from _counter(name, doc, value)
        yield from _histogram(
            "target_request_duration_seconds",
            "Business request durations.",
            m.request_duration_buckets,
            m.request_duration_seconds_total,
        )
        if m.db_queries_total is not None and m.db_query_seconds_total is not None:
            queries = SummaryMetricFamily("target_db_query_duration_seconds", "Database query durations.")
            queries.add_metric([], count_value=int(m.db_queries_total), sum_value=m.db_query_seconds_total)
            yield queries
        yield from self._release(m.release or (fallback_release.release if fallback_release else None))

    def _release(self, release: str | None) -> Iterator[Metric]:
        if release is None:
            return
        label = release if _RELEASE_NAME.match(release) else "invalid"
        yield from _gauge("target_release_info", "The release the target runs.", 1.0, {"release": label})

    def _pool(self, p: PoolBody) -> Iterator[Metric]:
        for name, doc, value in (
            ("target_db_pool_size", "Connections the pool keeps.", p.size),
            ("target_db_pool_checked_out", "Connections in use.", p.checked_out),
            ("target_db_pool_overflow", "SQLAlchemy's overflow count (negative below size).", p.overflow),
            ("target_db_pool_max_overflow", "Overflow connections allowed.", p.max_overflow),
            ("target_db_pool_waiting", "Requests waiting for a connection.", p.waiting),
            ("target_db_pool_utilization_ratio", "In use / (size + max_overflow).", _percent(p.utilization)),
        ):
            yield from _gauge(name, doc, value)
        yield from _state_set(
            "target_db_pool_health", "Pool health reported by the target.", POOL_STATES, p.pool_health
        )
