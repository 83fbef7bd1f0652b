"""Turning notifications into incidents: each alert to the one catalog service that owns it, and to
the incident of that service that is about its problem.

Alerts are keyed on fingerprint + startsAt + status. A key an open incident has seen is a re-send (HA
peers, repeat_interval) and changes nothing; keys seen by a recent finished incident do not reopen one
(the same still-firing alert is not a new page). An alert no service owns, or several do, is recorded
as unowned (a metric, `/agent/status`) and never acted on; with UNOWNED_ALERTS=escalate it is also an
escalated incident with no service, for a person. The agent's own alerts (`SREAgentEscalated`,
`SREAgentApprovalNeeded`) sent back to it by a route are dropped: they are for people.

An incident is one problem on one service. A new firing alert of a service joins:
1. the open incident that already has that alert (another state of it);
2. else an incident still working out what is wrong (not yet diagnosed): more evidence for it;
3. else an incident whose runbook explains that alert;
4. else a new incident: another problem on the same service (its diagnose step sets aside the
   problems already being handled, and merges into one of them if it is nothing else).
A resolved alert is recorded on the incident that has it; only verification closes an incident.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, TypeVar

import structlog
from pydantic import BaseModel, Field

from agent.catalog.catalog import ServiceCatalog
from agent.clients.alertmanager import AlertmanagerClient
from agent.domain.alerts import AlertSummary
from agent.domain.limits import IncidentLimits
from agent.incidents.merge import NAMED_IN_TIMELINE, bounded_alerts, full_entry, merge_alerts, newest
from agent.incidents.models import Incident, IncidentSource, TimelineEntry, utcnow
from agent.incidents.store import IncidentStore
from agent.intake.alertmanager import Alert, WebhookNotification
from agent.paging.alerts import AGENT_ALERT_NAMES
from agent.telemetry.metrics import AgentMetrics

RECENT = timedelta(hours=6)
SLICE = 50  # alerts handled between two chances for the event loop to answer requests
T = TypeVar("T")
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
        limits: IncidentLimits | None = None,
        on_escalated: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        """`on_escalated(incident_id)`: after an escalated incident is opened for alerts nobody owns."""
        self._store = store
        self._metrics = metrics
        self._start = start_incident
        self._catalog = catalog
        self._runbooks = runbooks
        self._alertmanager = alertmanager
        self._unowned = unowned
        self._limits = limits or IncidentLimits()
        self._on_escalated = on_escalated
        # The intake worker, a trigger, the monitor and a hand-off may page at once: one decision at a
        # time, so two of them cannot both find no incident and open one each for the same problem.
        self._deciding = asyncio.Lock()

    async def ingest(self, notification: WebhookNotification) -> IngestResult:
        alerts = list(notification.alerts)
        if notification.truncatedAlerts and self._alertmanager is not None:
            alerts += await self._left_out(notification)
        alerts = list({a.dedup_key(): a for a in alerts}.values())
        own = [a for a in alerts if a.name in AGENT_ALERT_NAMES]
        if own:  # a route sends the agent's escalations back to it: they are for people, never a page
            alerts = [a for a in alerts if a.name not in AGENT_ALERT_NAMES]
            self._metrics.alerts_unowned_total.labels(reason="agent_alert").inc(len(own))
            log.warning("agent_alerts_sent_back", alerts=len(own), receiver=notification.receiver)
        by_service: dict[str, list[Alert]] = {}
        nobody: list[tuple[Alert, str]] = []
        async for alert in in_slices(alerts):
            owner = self._catalog.owner(alert.labels)
            if owner.service is None:
                nobody.append((alert, owner.reason))
            else:
                by_service.setdefault(owner.service.name, []).append(alert)
        result = IngestResult(unowned=len(nobody))
        if nobody:
            await self._record_unowned(notification, nobody)
        for service, owned in by_service.items():
            one = await self.open_or_merge("alertmanager", service, notification.groupKey, owned)
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

    async def open_or_merge(
        self,
        source: IncidentSource,
        service: str,
        group_key: str,
        alerts: Sequence[Alert | AlertSummary],
        reason: str = "",
        follows: str | None = None,
    ) -> IngestResult:
        async with self._deciding:
            return await self._open_or_merge(source, service, group_key, alerts, reason, follows)

    async def _open_or_merge(
        self,
        source: IncidentSource,
        service: str,
        group_key: str,
        alerts: Sequence[Alert | AlertSummary],
        reason: str,
        follows: str | None,
    ) -> IngestResult:
        keyed = {a.dedup_key(): a for a in alerts}  # each key once: a flood's 500 alerts are many keys
        keys = set(keyed)
        known, oldest = await self._store.open_seen(service, keys)
        if oldest is not None and keys <= known:  # a re-send (HA peers, repeat_interval): nothing to read
            return IngestResult(incident_id=oldest, incident_ids=[oldest], note="duplicate notification")
        open_incidents = await self._store.open_for_service(service)
        seen = {key for incident in open_incidents for key in incident.seen_keys}
        fresh = [
            a.summary() if isinstance(a, Alert) else a
            async for key, a in in_slices(list(keyed.items()))
            if key not in seen
        ]
        if open_incidents and not fresh:
            return IngestResult(
                incident_id=open_incidents[0].id,
                incident_ids=[open_incidents[0].id],
                note="duplicate notification",
            )
        result = IngestResult()
        leftover: list[AlertSummary] = []
        homes: dict[str, list[AlertSummary]] = {}
        where = self._homes(open_incidents, source)
        async for alert in in_slices(fresh):
            home = where.home(alert)
            if home is None:
                leftover.append(alert)
            else:
                homes.setdefault(home.id, []).append(alert)
        for home_id, joining in homes.items():  # one write per incident, however many alerts join it
            data = {"reason": reason} if reason else None
            merged = await merge_alerts(self._store, home_id, joining, self._limits, data=data)
            if merged.finished:  # closed since it was read: these alerts are a problem of their own
                leftover += joining
                continue
            if merged.new:
                result.new_alerts += len(merged.new)
                result.incident_ids.append(home_id)
                log.info(
                    "notification_merged", incident_id=home_id, alerts=len(merged.new), dropped=merged.dropped
                )
        firing = [a for a in leftover if a.status == "firing"]
        if firing or (leftover and source != "alertmanager"):
            keys = {a.dedup_key() for a in leftover}
            if source == "alertmanager" and keys <= await self._store.seen_since(keys, utcnow() - RECENT):
                result.note = result.note or "alerts already handled by a recent incident"
            else:
                opened = await self._open(source, service, group_key, leftover, reason, follows)
                result.incident_ids.append(opened.id)
                result.created = True
                result.new_alerts += len(leftover)
        elif leftover and not result.incident_ids:
            result.note = "resolved notification without an open incident: nothing to do"
        if result.incident_ids and not result.note:
            result.note = "" if result.created else "merged into open incident"
        result.incident_id = result.incident_ids[0] if result.incident_ids else None
        return result

    def _homes(self, open_incidents: list[Incident], source: IncidentSource) -> Homes:
        """Where the service's new alerts go, worked out once per notification, not once per alert."""
        explained: dict[str, Incident] = {}
        if source not in ("manual", "monitor"):
            runbooks: dict[str, Any] = {}
            for runbook in self._runbooks():
                runbooks.setdefault(runbook.id, runbook)
            for incident in open_incidents:
                runbook = runbooks.get(incident.diagnosis_id) if incident.diagnosis_id else None
                for name in getattr(runbook, "alerts", []):
                    explained.setdefault(name, incident)
        return Homes(
            first=open_incidents[0] if open_incidents else None,
            by_fingerprint={fp: i for i in reversed(open_incidents) for fp in i.fingerprints},
            undiagnosed=next((i for i in open_incidents if not i.is_diagnosed), None),
            explained=explained,
            any_new_alert=source in ("manual", "monitor"),
        )

    async def _open(
        self,
        source: IncidentSource,
        service: str,
        group_key: str,
        alerts: list[AlertSummary],
        reason: str,
        follows: str | None,
    ) -> Incident:
        firing = [a for a in alerts if a.status == "firing"]
        # A notification carries its group's recently resolved alerts too: an earlier problem's, whose
        # next firing is a new problem, not another state of this one's. Only their keys are kept (a
        # re-send reads as known); a hand-off's resolved alerts are the incident's it follows.
        own = firing if source == "alertmanager" and firing else alerts
        kept, dropped = bounded_alerts(own, self._limits)
        incident = Incident(
            id=new_incident_id(),
            source=source,
            service=service,
            group_key=group_key,
            fingerprints=newest([a.fingerprint for a in own if a.fingerprint], self._limits.max_fingerprints),
            seen_keys=newest([a.dedup_key() for a in alerts], self._limits.max_keys),
            alerts=kept,
            alerts_dropped=dropped,
            reason=reason,
            follows=follows,
        )
        names = _names(firing) or reason or source
        how = f"after {follows}'s fix was verified" if follows else f"({source})"
        incident.timeline.append(TimelineEntry(step="open", message=f"incident opened {how}: {names}"))
        if dropped:
            incident.timeline.append(full_entry(self._limits))
        await self._store.save(incident)
        self._metrics.incidents_open.set(await self._store.count_unfinished())
        log.info("incident_opened", incident_id=incident.id, service=service, source=source, alerts=names)
        self._start(incident.id)
        return incident

    async def _record_unowned(
        self, notification: WebhookNotification, nobody: list[tuple[Alert, str]]
    ) -> None:
        for alert, reason in nobody:
            kind = "several_owners" if reason.startswith("owned by several") else "no_owner"
            if await self._store.record_unowned(alert.dedup_key(), alert.name, alert.labels, reason):
                self._metrics.alerts_unowned_total.labels(reason=kind).inc()
        log.info(
            "alerts_unowned", alerts=sorted({a.name for a, _ in nobody})[:20], receiver=notification.receiver
        )
        firing = [a for a, _ in nobody if a.status == "firing"]
        if self._unowned == "escalate" and firing:
            await self._escalate_unowned(notification.groupKey, firing, nobody[0][1])

    async def _escalate_unowned(self, group_key: str, alerts: list[Alert], reason: str) -> None:
        keys = {a.dedup_key() for a in alerts}
        if keys <= await self._store.seen_since(keys, utcnow() - RECENT):
            return
        summaries = [a.summary() for a in alerts]
        why = f"{reason}: {_names(summaries)}; the agent acts only on its catalog's services"
        kept, dropped = bounded_alerts(summaries, self._limits)
        now = utcnow()
        incident = Incident(
            id=new_incident_id(),
            status="escalated",
            step="done",
            service="",
            group_key=group_key,
            fingerprints=newest(
                [a.fingerprint for a in alerts if a.fingerprint], self._limits.max_fingerprints
            ),
            seen_keys=newest(sorted(keys), self._limits.max_keys),
            alerts=kept,
            alerts_dropped=dropped,
            escalation_reason=why,
            closed_at=now,
            timeline=[TimelineEntry(step="escalate", message=f"escalated to a human: {why}")],
        )
        await self._store.save(incident)
        self._metrics.incidents_total.labels(service="", diagnosis="unknown", outcome="escalated").inc()
        if self._on_escalated is not None:
            await self._on_escalated(incident.id)


@dataclass(frozen=True)
class Homes:
    """Which open incident of a service a new alert joins (the order of the module's docstring)."""

    first: Incident | None  # the service's first open incident; None: every alert is a new problem
    by_fingerprint: dict[str, Incident]  # the first open incident that has each fingerprint
    undiagnosed: Incident | None  # the first still working out what is wrong
    explained: dict[str, Incident]  # alert name -> the first diagnosed one whose runbook explains it
    any_new_alert: bool  # a trigger or the monitor: every new firing alert joins `first`

    def home(self, alert: AlertSummary) -> Incident | None:
        if self.first is None:
            return None
        if alert.fingerprint in self.by_fingerprint:
            return self.by_fingerprint[alert.fingerprint]
        if alert.status == "resolved":
            return None
        if self.any_new_alert:
            return self.first
        if self.undiagnosed is not None:
            return self.undiagnosed
        return self.explained.get(alert.name)


def _names(alerts: Sequence[AlertSummary]) -> str:
    """The distinct alert names, sorted, the first few of a flood named and the rest counted."""
    names = sorted({a.name for a in alerts})
    shown = ", ".join(names[:NAMED_IN_TIMELINE])
    return shown + (f" and {len(names) - NAMED_IN_TIMELINE} more" if len(names) > NAMED_IN_TIMELINE else "")


async def in_slices(items: Sequence[T]) -> AsyncIterator[T]:
    """Each item, letting the event loop answer requests every SLICE items: a notification of 500
    alerts is tens of milliseconds of matching, and the webhook must answer within a few."""
    for n, item in enumerate(items):
        if n and n % SLICE == 0:
            await asyncio.sleep(0)
        yield item


def new_incident_id() -> str:
    return f"inc-{utcnow():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
