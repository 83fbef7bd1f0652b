"""Turning notifications into incidents: each alert to the one catalog service that owns it, and to
the incident of that service that is about its problem.

Alerts are keyed on fingerprint + startsAt + status. A key an open incident has seen is a re-send (HA
peers, repeat_interval) and changes nothing; keys seen by a recent finished incident do not reopen one
(the same still-firing alert is not a new page). An alert no service owns, or several do, is recorded
as unowned (a metric, `/agent/status`) and never acted on; with UNOWNED_ALERTS=escalate it is also an
escalated incident with no service, for a person.

An incident is one problem on one service. A new firing alert of a service joins:
1. the open incident that already has that alert (another state of it);
2. else an incident still working out what is wrong (not yet diagnosed): more evidence for it;
3. else an incident whose runbook explains that alert;
4. else a new incident: another problem on the same service (its diagnose step sets aside the
   problems already being handled, and merges into one of them if it is nothing else).
A resolved alert is recorded on the incident that has it; only verification closes an incident.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Literal

import structlog
from pydantic import BaseModel, Field

from agent.catalog.catalog import ServiceCatalog
from agent.clients.alertmanager import AlertmanagerClient
from agent.domain.alerts import AlertSummary
from agent.incidents.merge import merge_alerts
from agent.incidents.models import Incident, IncidentSource, TimelineEntry, utcnow
from agent.incidents.store import IncidentStore
from agent.intake.alertmanager import Alert, WebhookNotification
from agent.telemetry.metrics import AgentMetrics

RECENT = timedelta(hours=6)
UnownedPolicy = Literal["record", "escalate"]
log = structlog.get_logger("agent.intake")


class IngestResult(BaseModel):
    incident_id: str | None = None
    incident_ids: list[str] = Field(default_factory=list)
    created: bool = False
    new_alerts: int = 0
    unowned: int = 0
    note: str = ""


class Correlator:
    def __init__(
        self,
        store: IncidentStore,
        metrics: AgentMetrics,
        start_incident: Callable[[str], None],
        catalog: ServiceCatalog,
        runbooks: Callable[[], list[Any]] = list,
        alertmanager: AlertmanagerClient | None = None,
        unowned: UnownedPolicy = "record",
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._start = start_incident
        self._catalog = catalog
        self._runbooks = runbooks
        self._alertmanager = alertmanager
        self._unowned = unowned

    async def ingest(self, notification: WebhookNotification) -> IngestResult:
        alerts = list(notification.alerts)
        if notification.truncatedAlerts and self._alertmanager is not None:
            alerts += await self._left_out(notification)
        alerts = list({a.dedup_key(): a for a in alerts}.values())
        by_service: dict[str, list[Alert]] = {}
        nobody: list[tuple[Alert, str]] = []
        for alert in alerts:
            owner = self._catalog.owner(alert.labels)
            if owner.service is None:
                nobody.append((alert, owner.reason))
            else:
                by_service.setdefault(owner.service.name, []).append(alert)
        result = IngestResult(unowned=len(nobody))
        if nobody:
            self._record_unowned(notification, nobody)
        for service, owned in by_service.items():
            one = self.open_or_merge("alertmanager", service, notification.groupKey, owned)
            result.incident_ids += [i for i in one.incident_ids if i not in result.incident_ids]
            result.created |= one.created
            result.new_alerts += one.new_alerts
            result.note = result.note or one.note
        result.incident_id = result.incident_ids[0] if result.incident_ids else None
        if nobody and not by_service:
            result.note = "no catalog service owns these alerts: recorded, nothing done"
        return result

    async def _left_out(self, notification: WebhookNotification) -> list[Alert]:
        """The alerts a truncated notification left out, asked of Alertmanager with the group's labels,
        or, with none, with each owning service's matchers: never every active alert unfiltered."""
        assert self._alertmanager is not None
        if notification.groupLabels:
            return await self._alertmanager.active_alerts(notification.groupLabels)
        fetched: list[Alert] = []
        owners = {
            o.service.name: o.service
            for a in notification.alerts
            if (o := self._catalog.owner(a.labels)).service
        }
        for service in owners.values():
            for group in service.owns:
                fetched += await self._alertmanager.active_alerts_matching([m.promql() for m in group])
        return fetched

    def open_or_merge(
        self,
        source: IncidentSource,
        service: str,
        group_key: str,
        alerts: Sequence[Alert | AlertSummary],
        reason: str = "",
        follows: str | None = None,
    ) -> IngestResult:
        summaries = [a.summary() if isinstance(a, Alert) else a for a in alerts]
        open_incidents = self._store.open_for_service(service)
        seen = {key for incident in open_incidents for key in incident.seen_keys}
        fresh = [a for a in summaries if a.dedup_key() not in seen]
        if open_incidents and not fresh:
            return IngestResult(
                incident_id=open_incidents[0].id,
                incident_ids=[open_incidents[0].id],
                note="duplicate notification",
            )
        result = IngestResult()
        leftover: list[AlertSummary] = []
        for alert in fresh:
            home = self._home(alert, open_incidents, source)
            if home is None:
                leftover.append(alert)
                continue
            merged = merge_alerts(self._store, home.id, [alert], data={"reason": reason} if reason else None)
            if merged:
                result.new_alerts += 1
                if home.id not in result.incident_ids:
                    result.incident_ids.append(home.id)
                log.info("notification_merged", incident_id=home.id, alert=alert.name)
        firing = [a for a in leftover if a.status == "firing"]
        if firing or (leftover and source != "alertmanager"):
            keys = {a.dedup_key() for a in leftover}
            if source == "alertmanager" and keys <= self._store.seen_since(keys, utcnow() - RECENT):
                result.note = result.note or "alerts already handled by a recent incident"
            else:
                opened = self._open(source, service, group_key, leftover, reason, follows)
                result.incident_ids.append(opened.id)
                result.created = True
                result.new_alerts += len(leftover)
        elif leftover and not result.incident_ids:
            result.note = "resolved notification without an open incident: nothing to do"
        if result.incident_ids and not result.note:
            result.note = "" if result.created else "merged into open incident"
        result.incident_id = result.incident_ids[0] if result.incident_ids else None
        return result

    def _home(
        self, alert: AlertSummary, open_incidents: list[Incident], source: IncidentSource
    ) -> Incident | None:
        """Which open incident of the service this alert belongs to (None: a new problem)."""
        if not open_incidents:
            return None
        if alert.fingerprint:
            for incident in open_incidents:
                if alert.fingerprint in incident.fingerprints:
                    return incident
        if alert.status == "resolved":
            return None
        if source in ("manual", "monitor"):
            return open_incidents[0]
        for incident in open_incidents:
            if not incident.is_diagnosed:
                return incident
        for incident in open_incidents:
            runbook = next((rb for rb in self._runbooks() if rb.id == incident.diagnosis_id), None)
            if runbook is not None and alert.name in getattr(runbook, "alerts", []):
                return incident
        return None

    def _open(
        self,
        source: IncidentSource,
        service: str,
        group_key: str,
        alerts: list[AlertSummary],
        reason: str,
        follows: str | None,
    ) -> Incident:
        firing = [a for a in alerts if a.status == "firing"]
        incident = Incident(
            id=new_incident_id(),
            source=source,
            service=service,
            group_key=group_key,
            fingerprints=sorted({a.fingerprint for a in alerts if a.fingerprint}),
            seen_keys=sorted({a.dedup_key() for a in alerts}),
            alerts=list(alerts),
            reason=reason,
            follows=follows,
        )
        names = ", ".join(sorted({a.name for a in firing})) or reason or source
        how = f"after {follows}'s fix was verified" if follows else f"({source})"
        incident.timeline.append(TimelineEntry(step="open", message=f"incident opened {how}: {names}"))
        self._store.save(incident)
        self._metrics.incidents_open.set(self._store.count_unfinished())
        log.info("incident_opened", incident_id=incident.id, service=service, source=source, alerts=names)
        self._start(incident.id)
        return incident

    def _record_unowned(self, notification: WebhookNotification, nobody: list[tuple[Alert, str]]) -> None:
        for alert, reason in nobody:
            kind = "several_owners" if reason.startswith("owned by several") else "no_owner"
            if self._store.record_unowned(alert.dedup_key(), alert.name, alert.labels, reason):
                self._metrics.alerts_unowned_total.labels(reason=kind).inc()
        log.info("alerts_unowned", alerts=sorted({a.name for a, _ in nobody}), receiver=notification.receiver)
        firing = [a for a, _ in nobody if a.status == "firing"]
        if self._unowned == "escalate" and firing:
            self._escalate_unowned(notification.groupKey, firing, nobody[0][1])

    def _escalate_unowned(self, group_key: str, alerts: list[Alert], reason: str) -> None:
        keys = {a.dedup_key() for a in alerts}
        if keys <= self._store.seen_since(keys, utcnow() - RECENT):
            return
        names = ", ".join(sorted({a.name for a in alerts}))
        why = f"{reason}: {names}; the agent acts only on its catalog's services"
        now = utcnow()
        incident = Incident(
            id=new_incident_id(),
            status="escalated",
            step="done",
            service="",
            group_key=group_key,
            fingerprints=sorted({a.fingerprint for a in alerts if a.fingerprint}),
            seen_keys=sorted(keys),
            alerts=[a.summary() for a in alerts],
            escalation_reason=why,
            closed_at=now,
            timeline=[TimelineEntry(step="escalate", message=f"escalated to a human: {why}")],
        )
        self._store.save(incident)
        self._metrics.incidents_total.labels(service="", diagnosis="unknown", outcome="escalated").inc()


def new_incident_id() -> str:
    return f"inc-{utcnow():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
