"""A real Alertmanager (Debian's `prometheus-alertmanager`) for the paging tests: a config per test, a
free port, its own storage, stopped with the test; and the receiver standing in for people."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from ...helpers.binaries import require_binary
from ...helpers.pipeline import WebhookReceiver, process, wait_for

__all__ = ["RealAlertmanager", "WebhookReceiver", "routing", "wait_for"]


def routing(agent_url: str, people_url: str, webhook_token: str = "") -> str:
    """Agent first, as the lab runs: every page to the agent; the agent's own alerts to people only."""
    auth = (
        f"\n        http_config: {{authorization: {{type: Bearer, credentials: {webhook_token}}}}}"
        if webhook_token
        else ""
    )
    return f"""
route:
  receiver: sre-agent
  group_by: [service, alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: people
      matchers: ['alertname=~"SREAgentEscalated|SREAgentApprovalNeeded"']
receivers:
  - name: sre-agent
    webhook_configs:
      - url: "{agent_url}/webhooks/alertmanager"
        send_resolved: true{auth}
  - name: people
    webhook_configs:
      - url: "{people_url}"
        send_resolved: true
"""


class RealAlertmanager:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.url = f"http://127.0.0.1:{port}"
        self.log = folder / "alertmanager.log"
        self._started: dict[str, datetime] = {}

    @contextmanager
    def running(self, config: str) -> Iterator[RealAlertmanager]:
        binary = require_binary("alertmanager", "prometheus-alertmanager")
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "alertmanager.yml").write_text(config)
        argv = [
            binary,
            f"--config.file={self.folder / 'alertmanager.yml'}",
            f"--storage.path={self.folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--web.external-url={self.url}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        with process(argv, self.log):
            wait_for(self.ready, 20, "Alertmanager ready", [self.log])
            yield self

    def ready(self) -> bool:
        return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200

    def alerts(self, alertname: str | None = None) -> list[dict[str, Any]]:
        params = {"filter": f'alertname="{alertname}"'} if alertname else {}
        return list(httpx.get(f"{self.url}/api/v2/alerts", params=params, timeout=5).json())

    def silences(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/api/v2/silences", timeout=5).json())

    def fire(self, labels: dict[str, str], resolved: bool = False) -> None:
        """What Prometheus would post for an alert firing (ending in 5 minutes unless re-sent) or resolved."""
        now = datetime.now(UTC)
        ends = now if resolved else now + timedelta(minutes=5)
        starts = self._started.setdefault(repr(sorted(labels.items())), now - timedelta(seconds=1))
        body = [
            {
                "labels": labels,
                "annotations": {"summary": f"{labels['alertname']} summary"},
                "startsAt": starts.isoformat(),
                "endsAt": ends.isoformat(),
            }
        ]
        httpx.post(f"{self.url}/api/v2/alerts", json=body, timeout=5).raise_for_status()
