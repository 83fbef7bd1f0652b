"""ACTION_RESTART_MODE=docker: restart-target restarts the target's container through the Docker Engine API.

Under docker compose nobody supervises the target (`restart: "no"`), so a crashed container stays
exited until this restarts it. The action container runs with `pid: host`, so the engine's `State.Pid`
is a pid it can see, and kill-blocking-queries spares it.
"""

from __future__ import annotations

import asyncio
import math

import httpx

from lab.action.docker_engine import ContainerInfo, DockerEngine
from lab.action.restarter import RestartResult, TargetNotHealthy, wait_until_answering


class ContainerRestarter:
    def __init__(
        self, engine: DockerEngine, container: str, health_url: str, stop_grace_seconds: float
    ) -> None:
        self._engine = engine
        self._container = container
        self._health_url = health_url
        self._grace = max(0, math.ceil(stop_grace_seconds))  # the Engine API's `t` is whole seconds
        self._lock = asyncio.Lock()

    async def restart(self, http: httpx.AsyncClient, deadline_seconds: float) -> RestartResult:
        """Every call names the container as configured (a re-created container has a new id).

        `old_exit_code` is known only for a container that was already down when asked.
        """
        async with self._lock:
            before = await self._inspect(self._container)
            await asyncio.to_thread(self._engine.restart, self._container, self._grace)
            after = await self._inspect(self._container)
            if not after.state.running:
                raise TargetNotHealthy(self._down(after, "right after its restart"))

            async def exited() -> str | None:
                now = await self._inspect(self._container)
                return None if now.state.running else self._down(now, "during startup")

            seconds = await wait_until_answering(http, self._health_url, deadline_seconds, exited)
        return RestartResult(
            old_pid=before.state.pid or None,
            old_exit_code=None if before.state.running else before.state.exit_code,
            new_pid=after.state.pid,
            seconds_to_healthy=seconds,
        )

    async def target_pids(self) -> set[int]:
        info = await self._inspect(self._container)
        return {info.state.pid} if info.state.running and info.state.pid else set()

    async def close(self) -> None:
        await asyncio.to_thread(self._engine.close)

    async def _inspect(self, container: str) -> ContainerInfo:
        return await asyncio.to_thread(self._engine.inspect, container)

    def _down(self, info: ContainerInfo, when: str) -> str:
        state = info.state
        return f"container {self._container!r} is {state.status} {when} (exit code {state.exit_code})"
