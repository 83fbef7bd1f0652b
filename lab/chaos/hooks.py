"""The chaos server's hands: hook calls to the target, dependency and load generator, and the lock holder.

Every call carries the hook token and a bounded timeout; failures become `MechanismError` with a
reason the API can answer with (502), never an internal exception text.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import httpx

from lab.chaos.config import Settings
from lab.process import die_with_parent


class MechanismError(Exception):
    """The injection (or its undo) could not be driven; `reason` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TargetGone(MechanismError):
    """The target does not accept connections: its in-process state died with it."""


class Hooks:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http

    async def _post(self, component: str, base: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._settings.hook_token.get_secret_value()}"}
        url = f"{base.rstrip('/')}/_hooks/{path}"
        try:
            response = await self._http.post(
                url, json=body, headers=headers, timeout=self._settings.hook_timeout_seconds
            )
        except httpx.ConnectError as exc:
            error = TargetGone if component == "target" else MechanismError
            raise error(f"{component} is not accepting connections at {base}") from exc
        except httpx.HTTPError as exc:
            raise MechanismError(f"{component} hook {path} failed: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise MechanismError(f"{component} hook {path} answered {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {}

    async def target(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post("target", self._settings.target_url, path, body)

    async def dependency(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post("dependency", self._settings.dependency_url, path, body)

    async def loadgen(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post("loadgen", self._settings.loadgen_url, path, body)

    async def current_release(self) -> str | None:
        """The release the target reports publicly (to pick a different one for a deploy)."""
        try:
            response = await self._http.get(
                f"{self._settings.target_url.rstrip('/')}/api/v1/health", timeout=5
            )
            return str(response.json().get("release")) or None
        except (httpx.HTTPError, ValueError, AttributeError):
            return None

    async def spawn_lock_holder(self, seconds: float) -> asyncio.subprocess.Process:
        """Starts the lock holder and returns once it holds the lock (or raises MechanismError)."""
        db_path = self._settings.target_db_path
        if not db_path.is_file():
            raise MechanismError(f"no database file at {db_path}")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lab.chaos.lock_holder",
            str(db_path),
            "--seconds",
            str(seconds),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=die_with_parent,
        )
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(
                process.stdout.readline(), self._settings.lock_ready_timeout_seconds
            )
        except TimeoutError:
            line = b""
        if line.strip() != b"locked":
            await stop_process(process)
            raise MechanismError("the lock holder could not take the write lock")
        return process


async def stop_process(process: asyncio.subprocess.Process, grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL after `grace`; a process that already ended is fine."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
