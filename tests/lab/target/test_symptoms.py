"""Each lever drives a real mechanism whose symptoms show up on the public endpoints within seconds."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from lab.dependency.app import create_app as create_inventory
from lab.dependency.config import Settings as InventorySettings

from ..polling import eventually
from .target_testkit import HOOK, assert_blind


def _event_logged(target, text: str) -> bool:  # type: ignore[no-untyped-def]
    return any(
        text in line["event"] or text in str(line["fields"]) or text in (line.get("traceback") or "")
        for line in target.logs("ERROR")
    )


def test_held_connections_exhaust_the_pool_and_reclaim_frees_it(start_target) -> None:  # type: ignore[no-untyped-def]
    target = start_target()
    assert target.lever("pool-leak", {"enabled": True}).status_code == 200
    assert all(target.get("/api/v1/orders").status_code == 200 for _ in range(10))
    pool = target.pool()
    assert pool["checked_out"] == 10 and pool["utilization"] == 100.0 and pool["pool_health"] == "critical"
    started = time.monotonic()
    failed = target.get("/api/v1/orders")
    assert failed.status_code == 503 and time.monotonic() - started >= 0.45
    assert _event_logged(target, "QueuePool limit")
    health = target.get("/api/v1/health")
    assert health.status_code == 503 and health.json()["checks"]["pool"]["status"] == "failing"
    assert health.json()["checks"]["database"]["status"] == "ok"
    assert_blind(target)

    reclaimed = target.admin("pool/reclaim", {"max_held_seconds": 0, "enable_reaper": False}).json()
    assert reclaimed == {"reclaimed": 10, "reaper_seconds": None}
    assert target.pool()["checked_out"] == 0
    assert _event_logged(target, "QueuePool limit")


def test_reaper_keeps_the_pool_usable_while_connections_are_still_held(start_target) -> None:  # type: ignore[no-untyped-def]
    target = start_target()
    target.lever("pool-leak", {"enabled": True})
    for _ in range(10):
        target.get("/api/v1/orders")
    answer = target.admin("pool/reclaim", {})  # defaults: 5 s, reaper on
    assert answer.json() == {"reclaimed": 0, "reaper_seconds": 5.0}
    # Still on: every request keeps its connection; the reaper gives abandoned ones back.
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: target.get("/api/v1/orders").status_code, range(120)))
    assert codes.count(200) == 120
    eventually(lambda: target.pool()["checked_out"] == 0, timeout=3)
    assert target.pool()["leak_reaper_seconds"] == 5.0
    lines = [line for line in target.logs("WARNING") if "not returned" in line["event"]]
    assert lines and lines[-1]["fields"]["count"] >= 1


def test_dispose_gives_a_fresh_pool(start_target) -> None:  # type: ignore[no-untyped-def]
    target = start_target()
    target.lever("pool-leak", {"enabled": True})
    for _ in range(10):
        target.get("/api/v1/orders")
    assert target.get("/api/v1/orders").status_code == 503
    assert target.admin("pool/dispose").json() == {"invalidated": 10}
    target.lever("pool-leak", {"enabled": False})
    assert all(target.get("/api/v1/orders").status_code == 200 for _ in range(15))
    assert target.pool()["checked_out"] == 0


def test_retained_memory_grows_rss(start_target) -> None:  # type: ignore[no-untyped-def]
    target = start_target()
    before = target.metrics()["memory_rss_bytes"]
    target.lever("memory-retain", {"enabled": True, "bytes_per_request": 4 * 1024 * 1024})
    for _ in range(20):
        target.get("/api/v1/orders")
    target.lever("memory-retain", {"enabled": False})
    assert_blind(target)
    assert target.metrics()["memory_rss_bytes"] - before >= 60 * 1024 * 1024


def test_busy_threads_raise_cpu_ratio(start_target) -> None:  # type: ignore[no-untyped-def]
    target = start_target()
    assert target.lever("cpu-burn", {"enabled": True, "threads": 2}).json()["threads"] == 2
    eventually(lambda: target.metrics()["cpu_ratio"] >= 0.5, timeout=6)
    assert_blind(target)
    assert target.lever("cpu-burn", {"enabled": False}).json()["threads"] == 0
    eventually(lambda: target.metrics()["cpu_ratio"] < 0.3, timeout=8)


def test_defective_release_fails_orders_survives_restart_and_rolls_back(start_target) -> None:  # type: ignore[no-untyped-def]
    target = start_target()
    before = target.metrics()["release_changed_at"]
    change = target.lever("release", {"release": "2026.11.4", "defective": True}).json()
    assert change["from"] == "2026.11.3" and change["to"] == "2026.11.4"
    codes = [target.get("/api/v1/orders").status_code for _ in range(40)]
    assert 4 <= codes.count(500) <= 32 and codes.count(200) >= 8
    metrics = target.metrics()
    assert (
        metrics["error_rate"] > 0
        and metrics["release"] == "2026.11.4"
        and metrics["release_changed_at"] > before
    )
    errors = [line for line in target.logs("ERROR") if line.get("traceback")]
    assert errors and "KeyError" in errors[-1]["traceback"] and "Traceback" in errors[-1]["traceback"]
    assert target.health()["checks"]["errors"]["status"] != "ok"
    assert_blind(target)

    target.process.stop()
    again = start_target(data_dir=target.data_dir)
    assert again.health()["release"] == "2026.11.4"
    codes = [again.order().status_code for _ in range(30)]
    assert codes.count(500) >= 3

    assert again.admin("release/rollback").json() == {"from": "2026.11.4", "to": "2026.11.3"}
    assert all(again.get("/api/v1/orders").status_code == 200 for _ in range(30))
    eventually(lambda: again.metrics()["error_rate"] == 0, timeout=6)
    assert again.admin("release/deploy", {"release": "2026.11.5"}).json() == {
        "from": "2026.11.3",
        "to": "2026.11.5",
    }
    assert all(again.order().status_code == 201 for _ in range(10))


def test_full_data_disk_fails_writes_until_cleaned(start_target) -> None:  # type: ignore[no-untyped-def]
    target = start_target()
    asked = time.monotonic()
    started = target.lever("disk-fill", {"bytes": None})  # answers at once, writes in the background
    assert started.status_code == 202 and started.json()["filling_bytes"] > 7 * 1024 * 1024
    assert time.monotonic() - asked < 2.0
    eventually(lambda: target.metrics()["disk_used_ratio"] >= 0.99)
    failed = target.order()
    assert failed.status_code == 507
    assert _event_logged(target, "No space left on device")
    assert target.health()["checks"]["disk"]["status"] == "failing"
    assert target.get("/api/v1/orders").status_code == 200
    assert_blind(target)

    cleaned = target.admin("disk/clean").json()
    assert cleaned["freed_bytes"] >= started.json()["filling_bytes"] and cleaned["removed_files"] >= 1
    assert target.order().status_code == 201
    assert target.metrics()["disk_used_ratio"] < 0.5


def test_slow_inventory_fails_orders_until_fallback(start_target, servers) -> None:  # type: ignore[no-untyped-def]
    inventory = servers.serve(create_inventory(InventorySettings(hook_token=HOOK)))
    target = start_target(dependency_url=inventory, TARGET_DEPENDENCY_TIMEOUT_SECONDS="0.3")
    assert target.order().status_code == 201
    httpx.post(
        f"{inventory}/_hooks/latency", json={"seconds": 1}, headers={"Authorization": f"Bearer {HOOK}"}
    )
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda _: target.order().status_code, range(8)))
    assert codes.count(503) == 8
    assert _event_logged(target, "dependency call timed out")
    metrics = target.metrics()
    assert metrics["dependency_errors_total"] == 8 and metrics["error_rate"] > 50
    assert target.health()["checks"]["dependency"]["status"] == "failing"
    assert_blind(target)

    assert target.admin("dependency/fallback", {"enabled": True}).json() == {"enabled": True}
    dependency = target.health()["checks"]["dependency"]
    assert dependency["status"] == "ok" and "fallback" in dependency["detail"]
    started = time.monotonic()
    assert all(target.order().status_code == 201 for _ in range(5))
    assert time.monotonic() - started < 2.0  # no call is made, so no 1 s waits
    assert target.metrics()["dependency_fallback"] is True


HOLD_LOCK = """
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(30)
"""


def test_external_write_lock_makes_writes_fail_with_database_is_locked(start_target) -> None:  # type: ignore[no-untyped-def]
    target = start_target()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(target.data_dir / "orders.db")], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        started = time.monotonic()
        failed = target.order()
        assert failed.status_code == 503 and time.monotonic() - started >= 0.45
        assert _event_logged(target, "database is locked")
        assert target.get("/api/v1/orders").status_code == 200
        database = target.health()["checks"]["database"]
        assert database["status"] == "failing" and "database is locked" in database["detail"]
        assert_blind(target)
    finally:
        holder.kill()
        holder.wait()
    assert target.order().status_code == 201
    assert target.health()["checks"]["database"]["status"] == "ok"


def test_exit_ends_the_process_after_answering(start_target) -> None:  # type: ignore[no-untyped-def]
    target = start_target()
    answer = target.lever("exit", {"code": 3})
    assert answer.status_code == 200
    assert target.process.process.wait(5) == 3
