"""`python -m lab.dependency`: the inventory service on DEPENDENCY_HOST:DEPENDENCY_PORT."""

from __future__ import annotations

from lab.dependency.app import create_app
from lab.dependency.config import Settings
from lab.service import configure_logging, run_service


def main() -> None:
    settings = Settings()
    configure_logging("dependency", settings.log_level)
    run_service(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
