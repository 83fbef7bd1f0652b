"""Turning notifications into incidents, at most one open per Alertmanager group (or service).

Alerts are keyed on fingerprint + startsAt + status. A notification whose keys an incident has already
seen is a re-send (HA peers, repeat_interval) and changes nothing; new keys for an open incident are
merged into it (no second incident, no second remediation); a resolved alert is recorded on the
timeline but does not close the incident, only verification does. Keys seen by a recent finished
incident do not reopen one: the same still-firing alert is not a new page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import structlog
from pydantic import BaseModel

from agent.clients.alertmanager import AlertmanagerClient
from agent.diagnosis.models import AlertSummary
from agent.incidents.models import Incident, IncidentSource, TimelineEntry, utcnow
from agent.incidents.store import IncidentStore
from agent.intake.alertmanager import Alert, WebhookNotification
from agent.telemetry.metrics import AgentMetrics

RECENT = timedelta(hours=6)
log = structlog.get_logger("agent.intake")


class IngestResult(BaseModel):
    incident_id: str | None = None
    created: bool = False
    new_alerts: int = 0
    note: str = ""


class Correlator:
    def __init__(
        self,
        store: IncidentStore,
        metrics: AgentMetrics,
        start_incident: Callable[[str], None],
        alertmanager: AlertmanagerClient | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._start = start_incident
        self._alertmanager = alertmanager

    async def ingest(self, notification: WebhookNotification) -> IngestResult:
        alerts = list(notification.alerts)
        if notification.truncatedAlerts and self._alertmanager is not None:
            alerts += await self._alertmanager.active_alerts(notification.groupLabels)
        alerts = list({a.dedup_key(): a for a in alerts}.values())
        return self.open_or_merge(
            source="alertmanager",
            service=notification.service,
            group_key=notification.groupKey,
            alerts=alerts,
        )

    def open_or_merge(
        self, source: IncidentSource, service: str, group_key: str, alerts: list[Alert], reason: str = ""
    ) -> IngestResult:
        existing = self._store.find_open(group_key, service)
        if existing is not None:
            return self._merge(existing, alerts, reason)
        firing = [a for a in alerts if a.status == "firing"]
        if source == "alertmanager" and not firing:
            return IngestResult(note="resolved notification without an open incident: nothing to do")
        keys = {a.dedup_key() for a in alerts}
        if source == "alertmanager" and keys <= self._store.seen_since(keys, utcnow() - RECENT):
            return IngestResult(note="alerts already handled by a recent incident")
        incident = Incident(
            id=new_incident_id(),
            source=source,
            service=service,
            group_key=group_key,
            fingerprints=sorted({a.fingerprint for a in alerts if a.fingerprint}),
            seen_keys=sorted(keys),
            alerts=[a.summary() for a in alerts],
            reason=reason,
        )
        names = ", ".join(sorted({a.name for a in firing})) or reason or source
        incident.timeline.append(TimelineEntry(step="open", message=f"incident opened ({source}): {names}"))
        self._store.save(incident)
        self._metrics.incidents_open.set(self._store.count_unfinished())
        log.info("incident_opened", incident_id=incident.id, source=source, alerts=names)
        self._start(incident.id)
        return IngestResult(incident_id=incident.id, created=True, new_alerts=len(alerts))

    def _merge(self, incident: Incident, alerts: list[Alert], reason: str) -> IngestResult:
        seen = set(incident.seen_keys)
        new = [a for a in alerts if a.dedup_key() not in seen]
        if not new:
            return IngestResult(incident_id=incident.id, note="duplicate notification")

        def mutate(i: Incident) -> None:
            i.seen_keys = sorted({*i.seen_keys, *(a.dedup_key() for a in new)})
            i.fingerprints = sorted({*i.fingerprints, *(a.fingerprint for a in new if a.fingerprint)})
            for alert in new:
                _upsert_alert(i.alerts, alert.summary())
            described = ", ".join(f"{a.name} {a.status}" for a in new)
            note = (
                " (recorded; recovery is decided by verification)"
                if any(a.status == "resolved" for a in new)
                else ""
            )
            i.timeline.append(
                TimelineEntry(
                    step="intake",
                    message=f"notification merged: {described}{note}",
                    data={"alerts": [a.name for a in new], "reason": reason},
                )
            )

        self._store.update(incident.id, mutate)
        log.info("notification_merged", incident_id=incident.id, new_alerts=len(new))
        return IngestResult(incident_id=incident.id, new_alerts=len(new), note="merged into open incident")


def _upsert_alert(alerts: list[AlertSummary], alert: AlertSummary) -> None:
    for index, known in enumerate(alerts):
        if alert.fingerprint and known.fingerprint == alert.fingerprint:
            alerts[index] = alert
            return
    alerts.append(alert)


def new_incident_id() -> str:
    return f"inc-{utcnow():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
