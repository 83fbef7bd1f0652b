"""`python -m lab.worker`: the queue worker on WORKER_HOST:WORKER_PORT."""

from __future__ import annotations

from lab.service import configure_logging, run_service
from lab.worker.app import create_app
from lab.worker.config import Settings


def main() -> None:
    settings = Settings()
    configure_logging("worker", settings.log_level)
    run_service(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
