"""python -m lab.chaos"""

import logging
import sys

from lab.chaos.app import create_app
from lab.chaos.config import Settings
from lab.service import configure_logging, run_service


def main() -> None:
    settings = Settings()
    if (refusal := settings.refusal()) is not None:
        sys.exit(f"lab.chaos: {refusal}")
    configure_logging("chaos", settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here
    run_service(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
