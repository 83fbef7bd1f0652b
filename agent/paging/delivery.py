"""The agent's alerts at Alertmanager: posted when raised, again every AGENT_ALERTS_RESEND_SECONDS while
they hold, resolved when they stop.

Each post ends four resends later (`endsAt`), as Prometheus's alerts do: if the agent stops posting
(stopped, or cut off from Alertmanager), its alerts resolve on their own instead of firing forever, and
Alertmanager's `resolve_timeout` never applies. An approval request holds while its incident waits
for approval. An escalation holds until a person records the resolution, at most
AGENT_ALERTS_ESCALATION_MAX_SECONDS, and, for an incident paged by Alertmanager, while its alerts still
fire there (silenced and inhibited ones count; when Alertmanager cannot say, it holds). An incident
opened by hand or by the monitor has no alert there to watch.

The workflow only hands an alert over (`raise_alert`, `resolve`): a background task posts. A failed post
is logged, counted in `sre_agent_alertmanager_requests_total{result="error"}` and retried with backoff
(at most one resend period apart); nothing waits for it. What is held is kept in the incident store,
so a restarted agent goes on posting.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from agent.clients.alertmanager import AlertmanagerClient
from agent.clients.http import JsonResponse
from agent.incidents.models import utcnow
from agent.incidents.store import IncidentNotFound, IncidentStore
from agent.paging.alerts import AGENT_ALERT_NAMES, AgentAlert, Kind
from agent.telemetry.metrics import AgentMetrics

log = structlog.get_logger("agent.paging")
STATE_KEY = "agent_alerts"
RESENDS_AHEAD = 4  # an alert posted now ends this many resend periods later unless posted again
MAX_ALERTS = 500  # held at once; past it the oldest is resolved (hundreds of people-pages is an outage)
BACKOFF_INITIAL_SECONDS = 1.0
FROM_ALERTMANAGER = frozenset({"alertmanager", "handoff"})  # sources whose alerts Alertmanager has


class AgentAlerts:
    def __init__(
        self,
        client: AlertmanagerClient,
        store: IncidentStore,
        metrics: AgentMetrics,
        *,
        resend_seconds: float,
        escalation_max_seconds: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._client = client
        self._store = store
        self._metrics = metrics
        self._resend = resend_seconds
        self._max_age = timedelta(seconds=escalation_max_seconds)
        self._clock = clock
        self._alerts: dict[str, AgentAlert] = {}
        self._wake = asyncio.Event()
        self.last_error: str | None = None  # the last post's error, until a post works

    @property
    def held(self) -> list[AgentAlert]:
        """The alerts firing, and those resolved but not yet posted as resolved."""
        return list(self._alerts.values())

    async def load(self) -> None:
        """What a previous run held (at start-up)."""
        saved = await self._store.get_state(STATE_KEY) or []
        for raw in saved:
            alert = AgentAlert.model_validate(raw)
            self._alerts[alert.key] = alert
        self._count()

    async def raise_alert(self, alert: AgentAlert) -> None:
        """Hold this alert (one per incident and kind: a second raise updates it, keeping its start)."""
        held = self._alerts.get(alert.key)
        if held is not None and held.ends_at is None:
            alert = alert.model_copy(update={"starts_at": held.starts_at})
        self._alerts[alert.key] = alert
        firing = sorted((a for a in self._alerts.values() if a.ends_at is None), key=lambda a: a.starts_at)
        for oldest in firing[: max(len(firing) - MAX_ALERTS, 0)]:
            oldest.ends_at = self._clock()
            log.warning("agent_alert_dropped", incident_id=oldest.incident_id, reason="too many held")
        await self._changed()

    async def resolve(self, incident_id: str, kind: Kind) -> None:
        alert = self._alerts.get(f"{incident_id}/{kind}")
        if alert is not None and alert.ends_at is None:
            alert.ends_at = self._clock()
            await self._changed()

    async def run(self) -> None:
        """Post what is held now and every resend period; after a failure, again with backoff."""
        backoff = BACKOFF_INITIAL_SECONDS
        while True:
            self._wake.clear()
            try:
                ok = await self.flush()
            except Exception as exc:  # never let the loop die: the next round tries again
                log.warning("agent_alerts_round_failed", error=type(exc).__name__)
                ok = False
            delay = self._resend if ok else min(backoff, self._resend)
            backoff = BACKOFF_INITIAL_SECONDS if ok else backoff * 2
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def flush(self) -> bool:
        """One round: resolve what no longer holds, post everything held. False when the post failed
        (Alertmanager unreachable or erring: retried); an alert it refuses (400) is dropped, logged."""
        await self._review()
        if not self._alerts:
            self.last_error = None
            return True
        now = self._clock()
        batch = list(self._alerts.values())
        hold = timedelta(seconds=self._resend * RESENDS_AHEAD)
        response = await self._client.post_alerts([a.postable(now, hold) for a in batch])
        refused: list[AgentAlert] = []
        if response.status_code == 400:  # one refused alert must not block the rest: find which
            refused = batch[:1]
            if len(batch) > 1:
                refused = [a for a in batch if (await self._post_one(a, now, hold)).status_code == 400]
            for alert in refused:
                log.warning("agent_alert_refused", incident_id=alert.incident_id, alertname=alert.alertname)
                self._forget(alert)
        failed = response.error is not None and response.status_code != 400
        self._metrics.alertmanager_requests_total.labels(
            operation="post_alerts", result="error" if failed or refused else "ok"
        ).inc()
        if failed:
            self.last_error = response.error
            log.warning("agent_alerts_not_posted", alerts=len(batch), error=response.error)
            return False
        self.last_error = None
        resolved = [alert for alert in batch if alert.ends_at is not None]
        for alert in resolved:
            self._forget(alert)
        if resolved or refused:
            await self._changed(wake=False)
        return True

    async def _post_one(self, alert: AgentAlert, now: datetime, hold: timedelta) -> JsonResponse:
        return await self._client.post_alerts([alert.postable(now, hold)])

    def _forget(self, alert: AgentAlert) -> None:
        """Drop this alert, not one raised under its key while it was being posted."""
        if self._alerts.get(alert.key) is alert:
            del self._alerts[alert.key]

    async def _review(self) -> None:
        now = self._clock()
        changed = False
        for alert in [a for a in self._alerts.values() if a.ends_at is None]:
            why = await self._ended(alert, now)
            if why is not None:
                alert.ends_at = now
                changed = True
                log.info(
                    "agent_alert_resolved", incident_id=alert.incident_id, alertname=alert.alertname, why=why
                )
        if changed:
            await self._changed(wake=False)

    async def _ended(self, alert: AgentAlert, now: datetime) -> str | None:
        """Why the alert no longer holds, or None while it does."""
        try:
            incident = await self._store.get(alert.incident_id)
        except IncidentNotFound:
            return "its incident is gone"
        if alert.kind == "approval":
            return None if incident.status == "awaiting_approval" else f"incident {incident.status}"
        if incident.resolution is not None:
            return "a person recorded the resolution"
        if now - alert.starts_at >= self._max_age:
            return "held for AGENT_ALERTS_ESCALATION_MAX_SECONDS"
        if incident.source in FROM_ALERTMANAGER and incident.fingerprints and alert.watch:
            firing = await self._client.active_fingerprints(alert.watch)
            self._metrics.alertmanager_requests_total.labels(
                operation="read_alerts", result="error" if firing is None else "ok"
            ).inc()
            if firing is not None and not firing & set(incident.fingerprints):
                return "its incident's alerts stopped firing"
        return None

    async def _changed(self, wake: bool = True) -> None:
        await self._store.set_state(STATE_KEY, [a.model_dump(mode="json") for a in self._alerts.values()])
        self._count()
        if wake:
            self._wake.set()

    def _count(self) -> None:
        for name in AGENT_ALERT_NAMES:
            firing = sum(1 for a in self._alerts.values() if a.alertname == name and a.ends_at is None)
            self._metrics.agent_alerts_firing.labels(alertname=name).set(firing)
