"""Running a lab service: JSON logs and uvicorn, the same way for every process the runner starts.

The logs are configured as the agent's are (`agent.telemetry.logs`), without its redaction."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

import uvicorn
from fastapi import FastAPI

from agent.telemetry.logs import configure_logging

__all__ = ["configure_logging", "keep_files_private", "open_private_log", "run_service"]


def keep_files_private() -> None:
    """New files 600 and directories 700 (databases, logs, audit files, tokens): the owner's only. Called
    at process start; the processes it starts inherit it."""
    os.umask(0o077)


def open_private_log(path: Path) -> IO[bytes]:
    """`path` opened for appending and created 600, in a 700 directory, whatever the caller's umask (the
    runner used as a library, by tests and the benchmark)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")


def run_service(app: FastAPI, host: str, port: int) -> None:
    """Serve `app` until SIGINT/SIGTERM; uvicorn's own access log is off (each service logs what matters).
    Files the service writes from its lifespan on are private (`keep_files_private`)."""
    keep_files_private()
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning", timeout_graceful_shutdown=5)
