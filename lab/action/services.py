"""What differs between the services an action server can act on: one `ServiceProfile` each.

The program, its routes, validation, audit and restart machinery are the same for every service; a
profile names the module the supervisor runs, the health path a restart waits for, the catalog, and
how to build the backend that runs the actions and gives the health verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx
from pydantic import BaseModel

from lab.action.catalog import ACTIONS, WORKER_ACTIONS, ActionParams, ActionSpec
from lab.action.config import Service, Settings
from lab.action.remediations import Outcome, Remediations
from lab.action.restarter import TargetRestarter
from lab.action.target_client import TargetClient, TargetHealth
from lab.action.worker_client import WorkerClient, WorkerHealth, WorkerLimits
from lab.action.worker_remediations import WorkerRemediations


class ActionBackend(Protocol):
    async def run(self, name: str, params: ActionParams) -> Outcome: ...

    async def health(self) -> BaseModel: ...


BackendFactory = Callable[[Settings, httpx.AsyncClient, TargetRestarter], ActionBackend]


@dataclass(frozen=True)
class ServiceProfile:
    name: Service
    module: str
    health_path: str
    actions: dict[str, ActionSpec]
    health_model: type[BaseModel]
    build: BackendFactory

    @property
    def verify_path(self) -> str:
        return f"/verify-{self.name}-health"


def _target(settings: Settings, http: httpx.AsyncClient, restarter: TargetRestarter) -> ActionBackend:
    target = TargetClient(
        http,
        settings.target_url,
        settings.target_admin_token.get_secret_value(),
        settings.request_timeout_seconds,
    )
    return Remediations(target, http, restarter, settings.target_db_path, settings.restart_deadline_seconds)


def _worker(settings: Settings, http: httpx.AsyncClient, restarter: TargetRestarter) -> ActionBackend:
    limits = WorkerLimits(
        max_head_attempts=settings.worker_max_head_attempts,
        max_message_age_seconds=settings.worker_max_message_age_seconds,
        max_backlog_growth_per_second=settings.worker_max_backlog_growth_per_second,
        max_rss_bytes=settings.worker_max_rss_bytes,
        sample_seconds=settings.worker_sample_seconds,
    )
    token = settings.target_admin_token.get_secret_value()
    worker = WorkerClient(http, settings.target_url, token, settings.request_timeout_seconds, limits)
    return WorkerRemediations(worker, http, restarter, settings.restart_deadline_seconds)


PROFILES: dict[Service, ServiceProfile] = {
    "target": ServiceProfile("target", "lab.target", "/api/v1/health", ACTIONS, TargetHealth, _target),
    "worker": ServiceProfile("worker", "lab.worker", "/healthz", WORKER_ACTIONS, WorkerHealth, _worker),
}
