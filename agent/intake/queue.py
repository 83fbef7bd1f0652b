"""A bounded queue between the webhook (answers in milliseconds) and the correlator (does the work).

When it is full the route answers 503, which Alertmanager retries; a 4xx would drop the page for good.
"""

from __future__ import annotations

import asyncio

import structlog

from agent.intake.alertmanager import WebhookNotification
from agent.intake.correlation import Correlator
from agent.telemetry.degraded import RecentEvents
from agent.telemetry.metrics import AgentMetrics

log = structlog.get_logger("agent.intake")


class IntakeQueue:
    def __init__(self, correlator: Correlator, metrics: AgentMetrics, maxsize: int) -> None:
        self._queue: asyncio.Queue[WebhookNotification] = asyncio.Queue(maxsize=maxsize)
        self._correlator = correlator
        self._metrics = metrics
        self.refused = RecentEvents()  # notifications answered 503 lately, for /health

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    @property
    def capacity(self) -> int:
        return self._queue.maxsize

    def offer(self, notification: WebhookNotification) -> bool:
        try:
            self._queue.put_nowait(notification)
        except asyncio.QueueFull:
            self.refused.add()
            return False
        self._metrics.queue_depth.set(self.depth)
        return True

    async def run(self) -> None:
        """The worker: one notification at a time, so two re-sends of one page can never race."""
        while True:
            notification = await self._queue.get()
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
