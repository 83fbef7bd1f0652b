"""The e2e tests' hands on a running lab (chaos, the action servers, the services' APIs) and the short
windows the lab runs with here."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from lab.runner.stack import Stack

# Short windows so symptoms show and clear within seconds; the mechanisms are the same as `lab up`.
FAST_LAB_ENV = {
    "action": {
        "TARGET_METRICS_WINDOW_SECONDS": "8",
        "TARGET_DISK_SCAN_INTERVAL_SECONDS": "1",
        "TARGET_DISK_QUOTA_BYTES": str(16 * 1024 * 1024),
    },
    "loadgen": {"LOADGEN_RATE_RPS": "10"},
    # The worker's verdict over 1 s samples; a backlog older than 10 s or 256 MiB resident is unhealthy.
    "worker-action": {
        "ACTION_WORKER_SAMPLE_SECONDS": "1",
        "ACTION_WORKER_MAX_MESSAGE_AGE_SECONDS": "10",
        "ACTION_WORKER_MAX_RSS_BYTES": str(256 * 1024 * 1024),
    },
}
ACTION_SERVER = {"target": "action", "worker": "worker-action"}


class LabDriver:
    """The tests' hands on a running lab: chaos, the action servers, the target's and the worker's APIs."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.urls = stack.urls
        self.http = httpx.Client(timeout=30)

    def _auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def inject(self, fault: str, **params: Any) -> str:
        response = self.http.post(
            f"{self.urls['chaos']}/api/v1/break/{fault}",
            json=params,
            headers=self._auth(self.stack.tokens.chaos),
        )
        assert response.status_code == 200, response.text
        return str(response.json()["attack_id"])

    def stop(self, fault: str, attack_id: str) -> None:
        response = self.http.post(
            f"{self.urls['chaos']}/api/v1/break/{fault}/{attack_id}/stop",
            headers=self._auth(self.stack.tokens.chaos),
        )
        assert response.status_code in (200, 409), response.text

    def act(self, action: str, service: str = "target", **params: Any) -> dict[str, Any]:
        """Runs `action` on the action server of `service` (the target's, or the worker's)."""
        response = self.http.post(
            f"{self.urls[ACTION_SERVER[service]]}/action/{action}",
            json=params,
            headers=self._auth(self.stack.tokens.action),
        )
        assert response.status_code == 200, f"{action}: {response.status_code} {response.text}"
        body: dict[str, Any] = response.json()
        assert body["status"] == "succeeded", body
        return body

    def verify(self, service: str = "target") -> dict[str, Any]:
        response = self.http.get(
            f"{self.urls[ACTION_SERVER[service]]}/action/verify-{service}-health",
            headers=self._auth(self.stack.tokens.action),
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def worker_value(self, name: str, **labels: str) -> float:
        """One sample of the worker's /metrics as Prometheus scrapes it (0 for a series not created yet)."""
        text = self.http.get(f"{self.urls['worker']}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return float(sample.value)
        return 0.0

    def worker_admin(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(
            f"{self.urls['worker']}/admin/{path}", json=body, headers=self._auth(self.stack.tokens.admin)
        )

    def admin(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(
            f"{self.urls['target']}/admin/{path}",
            json=body or {},
            headers=self._auth(self.stack.tokens.admin),
        )

    def get(self, path: str) -> dict[str, Any]:
        return dict(self.http.get(f"{self.urls['target']}{path}", timeout=10).json())

    def wait_for(
        self, condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.25
    ) -> Any:
        """Polls until `condition()` is truthy; connection errors count as not yet."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = condition()
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                last = exc
            else:
                if last:
                    return last
            time.sleep(interval)
        raise AssertionError(f"{what}: not within {timeout:g} s (last: {last!r})")

    def wait_healthy(self, timeout: float = 30, service: str = "target") -> dict[str, Any]:
        return dict(
            self.wait_for(
                lambda: (v := self.verify(service))["is_healthy"] and v, timeout, f"{service} healthy"
            )
        )

    def log_files(self) -> list[Path]:
        return [self.stack.paths.target_log_file, self.stack.log_file("target")]

    def worker_log_files(self) -> list[Path]:
        return [self.stack.log_file("worker")]
