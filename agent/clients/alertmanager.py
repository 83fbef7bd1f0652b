"""Alertmanager API v2, read only: the alerts a truncated webhook notification left out."""

from __future__ import annotations

import json

import httpx

from agent.clients.http import get_json
from agent.intake.alertmanager import Alert


class AlertmanagerClient:
    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")

    async def active_alerts(self, labels: dict[str, str]) -> list[Alert]:
        """Active alerts with these label values (a group's labels)."""
        return await self.active_alerts_matching([f"{n}={json.dumps(v)}" for n, v in sorted(labels.items())])

    async def active_alerts_matching(self, matchers: list[str]) -> list[Alert]:
        """Active alerts matching all these matchers; an empty list when Alertmanager cannot be read or
        no matcher is given (never every active alert)."""
        if not matchers:
            return []
        params = [("active", "true"), ("silenced", "false"), ("inhibited", "false")]
        params += [("filter", matcher) for matcher in matchers]
        response = await get_json(self._client, f"{self._base}/api/v2/alerts", params=params)
        if response.error or not isinstance(response.body, list):
            return []
        alerts = []
        for item in response.body:
            if isinstance(item, dict) and isinstance(item.get("labels"), dict):
                alerts.append(Alert.model_validate({**item, "status": "firing"}))
        return alerts
