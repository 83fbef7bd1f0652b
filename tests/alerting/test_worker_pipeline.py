"""The worker's rules on real binaries: a stand-in's /metrics → Prometheus (lab) → Alertmanager → webhook.

Consumers that hang page WorkerNotConsuming (the growing backlog stays inhibited behind it), and a worker
that stops answering pages WorkerDown; a healthy worker pages nothing meanwhile.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from lab.runner.monitoring import alertmanager_argv, prometheus_argv, render_monitoring
from lab.runner.ports import Ports

from ..helpers.binaries import require_binary
from ..helpers.pipeline import WebhookReceiver, process, prometheus_value, wait_for
from .worker_standin import CONSUMERS, JOB_SECONDS, RATE, WorkerStandIn

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(180)]
TOKEN = "worker-pipeline-token"


def inhibited_by(alertmanager_url: str, alertname: str) -> list[str]:
    response = httpx.get(
        f"{alertmanager_url}/api/v2/alerts", params={"filter": f'alertname="{alertname}"'}, timeout=2
    )
    return [fp for alert in response.json() for fp in alert["status"]["inhibitedBy"]]


def test_hung_consumers_then_a_dead_worker_page_the_webhook(tmp_path: Path) -> None:
    require_binary("prometheus")
    require_binary("alertmanager", "prometheus-alertmanager")
    ports = Ports.free()
    token_file = tmp_path / "webhook-token"
    token_file.write_text(TOKEN + "\n")
    cfg = render_monitoring("lab", tmp_path, ports, token_file, services=("worker",))
    logs = [tmp_path / name for name in ("prometheus.log", "alertmanager.log")]
    worker = WorkerStandIn()
    with (
        WebhookReceiver().serve(ports.agent) as receiver,
        process(alertmanager_argv(cfg), logs[1]),
        process(prometheus_argv(cfg), logs[0]),
    ):
        with worker.serve(ports.worker):
            # A full rate window of a healthy worker: its busy ratio settles at 8 jobs/s x 0.1 s / 2.
            wait_for(
                lambda: (
                    abs(
                        (prometheus_value(cfg, "instance_destination:messaging_process_busy:ratio") or 0)
                        - RATE * JOB_SECONDS / CONSUMERS
                    )
                    < 0.02
                ),
                60,
                "the busy ratio of a healthy worker",
                logs,
            )
            paged = [body for _, _, body in receiver.posts if body["status"] == "firing"]
            assert not paged, "a healthy worker paged"

            worker.hang()
            _, auth, body = wait_for(
                lambda: receiver.find("WorkerNotConsuming", "firing"), 70, "WorkerNotConsuming", logs
            )
            assert auth == f"Bearer {TOKEN}"
            assert body["groupLabels"] == {"service": "worker"}
            alert = next(a for a in body["alerts"] if a["labels"]["alertname"] == "WorkerNotConsuming")
            assert alert["labels"]["severity"] == "critical"
            assert alert["labels"]["messaging_destination_name"] == "jobs"
            assert alert["annotations"]["runbook_url"] == f"{cfg.links.runbooks}/consumer-stalled.md"
            assert "2 in flight for 2 consumers" in alert["annotations"]["description"]

            wait_for(
                lambda: prometheus_value(cfg, 'ALERTS{alertname="WorkerBacklogGrowing",alertstate="firing"}'),
                40,
                "WorkerBacklogGrowing firing in Prometheus",
                logs,
            )
            wait_for(
                lambda: inhibited_by(cfg.alertmanager_url, "WorkerBacklogGrowing"),
                20,
                "WorkerBacklogGrowing inhibited in Alertmanager",
                logs,
            )
            assert receiver.find("WorkerBacklogGrowing", "firing") is None

        stopped = time.monotonic()
        wait_for(lambda: receiver.find("WorkerDown", "firing"), 30, "WorkerDown", logs)
        print(
            f"\nfloor {cfg.floor_seconds['WorkerDown']:.0f}s; WorkerDown webhook "
            f"{time.monotonic() - stopped:.1f}s after the worker stopped answering"
        )
