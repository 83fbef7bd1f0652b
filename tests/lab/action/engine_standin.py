"""A stand-in Docker Engine API on a real unix socket, whose containers are real processes.

It answers only what the Engine API documents for the calls restart-target makes, and records every
request so tests can check the shape docker-py sends: `GET /version` (unversioned, for version="auto"),
then `GET /v1.47/containers/{id or name}/json` and `POST /v1.47/containers/{id}/restart?t=<integer>`.
Like the engine, restart stops a running container (SIGTERM to its first process, SIGKILL to all of
it after `t` s) and starts it again, and starts a container that has exited.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from lab.process import die_with_parent

API_VERSION = "1.47"  # Docker Engine 27.x
_EPOCH = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str]


class Container:
    """One container as the engine sees it: a process group started from `argv`, `env`, `cwd`."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, output: Path) -> None:
        self.name = name
        self.id = hashlib.sha256(name.encode()).hexdigest()
        self._argv, self._env, self._cwd, self._output = argv, env, cwd, output
        self.process: subprocess.Popen[bytes] | None = None
        self._started_at = self._finished_at = _EPOCH

    @property
    def pid(self) -> int | None:
        process = self.process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        with self._output.open("ab") as output:
            self.process = subprocess.Popen(
                self._argv,
                env=self._env,
                cwd=self._cwd,
                stdout=output,
                stderr=output,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self._started_at = _now()

    def stop(self, grace_seconds: float) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            self._finished_at = _now()
        with contextlib.suppress(ProcessLookupError):  # the rest of the container goes with its first process
            os.killpg(process.pid, signal.SIGKILL)

    def crash(self) -> None:
        """The process dies by itself (SIGKILL): the container is `exited` with code 137."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self._finished_at = _now()

    def inspect(self) -> dict[str, Any]:
        process = self.process
        code = process.poll() if process is not None else None
        running = process is not None and code is None
        exit_code = 0 if code is None else (128 - code if code < 0 else code)
        status = "running" if running else ("created" if process is None else "exited")
        return {
            "Id": self.id,
            "Name": f"/{self.name}",
            "Image": "sha256:" + "0" * 64,
            "State": {
                "Status": status,
                "Running": running,
                "Paused": False,
                "Restarting": False,
                "OOMKilled": False,
                "Dead": False,
                "Pid": process.pid if running and process is not None else 0,
                "ExitCode": exit_code,
                "Error": "",
                "StartedAt": self._started_at,
                "FinishedAt": self._finished_at,
            },
            "Config": {"Image": "sre-agent:local", "Cmd": self._argv},
        }


class EngineStandIn:
    def __init__(self, socket: Path, containers: list[Container]) -> None:
        self.socket = socket
        self.containers = containers
        self.calls: list[Call] = []
        self.restart_error: tuple[int, str] | None = None  # answer restarts with this (status, message)

    def find(self, ref: str) -> Container | None:
        return next((c for c in self.containers if ref in (c.name, c.id)), None)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Response:
            self.calls.append(Call(request.method, request.url.path, dict(request.query_params)))
            response: Response = await call_next(request)
            return response

        @app.get("/version")
        async def version() -> dict[str, Any]:
            return {"Version": "27.3.1", "ApiVersion": API_VERSION, "MinAPIVersion": "1.24", "Os": "linux"}

        @app.get("/{version}/containers/{ref}/json")
        async def inspect(version: str, ref: str) -> Response:
            found = self._resolve(version, ref)
            return found if isinstance(found, Response) else JSONResponse(found.inspect())

        @app.post("/{version}/containers/{ref}/restart")
        async def restart(version: str, ref: str, request: Request) -> Response:
            container = self._resolve(version, ref)
            if isinstance(container, Response):
                return container
            t = request.query_params.get("t", "10")
            try:
                grace = int(t)  # the engine parses `t` with strconv.Atoi
            except ValueError:
                return _error(400, f'strconv.Atoi: parsing "{t}": invalid syntax')
            if self.restart_error is not None:
                return _error(*self.restart_error)
            await asyncio.to_thread(container.stop, grace)
            container.start()
            return Response(status_code=204)

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "HEAD"])
        async def unknown(path: str) -> Response:
            return _error(404, "page not found")

        return app

    def _resolve(self, version: str, ref: str) -> Container | Response:
        if version != f"v{API_VERSION}":
            return _error(400, f"client version {version} is not the one this engine speaks")
        return self.find(ref) or _error(404, f"No such container: {ref}")

    @contextlib.contextmanager
    def serve(self) -> Iterator[EngineStandIn]:
        server = uvicorn.Server(
            uvicorn.Config(self.app(), uds=str(self.socket), log_level="warning", access_log=False)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the stand-in engine did not start")
            time.sleep(0.02)
        try:
            yield self
        finally:
            for container in self.containers:
                container.stop(1)
            server.should_exit = True
            thread.join(10)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
