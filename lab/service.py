"""Running a lab service: JSON logs and uvicorn, the same way for every process the runner starts."""

from __future__ import annotations

import logging
import sys

import structlog
import uvicorn
from fastapi import FastAPI


def configure_logging(service: str, level: str = "INFO") -> None:
    """structlog JSON lines on stderr, bound to the service name. Called from `__main__`, never at import."""
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def run_service(app: FastAPI, host: str, port: int) -> None:
    """Serve `app` until SIGINT/SIGTERM; uvicorn's own access log is off (each service logs what matters)."""
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning", timeout_graceful_shutdown=5)
