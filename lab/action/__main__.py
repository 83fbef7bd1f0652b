"""python -m lab.action"""

import logging
import os
import sys

from lab.action.app import create_app
from lab.action.config import Settings
from lab.service import configure_logging, run_service


def main() -> None:
    settings = Settings()
    if (refusal := settings.refusal()) is not None:
        sys.exit(f"lab.action: {refusal}")
    configure_logging("action", settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here
    run_service(create_app(settings, target_env=dict(os.environ)), settings.host, settings.port)


if __name__ == "__main__":
    main()
