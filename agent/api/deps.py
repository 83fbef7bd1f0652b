"""FastAPI dependencies: the runtime built by the lifespan (tokens are checked before, `agent.api.guard`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from agent.runtime import AgentRuntime


async def get_runtime(request: Request) -> AgentRuntime:
    """Async so FastAPI calls it on the loop: a plain `def` dependency is run in a worker thread, and
    every request, the webhook's too, then waits for that thread to get the GIL back from the store's."""
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="agent is starting")
    return runtime


RuntimeDep = Annotated[AgentRuntime, Depends(get_runtime)]
