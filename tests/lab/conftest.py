"""Shared by the lab service tests: real servers on free ports (uvicorn in a thread, or a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from lab.runner.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_until_ready(url: str, timeout: float = 15.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} not ready after {timeout}s")


class ServiceProcess:
    """`python -m <module>` with env; stderr goes to a file the test can read."""

    def __init__(self, module: str, env: dict[str, str], url: str, stderr_path: Path) -> None:
        self.url = url
        self.stderr_path = stderr_path
        full_env = {**os.environ, **env}
        with stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", module],
                env=full_env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


class Servers:
    def __init__(self, tmp: Path) -> None:
        self._tmp = tmp
        self._threads: list[tuple[uvicorn.Server, threading.Thread]] = []
        self._processes: list[ServiceProcess] = []

    def serve(self, app: FastAPI) -> str:
        """Runs `app` (lifespan included) with uvicorn in a thread; returns its base URL once it answers."""
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        self._threads.append((server, thread))
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("in-thread server did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{port}"

    def spawn(self, module: str, env: dict[str, str], port: int, ready_path: str) -> ServiceProcess:
        url = f"http://127.0.0.1:{port}"
        process = ServiceProcess(module, env, url, self._tmp / f"{module}-{port}.stderr")
        self._processes.append(process)
        wait_until_ready(url + ready_path, process=process.process)
        return process

    def close(self) -> None:
        for process in self._processes:
            process.stop()
        for server, _ in self._threads:
            server.should_exit = True
        for _, thread in self._threads:
            thread.join(10)


@pytest.fixture
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    running = Servers(tmp_path_factory.mktemp("srv"))
    yield running
    running.close()


@pytest.fixture(scope="session")
def session_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    running = Servers(tmp_path_factory.mktemp("srv"))
    yield running
    running.close()
