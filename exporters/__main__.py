"""`python -m exporters`: serve the target exporter on EXPORTER_HOST:EXPORTER_PORT (default :9102)."""

from __future__ import annotations

from exporters.app import create_app
from exporters.settings import Settings
from lab.service import configure_logging, run_service


def main() -> None:
    settings = Settings()
    configure_logging("exporter", settings.log_level)
    run_service(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
