"""The product side of the native lab: exporter, Prometheus, Alertmanager and the agent as component specs.

The agent's lab settings shorten verification and relax the hourly budget and cooldown: the lab
injects faults back to back, which a production service (with the agent's defaults) never sees.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from lab.runner.components import HOST, ComponentSpec, LabPaths
from lab.runner.monitoring import (
    SERVICES,
    AlertLinks,
    MonitoringConfig,
    alertmanager_argv,
    prometheus_argv,
    render_monitoring,
)
from lab.runner.ports import Ports
from lab.runner.tokens import Tokens

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("exporter", "prometheus", "alertmanager", "agent")

AGENT_PROFILE_ENV: dict[str, dict[str, str]] = {
    "lab": {
        "VERIFY_HOLD_SECONDS": "8",
        "VERIFY_DEADLINE_SECONDS": "90",
        "VERIFY_POLL_SECONDS": "1",
        "ACTION_COOLDOWN_SECONDS": "5",
        "MAX_ACTIONS_PER_HOUR": "500",
        "CIRCUIT_BREAKER_COOLOFF_SECONDS": "60",
        # Lab symptoms settle within seconds (1 s scrapes, short windows): look again sooner.
        "OBSERVE_WINDOW_SECONDS": "45",
        "OBSERVE_INTERVAL_SECONDS": "5",
        # Lab faults come back to back: an error older than this before the page is another fault's.
        "LOG_LOOKBACK_SECONDS": "30",
    },
    "production": {},
}


def lab_services() -> tuple[str, ...]:
    """The monitored services this checkout's lab has (`lab/<service>/`): Prometheus scrapes no service
    the lab cannot run, which would page as down on every run."""
    return tuple(service for service in SERVICES if (ROOT / "lab" / service / "__init__.py").is_file())


def render(
    profile: str,
    paths: LabPaths,
    ports: Ports,
    webhook_token_file: Path,
    extra_webhooks: list[str],
    services: Sequence[str] | None = None,
    runbooks_url: str | None = None,
) -> MonitoringConfig:
    """`services` defaults to `lab_services()`; a stack started without one of them passes the rest.
    `runbooks_url`: the base of the rules' runbook links; by default the run's agent serves them."""
    chosen = lab_services() if services is None else services
    links = AlertLinks.at_agent(f"http://{HOST}:{ports.agent}")
    if runbooks_url:
        links = AlertLinks(agent=links.agent, runbooks=runbooks_url.rstrip("/"))
    return render_monitoring(profile, paths.run_dir, ports, webhook_token_file, extra_webhooks, chosen, links)


def observability_components(
    cfg: MonitoringConfig, ports: Ports, paths: LabPaths, tokens: Tokens, profile: str
) -> list[ComponentSpec]:
    target = f"http://{HOST}:{ports.target}"
    exporter = f"http://{HOST}:{ports.exporter}"
    agent = f"http://{HOST}:{ports.agent}"
    agent_data = paths.run_dir / "data" / "agent"
    return [
        ComponentSpec(
            name="exporter",
            argv=[sys.executable, "-m", "exporters"],
            env={
                "EXPORTER_HOST": HOST,
                "EXPORTER_PORT": str(ports.exporter),
                "EXPORTER_TARGET_URL": target,
                "EXPORTER_TIMEOUT_SECONDS": str(cfg.exporter_timeout_seconds),
            },
            url=exporter,
            health_url=f"{exporter}/metrics",
            depends_on=["target"],
        ),
        ComponentSpec(
            name="prometheus",
            argv=prometheus_argv(cfg),
            url=cfg.prometheus_url,
            health_url=f"{cfg.prometheus_url}/-/ready",
            depends_on=["exporter"],
        ),
        ComponentSpec(
            name="alertmanager",
            argv=alertmanager_argv(cfg),
            url=cfg.alertmanager_url,
            health_url=f"{cfg.alertmanager_url}/-/ready",
            depends_on=["prometheus"],
        ),
        ComponentSpec(
            name="agent",
            argv=[sys.executable, "-m", "agent"],
            env={
                "HOST": HOST,
                "PORT": str(ports.agent),
                "TARGET_API_BASE_URL": target,
                # what the lab's catalog entries (services/*.yml) read from the environment
                "ACTION_SERVER_URL": f"http://{HOST}:{ports.action}",
                "WORKER_ACTION_URL": f"http://{HOST}:{ports.worker_action}",
                "ACTION_TOKEN": tokens.action,
                "PROMETHEUS_URL": cfg.prometheus_url,
                "ALERTMANAGER_URL": cfg.alertmanager_url,
                "EXTERNAL_URL": cfg.links.agent,  # the links in its alerts, as the rules' runbook links
                "WEBHOOK_TOKEN": tokens.webhook,
                "API_TOKEN": tokens.api,
                "AGENT_DATA_DIR": str(agent_data),
                "VECTOR_STORE_PATH": str(agent_data / "knowledge.json"),
                "RUNBOOKS_PATH": str(ROOT / "runbooks"),
                "SERVICES_PATH": str(ROOT / "services"),
                "SIGNAL_PACKS_PATH": str(ROOT / "signals"),
                "PROPOSED_RUNBOOKS_PATH": str(agent_data / "proposed-runbooks"),
                **AGENT_PROFILE_ENV.get(profile, {}),
            },
            url=agent,
            health_url=f"{agent}/health",
            depends_on=["action", "worker-action", "prometheus"],
            startup_timeout_seconds=60.0,
        ),
    ]
