"""The agent as its own process (`python -m agent`), started, killed and asked over HTTP.

The reliability suite and the agent's restart tests run it this way: a real uvicorn, real SQLite
files and a real exit, so a SIGKILL or a stopped agent is what production would see.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from lab.service import open_private_log

ROOT = Path(__file__).resolve().parents[1]
PAGE = 200  # the agent's largest page of incidents


def all_incidents(url: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Every incident's summary from an agent at `url`, newest first, page after page."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": PAGE}
    while True:
        answer = httpx.get(f"{url}/agent/incidents", params=params, timeout=timeout)
        answer.raise_for_status()
        page = answer.json()
        found += page["incidents"]
        if not page["next_cursor"]:
            return found
        params["cursor"] = page["next_cursor"]


class AgentProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.url = f"http://127.0.0.1:{env['PORT']}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        with open_private_log(self.log) as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "agent"],
                env={**os.environ, **self.env},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                httpx.get(f"{self.url}/health", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"agent did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def incidents(self) -> list[dict[str, Any]]:
        return all_incidents(self.url)

    def incident(self, incident_id: str) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/agent/incidents/{incident_id}", timeout=5).json())

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/health", timeout=10).json())
