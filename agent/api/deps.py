"""FastAPI dependencies: the runtime built by the lifespan (tokens are checked before, `agent.api.guard`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from agent.runtime import AgentRuntime


def get_runtime(request: Request) -> AgentRuntime:
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="agent is starting")
    return runtime


RuntimeDep = Annotated[AgentRuntime, Depends(get_runtime)]
