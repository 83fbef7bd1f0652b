"""Test-only levers under `/_hooks/` (TARGET_HOOK_TOKEN) that put real mechanisms into a bad state.

Hidden from OpenAPI, never logged, never counted: what they cause must be found from symptoms alone.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from lab.auth import require_bearer
from lab.process import exit_soon
from lab.target.releases import RELEASE_PATTERN, ReleaseConflict
from lab.target.runtime import Runtime, get_runtime

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Toggle(Strict):
    enabled: bool


class MemoryIn(Strict):
    enabled: bool
    bytes_per_request: int = Field(default=262_144, ge=1, le=64 * 1024 * 1024)


class CpuIn(Strict):
    enabled: bool
    threads: int = Field(default=2, ge=1, le=16)


class ReleaseIn(Strict):
    release: str = Field(pattern=RELEASE_PATTERN)
    defective: bool = False


class DiskIn(Strict):
    bytes: int | None = Field(default=None, ge=0)


class ExitIn(Strict):
    code: int = Field(default=1, ge=0, le=255)


def build_router(hook_token: str) -> APIRouter:
    router = APIRouter(
        prefix="/_hooks", include_in_schema=False, dependencies=[Depends(require_bearer(lambda: hook_token))]
    )

    @router.post("/pool-leak")
    def pool_leak(rt: RuntimeDep, body: Toggle) -> dict[str, object]:
        rt.db.leak_enabled = body.enabled
        return {"enabled": body.enabled, "checked_out": rt.db.status().checked_out}

    @router.post("/memory-retain")
    def memory_retain(rt: RuntimeDep, body: MemoryIn) -> dict[str, object]:
        rt.memory.configure(body.enabled, body.bytes_per_request)
        return {
            "enabled": body.enabled,
            "bytes_per_request": body.bytes_per_request,
            "retained_bytes": rt.memory.retained_bytes,
        }

    @router.post("/cpu-burn")
    async def cpu_burn(rt: RuntimeDep, body: CpuIn) -> dict[str, object]:
        if body.enabled:
            await asyncio.to_thread(rt.cpu.start, body.threads)
        else:
            await asyncio.to_thread(rt.cpu.stop)
        return {"enabled": body.enabled, "threads": rt.cpu.threads}

    @router.post("/release")
    def release(rt: RuntimeDep, body: ReleaseIn) -> dict[str, object]:
        try:
            old, new = rt.releases.deploy(body.release, defective=body.defective)
        except ReleaseConflict as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        rt.log.info("release changed", previous=old, release=new)
        return {"from": old, "to": new, "defective": body.defective}

    @router.post("/disk-fill", status_code=status.HTTP_202_ACCEPTED)
    async def disk_fill(rt: RuntimeDep, body: DiskIn) -> dict[str, int]:
        """Answers once the writing has started (it goes on in the background) with what it will write."""
        planned = await asyncio.to_thread(rt.storage.start_fill, body.bytes)
        if planned is None:
            raise HTTPException(status.HTTP_409_CONFLICT, "spool files are already being written")
        return {
            "filling_bytes": planned,
            "used_bytes": rt.storage.used_bytes(),
            "quota_bytes": rt.storage.quota_bytes,
        }

    @router.post("/exit")
    def exit_process(body: ExitIn, background: BackgroundTasks) -> dict[str, int]:
        background.add_task(exit_soon, body.code)  # after the answer is sent
        return {"exiting_with": body.code}

    return router
