"""The worker's action server: the same program with ACTION_SERVICE=worker, supervising a real
`python -m lab.worker`: catalog, each action, the audit trail, the health verdict."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient

from lab.action.app import create_app
from lab.action.catalog import WORKER_ACTIONS
from lab.action.config import Settings
from lab.action.worker_client import QueueState, WorkerClient, WorkerLimits, parse_samples
from lab.runner.ports import free_port

from ..polling import eventually

TOKEN = "action-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ADMIN = "worker-admin-9"
POISON = {"kind": "invoice", "key": "customer-77", "amount": "12,50"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        token=TOKEN,
        service="worker",
        target_url=f"http://127.0.0.1:{free_port()}",
        target_admin_token=ADMIN,
        data_dir=tmp_path / "action",
        supervise_target=True,
        target_output_file=tmp_path / "worker.log",
        restart_deadline_seconds=15,
        stop_grace_seconds=2,
        worker_sample_seconds=0.3,
        worker_max_message_age_seconds=5,
    )


def worker_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "WORKER_PORT": settings.target_url.rsplit(":", 1)[1],
        "WORKER_DATA_DIR": str(tmp_path / "worker"),
        "WORKER_ADMIN_TOKEN": ADMIN,
        "WORKER_HOOK_TOKEN": "lever",
        "WORKER_JOB_SECONDS": "0.02",
        "WORKER_RETRY_BACKOFF_SECONDS": "0.05",
    }


class WorkerSide:
    """The supervised worker, from outside: its public API and its levers."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10)

    def job(self, body: dict[str, Any]) -> int:
        response = self.http.post("/jobs", json=body)
        assert response.status_code == 202, response.text
        return int(response.json()["id"])

    def queue(self) -> dict[str, Any]:
        return dict(self.http.get("/admin/queue", headers={"Authorization": f"Bearer {ADMIN}"}).json())

    def lever(self, path: str) -> None:
        assert self.http.post(f"/_hooks/{path}", headers={"Authorization": "Bearer lever"}).status_code == 200


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings, target_env=worker_env(settings, tmp_path))) as test_client:
        eventually(lambda: verify(test_client)["reachable"], timeout=20)
        yield test_client


@pytest.fixture
def worker(settings: Settings) -> Iterator[WorkerSide]:
    side = WorkerSide(settings.target_url)
    yield side
    side.http.close()


def verify(client: TestClient) -> dict[str, Any]:
    response = client.get("/action/verify-worker-health", headers=AUTH)
    assert response.status_code == 200
    return dict(response.json())


def act(client: TestClient, name: str, **params: Any) -> dict[str, Any]:
    response = client.post(f"/action/{name}", json=params, headers=AUTH)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_catalog_is_the_workers(client: TestClient) -> None:
    actions = {a["name"]: a for a in client.get("/action/catalog", headers=AUTH).json()["actions"]}
    assert list(actions) == list(WORKER_ACTIONS) == ["restart-worker", "dead-letter-jobs", "scale-consumers"]
    assert {name: a["risk"] for name, a in actions.items()} == {
        "restart-worker": "medium",
        "dead-letter-jobs": "low",
        "scale-consumers": "low",
    }
    (min_attempts,) = actions["dead-letter-jobs"]["parameters"]
    assert (min_attempts["name"], min_attempts["type"], min_attempts["default"]) == ("min_attempts", "int", 5)
    assert actions["dead-letter-jobs"]["parameters_schema"]["properties"]["min_attempts"]["minimum"] == 2
    consumers = actions["scale-consumers"]["parameters_schema"]["properties"]["consumers"]
    assert (consumers["minimum"], consumers["maximum"]) == (1, 16) and "default" not in consumers
    assert actions["scale-consumers"]["parameters_schema"]["required"] == ["consumers"]
    unknown = client.post("/action/restart-target", headers=AUTH)
    assert unknown.status_code == 404 and unknown.json()["detail"]["known_actions"] == sorted(WORKER_ACTIONS)
    assert client.get("/action/verify-target-health", headers=AUTH).status_code in (404, 405)


BAD_PARAMETERS = [
    ("dead-letter-jobs", {"min_attempts": 1}),
    ("dead-letter-jobs", {"min_attempts": 1001}),
    ("scale-consumers", {"consumers": 0}),
    ("scale-consumers", {"consumers": 17}),
    ("scale-consumers", {}),
    ("restart-worker", {"now": True}),
]


def test_bad_parameters_are_422_before_anything_runs(client: TestClient, settings: Settings) -> None:
    pid = settings.pid_file().read_text()
    for action, body in BAD_PARAMETERS:
        response = client.post(f"/action/{action}", json=body, headers=AUTH)
        assert response.status_code == 422 and isinstance(response.json()["detail"], str), action
    assert settings.pid_file().read_text() == pid and verify(client)["consumers"] == 2


def test_a_bad_message_is_unhealthy_until_dead_lettered(client: TestClient, worker: WorkerSide) -> None:
    assert verify(client)["is_healthy"] is True
    bad = worker.job(POISON)
    behind = worker.job({**POISON, "amount": 3})
    eventually(lambda: any(h["attempts"] >= 5 for h in worker.queue()["heads"]))
    sick = verify(client)
    assert sick["is_healthy"] is False and sick["blocked_partitions"] and "failed 3+ times" in sick["detail"]
    answer = act(client, "dead-letter-jobs")
    assert answer["changes"] == {"moved": 1, "min_attempts": 5} and "1 job" in answer["detail"]
    eventually(lambda: verify(client)["is_healthy"])
    assert verify(client)["dead_letter"] == 1
    assert {bad, behind}.isdisjoint(h["job_id"] for h in worker.queue()["heads"])


def test_scale_consumers_changes_them_live(client: TestClient, worker: WorkerSide) -> None:
    answer = act(client, "scale-consumers", consumers=6)
    assert answer["changes"] == {"consumers": 6, "previous": 2} and answer["detail"] == "consumers 2 → 6"
    assert worker.queue()["consumers"] == 6 and verify(client)["consumers"] == 6
    # no default: a count too small for the flood must not run and be called a fix
    missing = client.post("/action/scale-consumers", json={}, headers=AUTH)
    assert missing.status_code == 422 and "consumers" in missing.json()["detail"]
    assert worker.queue()["consumers"] == 6


def test_restart_worker_gives_stuck_jobs_back(
    client: TestClient, worker: WorkerSide, settings: Settings, tmp_path: Path
) -> None:
    first_pid = int(settings.pid_file().read_text())
    worker.lever("stall")
    ids = [worker.job({"kind": "invoice", "key": f"customer-{n}", "amount": n}) for n in range(10)]
    eventually(lambda: worker.queue()["in_flight"] == 2)
    stuck = verify(client)
    assert stuck["is_healthy"] is False and "no job committed" in stuck["detail"]
    answer = act(client, "restart-worker")
    assert answer["changes"]["old_pid"] == first_pid and answer["changes"]["new_pid"] != first_pid
    assert answer["detail"].startswith("worker restarted")
    assert not psutil.pid_exists(first_pid)
    eventually(lambda: worker.queue()["ready"] + worker.queue()["in_flight"] == 0)
    assert verify(client)["is_healthy"] is True
    records = client.get("/action/audit", headers=AUTH).json()["records"]
    assert records[0]["action"] == "restart-worker" and records[0]["status"] == "succeeded"
    with sqlite3.connect(tmp_path / "worker" / "queue.db") as conn:
        states = dict(conn.execute("SELECT id, state FROM jobs").fetchall())
    assert {states[i] for i in ids} == {"done"}


def test_a_worker_that_died_stays_down_until_restarted(client: TestClient, settings: Settings) -> None:
    pid = int(settings.pid_file().read_text())
    psutil.Process(pid).kill()
    eventually(lambda: verify(client)["reachable"] is False)
    time.sleep(0.5)
    assert verify(client)["status"] == "unreachable"
    refused = client.post("/action/scale-consumers", json={"consumers": 3}, headers=AUTH)
    assert refused.status_code == 502 and "worker not reachable" in refused.json()["detail"]
    restarted = act(client, "restart-worker")
    assert restarted["changes"]["old_exit_code"] == -9
    assert verify(client)["is_healthy"] is True


def test_memory_over_the_limit_is_unhealthy(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"worker_max_rss_bytes": 1024 * 1024})  # below any Python process
    with TestClient(create_app(settings, target_env=worker_env(settings, tmp_path))) as client:
        health = eventually(lambda: (v := verify(client))["reachable"] and v, timeout=15)
        assert health["is_healthy"] is False and "resident memory" in health["detail"]


def exposition(ready: int, in_flight: int, consumed: float, age: float, rss: int = 50_000_000) -> str:
    jobs = 'messaging_destination_name="jobs"'
    return "\n".join(
        [
            f'messaging_client_consumed_messages_total{{{jobs},messaging_system="sqlite"}} {consumed}',
            f'queue_messages{{{jobs},state="ready"}} {ready}',
            f'queue_messages{{{jobs},state="in_flight"}} {in_flight}',
            f'queue_messages{{{jobs},state="dead_letter"}} 0',
            f"queue_oldest_message_age_seconds{{{jobs}}} {age}",
            f"queue_consumers{{{jobs}}} 2",
            f"process_resident_memory_bytes {rss}",
            "",
        ]
    )


@pytest.mark.parametrize(
    ("before", "after", "heads", "problem"),
    [
        ((0, 1, 100, 0.1), (1, 1, 108, 0.1), [], ""),
        ((0, 0, 100, 0.0), (0, 0, 100, 0.0), [], ""),  # idle and empty
        ((50, 2, 100, 3.0), (78, 2, 120, 4.0), [], "ready backlog growing by 28 jobs/s"),
        ((300, 8, 100, 12.0), (270, 8, 180, 11.0), [], "oldest waiting job is 11 s old"),
        ((4, 2, 100, 2.0), (12, 2, 100, 3.0), [], "no job committed in 1.0 s with 14 waiting"),
        ((1, 0, 100, 4.0), (1, 0, 107, 5.0), [{"partition": 5, "attempts": 7}], "failed 3+ times: [5]"),
    ],
)
def test_the_verdict_rules(before: tuple, after: tuple, heads: list, problem: str) -> None:  # type: ignore[type-arg]
    client = WorkerClient(
        httpx.AsyncClient(), "http://127.0.0.1:9", "t", 1.0, WorkerLimits(max_message_age_seconds=10)
    )
    health = client.verdict(
        parse_samples(exposition(*before)),
        parse_samples(exposition(*after)),
        1.0,
        QueueState.model_validate({"heads": heads}),
    )
    assert health.is_healthy is (problem == "") and problem in health.detail, health.detail
