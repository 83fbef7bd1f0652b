"""The supervised service process (the target, or the worker): spawn, stop (SIGTERM then SIGKILL),
restart and wait for health.

It never restarts a process that died by itself: a crash is an incident someone must remediate.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import httpx

from lab.action.restarter import RestartResult, read_pid_file, wait_until_answering
from lab.process import die_with_parent


def target_environment(base: Mapping[str, str], env_file: Path | None) -> dict[str, str]:
    """The target's env: ours without the ACTION_* secrets, plus KEY=VALUE lines from `env_file`."""
    env = {k: v for k, v in base.items() if not k.startswith("ACTION_")}
    if env_file is not None:
        for line in env_file.read_text().splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and key and not key.startswith("#"):
                env[key.strip()] = value.strip().strip("'\"")
    return env


class TargetSupervisor:
    """ACTION_RESTART_MODE=supervise: the service is this server's child process (the native lab)."""

    def __init__(
        self,
        env: Mapping[str, str],
        health_url: str,
        pid_file: Path,
        command: str = "",
        output_file: Path | None = None,
        stop_grace_seconds: float = 5.0,
        module: str = "lab.target",
    ) -> None:
        """`command` overrides `python -m <module>`."""
        self._argv = shlex.split(command) if command else [sys.executable, "-m", module]
        self._name = module.rpartition(".")[2]
        self._env = dict(env)
        self._health_url = health_url
        self._pid_file = pid_file
        self._output_file = output_file
        self._grace = stop_grace_seconds
        self._process: asyncio.subprocess.Process | None = None
        self._output: IO[bytes] | None = None
        self._lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        """The pid of the running process, None when it is not running."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    async def start(self) -> int:
        if self._output_file is not None and self._output is None:
            self._output_file.parent.mkdir(parents=True, exist_ok=True)
            self._output = self._output_file.open("ab")
        self._process = await asyncio.create_subprocess_exec(
            *self._argv, env=self._env, stdout=self._output, stderr=self._output, preexec_fn=die_with_parent
        )
        self._pid_file.parent.mkdir(parents=True, exist_ok=True)
        self._pid_file.write_text(f"{self._process.pid}\n")
        return self._process.pid

    async def stop(self) -> int | None:
        """SIGTERM, SIGKILL after the grace period; returns the exit code (None if nothing ran)."""
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), self._grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        with contextlib.suppress(FileNotFoundError):
            self._pid_file.unlink()
        return process.returncode

    async def close(self) -> None:
        await self.stop()
        if self._output is not None:
            self._output.close()
            self._output = None

    async def wait_healthy(self, http: httpx.AsyncClient, deadline_seconds: float) -> float:
        return await wait_until_answering(http, self._health_url, deadline_seconds, self._exited)

    async def _exited(self) -> str | None:
        return f"the {self._name} process exited during startup" if self.pid is None else None

    async def target_pids(self) -> set[int]:
        return {pid for pid in (self.pid, read_pid_file(self._pid_file)) if pid}

    async def restart(self, http: httpx.AsyncClient, deadline_seconds: float) -> RestartResult:
        async with self._lock:
            old_pid = self._process.pid if self._process is not None else None
            exit_code = await self.stop()
            new_pid = await self.start()
            seconds = await self.wait_healthy(http, deadline_seconds)
        return RestartResult(
            old_pid=old_pid, old_exit_code=exit_code, new_pid=new_pid, seconds_to_healthy=seconds
        )
