"""The exporter's HTTP server: `/metrics` answers 200 directly, in-process and as `python -m exporters`."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
from fastapi.testclient import TestClient

from exporters.app import create_app
from exporters.settings import Settings
from lab.runner.ports import free_port

from ..helpers.target_standin import TargetStandIn


def test_metrics_is_served_at_exactly_metrics(standin: TargetStandIn) -> None:
    app = create_app(Settings(target_url=standin.url, timeout_seconds=1))
    with TestClient(app, follow_redirects=False) as client:
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert "target_up 1.0" in response.text
        assert 'target_db_pool_health{state="healthy"} 1.0' in response.text
        standin.replies = {}
        standin.patches["pool"] = {"pool_health": "critical"}
        assert 'target_db_pool_health{state="critical"} 1.0' in client.get("/metrics").text


def test_python_dash_m_exporters_serves_metrics(standin: TargetStandIn) -> None:
    port = free_port()
    env = os.environ | {
        "EXPORTER_PORT": str(port),
        "EXPORTER_TARGET_URL": standin.url,
        "EXPORTER_TIMEOUT_SECONDS": "1",
    }
    process = subprocess.Popen([sys.executable, "-m", "exporters"], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", follow_redirects=False, timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the exporter did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert "target_up 1.0" in response.text
        assert "target_exporter_scrape_errors_total" in response.text
    finally:
        process.terminate()
        process.wait(timeout=10)
