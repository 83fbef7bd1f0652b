"""The Docker Engine API through docker-py (the `docker` SDK): inspect and restart one container.

docker-py is blocking (requests over the unix socket): call these methods from a worker thread.
With version="auto" its client asks `GET /version` once when created, then calls `/v<ApiVersion>/...`;
it is created on first use, so the action server starts (and answers) even while the engine is away.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import requests
from docker.errors import APIError, DockerException, NotFound
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lab.action.restarter import RestartFailed


class ContainerState(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    status: str = Field(validation_alias="Status")  # created, running, restarting, exited, dead, ...
    running: bool = Field(validation_alias="Running")
    pid: int = Field(validation_alias="Pid")  # host pid of the container's first process; 0 when stopped
    exit_code: int = Field(validation_alias="ExitCode")


class ContainerInfo(BaseModel):
    """The part of `GET /containers/{id}/json` that restart-target reads."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(validation_alias="Id")
    name: str = Field(validation_alias="Name")
    state: ContainerState = Field(validation_alias="State")


class DockerEngine:
    def __init__(self, socket: Path, timeout_seconds: float) -> None:
        self.socket = socket
        self._timeout = timeout_seconds
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()

    def inspect(self, container: str) -> ContainerInfo:
        with self._failures(container, "inspect"):
            attrs = self._docker().containers.get(container).attrs
        try:
            return ContainerInfo.model_validate(attrs)
        except ValidationError:
            raise RestartFailed(
                f"the Docker Engine API described container {container!r} in an unexpected shape"
            ) from None

    def restart(self, container: str, grace_seconds: int) -> None:
        """POST /containers/{id}/restart?t=<grace>: stop (SIGTERM, SIGKILL after t), then start.

        The engine also starts a container that is stopped or exited (moby/moby#16174).
        """
        with self._failures(container, "restart"):
            self._docker().api.restart(container, timeout=grace_seconds)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _docker(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                self._client = docker.DockerClient(
                    base_url=f"unix://{self.socket}", version="auto", timeout=math.ceil(self._timeout)
                )
            return self._client

    @contextmanager
    def _failures(self, container: str, verb: str) -> Iterator[None]:
        try:
            yield
        except (DockerException, OSError) as exc:  # requests' errors are OSErrors
            if not isinstance(exc, APIError):
                self.close()  # the next call connects afresh
            raise engine_failure(exc, self.socket, container, verb, self._timeout) from None


def engine_failure(
    exc: BaseException, socket: Path, container: str, verb: str, timeout_seconds: float
) -> RestartFailed:
    """A reason a person can act on: 503 when the engine is out of reach, 502 when it said no."""
    if isinstance(exc, NotFound):
        return RestartFailed(
            f"the Docker engine has no container {container!r} ({_explanation(exc)}): "
            "check ACTION_TARGET_CONTAINER",
            502,
        )
    if isinstance(exc, APIError):
        return RestartFailed(
            f"the Docker Engine API answered {exc.status_code} to {verb} {container!r}: {_explanation(exc)}",
            502,
        )
    causes = list(_causes(exc))
    if any(isinstance(e, FileNotFoundError) for e in causes):
        return RestartFailed(f"no Docker socket at {socket}: mount the engine's socket there", 503)
    if any(isinstance(e, PermissionError) for e in causes):
        return RestartFailed(
            f"permission denied on the Docker socket {socket}: this user may not use the engine", 503
        )
    if any(isinstance(e, ConnectionRefusedError) for e in causes):
        return RestartFailed(f"nothing answers on the Docker socket {socket}: is the engine running?", 503)
    if any(isinstance(e, requests.Timeout) for e in causes):
        return RestartFailed(
            f"the Docker Engine API did not answer {verb} {container!r} within {timeout_seconds:g} s", 504
        )
    return RestartFailed(f"the Docker Engine API failed to {verb} {container!r}: {str(exc)[:200]}", 502)


def _explanation(exc: APIError) -> str:
    """The engine's `message`, else the HTTP reason phrase."""
    if exc.explanation:
        return str(exc.explanation)[:200]
    return str(exc.response.reason) if exc.response is not None else type(exc).__name__


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, what it was raised from, and exceptions carried in args (urllib3 nests the OSError there)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([*current.args, current.__cause__, current.__context__])
