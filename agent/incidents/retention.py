"""Incident retention: the history does not grow for ever.

Every RETENTION_CHECK_SECONDS (and once at start-up) finished incidents closed more than
INCIDENT_RETENTION_DAYS ago, then the oldest finished ones beyond INCIDENT_RETENTION_MAX, are deleted
with their alert keys and their workflow checkpoints (the checkpointer's thread id is the incident
id); guardrail ledger rows older than the retention go too. An unfinished incident is never deleted.
What the agent learned from an incident (its knowledge-store memory, a proposed runbook amendment) is
kept: that is the point of learning it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from agent.incidents.models import utcnow
from agent.incidents.store import IncidentStore
from agent.telemetry.metrics import AgentMetrics

log = structlog.get_logger("agent.retention")


class Checkpoints(Protocol):
    async def adelete_thread(self, thread_id: str) -> None: ...


async def prune_history(
    store: IncidentStore,
    checkpoints: Checkpoints | None,
    retention_days: float,
    keep: int,
    now: datetime | None = None,
) -> list[str]:
    """Deletes what retention says (see the module); returns the incident ids deleted."""
    deleted = await store.prune((now or utcnow()) - timedelta(days=retention_days), keep)
    if checkpoints is not None:
        for incident_id in deleted:
            await checkpoints.adelete_thread(incident_id)
    return deleted


async def run_retention(
    store: IncidentStore,
    checkpoints: Checkpoints | None,
    retention_days: float,
    keep: int,
    every_seconds: float,
    metrics: AgentMetrics,
) -> None:
    """The background loop: a failed pass is logged and tried again at the next one."""
    while True:
        try:
            deleted = await prune_history(store, checkpoints, retention_days, keep)
        except Exception:  # the disk or the file in trouble: the agent goes on, the next pass retries
            log.exception("retention_failed")
        else:
            if deleted:
                metrics.incidents_pruned_total.inc(len(deleted))
                log.info("incidents_pruned", count=len(deleted), oldest=deleted[0])
        await asyncio.sleep(every_seconds)
