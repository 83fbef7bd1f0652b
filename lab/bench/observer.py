"""Reading the agent from its outside: its incidents API, as any user of the agent could."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

FINAL_STATUSES = frozenset({"resolved", "escalated", "failed", "merged"})


class TimelineEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ts: datetime
    step: str
    message: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


class IncidentView(BaseModel):
    """The fields of `GET /agent/incidents/{id}` the benchmark measures; everything else is ignored."""

    model_config = ConfigDict(extra="ignore")

    id: str
    status: str
    service: str = ""
    opened_at: datetime
    mitigated_at: datetime | None = None
    closed_at: datetime | None = None
    diagnosis: dict[str, Any] | None = None
    actions: list[dict[str, Any]] = Field(default_factory=list)
    alerts: list[dict[str, Any]] = Field(default_factory=list)
    verification: list[dict[str, Any]] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    merged_into: str | None = None

    @property
    def diagnosis_id(self) -> str | None:
        return (self.diagnosis or {}).get("diagnosis_id")

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def first(self, step: str) -> datetime | None:
        return next((entry.ts for entry in self.timeline if entry.step == step), None)

    def alert_names(self) -> list[str]:
        return sorted({str(a.get("name")) for a in self.alerts if a.get("name")})

    def fix_seconds(self) -> float:
        """How long the action that verified took at the action server (0 when none did)."""
        done = [a for a in self.actions if a.get("status") == "succeeded"]
        if not done or not done[-1].get("started_at") or not done[-1].get("finished_at"):
            return 0.0
        started = datetime.fromisoformat(str(done[-1]["started_at"]))
        return max(0.0, (datetime.fromisoformat(str(done[-1]["finished_at"])) - started).total_seconds())

    def held_seconds(self) -> float:
        """How long the last verification held the target healthy before calling it recovered."""
        verified = [v for v in self.verification if v.get("healthy")]
        return float(verified[-1].get("healthy_for_seconds") or 0.0) if verified else 0.0

    def executed_actions(self) -> list[str]:
        """Names of actions the action server was asked to run (dry-run plans are not executions)."""
        names = []
        for action in self.actions:
            status = str(action.get("status") or action.get("result") or "")
            if status not in {"planned", "skipped", "dry-run", "rejected"}:
                names.append(str(action.get("action") or action.get("name")))
        return names


def surviving(incident: IncidentView, incidents: list[IncidentView]) -> IncidentView:
    """The incident this one's alerts ended up in: a merged incident's problem is handled by the one it
    was merged into (found among `incidents`, following chains), not by itself."""
    by_id, seen = {i.id: i for i in incidents}, {incident.id}
    while incident.status == "merged" and incident.merged_into in by_id and incident.merged_into not in seen:
        incident = by_id[incident.merged_into]
        seen.add(incident.id)
    return incident


class AgentObserver:
    def __init__(self, agent_url: str, token: str = "", timeout: float = 15.0) -> None:
        """15 s: an agent sharing two cores with the lab (and a local LLM) can be slow to answer."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(base_url=agent_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def incidents_since(self, since: datetime, service: str | None = None) -> list[IncidentView]:
        """Incidents opened since `since` (of one service, when given), oldest first."""
        params: dict[str, str | int] = {"limit": 200}
        if service is not None:
            params["service"] = service
        response = self._client.get("/agent/incidents", params=params)
        response.raise_for_status()
        body = response.json()
        items = body.get("incidents", body) if isinstance(body, dict) else body
        views = [IncidentView.model_validate(item) for item in items]
        return sorted((v for v in views if v.opened_at >= since), key=lambda v: v.opened_at)

    def incident_text(self, incident_id: str) -> str:
        """The incident as the agent answers it, every field (its report and action results too)."""
        response = self._client.get(f"/agent/incidents/{incident_id}")
        response.raise_for_status()
        return response.text

    def incident(self, incident_id: str) -> IncidentView:
        response = self._client.get(f"/agent/incidents/{incident_id}")
        response.raise_for_status()
        return IncidentView.model_validate(response.json())

    def set_remediation(self, enabled: bool) -> None:
        """The global kill switch: off while the restart-on-every-page baseline is measured."""
        response = self._client.post("/agent/kill-switch", json={"enabled": not enabled})
        response.raise_for_status()
