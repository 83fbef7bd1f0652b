"""Everything a request needs, built once per app in the lifespan and reached through `get_runtime`."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from lab.memory_retainer import MemoryRetainer
from lab.worker.config import Settings
from lab.worker.consumers import ConsumerPool
from lab.worker.handler import Downstream
from lab.worker.jobqueue import JobQueue
from lab.worker.metrics import WorkerMetrics


@dataclass
class Runtime:
    settings: Settings
    queue: JobQueue
    downstream: Downstream
    memory: MemoryRetainer
    metrics: WorkerMetrics
    pool: ConsumerPool


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]
