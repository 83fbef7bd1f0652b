"""The action server API: catalog, run an action (validated, timed, audited), verify the service's health.

One program for every service: ACTION_SERVICE picks the profile (`lab/action/services.py`), so the
worker's instance is this app with the worker's catalog, supervisor and verdict.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import structlog
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from lab.action.audit import AuditLog, AuditRecord
from lab.action.config import Settings
from lab.action.container_restarter import ContainerRestarter
from lab.action.docker_engine import DockerEngine
from lab.action.remediations import ActionFailed, ActionResult
from lab.action.restarter import NoRestarter, TargetRestarter
from lab.action.services import PROFILES, ServiceProfile
from lab.action.supervisor import TargetSupervisor, target_environment
from lab.auth import require_bearer
from lab.errors import OBJECT_BODY, UNAUTHORIZED, documented, json_object, validated

log = structlog.get_logger("action")


class UnknownActionDetail(BaseModel):
    reason: str
    known_actions: list[str]


class UnknownAction(BaseModel):
    detail: UnknownActionDetail


ACTION_FAILURES = {
    409: "refused here (nothing to roll back, restarts off)",
    502: "the service or the Docker engine said no",
    503: "the Docker engine is out of reach",
    504: "the Docker engine did not answer in time",
}


def _caller(request: Request) -> str:
    address = request.client.host if request.client else "unknown"
    return f"{address} {request.headers.get('x-caller') or request.headers.get('user-agent', '')}".strip()


async def _params(request: Request) -> dict[str, Any]:
    """The parameters: the JSON body (an object), their one source. A query string is refused rather
    than merged or ignored: a `?requests_per_second=` beside a body used to override it, and one
    silently ignored would run the action with parameters its caller did not mean."""
    if request.query_params:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"parameters go in the JSON body, not the query string: {', '.join(request.query_params)}",
        )
    return await json_object(request)


async def open_restarter(
    settings: Settings, target_env: Mapping[str, str], profile: ServiceProfile
) -> TargetRestarter:
    """The restarter for the configured mode; in supervise mode the service is started here."""
    mode = settings.resolved_restart_mode()
    health_url = f"{settings.target_url.rstrip('/')}{profile.health_path}"
    if mode == "supervise":
        supervisor = TargetSupervisor(
            env=target_environment(target_env, settings.target_env_file),
            health_url=health_url,
            pid_file=settings.pid_file(),
            command=settings.target_command,
            output_file=settings.target_output_file,
            stop_grace_seconds=settings.stop_grace_seconds,
            module=profile.module,
        )
        log.info(f"{profile.name}_started", pid=await supervisor.start())
        return supervisor
    if mode == "docker":
        if not settings.docker_socket.exists():
            log.warning("docker_socket_missing", path=str(settings.docker_socket))
        engine = DockerEngine(settings.docker_socket, settings.request_timeout_seconds)
        return ContainerRestarter(engine, settings.target_container, health_url, settings.stop_grace_seconds)
    return NoRestarter(settings.pid_file(), profile.name)


def create_app(settings: Settings, target_env: Mapping[str, str] | None = None) -> FastAPI:
    """`target_env` is the environment the supervised service starts with (the process env in __main__)."""
    profile = PROFILES[settings.service]
    actions = profile.actions

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient() as http:
            restarter = await open_restarter(settings, target_env or {}, profile)
            log.info("restart_mode", mode=settings.resolved_restart_mode(), service=profile.name)
            app.state.restarter = restarter
            app.state.audit = AuditLog(settings.data_dir / "audit.jsonl")
            app.state.backend = profile.build(settings, http, restarter)
            try:
                yield
            finally:
                await restarter.close()

    app = FastAPI(title="lab action server", lifespan=lifespan)
    router = APIRouter(
        prefix="/action",
        dependencies=[Depends(require_bearer(settings.token.get_secret_value))],
        responses=documented({401: UNAUTHORIZED}),
    )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/catalog")
    async def catalog() -> dict[str, list[dict[str, Any]]]:
        return {"actions": [spec.public() for spec in actions.values()]}

    async def verify_health(request: Request) -> Any:
        return await request.app.state.backend.health()

    for method in ("GET", "POST"):
        router.add_api_route(
            profile.verify_path,
            verify_health,
            methods=[method],
            response_model=profile.health_model,
            name=f"verify_{profile.name}_health",
        )

    @router.get("/audit")
    async def audit(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> dict[str, Any]:
        return {"records": request.app.state.audit.recent(limit)}

    @router.post(
        "/{name}",
        response_model=ActionResult,
        responses={
            **documented({404: "no such action in the catalog"}, UnknownAction),
            **documented({400: "the body could not be read", 422: "bad parameters for this action"}),
            **documented(ACTION_FAILURES, ActionResult),
        },
        openapi_extra=OBJECT_BODY,
    )
    async def run_action(
        name: str, request: Request, raw: Annotated[dict[str, Any], Depends(_params)]
    ) -> Any:
        spec = actions.get(name)
        if spec is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                detail={"reason": f"unknown action {name!r}", "known_actions": sorted(actions)},
            )
        params = validated(spec.params_model, raw, whole="params")
        started = time.monotonic()
        http_status = 200
        try:
            outcome = await request.app.state.backend.run(name, params)
            result = ActionResult(
                action=name,
                status="succeeded",
                detail=outcome.detail,
                duration_seconds=round(time.monotonic() - started, 3),
                changes=outcome.changes,
            )
        except ActionFailed as exc:
            http_status = exc.http_status
            result = ActionResult(
                action=name,
                status="failed",
                detail=exc.reason,
                duration_seconds=round(time.monotonic() - started, 3),
            )
        request.app.state.audit.append(
            AuditRecord(
                at=datetime.now(UTC),
                action=name,
                parameters=params.model_dump(),
                status=result.status,
                http_status=http_status,
                detail=result.detail,
                duration_seconds=result.duration_seconds,
                changes=result.changes,
                caller=_caller(request),
            )
        )
        log.info("action_run", action=name, status=result.status, duration_seconds=result.duration_seconds)
        if http_status != 200:
            return JSONResponse(result.model_dump(mode="json"), status_code=http_status)
        return result

    app.include_router(router)
    return app
