"""Alertmanager API v2: the alerts a truncated webhook notification left out (read), the agent's own
alerts and its silences (write).

Shapes as Alertmanager's OpenAPI document gives them: `POST /api/v2/alerts` takes a list of
`{labels, annotations, startsAt, endsAt, generatorURL}`; `POST /api/v2/silences` takes
`{matchers: [{name, value, isRegex, isEqual}], startsAt, endsAt, createdBy, comment}` and answers
`{silenceID}`; `DELETE /api/v2/silence/{id}` expires one. Every call answers a value (`JsonResponse`),
never raises: the caller counts and retries.
"""

from __future__ import annotations

import json
from datetime import datetime

import httpx
from pydantic import BaseModel, Field

from agent.clients.http import JsonResponse, get_json, send_json
from agent.intake.alertmanager import Alert


class PostableAlert(BaseModel):
    """One alert as a client posts it; `endsAt` in the past resolves it, in the future keeps it firing."""

    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime
    generatorURL: str = ""


class SilenceMatcher(BaseModel):
    name: str
    value: str
    isRegex: bool = False
    isEqual: bool = True


class PostableSilence(BaseModel):
    matchers: list[SilenceMatcher] = Field(min_length=1)
    startsAt: datetime
    endsAt: datetime
    createdBy: str
    comment: str


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

    async def active_fingerprints(self, labels: dict[str, str]) -> set[str] | None:
        """Fingerprints of the active alerts with these label values, silenced and inhibited ones too (still
        a problem, whoever is told); None when Alertmanager cannot say or no label is given."""
        if not labels:
            return None
        params = [("active", "true"), ("silenced", "true"), ("inhibited", "true"), ("unprocessed", "true")]
        params += [("filter", f"{n}={json.dumps(v)}") for n, v in sorted(labels.items())]
        response = await get_json(self._client, f"{self._base}/api/v2/alerts", params=params, retries=0)
        if response.error or not isinstance(response.body, list):
            return None
        return {
            str(item["fingerprint"])
            for item in response.body
            if isinstance(item, dict) and "fingerprint" in item
        }

    async def post_alerts(self, alerts: list[PostableAlert]) -> JsonResponse:
        """One POST of these alerts (firing or resolved); re-posting the same labels refreshes them."""
        body = [alert.model_dump(mode="json") for alert in alerts]
        return await send_json(self._client, "POST", f"{self._base}/api/v2/alerts", json=body)

    async def create_silence(self, silence: PostableSilence) -> tuple[str | None, JsonResponse]:
        """The new silence's id, or None with the response that says why."""
        body = silence.model_dump(mode="json")
        response = await send_json(self._client, "POST", f"{self._base}/api/v2/silences", json=body)
        found = response.body.get("silenceID") if isinstance(response.body, dict) else None
        return (str(found) if response.error is None and found else None), response

    async def expire_silence(self, silence_id: str) -> bool:
        """Expire a silence now: True when it is expired or gone. Expiring one twice answers 200;
        Alertmanager 0.25 answers an unknown id with a 500 whose body is "silence not found"."""
        response = await send_json(self._client, "DELETE", f"{self._base}/api/v2/silence/{silence_id}")
        return response.error is None or (
            response.status_code in (404, 500) and "not found" in str(response.body).lower()
        )

    async def silence_state(self, silence_id: str) -> str | None:
        """`active`, `pending` or `expired`; None when it cannot be read."""
        response = await get_json(self._client, f"{self._base}/api/v2/silence/{silence_id}", retries=0)
        if response.error or not isinstance(response.body, dict):
            return None
        status = response.body.get("status")
        return str(status.get("state")) if isinstance(status, dict) and status.get("state") else None
