"""`python -m agent`: the agent on PORT (default 9001), JSON logs on stderr."""

from __future__ import annotations

import gc
import logging
import os
import sys

import structlog
import uvicorn

from agent.app import create_app
from agent.config import Settings


def configure_logging(level: str) -> None:
    """structlog JSON lines; `incident_id` comes from contextvars bound by the workflow runner."""
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
    structlog.contextvars.bind_contextvars(service="agent")


def main() -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    settings = Settings()
    configure_logging(settings.LOG_LEVEL)
    app = create_app(settings)
    # Everything imported so far lives as long as the process: frozen, a full garbage collection no
    # longer walks it (that walk took ~100 ms under an alert flood, and the webhook waited for it).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.HOST,
        port=settings.PORT,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
