"""The collector against a real HTTP stand-in of the target: units, failures, label hygiene."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from exporters.collector import TargetCollector
from exporters.source import TargetSource
from lab.runner.ports import free_port

from ..helpers.target_standin import Reply, TargetStandIn

TARGET_SERIES = ("target_error_ratio", "target_db_pool_size", "target_resident_memory_bytes")


@pytest.fixture
def scrape(standin: TargetStandIn) -> Iterator[tuple[CollectorRegistry, TargetSource]]:
    source = TargetSource(standin.url, timeout_seconds=0.5)
    registry = CollectorRegistry()
    TargetCollector(source, registry)
    yield registry, source
    source.close()


class Samples:
    """One scrape's samples (`get_sample_value` would scrape the target again on every call)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.values = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in registry.collect()
            for sample in family.samples
        }

    def __call__(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        return self.values.get((name, tuple(sorted((labels or {}).items()))))

    def errors(self, endpoint: str) -> float | None:
        return self("target_exporter_scrape_errors_total", {"endpoint": endpoint})


def test_healthy_target_is_mapped_in_base_units(scrape: tuple[CollectorRegistry, TargetSource]) -> None:
    value = Samples(scrape[0])
    assert value("target_up") == 1.0
    assert 0 < (value("target_scrape_duration_seconds") or 0) < 0.5
    assert {value.errors(e) for e in ("health", "metrics", "pool")} == {0.0}
    assert value("target_health_status", {"state": "healthy"}) == 1.0
    assert value("target_health_status", {"state": "unhealthy"}) == 0.0
    assert value("target_health_check_ok", {"check": "dependency"}) == 1.0
    assert value("target_health_check_status", {"check": "dependency", "state": "failing"}) == 0.0
    assert value("target_error_ratio") == pytest.approx(0.002)
    assert value("target_response_time_avg_seconds") == pytest.approx(0.012)
    assert value("target_response_time_p95_seconds") == pytest.approx(0.035)
    assert value("target_requests_per_second") == pytest.approx(10.0)
    assert value("target_db_query_avg_seconds") == pytest.approx(0.0015)
    assert value("target_dependency_avg_seconds") == pytest.approx(0.008)
    assert (value("target_requests_total") or 0) >= 1000
    assert value("target_errors_total") == 2.0
    assert value("target_throttled_requests_total") == 0.0
    assert value("target_dependency_errors_total") == 0.0
    assert (value("target_cpu_seconds_total") or 0) >= 5
    assert value("target_cpu_ratio") == pytest.approx(0.2)
    assert value("target_resident_memory_bytes") == 83_886_080
    assert value("target_data_disk_used_ratio") == pytest.approx(0.1)
    assert value("target_data_disk_used_bytes") == 6_710_886
    assert value("target_data_disk_quota_bytes") == 67_108_864
    assert value("target_release_info", {"release": "2026.11.3"}) == 1.0
    assert (value("target_release_changed_timestamp_seconds") or 0) > 1e9
    assert (value("target_start_time_seconds") or 0) > 1e9
    assert value("target_rate_limit_enabled") == 0.0
    assert value("target_rate_limit_requests_per_second") is None
    assert value("target_dependency_fallback_enabled") == 0.0
    assert value("target_db_pool_size") == 5
    assert value("target_db_pool_checked_out") == 1
    assert value("target_db_pool_overflow") == -4
    assert value("target_db_pool_max_overflow") == 5
    assert value("target_db_pool_waiting") == 0
    assert value("target_db_pool_utilization_ratio") == pytest.approx(0.1)
    assert value("target_db_pool_health", {"state": "healthy"}) == 1.0
    assert value("target_db_pool_health", {"state": "critical"}) == 0.0
    # a histogram and a summary, so PromQL can take any range (the time since a fix)
    assert value("target_request_duration_seconds_bucket", {"le": "0.05"}) == 990
    assert value("target_request_duration_seconds_bucket", {"le": "+Inf"}) == 1002
    assert value("target_request_duration_seconds_count") == 1002
    assert value("target_request_duration_seconds_sum") == pytest.approx(14.5)
    assert value("target_db_query_duration_seconds_count") == 3000
    assert value("target_db_query_duration_seconds_sum") == pytest.approx(4.5)


def test_a_histogram_without_its_total_bucket_is_left_out(
    standin: TargetStandIn, scrape: tuple[CollectorRegistry, TargetSource]
) -> None:
    standin.patches["metrics"] = {"request_duration_buckets": {"0.5": 10, "abc": 3}}
    value = Samples(scrape[0])
    assert value("target_request_duration_seconds_count") is None
    assert value("target_error_ratio") == pytest.approx(0.002)  # the rest is still read


def test_each_scrape_reads_fresh_values(
    standin: TargetStandIn, scrape: tuple[CollectorRegistry, TargetSource]
) -> None:
    registry, _ = scrape
    assert Samples(registry)("target_db_pool_utilization_ratio") == pytest.approx(0.1)
    standin.patches["pool"] = {"checked_out": 10, "utilization": 100.0, "pool_health": "critical"}
    standin.patches["metrics"] = {"rate_limit_rps": 20.0}
    value = Samples(registry)
    assert value("target_db_pool_utilization_ratio") == pytest.approx(1.0)
    assert value("target_db_pool_health", {"state": "critical"}) == 1.0
    assert value("target_rate_limit_enabled") == 1.0
    assert value("target_rate_limit_requests_per_second") == 20.0


def test_dead_target_is_down_with_no_target_values() -> None:
    source = TargetSource(f"http://127.0.0.1:{free_port()}", timeout_seconds=0.5)
    registry = CollectorRegistry()
    TargetCollector(source, registry)
    try:
        value = Samples(registry)
        assert value("target_up") == 0.0
        assert all(value(name) is None for name in TARGET_SERIES)
        assert value("target_health_status", {"state": "healthy"}) is None
        assert {value.errors(e) for e in ("health", "metrics", "pool")} == {1.0}
        value = Samples(registry)
        assert {value.errors(e) for e in ("health", "metrics", "pool")} == {2.0}
    finally:
        source.close()


def test_slow_target_is_down_within_the_timeout(
    standin: TargetStandIn, scrape: tuple[CollectorRegistry, TargetSource]
) -> None:
    registry, _ = scrape
    standin.replies = {e: Reply(delay=2.0) for e in ("health", "metrics", "pool")}
    started = time.perf_counter()
    value = Samples(registry)
    elapsed = time.perf_counter() - started
    assert value("target_up") == 0.0
    assert elapsed < 1.0
    assert (value("target_scrape_duration_seconds") or 0) == pytest.approx(0.5, abs=0.3)
    assert {value.errors(e) for e in ("health", "metrics", "pool")} == {1.0}
    assert all(value(name) is None for name in TARGET_SERIES)


def test_one_slow_endpoint_leaves_the_rest(
    standin: TargetStandIn, scrape: tuple[CollectorRegistry, TargetSource]
) -> None:
    standin.replies = {"health": Reply(delay=2.0)}
    value = Samples(scrape[0])
    assert value("target_up") == 1.0
    assert value.errors("health") == 1.0
    assert value.errors("pool") == 0.0
    assert value("target_health_status", {"state": "healthy"}) is None
    assert value("target_db_pool_size") == 5
    assert value("target_error_ratio") == pytest.approx(0.002)
    assert value("target_release_info", {"release": "2026.11.3"}) == 1.0


def test_garbage_and_wrong_types_are_counted_not_raised(
    standin: TargetStandIn, scrape: tuple[CollectorRegistry, TargetSource]
) -> None:
    registry, _ = scrape
    standin.replies = {
        "metrics": Reply(text="<html>not json"),
        "pool": Reply(body={"size": "many", "checked_out": [1]}),
        "health": Reply(body={"status": "healthy", "checks": "all good"}),
    }
    value = Samples(registry)
    assert value("target_up") == 0.0
    assert {value.errors(e) for e in ("health", "metrics", "pool")} == {1.0}
    assert all(value(name) is None for name in TARGET_SERIES)
    standin.replies = {"metrics": Reply(body=[1, 2, 3]), "pool": Reply(status=500, body={"detail": "boom"})}
    value = Samples(registry)
    assert value("target_up") == 1.0
    assert (value.errors("health"), value.errors("metrics"), value.errors("pool")) == (1.0, 2.0, 2.0)
    assert value("target_health_status", {"state": "healthy"}) == 1.0
    assert value("target_release_info", {"release": "2026.11.3"}) == 1.0
    assert value("target_db_pool_size") is None


def test_unhealthy_health_document_with_503_is_still_read(
    standin: TargetStandIn, scrape: tuple[CollectorRegistry, TargetSource]
) -> None:
    document = standin.health() | {"status": "unhealthy"}
    document["checks"]["dependency"] = {"status": "failing", "latency_ms": 1000.0}
    standin.replies = {"health": Reply(body=document, status=503)}
    value = Samples(scrape[0])
    assert value("target_health_status", {"state": "unhealthy"}) == 1.0
    assert value("target_health_check_ok", {"check": "dependency"}) == 0.0
    assert value("target_health_check_status", {"check": "dependency", "state": "failing"}) == 1.0
    assert value.errors("health") == 0.0


def test_label_values_stay_bounded(
    standin: TargetStandIn, scrape: tuple[CollectorRegistry, TargetSource]
) -> None:
    checks = {f"check_{i}": {"status": "ok"} for i in range(40)} | {"Free Text!": {"status": "ok"}}
    standin.patches["health"] = {"checks": checks}
    standin.patches["metrics"] = {"release": "deploy by bob at 12:00 with a very long note " * 3}
    families = {family.name: family for family in scrape[0].collect()}
    check_labels = {sample.labels["check"] for sample in families["target_health_check_ok"].samples}
    assert len(check_labels) == 16
    assert "Free Text!" not in check_labels
    releases = [sample.labels["release"] for sample in families["target_release_info"].samples]
    assert releases == ["invalid"]
