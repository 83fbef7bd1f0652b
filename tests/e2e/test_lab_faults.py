"""Every fault against one real lab: it shows, the true fix heals it, wrong fixes don't, and it stays blind.

For each fault of the chaos catalog: inject it, see the symptom on the service's public endpoints
(the target's JSON API, the worker's /metrics as Prometheus scrapes it), run each `not_fixed_by`
action and see it still broken, run the first `fixed_by` action (with the attack still on, as during
an incident) on the service's own action server and see it healthy again, then stop the attack and
restore a clean state. Meanwhile everything each service shows publicly is checked for the blind rule.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from .lab_driver import FAST_LAB_ENV, LabDriver

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
WORKER_FAULT_NAMES = ["job_poison", "worker_stall", "worker_memory_leak", "job_flood", "worker_crash"]
FORBIDDEN_WORDS = re.compile(r"(?i)(?<![a-z])(chaos|attack|fault)")
FORBIDDEN_NAMES = re.compile(
    r"(?i)(?<![a-z0-9_])(" + "|".join(FAULT_NAMES + WORKER_FAULT_NAMES) + r"|poison|stall)(?![a-z0-9_])"
)
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


def snapshot(lab: LabDriver, base: str, requests: list[tuple[str, str, dict[str, Any] | None]]) -> str:
    """Every response to `requests` at `base` right now, bodies and headers."""
    parts = []
    for method, path, body in requests:
        try:
            response = lab.http.request(method, f"{base}{path}", json=body, timeout=10)
        except httpx.HTTPError as exc:
            parts.append(f"{path}: {type(exc).__name__}")
            continue
        parts.append(f"{path} {response.status_code} {dict(response.headers)} {response.text}")
    return "\n".join(parts)


def public_snapshot(lab: LabDriver) -> str:
    """Every public response of the target right now."""
    requests = [("GET", path, None) for path in PUBLIC_GETS]
    return snapshot(
        lab, lab.urls["target"], [*requests, ("POST", "/api/v1/orders", {"item": "widget", "quantity": 1})]
    )


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


class Growth:
    """Resident memory grown by more than 30 MiB since `start`, as one service reports it."""

    def __init__(self, read: Callable[[LabDriver], float]) -> None:
        self._read = read
        self.baseline = 0.0

    def start(self, lab: LabDriver) -> None:
        self.baseline = self._read(lab)

    def __call__(self, lab: LabDriver) -> bool:
        return self._read(lab) - self.baseline > 30 * 1024 * 1024


memory_growth = Growth(lambda lab: lab.get("/api/v1/metrics")["memory_rss_bytes"])

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
    assert sorted(name for name, fault in truth.items() if fault["service"] == "target") == sorted(SCENARIOS)
    assert sorted(name for name, fault in truth.items() if fault["service"] == "worker") == sorted(
        WORKER_SCENARIOS
    )


@pytest.mark.parametrize("fault", list(SCENARIOS))
def test_fault_shows_wrong_fixes_fail_and_the_true_fixes_heal(
    lab: LabDriver, truth: dict[str, dict[str, Any]], fault: str
) -> None:
    params, symptom = SCENARIOS[fault]
    # A restart first: it also clears in-process mitigations (the leak reaper) a later round would start with.
    for fix in sorted(truth[fault]["fixed_by"], key=lambda action: action != "restart-target"):
        break_and_fix(lab, truth, fault, fix, params, symptom, CLEARED.get(fault), TARGET)


@dataclass(frozen=True)
class Seen:
    """How these tests see one service: what it shows publicly, how to put it back, how long it takes."""

    name: str
    snapshot: Callable[[LabDriver], str]
    restore: Callable[[LabDriver], None]
    symptom_seconds: float
    heal_seconds: float


def break_and_fix(
    lab: LabDriver,
    truth: dict[str, dict[str, Any]],
    fault: str,
    fix: str,
    params: dict[str, Any],
    symptom: Callable[[LabDriver], bool],
    cleared: Callable[[LabDriver], bool] | None,
    seen: Seen,
    action_params: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Inject, see the symptom, see each wrong fix leave it, see `fix` heal it; then stop and restore."""
    lab.wait_healthy(timeout=seen.heal_seconds, service=seen.name)
    if isinstance(symptom, Growth):
        symptom.start(lab)
    attack_id = lab.inject(fault, **params)
    ATTACK_IDS.append(attack_id)
    try:
        lab.wait_for(lambda: symptom(lab), seen.symptom_seconds, f"{fault} symptom")
        assert_blind(seen.snapshot(lab), ATTACK_IDS)

        for wrong in truth[fault]["not_fixed_by"]:
            lab.act(wrong, service=seen.name, **(action_params or {}).get(wrong, {}))
            lab.wait_for(lambda: symptom(lab), seen.symptom_seconds, f"{fault} still there after {wrong}")
            assert not lab.verify(seen.name)["is_healthy"], f"{wrong} healed {fault}"

        lab.act(fix, service=seen.name, **(action_params or {}).get(fix, {}))
        assert lab.wait_healthy(timeout=seen.heal_seconds, service=seen.name)["reachable"] is True
        assert (cleared or (lambda lab: not symptom(lab)))(lab), f"{fix} did not clear {fault}"
        assert_blind(seen.snapshot(lab), ATTACK_IDS)
    finally:
        lab.stop(fault, attack_id)
        seen.restore(lab)


def test_the_target_logs_never_name_the_injector(lab: LabDriver) -> None:
    """Every log line the target wrote during all the faults above, on disk and through its API."""
    texts = [path.read_text(errors="replace") for path in lab.log_files() if path.exists()]
    texts.append(lab.http.get(f"{lab.urls['target']}/api/v1/logs?limit=100000").text)
    assert any(texts), "the target wrote no logs at all"
    assert_blind("\n".join(texts), ATTACK_IDS)


# --- the queue worker: symptoms in its /metrics, fixes through its own action server -----------------

JOBS = {"messaging_destination_name": "jobs"}
MAX_AGE_SECONDS = float(FAST_LAB_ENV["worker-action"]["ACTION_WORKER_MAX_MESSAGE_AGE_SECONDS"])


def consumed(lab: LabDriver) -> float:
    return lab.worker_value("messaging_client_consumed_messages_total", **JOBS)


def waiting(lab: LabDriver, state: str) -> float:
    return lab.worker_value("queue_messages", **JOBS, state=state)


def oldest_age(lab: LabDriver) -> float:
    return lab.worker_value("queue_oldest_message_age_seconds", **JOBS)


def head_failing(lab: LabDriver) -> bool:
    """Failures counted as ValueError keep coming, and the oldest message ages."""
    first = lab.worker_value("messaging_process_duration_seconds_count", error_type="ValueError")
    time.sleep(1.0)
    failing = lab.worker_value("messaging_process_duration_seconds_count", error_type="ValueError") > first
    return failing and oldest_age(lab) > 2


def stalled(lab: LabDriver) -> bool:
    """Nothing committed for 1.5 s, nothing failing, every consumer holding a job, jobs waiting."""
    first, failures = (
        consumed(lab),
        lab.worker_value("messaging_process_duration_seconds_count", error_type=""),
    )
    time.sleep(1.5)
    busy = waiting(lab, "in_flight") == lab.worker_value("queue_consumers", **JOBS)
    idle = lab.worker_value("messaging_process_duration_seconds_count", error_type="") == failures
    return consumed(lab) == first and idle and busy and waiting(lab, "ready") > 0


def flooded(lab: LabDriver) -> bool:
    """Jobs pile up and age past the verdict's limit while the consumers work (busy, not stuck)."""
    first = consumed(lab)
    time.sleep(1.0)
    return consumed(lab) > first and waiting(lab, "ready") > 40 and oldest_age(lab) > MAX_AGE_SECONDS


def worker_down(lab: LabDriver) -> bool:
    return lab.verify("worker")["reachable"] is False


worker_memory_growth = Growth(lambda lab: lab.worker_value("process_resident_memory_bytes"))

WORKER_SCENARIOS: dict[str, tuple[dict[str, Any], Callable[[LabDriver], bool]]] = {
    "job_poison": ({}, head_failing),
    "worker_stall": ({}, stalled),
    "worker_memory_leak": ({"bytes_per_job": 2 * 1024 * 1024}, worker_memory_growth),
    "job_flood": ({}, flooded),
    "worker_crash": ({}, worker_down),
}
# x6 is 48 jobs/s: 8 consumers (one per partition) manage ~80, 4 about 40. The same 8 as a wrong fix.
ACTION_PARAMS: dict[str, dict[str, Any]] = {"scale-consumers": {"consumers": 8}}
WORKER_CLEARED: dict[str, Callable[[LabDriver], bool]] = {
    "worker_crash": lambda lab: lab.verify("worker")["reachable"],
    "job_poison": lambda lab: waiting(lab, "dead_letter") >= 1 and not head_failing(lab),
}


def worker_snapshot(lab: LabDriver) -> str:
    """Every public response of the worker right now."""
    requests = [("GET", path, None) for path in ("/metrics", "/healthz", "/openapi.json")]
    job = {"kind": "invoice", "key": "customer-1", "amount": 1.5}
    return snapshot(lab, lab.urls["worker"], [*requests, ("POST", "/jobs", job)])


def restore_worker(lab: LabDriver) -> None:
    """The backlog drained, the configured consumers again, and healthy, so the next fault starts from
    the same place. A poison message left by a round that failed half-way is set aside first."""
    if head_failing(lab):
        lab.act("dead-letter-jobs", service="worker")
    lab.wait_for(lambda: waiting(lab, "ready") < 20, 60, "worker backlog drained")
    lab.wait_for(lambda: lab.worker_admin("consumers", {"consumers": 2}).status_code == 200, 30, "worker up")
    lab.wait_healthy(timeout=60, service="worker")


@pytest.mark.parametrize("fault", list(WORKER_SCENARIOS))
def test_worker_fault_shows_wrong_fixes_fail_and_the_true_fix_heals(
    lab: LabDriver, truth: dict[str, dict[str, Any]], fault: str
) -> None:
    params, symptom = WORKER_SCENARIOS[fault]
    (fix,) = truth[fault]["fixed_by"]
    break_and_fix(lab, truth, fault, fix, params, symptom, WORKER_CLEARED.get(fault), WORKER, ACTION_PARAMS)


TARGET = Seen("target", public_snapshot, restore, symptom_seconds=15, heal_seconds=40)
WORKER = Seen("worker", worker_snapshot, restore_worker, symptom_seconds=20, heal_seconds=60)


def test_the_worker_logs_never_name_the_injector(lab: LabDriver) -> None:
    """Every line the worker wrote during its faults (it logs to stderr, kept by its action server)."""
    texts = [path.read_text(errors="replace") for path in lab.worker_log_files() if path.exists()]
    assert any("worker started" in text for text in texts), "the worker wrote no logs at all"
    assert_blind("\n".join(texts), ATTACK_IDS)
