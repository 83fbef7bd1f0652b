"""Every fault against one real lab: it shows, the true fix heals it, wrong fixes don't, and it stays blind.

For each fault of the chaos catalog: inject it, see the symptom on the target's public endpoints,
run each `not_fixed_by` action and see it still broken, run the first `fixed_by` action (with the
attack still on, as during an incident) and see the target healthy again, then stop the attack and
restore a clean state. Meanwhile everything the target shows publicly is checked for the blind rule.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import LabDriver

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

FAULT_NAMES = [
    "db_pool",
    "slow_queries",
    "memory_leak",
    "cpu_hog",
    "bad_deploy",
    "dependency_outage",
    "traffic_spike",
    "disk_fill",
    "crash",
]
FORBIDDEN_WORDS = re.compile(r"(?i)(?<![a-z])(chaos|attack|fault)")
FORBIDDEN_NAMES = re.compile(r"(?i)(?<![a-z0-9_])(" + "|".join(FAULT_NAMES) + r")(?![a-z0-9_])")
PUBLIC_GETS = [
    "/api/v1/health",
    "/api/v1/metrics",
    "/api/v1/pool/status",
    "/api/v1/logs?limit=1000",
    "/api/v1/orders?limit=5",
    "/api/v1/orders/1",
    "/openapi.json",
]
ATTACK_IDS: list[str] = []


def assert_blind(text: str, attack_ids: list[str]) -> None:
    for pattern in (FORBIDDEN_WORDS, FORBIDDEN_NAMES):
        match = pattern.search(text)
        context = text[max(0, match.start() - 80) : match.end() + 80] if match else ""
        assert match is None, f"the target shows {match.group(0)!r}: ...{context}..."
    for attack_id in attack_ids:
        assert attack_id not in text


def public_snapshot(lab: LabDriver) -> str:
    """Every public response of the target right now, bodies and headers."""
    parts = []
    base = lab.urls["target"]
    requests = [("GET", path, None) for path in PUBLIC_GETS] + [
        ("POST", "/api/v1/orders", {"item": "widget", "quantity": 1})
    ]
    for method, path, body in requests:
        try:
            response = lab.http.request(method, f"{base}{path}", json=body, timeout=10)
        except httpx.HTTPError as exc:
            parts.append(f"{path}: {type(exc).__name__}")
            continue
        parts.append(f"{path} {response.status_code} {dict(response.headers)} {response.text}")
    return "\n".join(parts)


# --- symptoms: each returns truthy while the fault shows on public endpoints -------------------


def pool_exhausted(lab: LabDriver) -> bool:
    pool = lab.get("/api/v1/pool/status")
    return pool["checked_out"] >= pool["size"] + pool["max_overflow"] or pool["pool_health"] == "critical"


def check_not_ok(name: str) -> Callable[[LabDriver], bool]:
    def failing(lab: LabDriver) -> bool:
        return lab.get("/api/v1/health")["checks"][name]["status"] != "ok"

    return failing


def cpu_busy(lab: LabDriver) -> bool:
    first, started = lab.get("/api/v1/metrics")["cpu_seconds_total"], time.monotonic()
    time.sleep(1.5)
    return (lab.get("/api/v1/metrics")["cpu_seconds_total"] - first) / (time.monotonic() - started) > 0.6


def orders_failing(lab: LabDriver) -> bool:
    """The defective release fails ~40% of order requests: 20 tries all passing is a 1e-4 chance."""
    base = lab.urls["target"]
    statuses = [lab.http.get(f"{base}/api/v1/orders?limit=1").status_code for _ in range(10)]
    statuses += [
        lab.http.post(f"{base}/api/v1/orders", json={"item": "bolt", "quantity": 1}).status_code
        for _ in range(10)
    ]
    return any(code >= 500 for code in statuses)


def traffic_high(lab: LabDriver) -> bool:
    first, started = lab.get("/api/v1/metrics")["requests_total"], time.monotonic()
    time.sleep(2)
    return (lab.get("/api/v1/metrics")["requests_total"] - first) / (time.monotonic() - started) > 25


def disk_full(lab: LabDriver) -> bool:
    return lab.get("/api/v1/health")["checks"]["disk"]["status"] == "failing"


def unreachable(lab: LabDriver) -> bool:
    return lab.verify()["reachable"] is False


class MemoryGrowth:
    def __init__(self) -> None:
        self.baseline = 0

    def start(self, lab: LabDriver) -> None:
        self.baseline = lab.get("/api/v1/metrics")["memory_rss_bytes"]

    def __call__(self, lab: LabDriver) -> bool:
        return lab.get("/api/v1/metrics")["memory_rss_bytes"] - self.baseline > 30 * 1024 * 1024


memory_growth = MemoryGrowth()

SCENARIOS: dict[str, tuple[dict[str, Any], Callable[[LabDriver], bool]]] = {
    "db_pool": ({}, pool_exhausted),
    "slow_queries": ({"hold_seconds": 120}, check_not_ok("database")),
    "memory_leak": ({"bytes_per_request": 2 * 1024 * 1024}, memory_growth),
    "cpu_hog": ({"threads": 2}, cpu_busy),
    "bad_deploy": ({}, orders_failing),
    "dependency_outage": ({"latency_seconds": 3}, check_not_ok("dependency")),
    "traffic_spike": ({"multiplier": 6}, traffic_high),
    "disk_fill": ({}, disk_full),
    "crash": ({}, unreachable),
}


def throttling(lab: LabDriver) -> bool:
    first = lab.get("/api/v1/metrics")["throttled_total"]
    time.sleep(1.5)
    return lab.get("/api/v1/metrics")["throttled_total"] > first


# How to see the fix worked where "the symptom is gone" is not the right question.
CLEARED: dict[str, Callable[[LabDriver], bool]] = {
    "traffic_spike": throttling,
    "crash": lambda lab: lab.verify()["reachable"],
}


@pytest.fixture(scope="module")
def truth(lab: LabDriver) -> dict[str, dict[str, Any]]:
    response = lab.http.get(
        f"{lab.urls['chaos']}/api/v1/faults", headers={"Authorization": f"Bearer {lab.stack.tokens.chaos}"}
    )
    return {fault["name"]: fault for fault in response.json()["faults"]}


def restore(lab: LabDriver) -> None:
    """Mitigations off, and healthy again, so the next fault starts from the same place."""
    for path, body in (
        ("rate-limit", {"requests_per_second": None}),
        ("dependency/fallback", {"enabled": False}),
    ):
        lab.admin(path, body)
    lab.wait_healthy(timeout=40)


def test_the_catalog_covers_every_scenario(truth: dict[str, dict[str, Any]]) -> None:
    assert sorted(truth) == sorted(SCENARIOS)


@pytest.mark.parametrize("fault", list(SCENARIOS))
def test_fault_shows_wrong_fixes_fail_and_the_true_fixes_heal(
    lab: LabDriver, truth: dict[str, dict[str, Any]], fault: str
) -> None:
    params, symptom = SCENARIOS[fault]
    # A restart first: it also clears in-process mitigations (the leak reaper) a later round would start with.
    for fix in sorted(truth[fault]["fixed_by"], key=lambda action: action != "restart-target"):
        lab.wait_healthy(timeout=40)
        if fault == "memory_leak":
            memory_growth.start(lab)
        attack_id = lab.inject(fault, **params)
        ATTACK_IDS.append(attack_id)
        try:
            lab.wait_for(lambda: symptom(lab), 15, f"{fault} symptom")
            assert_blind(public_snapshot(lab), ATTACK_IDS)

            for wrong in truth[fault]["not_fixed_by"]:
                lab.act(wrong)
                lab.wait_for(lambda: symptom(lab), 15, f"{fault} still there after {wrong}")
                assert not lab.verify()["is_healthy"], f"{wrong} healed {fault}"

            lab.act(fix)
            assert lab.wait_healthy(timeout=40)["reachable"] is True
            assert CLEARED.get(fault, lambda lab: not symptom(lab))(lab), f"{fix} did not clear {fault}"
            assert_blind(public_snapshot(lab), ATTACK_IDS)
        finally:
            lab.stop(fault, attack_id)
            restore(lab)


def test_the_target_logs_never_name_the_injector(lab: LabDriver) -> None:
    """Every log line the target wrote during all the faults above, on disk and through its API."""
    texts = [path.read_text(errors="replace") for path in lab.log_files() if path.exists()]
    texts.append(lab.http.get(f"{lab.urls['target']}/api/v1/logs?limit=100000").text)
    assert any(texts), "the target wrote no logs at all"
    assert_blind("\n".join(texts), ATTACK_IDS)
