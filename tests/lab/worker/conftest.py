"""Workers served by uvicorn on free ports (in a thread, or as `python -m lab.worker` processes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.runner.ports import free_port
from lab.worker.app import create_app
from lab.worker.config import Settings
from lab.worker.metrics import new_registry

from .worker_testkit import ADMIN, FAST, HOOK, InThreadWorker, StartWorker, Worker


def worker_settings(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=data_dir, admin_token=ADMIN, hook_token=HOOK, **{**FAST, **overrides})


def worker_env(port: int, data_dir: Path, **overrides: str) -> dict[str, str]:
    """What `python -m lab.worker` reads, with the same short durations."""
    base = {f"WORKER_{name.upper()}": str(value) for name, value in FAST.items()}
    extra = {f"WORKER_{name.upper()}": value for name, value in overrides.items()}
    return {
        **base,
        "WORKER_PORT": str(port),
        "WORKER_DATA_DIR": str(data_dir),
        "WORKER_ADMIN_TOKEN": ADMIN,
        "WORKER_HOOK_TOKEN": HOOK,
        **extra,
    }


@pytest.fixture
def start_worker(servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartWorker]:  # type: ignore[no-untyped-def]
    """A worker app per call, served in this process (its registry readable directly)."""
    started: list[Worker] = []

    def start(data_dir: Path | None = None, **overrides: Any) -> InThreadWorker:
        data_dir = data_dir or tmp_path_factory.mktemp("worker")
        registry = new_registry()
        url = servers.serve(create_app(worker_settings(data_dir, **overrides), registry=registry))
        worker = InThreadWorker(url, data_dir, registry)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.http.close()


@pytest.fixture
def spawn_worker(servers, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., tuple[Worker, Any]]:  # type: ignore[no-untyped-def]
    """`python -m lab.worker` as a real process; returns the worker and its ServiceProcess."""

    def spawn(data_dir: Path | None = None, **overrides: str) -> tuple[Worker, Any]:
        data_dir = data_dir or tmp_path_factory.mktemp("worker")
        port = free_port()
        process = servers.spawn("lab.worker", worker_env(port, data_dir, **overrides), port, "/healthz")
        return Worker(process.url, data_dir), process

    return spawn
