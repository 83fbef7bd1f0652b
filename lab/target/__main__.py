"""`python -m lab.target`: the orders API on TARGET_HOST:TARGET_PORT."""

from __future__ import annotations

import logging

from lab.service import configure_logging, run_service
from lab.target.app import create_app
from lab.target.config import Settings


def main() -> None:
    settings = Settings()
    configure_logging("target", settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per outgoing request otherwise
    run_service(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
