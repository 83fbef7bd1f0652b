"""What each action does, as typed results. The routes add validation, timing and the audit trail."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from lab.action.admin_client import AdminCallFailed
from lab.action.blocking import kill_blocking
from lab.action.catalog import ActionParams, KillBlockingParams, PoolRemediationParams, RateLimitParams
from lab.action.restarter import RestartFailed, TargetRestarter
from lab.action.target_client import TargetClient, TargetHealth


class ActionResult(BaseModel):
    action: str
    status: Literal["succeeded", "failed"]
    detail: str
    duration_seconds: float
    changes: dict[str, Any] = {}


class ActionFailed(Exception):
    """The action could not do its job; `http_status` is what the API answers.

    409 refused here, 502 the target or the Docker engine said no, 503 the engine is out of reach.
    """

    def __init__(self, reason: str, http_status: int = 502) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status


class Outcome(BaseModel):
    detail: str
    changes: dict[str, Any] = {}


Handler = Callable[[Any], Awaitable[Outcome]]


class ActionRunner:
    """Runs a catalog's actions by name: each handler's failures become ActionFailed with the status to
    answer. `restart` is the restart action every service has (its name says which service)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        restarter: TargetRestarter,
        restart_deadline_seconds: float,
        service: str,
    ) -> None:
        self._http = http
        self._restarter = restarter
        self._deadline = restart_deadline_seconds
        self._service = service
        self._handlers: dict[str, Handler] = {f"restart-{service}": self.restart}

    async def run(self, name: str, params: ActionParams) -> Outcome:
        try:
            return await self._handlers[name](params)
        except AdminCallFailed as exc:
            raise ActionFailed(exc.reason, 409 if exc.status_code == 409 else 502) from None
        except RestartFailed as exc:
            raise ActionFailed(exc.reason, exc.http_status) from None

    async def restart(self, params: ActionParams) -> Outcome:
        result = await self._restarter.restart(self._http, self._deadline)
        return Outcome(
            detail=f"{self._service} restarted (pid {result.old_pid} → {result.new_pid}), "
            f"answering after {result.seconds_to_healthy:.1f} s",
            changes=result.model_dump(),
        )


class Remediations(ActionRunner):
    """The target's actions (`ACTIONS`)."""

    def __init__(
        self,
        target: TargetClient,
        http: httpx.AsyncClient,
        restarter: TargetRestarter,
        db_path: Path,
        restart_deadline_seconds: float,
    ) -> None:
        super().__init__(http, restarter, restart_deadline_seconds, service="target")
        self._target = target
        self._db_path = db_path
        self._handlers |= {
            "remediate-db-pool-exhaustion": self.remediate_pool,
            "kill-blocking-queries": self.kill_blocking_queries,
            "rollback-release": self.rollback_release,
            "enable-dependency-fallback": self.enable_fallback,
            "enable-rate-limit": self.enable_rate_limit,
            "clean-disk": self.clean_disk,
        }

    async def health(self) -> TargetHealth:
        return await self._target.health()

    async def remediate_pool(self, params: PoolRemediationParams) -> Outcome:
        reclaimed = await self._target.admin(
            "pool/reclaim", {"max_held_seconds": params.max_held_seconds, "enable_reaper": True}
        )
        changes: dict[str, Any] = {"reclaim": reclaimed, "disposed": False}
        detail = f"reclaimed {reclaimed.get('reclaimed', 0)} connections; leak reaper on"
        if params.escalate_to_db_restart:
            await self._target.admin("pool/dispose")
            changes["disposed"] = True
            detail += "; pooled connections disposed"
        return Outcome(detail=detail, changes=changes)

    async def kill_blocking_queries(self, params: KillBlockingParams) -> Outcome:
        try:
            protected = await self._restarter.target_pids()
        except RestartFailed as exc:
            raise ActionFailed(
                f"nothing terminated: the target's pid is unknown ({exc.reason})", exc.http_status
            ) from None
        result = await asyncio.to_thread(kill_blocking, self._db_path, protected, params.min_age_seconds)
        if result.terminated:
            held = ", ".join(f"{h.pid} (up {h.held_seconds or 0:.0f} s)" for h in result.terminated)
            detail = f"terminated {len(result.terminated)} lock holder(s): {held}"
        else:
            detail = "no other process holds a lock on the database"
        # What was ended and what was spared, as a DBA's tool would say it: never the command lines of
        # the processes or the database's path (they are this host's internals, not the caller's).
        changes = {
            "terminated": [{"pid": h.pid, "held_seconds": h.held_seconds} for h in result.terminated],
            "skipped": [s.model_dump() for s in result.skipped],
        }
        return Outcome(detail=detail, changes=changes)

    async def rollback_release(self, params: ActionParams) -> Outcome:
        answer = await self._target.admin("release/rollback")
        return Outcome(detail=f"rolled back from {answer.get('from')} to {answer.get('to')}", changes=answer)

    async def enable_fallback(self, params: ActionParams) -> Outcome:
        answer = await self._target.admin("dependency/fallback", {"enabled": True})
        return Outcome(detail="dependency fallback enabled", changes={"fallback": True, **answer})

    async def enable_rate_limit(self, params: RateLimitParams) -> Outcome:
        rps = params.requests_per_second
        answer = await self._target.admin("rate-limit", {"requests_per_second": rps})
        return Outcome(
            detail=f"rate limit set to {rps:g} requests/s", changes={"requests_per_second": rps, **answer}
        )

    async def clean_disk(self, params: ActionParams) -> Outcome:
        answer = await self._target.admin("disk/clean")
        freed = answer.get("freed_bytes", 0)
        return Outcome(
            detail=f"freed {freed} bytes in {answer.get('removed_files', 0)} files", changes=answer
        )
