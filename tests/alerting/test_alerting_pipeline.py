"""Real processes end to end: stand-in target → exporter → Prometheus (lab) → Alertmanager → webhook."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx
import pytest

from lab.runner.monitoring import alertmanager_argv, prometheus_argv, render_monitoring
from lab.runner.ports import Ports

from ..helpers.binaries import require_binary
from ..helpers.pipeline import WebhookReceiver, process, prometheus_value, wait_for
from ..helpers.target_standin import TargetStandIn

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
        assert alert["annotations"]["runbook_url"] == f"{cfg.links.runbooks}/db-pool-exhaustion.md"
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
