"""What the workflow calls to reach people through Alertmanager; every call returns, whatever
Alertmanager does, and none raises (a failure is logged and counted where it happens).

`escalated` and `approval_needed` hand an alert to the delivery task and return at once; `silence`
and `unsilence` make their requests (bounded by the HTTP timeout) since the incident records the ids.
Either part may be off: no Alertmanager URL, AGENT_ALERTS_ENABLED false, SILENCE_WHILE_VERIFYING false.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from agent.domain.limits import AlertLimits
from agent.incidents.store import IncidentStore
from agent.paging.alerts import Links, approval_alert, escalation_alert
from agent.paging.delivery import AgentAlerts
from agent.paging.silences import VerificationSilences

log = structlog.get_logger("agent.paging")


@dataclass
class Handover:
    store: IncidentStore
    links: Links
    limits: AlertLimits
    alerts: AgentAlerts | None = None
    silences: VerificationSilences | None = None
    # service -> its catalog entry's escalation labels (team...), for people's routes
    escalation_labels: Callable[[str], dict[str, str]] = field(default=lambda service: {})

    async def escalated(self, incident_id: str, recommendation: str = "") -> None:
        """The incident is a person's now: `SREAgentEscalated` until it no longer holds (see delivery)."""
        if self.alerts is None:
            return
        try:
            incident = await self.store.get(incident_id)
            labels = self.escalation_labels(incident.service)
            alert = escalation_alert(incident, self.links, self.limits, labels, recommendation)
            await self.alerts.raise_alert(alert)
        except Exception as exc:
            log.warning("escalation_alert_not_raised", incident_id=incident_id, error=type(exc).__name__)

    async def approval_needed(self, incident_id: str, planned: dict[str, Any], why: str) -> None:
        if self.alerts is None:
            return
        try:
            incident = await self.store.get(incident_id)
            labels = self.escalation_labels(incident.service)
            await self.alerts.raise_alert(
                approval_alert(incident, planned, why, self.links, self.limits, labels)
            )
        except Exception as exc:
            log.warning("approval_alert_not_raised", incident_id=incident_id, error=type(exc).__name__)

    async def approval_decided(self, incident_id: str) -> None:
        if self.alerts is None:
            return
        try:
            await self.alerts.resolve(incident_id, "approval")
        except Exception as exc:
            log.warning("approval_alert_not_resolved", incident_id=incident_id, error=type(exc).__name__)

    async def silence(self, incident_id: str, seconds: float) -> tuple[list[str], datetime] | None:
        """The silences made and when they end; None when silences are off or none could be made."""
        if self.silences is None:
            return None
        try:
            made, ends = await self.silences.hold(incident_id, seconds)
        except Exception as exc:
            log.warning("silence_not_created", incident_id=incident_id, error=type(exc).__name__)
            return None
        return (made, ends) if made else None

    async def unsilence(self, incident_id: str) -> list[str]:
        """Remove what the incident holds; the ids removed (or queued for removal)."""
        if self.silences is None:
            return []
        try:
            return await self.silences.release(incident_id)
        except Exception as exc:
            log.warning("silence_not_removed", incident_id=incident_id, error=type(exc).__name__)
            return []
