"""Renders the lab profile's Prometheus and Alertmanager configs for docker compose into this folder.

The native runner renders the same templates (alerting/*.j2) into each run's directory with every
component on 127.0.0.1; compose needs service names instead, and a webhook token file the
Alertmanager container writes from WEBHOOK_TOKEN at start. Run `python deploy/compose/render.py`
after changing a template or profile; `--check` exits 1 when the committed files are stale.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # run as a script from a checkout

from deploy.generated_files import write_or_check  # noqa: E402
from lab.runner.monitoring import AlertLinks, render_monitoring  # noqa: E402
from lab.runner.ports import Ports  # noqa: E402

PROFILE = "lab"
# The agent as a browser on the compose host reaches it (its port is published on 127.0.0.1): the alerts'
# runbook links open there. Set your own with the agent's EXTERNAL_URL when it is reached otherwise.
AGENT_URL = "http://localhost:9001"
WEBHOOK_TOKEN_FILE = "/tmp/webhook-token"  # written by the alertmanager service's entrypoint
# Ports field -> compose service that listens on that port.
SERVICES = {name: name for name in ("prometheus", "alertmanager", "exporter", "worker", "agent")}
NOTE = "# docker compose copy with service names, written by deploy/compose/render.py; do not edit by hand.\n"


def render() -> dict[str, str]:
    ports = Ports()
    with tempfile.TemporaryDirectory() as tmp:
        links = AlertLinks.at_agent(AGENT_URL)
        cfg = render_monitoring(PROFILE, Path(tmp), ports, Path(WEBHOOK_TOKEN_FILE), links=links)
        texts = {
            "prometheus/prometheus.yml": cfg.prometheus_config.read_text(),
            **{f"prometheus/rules/{path.name}": path.read_text() for path in cfg.rules_files},
            "alertmanager/alertmanager.yml": cfg.alertmanager_config.read_text(),
        }
        rules_paths = [str(path) for path in cfg.rules_files]
    out = {}
    for name, text in texts.items():
        # Relative to prometheus.yml, which Prometheus resolves against the config file's folder.
        for path in rules_paths:
            text = text.replace(path, f"rules/{Path(path).name}")
        for field, service in SERVICES.items():
            text = text.replace(f"127.0.0.1:{getattr(ports, field)}", f"{service}:{getattr(ports, field)}")
        if "127.0.0.1" in text:
            raise ValueError(f"{name}: a component left on 127.0.0.1; map it to a compose service")
        out[name] = NOTE + text
    return out


def main(argv: list[str] | None = None) -> int:
    return write_or_check(__file__, (__doc__ or "").splitlines()[0], render, argv)


if __name__ == "__main__":
    sys.exit(main())
