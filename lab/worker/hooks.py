"""Test-only levers under `/_hooks/` (WORKER_HOOK_TOKEN) that put real mechanisms into a bad state.

Hidden from OpenAPI, never logged, never counted: what they cause must be found from symptoms alone.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends

from lab.auth import require_bearer
from lab.process import exit_soon
from lab.worker.runtime import Runtime, get_runtime
from lab.worker.schemas import ExitIn, MemoryIn

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def build_router(hook_token: str) -> APIRouter:
    router = APIRouter(
        prefix="/_hooks", include_in_schema=False, dependencies=[Depends(require_bearer(lambda: hook_token))]
    )

    @router.post("/stall")
    def stall(rt: RuntimeDep) -> dict[str, object]:
        """Every consumer's next downstream call blocks until the process exits."""
        rt.downstream.stall()
        return {"stalled": True, "consumers": rt.pool.count}

    @router.post("/memory-retain")
    def memory_retain(rt: RuntimeDep, body: MemoryIn) -> dict[str, object]:
        """Each job committed from now on keeps `bytes_per_job` bytes (the setting's when not given)."""
        size = body.bytes_per_job or rt.settings.memory_bytes_per_job
        rt.memory.configure(body.enabled, size)
        return {"enabled": body.enabled, "bytes_per_job": size, "retained_bytes": rt.memory.retained_bytes}

    @router.post("/exit")
    def exit_process(body: ExitIn, background: BackgroundTasks) -> dict[str, int]:
        background.add_task(exit_soon, body.code)  # after the answer is sent
        return {"exiting_with": body.code}

    return router
