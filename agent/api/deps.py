"""FastAPI dependencies: the runtime built by the lifespan, and the API token check."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from agent.api.auth import check_bearer
from agent.runtime import AgentRuntime


def get_runtime(request: Request) -> AgentRuntime:
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="agent is starting")
    return runtime


RuntimeDep = Annotated[AgentRuntime, Depends(get_runtime)]


def require_api_token(runtime: RuntimeDep, authorization: str | None = Header(default=None)) -> None:
    check_bearer(authorization, runtime.settings.API_TOKEN)


ApiAuth = Depends(require_api_token)
