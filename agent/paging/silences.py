"""A silence on an incident's alerts while the agent verifies its fix (SILENCE_WHILE_VERIFYING).

Alerts go on firing for a while after a fix (their `for`, the rate windows): people routed beside the
agent would be re-notified about a problem already being fixed. The silence is one per firing alert,
its matchers that alert's labels, exact (`isEqual`, no regex), so it mutes nothing else; it lasts the
verification deadline and at most SILENCE_MAX_SECONDS, so one the agent never removes (killed
mid-verify) still ends. `createdBy` is `sre-agent`, the comment names the incident with its link.
Verification reads Prometheus, which silences do not touch.

Removed (`DELETE /api/v2/silence/{id}`) when verification ends either way, when the incident closes or
escalates: the next problem, or a fix that did not hold, pages as it should. An alert whose labels
were cut or redacted on the way in is not silenced (no exact matcher would match it). A removal that
fails is retried by a background task until Alertmanager answers; creating one is tried once (after
the first failure the rest are not tried: Alertmanager is not answering), since a silence is a
courtesy and verification must not wait for it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog

from agent.clients.alertmanager import AlertmanagerClient, PostableSilence, SilenceMatcher
from agent.incidents.models import Incident, utcnow
from agent.incidents.store import IncidentStore
from agent.intake.alertmanager import CUT
from agent.paging.alerts import Links
from agent.redaction import MARK
from agent.telemetry.metrics import AgentMetrics

log = structlog.get_logger("agent.paging")
CREATED_BY = "sre-agent"
MAX_SILENCED_ALERTS = 20  # one silence each; an incident with more gets none for the rest
STATE_KEY = "silences_to_expire"


class VerificationSilences:
    def __init__(
        self,
        client: AlertmanagerClient,
        store: IncidentStore,
        metrics: AgentMetrics,
        links: Links,
        max_seconds: float,
        retry_seconds: float = 30.0,
    ) -> None:
        self._client = client
        self._store = store
        self._metrics = metrics
        self._links = links
        self._max = max_seconds
        self._retry_seconds = retry_seconds
        self._to_expire: set[str] = set()

    async def load(self) -> None:
        """Removals a previous run could not make, and the silences its unfinished incidents held."""
        self._to_expire = set(await self._store.get_state(STATE_KEY) or [])
        held = sum(len(i.silences) for i in await self._store.unfinished())
        self._metrics.silences_held.set(held)

    async def hold(self, incident_id: str, seconds: float) -> tuple[list[str], datetime]:
        """Silence the incident's firing alerts for `seconds` (at most SILENCE_MAX_SECONDS); the ids made
        (recorded on the incident) and when they end. Any the incident still held are removed first."""
        await self.release(incident_id)
        incident = await self._store.get(incident_id)
        now = utcnow()
        ends = now + timedelta(seconds=min(seconds, self._max))
        comment = (
            f"{CREATED_BY} is verifying a fix for incident {incident.id}: {self._links.incident(incident.id)}"
        )
        made: list[str] = []
        for labels in exact_label_sets(incident)[:MAX_SILENCED_ALERTS]:
            silence = PostableSilence(
                matchers=[SilenceMatcher(name=k, value=v) for k, v in sorted(labels.items())],
                startsAt=now,
                endsAt=ends,
                createdBy=CREATED_BY,
                comment=comment,
            )
            silence_id, response = await self._client.create_silence(silence)
            self._count("create_silence", silence_id is not None)
            if silence_id is None:
                log.warning("silence_not_created", incident_id=incident.id, error=response.error)
                break
            made.append(silence_id)
        if made:
            await self._store.update(incident_id, lambda i: i.silences.extend(made))
            self._metrics.silences_held.inc(len(made))
        return made, ends

    async def release(self, incident_id: str) -> list[str]:
        """Remove the silences the incident holds; the ids it held (a failed removal is retried later)."""
        held: list[str] = []

        def take(incident: Incident) -> None:
            held.extend(incident.silences)
            incident.silences = []

        await self._store.update(incident_id, take)
        if not held:
            return []
        self._metrics.silences_held.dec(len(held))
        for silence_id in held:
            if not await self._expire(silence_id):
                self._to_expire.add(silence_id)
        if self._to_expire:
            await self._store.set_state(STATE_KEY, sorted(self._to_expire))
        return held

    async def run(self) -> None:
        """Retry the removals that failed, every `retry_seconds`."""
        while True:
            await asyncio.sleep(self._retry_seconds)
            if self._to_expire:
                await self.retry()

    async def retry(self) -> None:
        done = {silence_id for silence_id in sorted(self._to_expire) if await self._expire(silence_id)}
        if done:
            self._to_expire -= done
            await self._store.set_state(STATE_KEY, sorted(self._to_expire))

    async def _expire(self, silence_id: str) -> bool:
        ok = await self._client.expire_silence(silence_id)
        self._count("expire_silence", ok)
        if not ok:
            log.warning("silence_not_removed", silence_id=silence_id)
        return ok

    def _count(self, operation: str, ok: bool) -> None:
        self._metrics.alertmanager_requests_total.labels(
            operation=operation, result="ok" if ok else "error"
        ).inc()


def exact_label_sets(incident: Incident) -> list[dict[str, str]]:
    """Each firing alert's full label set, once: what an exact silence needs. Labels cut or redacted on
    the way in are not the alert's own, so such an alert is left out."""
    found: list[dict[str, str]] = []
    for alert in incident.alerts:
        labels = alert.labels
        if alert.status != "firing" or not labels or labels in found:
            continue
        if any(CUT in value or MARK in value for value in labels.values()):
            continue
        found.append(labels)
    return found
