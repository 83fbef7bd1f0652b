"""The seam restart-target goes through: one TargetRestarter per restart mode (supervise, docker, none).

Each one restarts the target its own way, then waits on the same health check (`wait_until_answering`),
and names the pids kill-blocking-queries must spare.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

import httpx
from pydantic import BaseModel


class RestartResult(BaseModel):
    old_pid: int | None
    old_exit_code: int | None
    new_pid: int
    seconds_to_healthy: float


class RestartFailed(Exception):
    """The restart (or a question about the target's process) failed; `reason` is safe to show."""

    def __init__(self, reason: str, http_status: int = 502) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status


class TargetNotHealthy(RestartFailed):
    """Restarted, but the target did not come back to answer its health check."""


class TargetRestarter(Protocol):
    async def restart(self, http: httpx.AsyncClient, deadline_seconds: float) -> RestartResult: ...

    async def target_pids(self) -> set[int]:
        """Host pids of the running target (empty when it is down); raises RestartFailed if unknown."""
        ...

    async def close(self) -> None: ...


ExitCheck = Callable[[], Awaitable[str | None]]


async def wait_until_answering(
    http: httpx.AsyncClient, health_url: str, deadline_seconds: float, exited: ExitCheck
) -> float:
    """Seconds until the health URL answers at all (any status: the process is serving).

    `exited` returns why the target is gone (it died during startup), None while it runs.
    """
    started = time.monotonic()
    while time.monotonic() - started < deadline_seconds:
        reason = await exited()
        if reason is not None:
            raise TargetNotHealthy(reason)
        with contextlib.suppress(httpx.HTTPError):
            await http.get(health_url, timeout=2)
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise TargetNotHealthy(f"the target did not answer its health check within {deadline_seconds:g} s")


class NoRestarter:
    """ACTION_RESTART_MODE=none: restart-target is refused; the pid file (if any) still names the target."""

    def __init__(self, pid_file: Path, service: str = "target") -> None:
        self._pid_file = pid_file
        self._service = service

    async def restart(self, http: httpx.AsyncClient, deadline_seconds: float) -> RestartResult:
        raise RestartFailed(
            f"restart-{self._service} is off on this action server (ACTION_RESTART_MODE=none): "
            f"it neither supervises the {self._service} process nor reaches its container",
            409,
        )

    async def target_pids(self) -> set[int]:
        pid = read_pid_file(self._pid_file)
        return {pid} if pid else set()

    async def close(self) -> None:
        return None


def read_pid_file(path: Path) -> int | None:
    """The pid a pid file names, if that process still exists."""
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid
