"""Realistic Symptoms snapshots of the lab target, one per situation the runbooks must tell apart.

The diagnosis tests and `python -m lab bench-knowledge` (retrieval quality per runbook) both use them.

Values are the lab's: healthy ~10 req/s, p95 ~20 ms, DB queries ~2 ms, pool 5+5, 64 MiB disk quota.
Log signatures are what the agent's gather step makes of the target's error lines (numbers → <n>).
"""

from __future__ import annotations

from typing import Any

from agent.diagnosis.models import AlertSummary, Symptoms

HEALTHY: dict[str, Any] = dict(
    target_reachable=True,
    health_status="healthy",
    error_rate_percent=0.2,
    avg_latency_ms=8.0,
    p95_latency_ms=20.0,
    requests_per_second=10.1,
    baseline_rps=10.0,
    throttled_per_second=0.0,
    db_query_avg_ms=2.1,
    dependency_avg_ms=14.0,
    pool_utilization_ratio=0.1,
    pool_checked_out=1,
    pool_waiting=0,
    memory_rss_bytes=92 * 2**20,
    memory_growth_bytes_per_second=800.0,
    cpu_ratio=0.12,
    disk_used_ratio=0.06,
    release="2026.11.3",
    release_changed_seconds_ago=3 * 86400.0,
    rate_limit_enabled=False,
    dependency_fallback_enabled=False,
)

QUEUEPOOL = (
    "request_failed: QueuePool limit of size <n> overflow <n> reached, connection timed out, timeout <n> "
    "(Background on this error at: https:<path>)"
)
LOCKED = "request_failed: (sqlite<n>.OperationalError) database is locked"


def alerts(*names: str, **labels: str) -> list[AlertSummary]:
    return [AlertSummary(name=n, labels={"service": "target", **labels}) for n in names]


def snapshot(**changes: Any) -> Symptoms:
    return Symptoms(**{**HEALTHY, **changes})


SITUATIONS: dict[str, Symptoms] = {
    "target-down": Symptoms(
        alerts=alerts("TargetDown"),
        target_reachable=False,
        baseline_rps=10.0,
        gaps=["health", "metrics", "pool", "logs"],
    ),
    "db-pool-exhaustion": snapshot(
        alerts=alerts(
            "TargetDbPoolExhausted", "TargetDbPoolSaturated", "TargetHighErrorRatio", "TargetHighLatency"
        ),
        health_status="unhealthy",
        failing_checks=["pool"],
        error_rate_percent=34.0,
        avg_latency_ms=1450.0,
        p95_latency_ms=2050.0,
        requests_per_second=9.6,
        db_query_avg_ms=2.4,
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
        error_rate_percent=27.0,
        avg_latency_ms=640.0,
        p95_latency_ms=2080.0,
        db_query_avg_ms=690.0,
        pool_utilization_ratio=0.6,
        pool_checked_out=6,
        log_error_count=30,
        log_error_signatures={LOCKED: 30},
    ),
    "memory-leak": snapshot(
        alerts=alerts("TargetMemoryGrowth"),
        memory_rss_bytes=410 * 2**20,
        memory_growth_bytes_per_second=2.6e6,
        p95_latency_ms=26.0,
    ),
    "cpu-saturation": snapshot(
        alerts=alerts("TargetCpuSaturated", "TargetHighLatency"),
        health_status="healthy",
        cpu_ratio=0.97,
        requests_per_second=9.8,
        avg_latency_ms=240.0,
        p95_latency_ms=610.0,
    ),
    "bad-release": snapshot(
        alerts=alerts("TargetErrorsAfterRelease", "TargetHighErrorRatio"),
        health_status="degraded",
        error_rate_percent=41.0,
        release="2026.11.4",
        release_changed_seconds_ago=95.0,
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
        error_rate_percent=29.0,
        avg_latency_ms=310.0,
        p95_latency_ms=1010.0,
        dependency_avg_ms=1002.0,
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
        cpu_ratio=0.91,
        avg_latency_ms=160.0,
        p95_latency_ms=540.0,
        pool_utilization_ratio=0.5,
        error_rate_percent=1.1,
    ),
    "disk-full": snapshot(
        alerts=alerts(
            "TargetDataDiskAlmostFull", "TargetHealthCheckFailing", "TargetHighErrorRatio", check="disk"
        ),
        health_status="unhealthy",
        failing_checks=["disk"],
        error_rate_percent=28.0,
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
    error_rate_percent=38.0,
    p95_latency_ms=2100.0,
    db_query_avg_ms=820.0,
    pool_utilization_ratio=1.0,
    pool_checked_out=10,
    pool_waiting=4,
    log_error_count=40,
    log_error_signatures={LOCKED: 26, QUEUEPOOL: 14},
)
DEPENDENCY_AFTER_HARMLESS_RELEASE = SITUATIONS["dependency-outage"].model_copy(
    update={
        "alerts": alerts(
            "TargetErrorsAfterRelease", "TargetHighErrorRatio", "TargetHealthCheckFailing", check="dependency"
        ),
        "release": "2026.11.5",
        "release_changed_seconds_ago": 240.0,
    }
)
SURGE_WITHOUT_SURGE_ALERT = SITUATIONS["traffic-surge"].model_copy(
    update={"alerts": alerts("TargetCpuSaturated", "TargetHighLatency")}
)
UNEXPLAINED_ALERT = snapshot(alerts=alerts("TargetCertificateExpiringSoon"))

# Cascades seen on the real lab under load: the root cause's symptoms plus the ones it set off.
CPU_HOG_WITH_FULL_POOL = SITUATIONS["cpu-saturation"].model_copy(
    update={
        "alerts": alerts("TargetHighLatency", "TargetDbPoolSaturated", "TargetHighErrorRatio"),
        "health_status": "unhealthy",
        "failing_checks": ["pool"],
        "error_rate_percent": 12.0,
        "p95_latency_ms": 2300.0,
        "db_query_avg_ms": 60.0,
        "pool_utilization_ratio": 1.0,
        "pool_checked_out": 10,
        "pool_waiting": 3,
        "log_error_count": 40,
        "log_error_signatures": {QUEUEPOOL: 40},
    }
)
# Starved of CPU, the target stops answering; Prometheus still has its last CPU reading.
CPU_HOG_UNREACHABLE = SITUATIONS["target-down"].model_copy(update={"cpu_ratio": 0.98})
MEMORY_LEAK_AFTER_HARMLESS_RELEASE = SITUATIONS["memory-leak"].model_copy(
    update={"memory_rss_bytes": 130 * 2**20, "release": "2026.11.5", "release_changed_seconds_ago": 180.0}
)
DEPENDENCY_WITH_FULL_POOL = SITUATIONS["dependency-outage"].model_copy(
    update={
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
    }
)

# How a person might describe each fault in a ticket or a chat: other words than the runbook's.
REWORDED: dict[str, str] = {
    "target-down": "the whole service vanished and is unreachable",
    "db-pool-exhaustion": "too many connections are checked out and never returned",
    "db-lock-contention": "writes hang because another transaction holds the lock",
    "memory-leak": "the web app keeps eating more RAM over hours",
    "cpu-saturation": "processor pegged at full utilisation",
    "bad-release": "users got errors right after we shipped the new version",
    "dependency-outage": "upstream stock lookup stopped responding",
    "traffic-surge": "way more visitors than usual hitting us",
    "disk-full": "the storage volume ran out of room",
}
