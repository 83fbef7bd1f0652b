"""The chaos server's hands: hook calls to the target, worker, dependency and load generator, the worker's
public jobs API, and the lock holder.

Every call carries the hook token and a bounded timeout; failures become `MechanismError` with a
reason the API can answer with, never an internal exception text. Whether the call may have acted is
part of the error: `HookUnanswered` when the request was sent and no answer came back (a read timeout,
a dropped connection), a plain `MechanismError` when it was refused or never delivered.
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


class ServiceGone(MechanismError):
    """The target or the worker does not accept connections: its in-process state died with it."""


class HookUnanswered(MechanismError):
    """The request was sent but no answer came back: the hook may have acted, partly or fully."""


# Sent, not answered: the service may have acted on it.
UNANSWERED = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)
SERVICES = ("target", "worker")


class Hooks:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http

    async def _post(
        self, component: str, base: str, path: str, body: dict[str, Any], public: bool = False
    ) -> dict[str, Any]:
        """POSTs to `/_hooks/<path>` with the hook token, or with `public` to `<path>` as any client would."""
        headers = (
            {} if public else {"Authorization": f"Bearer {self._settings.hook_token.get_secret_value()}"}
        )
        url = f"{base.rstrip('/')}/{path}" if public else f"{base.rstrip('/')}/_hooks/{path}"
        what = f"{component} {'API' if public else 'hook'} {path}"
        timeout = self._settings.hook_timeout_seconds
        try:
            response = await self._http.post(url, json=body, headers=headers, timeout=timeout)
        except httpx.ConnectError as exc:
            error = ServiceGone if component in SERVICES else MechanismError
            raise error(f"{component} is not accepting connections at {base}") from exc
        except UNANSWERED as exc:
            raise HookUnanswered(
                f"{what} did not answer within {timeout:g} s ({type(exc).__name__}): "
                "the fault may be partly injected"
            ) from exc
        except httpx.HTTPError as exc:
            raise MechanismError(f"{what} failed: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise MechanismError(f"{what} answered {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {}

    def _url(self, component: str) -> str:
        settings = self._settings
        return {
            "target": settings.target_url,
            "worker": settings.worker_url,
            "dependency": settings.dependency_url,
            "loadgen": settings.loadgen_url,
        }[component]

    async def hook(self, component: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /_hooks/<path>` on the target, the worker, the dependency or the load generator."""
        return await self._post(component, self._url(component), path, body)

    async def target(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.hook("target", path, body)

    async def dependency(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.hook("dependency", path, body)

    async def loadgen(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.hook("loadgen", path, body)

    async def worker(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.hook("worker", path, body)

    async def publish_job(self, job: dict[str, Any]) -> dict[str, Any]:
        """A job through the worker's public `POST /jobs`, like any producer (no token, no hook)."""
        return await self._post("worker", self._url("worker"), "jobs", job, public=True)

    async def answers(self, service: str) -> bool:
        """Whether the target or the worker answers its health check at all."""
        path = "/api/v1/health" if service == "target" else "/healthz"
        try:
            await self._http.get(f"{self._url(service).rstrip('/')}{path}", timeout=5)
        except httpx.HTTPError:
            return False
        return True

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
