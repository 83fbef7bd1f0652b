"""Runs each incident's graph as a background task, one at a time per incident, thread_id = incident id.

On start-up `recover` picks up every unfinished incident from its checkpoint: one never started is
started, one paused for approval stays paused, one cut off between nodes continues where it stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from langgraph.types import Command

from agent.incidents.models import Incident, TimelineEntry, utcnow
from agent.incidents.store import IncidentStore
from agent.telemetry.metrics import AgentMetrics
from agent.workflow.nodes.approve import ApprovalDecision

log = structlog.get_logger("agent.runner")


class NotAwaitingApproval(RuntimeError):
    pass


class IncidentRunner:
    def __init__(
        self,
        graph: Any,
        store: IncidentStore,
        metrics: AgentMetrics,
        max_concurrent: int = 8,
        on_failed: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        """`on_failed(incident_id)`: after a workflow error closed the incident (people are told)."""
        self.graph = graph
        self._store = store
        self._metrics = metrics
        self._on_failed = on_failed
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # A storm of distinct problems must not starve the event loop that answers webhooks: the
        # workflows beyond this many wait their turn (their incidents are already open and listed).
        self._slots = asyncio.Semaphore(max_concurrent)

    @staticmethod
    def config(incident_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": incident_id}}

    def start(self, incident_id: str) -> None:
        self._spawn(incident_id, {"incident_id": incident_id, "attempts": 0, "tried": []})

    def running(self) -> list[str]:
        return [i for i, task in self._tasks.items() if not task.done()]

    async def decide(self, incident_id: str, decision: ApprovalDecision) -> None:
        """Resume a graph paused in `approve`; raises NotAwaitingApproval when there is nothing to answer."""
        task = self._tasks.get(incident_id)
        if task is not None and not task.done():
            # the status says awaiting_approval a moment before the graph has paused; give it that moment
            await asyncio.wait({task}, timeout=5.0)
            if not task.done():
                raise NotAwaitingApproval("the incident's workflow is running")
        snapshot = await self.graph.aget_state(self.config(incident_id))
        if not snapshot.interrupts:
            raise NotAwaitingApproval("the incident is not waiting for approval")
        self._spawn(incident_id, Command(resume=decision.model_dump()))

    async def recover(self) -> list[str]:
        resumed = []
        for incident in await self._store.unfinished():
            snapshot = await self.graph.aget_state(self.config(incident.id))
            if not snapshot.values:
                self.start(incident.id)
            elif snapshot.interrupts:
                continue
            else:
                # No `next` yet is still unfinished: the last step's writes are saved but the step after
                # it was not chosen when the process died. Resuming applies them and goes on.
                where = ", ".join(snapshot.next) or "the step after the last one saved"
                await self._store.append(incident.id, "resume", f"agent restarted: resuming at {where}")
                self._spawn(incident.id, None)
            resumed.append(incident.id)
        return resumed

    async def wait(self, incident_id: str, timeout: float = 30.0) -> None:
        task = self._tasks.get(incident_id)
        if task is not None:
            await asyncio.wait_for(asyncio.shield(task), timeout)

    async def shutdown(self) -> None:
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, incident_id: str, payload: Any) -> None:
        task = asyncio.create_task(self._run(incident_id, payload), name=f"incident-{incident_id}")
        self._tasks[incident_id] = task

    async def _run(self, incident_id: str, payload: Any) -> None:
        with structlog.contextvars.bound_contextvars(incident_id=incident_id):
            try:
                async with self._slots:
                    # "sync": a step's checkpoint is on disk before the next step (an action) starts.
                    result = await self.graph.ainvoke(payload, self.config(incident_id), durability="sync")
                if isinstance(result, dict) and result.get("__interrupt__"):
                    log.info("workflow_paused", reason="approval")
                else:
                    log.info("workflow_finished")
            except asyncio.CancelledError:
                log.info("workflow_cancelled")  # the checkpoint lets `recover` continue after a restart
                raise
            except Exception as exc:
                log.exception("workflow_failed")
                await self._fail(incident_id, type(exc).__name__)

    async def _fail(self, incident_id: str, error: str) -> None:
        def mutate(incident: Incident) -> None:
            incident.status = "failed"
            incident.closed_at = utcnow()
            incident.escalation_reason = f"workflow error ({error}); a human must take over"
            incident.timeline.append(
                TimelineEntry(step="error", message=f"workflow error: {error}", data={"error": error})
            )

        incident = await self._store.update(incident_id, mutate)
        self._metrics.incidents_total.labels(
            diagnosis=incident.diagnosis_id or "unknown", outcome="failed"
        ).inc()
        self._metrics.incidents_open.set(await self._store.count_unfinished())
        if self._on_failed is not None:
            await self._on_failed(incident_id)
