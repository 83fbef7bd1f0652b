"""Operator endpoints (`/admin/...`, TARGET_ADMIN_TOKEN): the levers the action server pulls.

Hidden from OpenAPI and from request metrics and the access log. Effects a real service would log
(a release change, reclaimed connections) are logged the same way whoever caused them. Blocking work
uses the loop's executor, not the request thread pool, so the levers work while requests are stuck.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from lab.auth import require_bearer
from lab.target.releases import RELEASE_PATTERN, ReleaseConflict
from lab.target.runtime import Runtime, get_runtime

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReclaimIn(Strict):
    max_held_seconds: float = Field(default=5.0, ge=0, le=3600)
    enable_reaper: bool = True


class ReclaimOut(BaseModel):
    reclaimed: int
    reaper_seconds: float | None


class DeployIn(Strict):
    release: str = Field(pattern=RELEASE_PATTERN)


class ReleaseChange(BaseModel):
    from_: str = Field(alias="from")
    to: str


class FallbackIn(Strict):
    enabled: bool


class RateLimitIn(Strict):
    requests_per_second: float | None = Field(gt=0, le=100_000)


class CleanOut(BaseModel):
    freed_bytes: int
    removed_files: int


class AdminState(BaseModel):
    release: str
    release_history: list[str]
    dependency_fallback: bool
    rate_limit_rps: float | None
    reaper_seconds: float | None
    pool_checked_out: int


async def reaper(rt: Runtime) -> None:
    """Every interval, invalidates abandoned connections and those held past the reaper's limit."""
    while True:
        await asyncio.sleep(rt.settings.reaper_interval_seconds)
        limit = rt.db.reaper_seconds
        if limit is None or not rt.db.reclaimable(limit, abandoned=True):
            continue
        await asyncio.to_thread(rt.db.reclaim, limit, True)


def build_router(admin_token: str) -> APIRouter:
    router = APIRouter(
        prefix="/admin", include_in_schema=False, dependencies=[Depends(require_bearer(lambda: admin_token))]
    )

    @router.post("/pool/reclaim", response_model=ReclaimOut)
    async def reclaim(rt: RuntimeDep, body: ReclaimIn | None = None) -> ReclaimOut:
        body = body or ReclaimIn()
        reclaimed = await asyncio.to_thread(rt.db.reclaim, body.max_held_seconds)
        rt.db.reaper_seconds = body.max_held_seconds if body.enable_reaper else None
        if reclaimed:
            rt.log.warning(
                "reclaimed database connections held too long",
                count=reclaimed,
                max_held_seconds=body.max_held_seconds,
            )
        return ReclaimOut(reclaimed=reclaimed, reaper_seconds=rt.db.reaper_seconds)

    @router.post("/pool/dispose")
    async def dispose(rt: RuntimeDep) -> dict[str, int]:
        closed = await asyncio.to_thread(rt.db.dispose)
        rt.log.warning("database connection pool recreated")
        return {"invalidated": closed}

    @router.post("/release/rollback", response_model=ReleaseChange, response_model_by_alias=True)
    def rollback(rt: RuntimeDep) -> ReleaseChange:
        try:
            old, new = rt.releases.rollback()
        except ReleaseConflict as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        rt.log.info("release changed", previous=old, release=new)
        return ReleaseChange.model_validate({"from": old, "to": new})

    @router.post("/release/deploy", response_model=ReleaseChange, response_model_by_alias=True)
    def deploy(rt: RuntimeDep, body: DeployIn) -> ReleaseChange:
        try:
            old, new = rt.releases.deploy(body.release)
        except ReleaseConflict as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        rt.log.info("release changed", previous=old, release=new)
        return ReleaseChange.model_validate({"from": old, "to": new})

    @router.post("/dependency/fallback")
    def fallback(rt: RuntimeDep, body: FallbackIn) -> dict[str, bool]:
        rt.inventory.fallback = body.enabled
        rt.log.warning("inventory fallback " + ("enabled" if body.enabled else "disabled"))
        return {"enabled": body.enabled}

    @router.post("/rate-limit")
    def rate_limit(rt: RuntimeDep, body: RateLimitIn) -> dict[str, float | None]:
        rt.limiter.configure(body.requests_per_second)
        rt.log.info("rate limit set", requests_per_second=body.requests_per_second)
        return {"requests_per_second": body.requests_per_second}

    @router.post("/disk/clean", response_model=CleanOut)
    async def clean(rt: RuntimeDep) -> CleanOut:
        freed, removed = await asyncio.to_thread(rt.storage.clean, rt.log.rotated_files())
        rt.log.info("data directory cleaned", freed_bytes=freed, removed_files=removed)
        return CleanOut(freed_bytes=freed, removed_files=removed)

    @router.get("/state", response_model=AdminState)
    def state(rt: RuntimeDep) -> AdminState:
        return AdminState(
            release=rt.releases.current.release,
            release_history=[r.release for r in rt.releases.history()],
            dependency_fallback=rt.inventory.fallback,
            rate_limit_rps=rt.limiter.rate,
            reaper_seconds=rt.db.reaper_seconds,
            pool_checked_out=rt.db.status().checked_out,
        )

    return router
