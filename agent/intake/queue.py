"""A bounded queue between the webhook (answers in milliseconds) and the correlator (does the work).

When it is full the route answers 503, which Alertmanager retries; a 4xx would drop the page for good.

One slot per alert group: Alertmanager sends a group's whole state each time (re-sends on
`repeat_interval`, its HA peers, retries), so a notification for a group that is still waiting takes
that group's place instead of a slot, with any alert only the waiting one carried kept (a resolved
alert Alertmanager has since flushed). A storm of re-sends then never fills the queue, and the worker
handles the latest state once instead of every copy of it. When the two together would be more than
WEBHOOK_MAX_ALERTS alerts, the newer one takes a slot of its own: coalescing never drops an alert.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

import structlog

from agent.intake.alertmanager import Alert, WebhookNotification
from agent.intake.correlation import Correlator
from agent.telemetry.degraded import RecentEvents
from agent.telemetry.metrics import AgentMetrics

log = structlog.get_logger("agent.intake")
Offered = Literal["queued", "coalesced", "full"]


class IntakeQueue:
    def __init__(
        self, correlator: Correlator, metrics: AgentMetrics, maxsize: int, max_alerts: int = 1000
    ) -> None:
        self._queue: asyncio.Queue[_Waiting] = asyncio.Queue(maxsize=maxsize)
        self._last: dict[str, _Waiting] = {}  # each group's last notification still waiting
        self._correlator = correlator
        self._metrics = metrics
        self._max_alerts = max_alerts
        self.refused = RecentEvents()  # notifications answered 503 lately, for /health

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    @property
    def capacity(self) -> int:
        return self._queue.maxsize

    def offer(self, notification: WebhookNotification) -> Offered:
        key = notification.groupKey
        last = self._last.get(key)
        if last is not None:
            merged = coalesced(last.notification, notification)
            if len(merged.alerts) <= self._max_alerts:
                last.notification = merged
                self._metrics.intake_coalesced_total.inc()
                return "coalesced"
        waiting = _Waiting(notification)
        try:
            self._queue.put_nowait(waiting)
        except asyncio.QueueFull:
            self.refused.add()
            return "full"
        self._last[key] = waiting
        self._metrics.queue_depth.set(self.depth)
        return "queued"

    async def run(self) -> None:
        """The worker: one notification at a time, so two re-sends of one page can never race."""
        while True:
            waiting = await self._queue.get()
            notification = waiting.notification
            if self._last.get(notification.groupKey) is waiting:
                del self._last[notification.groupKey]
            try:
                result = await self._correlator.ingest(notification)
                log.info("notification_handled", group_key=notification.groupKey, **result.model_dump())
            except Exception:  # one bad notification must not stop the worker
                log.exception("notification_failed", group_key=notification.groupKey)
            finally:
                self._queue.task_done()
                self._metrics.queue_depth.set(self.depth)

    async def join(self) -> None:
        await self._queue.join()


@dataclass
class _Waiting:
    notification: WebhookNotification  # replaced by the group's newer state while it waits


def coalesced(waiting: WebhookNotification, newer: WebhookNotification) -> WebhookNotification:
    """`newer` in place of `waiting` (the same group's, not handled yet), with the alerts only `waiting`
    has: the newer state of an alert wins, none is lost."""
    current = {_identity(a) for a in newer.alerts}
    only_waiting = [a for a in waiting.alerts if _identity(a) not in current]
    if not only_waiting:
        return newer
    alerts = [*newer.alerts, *only_waiting]
    status = "firing" if any(a.status == "firing" for a in alerts) else "resolved"
    return newer.model_copy(update={"alerts": alerts, "status": status})


def _identity(alert: Alert) -> str | tuple[tuple[str, str], ...]:
    """Alertmanager's fingerprint; for a client that sends none, the label set it stands for."""
    return alert.fingerprint or tuple(sorted(alert.labels.items()))
