"""A running worker seen from outside: its jobs API, admin API, levers and scraped metrics."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

ADMIN = "worker-admin-577"
HOOK = "worker-lever-211"
# Quick settings: the mechanisms are the real ones, only the durations are short.
FAST = {
    "job_seconds": 0.02,
    "retry_backoff_seconds": 0.05,
    "poll_seconds": 0.01,
    "prune_interval_seconds": 0.2,
}


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus text exposition, None when absent."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


class Worker:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.url = url
        self.data_dir = data_dir
        self.http = httpx.Client(base_url=url, timeout=10)

    def job(self, key: str, amount: Any = 1.0, kind: str = "invoice") -> dict[str, Any]:
        response = self.http.post("/jobs", json={"kind": kind, "key": key, "amount": amount})
        assert response.status_code == 202, response.text
        return dict(response.json())

    def admin(self, path: str, body: Any = None, token: str = ADMIN) -> httpx.Response:
        return self.http.post(f"/admin/{path}", json=body, headers={"Authorization": f"Bearer {token}"})

    def queue(self) -> dict[str, Any]:
        response = self.http.get("/admin/queue", headers={"Authorization": f"Bearer {ADMIN}"})
        return dict(response.json())

    def lever(self, path: str, body: Any = None, token: str = HOOK) -> httpx.Response:
        return self.http.post(f"/_hooks/{path}", json=body, headers={"Authorization": f"Bearer {token}"})

    def metrics(self) -> str:
        response = self.http.get("/metrics")
        assert response.status_code == 200
        return response.text

    def value(self, name: str, **labels: str) -> float:
        found = sample(self.metrics(), name, **labels)
        assert found is not None, f"no sample {name} {labels}"
        return found

    def observed(self, name: str, **labels: str) -> float:
        """A counter's value; one whose labels were never used yet counts 0."""
        return sample(self.metrics(), name, **labels) or 0.0

    def states(self) -> dict[int, str]:
        """Job id → state, read from the queue file itself."""
        with sqlite3.connect(self.data_dir / "queue.db") as conn:
            return dict(conn.execute("SELECT id, state FROM jobs").fetchall())

    def done_order(self, partition: int) -> list[int]:
        """Ids of one partition's done jobs in the order they were committed."""
        with sqlite3.connect(self.data_dir / "queue.db") as conn:
            rows = conn.execute(
                "SELECT id FROM jobs WHERE partition = ? AND state = 'done' ORDER BY updated_at, id",
                (partition,),
            ).fetchall()
        return [row[0] for row in rows]


class InThreadWorker(Worker):
    """A worker app served in the test's process: its registry can be read directly."""

    def __init__(self, url: str, data_dir: Path, registry: CollectorRegistry) -> None:
        super().__init__(url, data_dir)
        self.registry = registry


StartWorker = Callable[..., InThreadWorker]
