"""The target's parts on their own: log buffer, token bucket, window stats, releases, quota, memory cap."""

from __future__ import annotations

import errno
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lab.memory_retainer import MemoryRetainer
from lab.target.logbuffer import LogBuffer
from lab.target.ratelimit import TokenBucket
from lab.target.releases import ReleaseConflict, Releases, regional_tax_rate
from lab.target.storage import Storage
from lab.target.telemetry import Telemetry, percentile


def test_log_buffer_filters_rotates_and_lists_rotated_files(tmp_path: Path) -> None:
    log = LogBuffer(tmp_path / "t.jsonl", capacity=50, max_bytes=2000)
    for i in range(40):
        log.info("request", n=i)
    try:
        raise ValueError("boom")
    except ValueError as exc:
        log.error("order failed", exc, item="x")
    assert [line.event for line in log.query(level="ERROR")] == ["order failed"]
    assert "ValueError: boom" in (log.query(level="ERROR")[0].traceback or "")
    assert len(log.query(limit=5)) == 5 and log.query(limit=5)[-1].event == "order failed"
    assert log.query(since=datetime.now(UTC) + timedelta(seconds=5)) == []
    assert log.rotated_files() == [tmp_path / "t.jsonl.1"]
    log.close()


def test_token_bucket_allows_the_rate_and_turns_off() -> None:
    bucket = TokenBucket(5)
    assert sum(bucket.allow() for _ in range(20)) == 5
    time.sleep(0.25)
    assert bucket.allow()
    bucket.configure(None)
    assert all(bucket.allow() for _ in range(100))


def test_window_stats_and_percentile() -> None:
    telemetry = Telemetry(window_seconds=60)
    for ms in range(1, 101):
        telemetry.record_request(ms / 1000, failed=ms > 90)
    stats = telemetry.request_stats()
    assert stats["error_rate"] == 10.0 and stats["p95_response_time_ms"] == 95.0
    assert stats["avg_response_time_ms"] == pytest.approx(50.5)
    assert telemetry.requests_total == 100 and telemetry.errors_total == 10
    assert percentile([], 0.95) == 0.0
    # the same requests as a histogram: cumulative, whatever the window
    buckets = telemetry.duration_buckets()
    assert buckets["0.01"] == 10 and buckets["0.05"] == 50 and buckets["0.1"] == 100
    assert buckets["+Inf"] == 100 and list(buckets.values()) == sorted(buckets.values())
    assert telemetry.request_seconds_total == pytest.approx(5.05)
    telemetry.record_query(0.002)
    assert telemetry.queries_total == 1 and telemetry.query_seconds_total == pytest.approx(0.002)


def test_releases_persist_deploy_and_roll_back(tmp_path: Path) -> None:
    releases = Releases(tmp_path / "release.json", "2026.11.3")
    assert releases.deploy("2026.11.4", defective=True) == ("2026.11.3", "2026.11.4")
    again = Releases(tmp_path / "release.json", "2026.11.3")
    assert again.current.release == "2026.11.4" and again.current.defective
    assert again.rollback() == ("2026.11.4", "2026.11.3")
    assert not again.current.defective
    with pytest.raises(ReleaseConflict):
        again.rollback()
    with pytest.raises(ValueError):
        again.deploy("v2")


def test_defective_pricing_fails_about_forty_percent() -> None:
    rng = random.Random(1)
    failures = 0
    for _ in range(1000):
        try:
            regional_tax_rate(True, rng)
        except KeyError:
            failures += 1
    assert 330 <= failures <= 470
    assert all(regional_tax_rate(False, rng) > 0 for _ in range(100))


def test_quota_raises_enospc_and_clean_frees(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "data", quota_bytes=64 * 1024)
    written, files = storage.fill_spool(None)
    assert files == 1 and storage.used_bytes() == 64 * 1024
    with pytest.raises(OSError) as raised:
        storage.write_receipt({"id": 1})
    assert raised.value.errno == errno.ENOSPC and "No space left on device" in str(raised.value)
    assert storage.clean() == (written, 1)
    storage.write_receipt({"id": 1})


def test_a_fill_goes_on_to_the_quota_when_other_writes_take_room_between_its_files(tmp_path: Path) -> None:
    class Busy(Storage):
        """Orders keep arriving while the spool is written: a receipt lands before each export file."""

        def _reserve_up_to(self, path: Path, size: int) -> int:
            self.write_receipt({"id": time.time_ns()})
            return super()._reserve_up_to(path, size)

    storage = Busy(tmp_path / "data", quota_bytes=40 * 1024, spool_file_max=16 * 1024)
    written, files = storage.fill_spool(None)
    assert files == 3 and written < 40 * 1024 and storage.used_bytes() == storage.refresh() == 40 * 1024


def test_memory_retainer_stops_at_its_cap() -> None:
    memory = MemoryRetainer(cap_bytes=10_000)
    memory.configure(True, 4_000)
    for _ in range(5):
        memory.retain()
    assert memory.retained_bytes == 10_000
