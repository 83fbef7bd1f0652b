"""JSON log lines on stderr, `service` bound to each: one configuration for the agent and the lab's
services (lab/service.py), so every process of a run logs the same shape. Called from a `__main__`,
never at import."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import structlog
from structlog.typing import Processor


def configure_logging(service: str, level: str = "INFO", before_rendering: Sequence[Processor] = ()) -> None:
    """structlog renders JSON; standard-library records (httpx, uvicorn) print their message as is.
    `before_rendering` runs last on every structlog event (the agent's redaction)."""
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            *before_rendering,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
