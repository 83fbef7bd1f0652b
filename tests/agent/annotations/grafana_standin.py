"""A stand-in Grafana: the two annotation routes, checking the documented request shape.

It records every request (method, path, Authorization, JSON) and answers like Grafana does
(`{"message": "Annotation added", "id": N}` / `{"message": "Annotation patched"}`), or with the
statuses a test scripts. A request of the wrong shape gets a 400 and lands in `shape_errors`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

CREATE_FIELDS = {"dashboardUID", "dashboardId", "panelId", "time", "timeEnd", "tags", "text", "data"}
PATCH_FIELDS = {"time", "timeEnd", "tags", "text", "data"}


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None
    body: Any


@dataclass
class GrafanaStandIn:
    token: str
    statuses: list[int] = field(default_factory=list)  # answered first, one per request, then 200s
    delay_seconds: float = 0.0
    requests: list[Seen] = field(default_factory=list)
    shape_errors: list[str] = field(default_factory=list)
    annotations: dict[int, dict[str, Any]] = field(default_factory=dict)

    def shape(self, method: str, body: Any, authorization: str | None) -> list[str]:
        errors = []
        if authorization != f"Bearer {self.token}":
            errors.append(f"authorization {authorization!r}")
        if not isinstance(body, dict):
            return [*errors, "body is not a JSON object"]
        allowed = CREATE_FIELDS if method == "POST" else PATCH_FIELDS
        errors += [f"unknown field {k}" for k in set(body) - allowed]
        if method == "POST":
            if not isinstance(body.get("text"), str):
                errors.append("text must be a string")
            if not isinstance(body.get("dashboardUID"), str):
                errors.append("dashboardUID must be a string")
            if "dashboardId" in body:
                errors.append("dashboardId is deprecated")
        for key in ("time", "timeEnd"):
            if key in body and not (isinstance(body[key], int) and body[key] > 10**12):
                errors.append(f"{key} must be epoch milliseconds")
        if "tags" in body and not (
            isinstance(body["tags"], list) and all(isinstance(t, str) for t in body["tags"])
        ):
            errors.append("tags must be a list of strings")
        return errors

    def app(self) -> FastAPI:
        app = FastAPI()

        async def handle(request: Request, annotation_id: int | None) -> JSONResponse:
            body = await request.json()
            auth = request.headers.get("authorization")
            self.requests.append(Seen(request.method, request.url.path, auth, body))
            if self.delay_seconds:
                await asyncio.sleep(self.delay_seconds)
            if self.statuses:
                status = self.statuses.pop(0)
                if status != 200:
                    return JSONResponse({"message": f"scripted {status}"}, status_code=status)
            errors = self.shape(request.method, body, auth)
            if errors:
                self.shape_errors += errors
                return JSONResponse({"message": "; ".join(errors)}, status_code=400)
            if annotation_id is None:
                new_id = len(self.annotations) + 1
                self.annotations[new_id] = dict(body)
                return JSONResponse({"message": "Annotation added", "id": new_id})
            if annotation_id not in self.annotations:
                return JSONResponse({"message": "Could not find annotation to update"}, status_code=404)
            self.annotations[annotation_id].update(body)
            return JSONResponse({"message": "Annotation patched"})

        @app.post("/api/annotations")
        async def create(request: Request) -> JSONResponse:
            return await handle(request, None)

        @app.patch("/api/annotations/{annotation_id}")
        async def patch(annotation_id: int, request: Request) -> JSONResponse:
            return await handle(request, annotation_id)

        return app


class Served:
    """Serves an app on a given port in a thread (so a test can start Grafana late, on a known port)."""

    def __init__(self, app: FastAPI, port: int) -> None:
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> Served:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("stand-in Grafana did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
