"""Alertmanager API v2, read only: the alerts a truncated webhook notification left out."""

from __future__ import annotations

import httpx

from agent.clients.http import get_json
from agent.intake.alertmanager import Alert


class AlertmanagerClient:
    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")

    async def active_alerts(self, matchers: dict[str, str]) -> list[Alert]:
        """Active alerts matching the group's labels; an empty list when Alertmanager cannot be read."""
        params = [("active", "true"), ("silenced", "false"), ("inhibited", "false")]
        params += [("filter", f'{name}="{value}"') for name, value in sorted(matchers.items())]
        response = await get_json(self._client, f"{self._base}/api/v2/alerts", params=params)
        if response.error or not isinstance(response.body, list):
            return []
        alerts = []
        for item in response.body:
            if isinstance(item, dict) and isinstance(item.get("labels"), dict):
                alerts.append(Alert.model_validate({**item, "status": "firing"}))
        return alerts
