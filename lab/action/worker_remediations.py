"""The queue worker's actions (`WORKER_ACTIONS`): restart it, set failing jobs aside, scale its consumers."""

from __future__ import annotations

import httpx

from lab.action.catalog import DeadLetterParams, ScaleConsumersParams
from lab.action.remediations import ActionRunner, Outcome
from lab.action.restarter import TargetRestarter
from lab.action.worker_client import WorkerClient, WorkerHealth


class WorkerRemediations(ActionRunner):
    def __init__(
        self,
        worker: WorkerClient,
        http: httpx.AsyncClient,
        restarter: TargetRestarter,
        restart_deadline_seconds: float,
    ) -> None:
        super().__init__(http, restarter, restart_deadline_seconds, service="worker")
        self._worker = worker
        self._handlers |= {"dead-letter-jobs": self.dead_letter_jobs, "scale-consumers": self.scale_consumers}

    async def health(self) -> WorkerHealth:
        return await self._worker.health()

    async def dead_letter_jobs(self, params: DeadLetterParams) -> Outcome:
        answer = await self._worker.admin("dead-letter", {"min_attempts": params.min_attempts})
        moved = int(answer.get("moved", 0))
        return Outcome(
            detail=f"dead-lettered {moved} job(s) that failed at least {params.min_attempts} times",
            changes=answer,
        )

    async def scale_consumers(self, params: ScaleConsumersParams) -> Outcome:
        answer = await self._worker.admin("consumers", {"consumers": params.consumers})
        return Outcome(
            detail=f"consumers {answer.get('previous')} → {params.consumers}",
            changes=answer,
        )
