"""Real processes end to end: stand-in target → exporter → Prometheus (lab) → Alertmanager → webhook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from binaries import require_binary
from target_standin import TargetStandIn

from lab.runner.monitoring import MonitoringConfig, alertmanager_argv, prometheus_argv, render_monitoring
from lab.runner.ports import Ports

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]
TOKEN = "pipeline-test-token"
EXHAUSTED = {
    "checked_out": 10,
    "checked_in": 0,
    "overflow": 5,
    "waiting": 4,
    "utilization": 100.0,
    "pool_health": "critical",
}


class WebhookReceiver:
    """What the agent would receive: every POST body and its Authorization header."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str | None, dict[str, Any]]] = []
        self.lock = threading.Lock()

    @contextmanager
    def serve(self, port: int) -> Iterator[WebhookReceiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with receiver.lock:
                    receiver.posts.append((self.path, self.headers.get("Authorization"), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()

    def find(self, alertname: str, status: str) -> tuple[str, str | None, dict[str, Any]] | None:
        with self.lock:
            for path, auth, body in self.posts:
                for alert in body["alerts"]:
                    if alert["labels"].get("alertname") == alertname and alert["status"] == status:
                        return path, auth, body
        return None


@contextmanager
def process(
    argv: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, logs: list[Path]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = condition()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        time.sleep(0.2)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-2000:]}" for log in logs if log.exists())
    pytest.fail(f"timed out after {timeout}s waiting for {what}\n{tails}")


def prometheus_value(cfg: MonitoringConfig, query: str) -> float | None:
    response = httpx.get(f"{cfg.prometheus_url}/api/v1/query", params={"query": query}, timeout=2)
    if response.status_code != 200:  # 503 until the TSDB is ready
        return None
    result = response.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_pool_exhaustion_pages_the_webhook_and_resolves(tmp_path: Path) -> None:
    require_binary("prometheus")
    require_binary("alertmanager", "prometheus-alertmanager")
    ports = Ports.free()
    token_file = tmp_path / "webhook-token"
    token_file.write_text(TOKEN + "\n")
    cfg = render_monitoring("lab", tmp_path, ports, token_file, services=("target",))
    logs = [tmp_path / name for name in ("exporter.log", "prometheus.log", "alertmanager.log")]
    exporter_env = os.environ | {
        "EXPORTER_PORT": str(ports.exporter),
        "EXPORTER_TIMEOUT_SECONDS": str(cfg.exporter_timeout_seconds),
    }
    standin = TargetStandIn()
    with (
        standin.serve(ports.target),
        WebhookReceiver().serve(ports.agent) as receiver,
        process(
            [sys.executable, "-m", "exporters"],
            logs[0],
            exporter_env | {"EXPORTER_TARGET_URL": f"http://127.0.0.1:{ports.target}"},
        ),
        process(alertmanager_argv(cfg), logs[2]),
        process(prometheus_argv(cfg), logs[1]),
    ):
        wait_for(lambda: prometheus_value(cfg, 'target_up{job="target"}') == 1, 30, "target_up 1", logs)
        wait_for(
            lambda: httpx.get(f"{cfg.alertmanager_url}/-/ready", timeout=2).status_code == 200,
            30,
            "Alertmanager ready",
            logs,
        )
        assert not any(body["status"] == "firing" for _, _, body in receiver.posts), "healthy target paged"

        standin.patches["pool"] = EXHAUSTED
        flipped = time.monotonic()
        path, auth, body = wait_for(
            lambda: receiver.find("TargetDbPoolExhausted", "firing"), 40, "the firing notification", logs
        )
        fired_after = time.monotonic() - flipped
        assert path == "/webhooks/alertmanager"
        assert auth == f"Bearer {TOKEN}"
        assert body["version"] == "4"
        assert body["status"] == "firing"
        assert body["groupLabels"] == {"service": "target"}
        alert = next(a for a in body["alerts"] if a["labels"]["alertname"] == "TargetDbPoolExhausted")
        assert alert["labels"]["service"] == "target" and alert["labels"]["severity"] == "critical"
        assert alert["annotations"]["runbook_url"] == "runbooks/db-pool-exhaustion.md"
        assert "10 connections" in alert["annotations"]["summary"]
        assert {a["labels"]["alertname"] for a in body["alerts"]} <= {
            "TargetDbPoolExhausted",
            "TargetDbPoolSaturated",
        }

        standin.healthy()
        recovered = time.monotonic()
        _, auth, _ = wait_for(
            lambda: receiver.find("TargetDbPoolExhausted", "resolved"), 40, "the resolved notification", logs
        )
        resolved_after = time.monotonic() - recovered
        assert auth == f"Bearer {TOKEN}"
        print(
            f"\nfloor {cfg.floor_seconds['TargetDbPoolExhausted']:.0f}s; firing webhook {fired_after:.1f}s "
            f"after the pool filled; resolved webhook {resolved_after:.1f}s after it drained"
        )
