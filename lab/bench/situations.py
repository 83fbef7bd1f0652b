"""Realistic Symptoms snapshots of the lab target, one per situation the runbooks must tell apart.

The diagnosis tests and `python -m lab bench-knowledge` (retrieval quality per runbook) both use them.

Values are the lab's, in the signals its catalog entry gives (services/target.yml, signals/lab-target.yml)
and their base units: healthy ~10 req/s, p95 ~20 ms, DB queries ~2 ms, pool 5+5, 64 MiB disk quota.
Log signatures are what the agent's gather step makes of the target's error lines (numbers → <n>). Each
snapshot is built as gather builds one: units, derived signals and pattern tags from the catalog entry.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from agent.catalog.catalog import Service, ServiceCatalog
from agent.catalog.packs import derive
from agent.domain.alerts import AlertSummary
from agent.domain.signals import Reading, Symptoms
from agent.signals.reader import pattern_tags

ROOT = Path(__file__).resolve().parents[2]
FIELDS = frozenset(
    {
        "alerts",
        "failing_checks",
        "check_details",
        "log_error_count",
        "log_error_signatures",
        "log_samples",
        "gaps",
    }
)

HEALTHY: dict[str, Any] = dict(
    up=True,
    health_status="healthy",
    error_ratio=0.002,
    latency_avg_seconds=0.008,
    latency_p95_seconds=0.02,
    requests_per_second=10.1,
    baseline_rps=10.0,
    throttled_per_second=0.0,
    db_query_avg_seconds=0.0021,
    dependency_avg_seconds=0.014,
    pool_utilization_ratio=0.1,
    pool_checked_out=1,
    pool_waiting=0,
    memory_rss_bytes=92 * 2**20,
    memory_growth_bytes_per_second=800.0,
    cpu_cores=0.12,
    disk_used_ratio=0.06,
    release="2026.11.3",
    release_age_seconds=3 * 86400.0,
    rate_limit_enabled=False,
    dependency_fallback_enabled=False,
)

QUEUEPOOL = (
    "request_failed: QueuePool limit of size <n> overflow <n> reached, connection timed out, timeout <n> "
    "(Background on this error at: https:<path>)"
)
LOCKED = "request_failed: (sqlite<n>.OperationalError) database is locked"


def alerts(*names: str, service: str = "target", **labels: str) -> list[AlertSummary]:
    return [AlertSummary(name=n, labels={"service": service, **labels}) for n in names]


@cache
def lab_service(name: str = "target") -> Service:
    catalog = ServiceCatalog(ROOT / "services", [ROOT / "signals"], {})
    catalog.refresh()
    service = catalog.get(name)
    assert service is not None, catalog.notes
    return service


def symptoms(service_name: str = "target", **values: Any) -> Symptoms:
    """A snapshot from signal values and the non-signal fields, the way gather makes one."""
    service = lab_service(service_name)
    fields = {k: v for k, v in values.items() if k in FIELDS}
    signals = {k: v for k, v in values.items() if k not in FIELDS and v is not None}
    built = Symptoms(service=service.name, **fields)
    built.logs_read = "logs" not in built.gaps
    for name, value in signals.items():
        built.signals[name] = Reading(value=value, unit=service.signals[name].unit, source="situation")
    for name, spec in service.signals.items():
        if spec.derive is not None and (value := derive(spec.derive, built.as_signals())) is not None:
            built.signals[name] = Reading(value=value, unit=spec.unit, source="derived")
    built.tags = pattern_tags(service, built)
    return built


def snapshot(**changes: Any) -> Symptoms:
    return symptoms(**{**HEALTHY, **changes})


def variant(base: Symptoms, **changes: Any) -> Symptoms:
    """`base` with some values or fields changed (rebuilt, so derived signals and tags follow)."""
    values: dict[str, Any] = {name: r.value for name, r in base.signals.items() if r.source != "derived"}
    values |= {name: getattr(base, name) for name in FIELDS}
    return symptoms(base.service, **{**values, **changes})


SITUATIONS: dict[str, Symptoms] = {
    "service-down": symptoms(
        alerts=alerts("TargetDown"),
        up=False,
        baseline_rps=10.0,
        gaps=["health", "metrics", "pool", "logs"],
    ),
    "db-pool-exhaustion": snapshot(
        alerts=alerts(
            "TargetDbPoolExhausted", "TargetDbPoolSaturated", "TargetHighErrorRatio", "TargetHighLatency"
        ),
        health_status="unhealthy",
        failing_checks=["pool"],
        error_ratio=0.34,
        latency_avg_seconds=1.45,
        latency_p95_seconds=2.05,
        requests_per_second=9.6,
        db_query_avg_seconds=0.0024,
        pool_utilization_ratio=1.0,
        pool_checked_out=10,
        pool_waiting=6,
        log_error_count=41,
        log_error_signatures={QUEUEPOOL: 41},
    ),
    "db-lock-contention": snapshot(
        alerts=alerts(
            "TargetHighLatency", "TargetHighErrorRatio", "TargetHealthCheckFailing", check="database"
        ),
        health_status="unhealthy",
        failing_checks=["database"],
        error_ratio=0.27,
        latency_avg_seconds=0.64,
        latency_p95_seconds=2.08,
        db_query_avg_seconds=0.69,
        pool_utilization_ratio=0.6,
        pool_checked_out=6,
        log_error_count=30,
        log_error_signatures={LOCKED: 30},
    ),
    "memory-leak": snapshot(
        alerts=alerts("TargetMemoryGrowth"),
        memory_rss_bytes=410 * 2**20,
        memory_growth_bytes_per_second=2.6e6,
        latency_p95_seconds=0.026,
    ),
    "cpu-saturation": snapshot(
        alerts=alerts("TargetCpuSaturated", "TargetHighLatency"),
        health_status="healthy",
        cpu_cores=0.97,
        requests_per_second=9.8,
        latency_avg_seconds=0.24,
        latency_p95_seconds=0.61,
    ),
    "bad-release": snapshot(
        alerts=alerts("TargetErrorsAfterRelease", "TargetHighErrorRatio"),
        health_status="degraded",
        error_ratio=0.41,
        release="2026.11.4",
        release_age_seconds=95.0,
        log_error_count=52,
        # the target's middleware logs an exception it did not expect with its traceback's last line
        log_error_signatures={"unhandled exception while processing request: KeyError: 'eu-north'": 52},
        log_samples=["unhandled exception while processing request: KeyError: 'eu-north'"],
    ),
    "dependency-outage": snapshot(
        alerts=alerts(
            "TargetHighErrorRatio", "TargetHealthCheckFailing", "TargetHighLatency", check="dependency"
        ),
        health_status="unhealthy",
        failing_checks=["dependency"],
        check_details={"dependency": "failing: inventory service timed out after <n>s"},
        error_ratio=0.29,
        latency_avg_seconds=0.31,
        latency_p95_seconds=1.01,
        dependency_avg_seconds=1.002,
        log_error_count=28,
        log_error_signatures={
            "dependency call timed out": 28,
            "order failed: inventory service timed out: InventoryUnavailable: inventory "
            "service timed out": 28,
            "request": 28,
        },
    ),
    "traffic-surge": snapshot(
        alerts=alerts("TargetTrafficSurge", "TargetCpuSaturated", "TargetHighLatency"),
        requests_per_second=78.0,
        cpu_cores=0.91,
        latency_avg_seconds=0.16,
        latency_p95_seconds=0.54,
        pool_utilization_ratio=0.5,
        error_ratio=0.011,
    ),
    "disk-full": snapshot(
        alerts=alerts(
            "TargetDataDiskAlmostFull", "TargetHealthCheckFailing", "TargetHighErrorRatio", check="disk"
        ),
        health_status="unhealthy",
        failing_checks=["disk"],
        error_ratio=0.28,
        disk_used_ratio=1.0,
        log_error_count=29,
        log_error_signatures={"request_failed: OSError: [Errno <n>] No space left on device": 29},
    ),
}

# The hard variants: the same root cause with the symptoms that make it look like its confusable twin.
LOCK_WITH_SATURATED_POOL = snapshot(
    alerts=alerts(
        "TargetHighLatency", "TargetHighErrorRatio", "TargetDbPoolExhausted", "TargetDbPoolSaturated"
    ),
    health_status="unhealthy",
    failing_checks=["database", "pool"],
    error_ratio=0.38,
    latency_p95_seconds=2.1,
    db_query_avg_seconds=0.82,
    pool_utilization_ratio=1.0,
    pool_checked_out=10,
    pool_waiting=4,
    log_error_count=40,
    log_error_signatures={LOCKED: 26, QUEUEPOOL: 14},
)
DEPENDENCY_AFTER_HARMLESS_RELEASE = variant(
    SITUATIONS["dependency-outage"],
    **{
        "alerts": alerts(
            "TargetErrorsAfterRelease", "TargetHighErrorRatio", "TargetHealthCheckFailing", check="dependency"
        ),
        "release": "2026.11.5",
        "release_age_seconds": 240.0,
    },
)
SURGE_WITHOUT_SURGE_ALERT = variant(
    SITUATIONS["traffic-surge"], **{"alerts": alerts("TargetCpuSaturated", "TargetHighLatency")}
)
UNEXPLAINED_ALERT = snapshot(alerts=alerts("TargetCertificateExpiringSoon"))

# Cascades seen on the real lab under load: the root cause's symptoms plus the ones it set off.
CPU_HOG_WITH_FULL_POOL = variant(
    SITUATIONS["cpu-saturation"],
    **{
        "alerts": alerts("TargetHighLatency", "TargetDbPoolSaturated", "TargetHighErrorRatio"),
        "health_status": "unhealthy",
        "failing_checks": ["pool"],
        "error_ratio": 0.12,
        "latency_p95_seconds": 2.3,
        "db_query_avg_seconds": 0.06,
        "pool_utilization_ratio": 1.0,
        "pool_checked_out": 10,
        "pool_waiting": 3,
        "log_error_count": 40,
        "log_error_signatures": {QUEUEPOOL: 40},
    },
)
# Starved of CPU, the target stops answering; Prometheus still has its last CPU reading.
CPU_HOG_UNREACHABLE = variant(SITUATIONS["service-down"], **{"cpu_cores": 0.98})
MEMORY_LEAK_AFTER_HARMLESS_RELEASE = variant(
    SITUATIONS["memory-leak"],
    **{"memory_rss_bytes": 130 * 2**20, "release": "2026.11.5", "release_age_seconds": 180.0},
)
DEPENDENCY_WITH_FULL_POOL = variant(
    SITUATIONS["dependency-outage"],
    **{
        "alerts": alerts(
            "TargetHighErrorRatio", "TargetHealthCheckFailing", "TargetDbPoolSaturated", check="dependency"
        ),
        "failing_checks": ["dependency", "pool"],
        "pool_utilization_ratio": 1.0,
        "pool_checked_out": 10,
        "pool_waiting": 2,
        "log_error_signatures": {
            **SITUATIONS["dependency-outage"].log_error_signatures,
            QUEUEPOOL: 12,
        },
    },
)

# The queue worker (services/worker.yml): 2 consumers, ~0.105 s a job, 8 jobs/s over 8 ordered partitions.
WORKER_HEALTHY: dict[str, Any] = dict(
    up=True,
    uptime_seconds=900.0,
    memory_rss_bytes=58 * 2**20,
    memory_growth_bytes_per_second=300.0,
    cpu_cores=0.06,
    open_fds_ratio=0.02,
    messages_sent_per_second=8.0,
    messages_consumed_per_second=8.0,
    processing_attempts_per_second=8.0,
    processing_failures_per_second=0.0,
    processing_busy_seconds_per_second=0.84,
    processing_p95_seconds=0.12,
    ready_messages=1.0,
    in_flight_messages=1.0,
    dead_letter_messages=0.0,
    oldest_message_age_seconds=0.2,
    ready_messages_growth_per_second=0.0,
    consumers=2.0,
    requests_per_second=8.0,
    baseline_rps=8.0,
    error_ratio=0.0,
    latency_p95_seconds=0.008,
)


def worker(**changes: Any) -> Symptoms:
    return symptoms("worker", **{**WORKER_HEALTHY, **changes})


def worker_alerts(*names: str) -> list[AlertSummary]:
    return alerts(*names, service="worker")


WORKER_SITUATIONS: dict[str, Symptoms] = {
    "service-down": symptoms("worker", alerts=worker_alerts("WorkerDown"), up=False),
    # One malformed job retried every 0.2 s at the head of its partition: the other 7 partitions flow.
    "poison-message": worker(
        alerts=worker_alerts("WorkerJobsFailing", "WorkerBacklogGrowing"),
        messages_consumed_per_second=7.0,
        processing_attempts_per_second=12.0,
        processing_failures_per_second=5.0,
        processing_busy_seconds_per_second=0.76,
        ready_messages=41.0,
        oldest_message_age_seconds=44.0,
        ready_messages_growth_per_second=1.0,
    ),
    # Both consumers wait forever on a downstream call: nothing completes, nothing fails, CPU idle.
    "consumer-stalled": worker(
        alerts=worker_alerts("WorkerNotConsuming"),
        messages_consumed_per_second=0.0,
        processing_attempts_per_second=0.0,
        processing_busy_seconds_per_second=0.0,
        processing_p95_seconds=None,
        in_flight_messages=2.0,
        ready_messages=160.0,
        oldest_message_age_seconds=21.0,
        ready_messages_growth_per_second=8.0,
        cpu_cores=0.01,
    ),
    # Six times the jobs: the consumers are busy all the time and the queue grows.
    "consumer-saturation": worker(
        alerts=worker_alerts("WorkerConsumersSaturated", "WorkerBacklogGrowing"),
        messages_sent_per_second=48.0,
        messages_consumed_per_second=19.0,
        processing_attempts_per_second=19.0,
        processing_busy_seconds_per_second=1.98,
        in_flight_messages=2.0,
        ready_messages=620.0,
        oldest_message_age_seconds=35.0,
        ready_messages_growth_per_second=29.0,
        requests_per_second=48.0,
        cpu_cores=0.21,
    ),
    "memory-leak": worker(
        alerts=worker_alerts("WorkerMemoryGrowth"),
        memory_rss_bytes=330 * 2**20,
        memory_growth_bytes_per_second=2.1e6,
    ),
}

# How a person might describe each fault in a ticket or a chat: other words than the runbook's.
REWORDED: dict[str, str] = {
    "service-down": "the whole service vanished and is unreachable",
    "db-pool-exhaustion": "too many connections are checked out and never returned",
    "db-lock-contention": "writes hang because another transaction holds the lock",
    "memory-leak": "the web app keeps eating more RAM over hours",
    "cpu-saturation": "processor pegged at full utilisation",
    "bad-release": "users got errors right after we shipped the new version",
    "dependency-outage": "upstream stock lookup stopped responding",
    "traffic-surge": "way more visitors than usual hitting us",
    "disk-full": "the storage volume ran out of room",
}
