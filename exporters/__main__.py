"""`python -m exporters`: serve the target exporter on EXPORTER_HOST:EXPORTER_PORT (default :9102).

The exporter stands on its own: it needs its package and a few of the agent's dependencies (fastapi,
uvicorn, httpx, pydantic, pydantic-settings, prometheus-client), nothing of the lab or the agent. It
writes no files and logs little: uvicorn's warnings and errors, httpx's past INFO (one line a request
otherwise), each a plain line on stderr.
"""

from __future__ import annotations

import logging
import sys

import uvicorn

from exporters.app import create_app
from exporters.settings import Settings


def main() -> None:
    settings = Settings()
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
