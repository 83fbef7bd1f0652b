"""`python -m lab.loadgen`: orders to LOADGEN_TARGET_URL, jobs to LOADGEN_WORKER_URL, API on LOADGEN_PORT."""

from __future__ import annotations

import logging

from lab.loadgen.app import create_app
from lab.loadgen.config import Settings
from lab.service import configure_logging, run_service


def main() -> None:
    settings = Settings()
    configure_logging("loadgen", settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per outgoing request otherwise
    run_service(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
