"""Prometheus and Alertmanager for the lab: profiles, rendered configs, command lines.

`render_monitoring` turns a profile from `alerting/profiles/` and the run's ports into files under
the run directory; `prometheus_argv` / `alertmanager_argv` are how the runner starts the binaries.
Each monitored service has its rules in `alerting/rules/<service>.rules.yml.j2` and a scrape job in
`prometheus.yml.j2`; a run scrapes and evaluates only the services it runs, so an absent one never
pages as down. Templates use `<< >>` / `<% %>` delimiters so Prometheus's own `{{ $value }}`
templates pass through.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import jinja2
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from lab.runner.ports import Ports

ALERTING_DIR = Path(__file__).resolve().parents[2] / "alerting"
HOST = "127.0.0.1"
# Services with rules and a scrape job: the target (through its exporter) and the queue worker.
SERVICES = ("target", "worker")
AGENT_RULES = "sre-agent"  # the agent's own alerts, for people: rendered in every run
_DURATION = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w|y))+$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def _check_duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError(f"not a Prometheus duration: {value!r}")
    return value


Duration = Annotated[str, AfterValidator(_check_duration)]


def duration_seconds(value: str) -> float:
    """Seconds in a Prometheus duration such as `1m30s`."""
    _check_duration(value)
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", value))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrometheusTiming(_Strict):
    scrape_interval: Duration
    scrape_timeout: Duration
    evaluation_interval: Duration
    resend_delay: Duration


class AlertmanagerTiming(_Strict):
    group_wait: Duration
    group_interval: Duration
    repeat_interval: Duration


class Windows(_Strict):
    rate: Duration
    traffic_baseline: Duration
    traffic_baseline_offset: Duration
    memory: Duration
    memory_horizon: Duration
    release_recent: Duration


class Profile(_Strict):
    """How fast detection is; thresholds are the same for every profile and live in the rules."""

    name: str
    prometheus: PrometheusTiming
    exporter_timeout_seconds: float = Field(gt=0)
    alertmanager: AlertmanagerTiming
    windows: Windows
    for_: dict[str, Duration] = Field(alias="for")

    def floor_seconds(self) -> dict[str, float]:
        """Fastest possible page per alert: scrape + evaluation + `for` + group_wait."""
        fixed = sum(
            duration_seconds(d)
            for d in (
                self.prometheus.scrape_interval,
                self.prometheus.evaluation_interval,
                self.alertmanager.group_wait,
            )
        )
        return {alert: fixed + duration_seconds(hold) for alert, hold in self.for_.items()}


class AlertLinks(_Strict):
    """Where the rules' links point, absolute so that a notification's link opens: `runbooks` is the base
    of `<runbook id>.md`, `agent` the agent's EXTERNAL_URL (its incidents)."""

    agent: str
    runbooks: str

    @classmethod
    def at_agent(cls, agent_url: str) -> AlertLinks:
        """The runbooks as the agent serves them (`GET /agent/runbooks/<id>.md`)."""
        agent = agent_url.rstrip("/")
        return cls(agent=agent, runbooks=f"{agent}/agent/runbooks")


# An agent on its default port on this machine: what `render_rules` links to unless told (the promtool
# unit tests expect it).
DEFAULT_LINKS = AlertLinks.at_agent("http://localhost:9001")


class MonitoringConfig(BaseModel):
    """Everything the runner needs to start Prometheus and Alertmanager for one run."""

    profile: Profile
    run_dir: Path
    prometheus_config: Path
    rules_files: list[Path]
    alertmanager_config: Path
    prometheus_storage: Path
    alertmanager_storage: Path
    prometheus_url: str
    alertmanager_url: str
    webhook_url: str
    exporter_timeout_seconds: float
    floor_seconds: dict[str, float]
    links: AlertLinks
    prometheus_listen: str
    alertmanager_listen: str


def load_profile(name: str) -> Profile:
    path = ALERTING_DIR / "profiles" / f"{name}.yml"
    if not path.is_file():
        known = sorted(p.stem for p in (ALERTING_DIR / "profiles").glob("*.yml"))
        raise ValueError(f"unknown monitoring profile {name!r}; known: {', '.join(known)}")
    return Profile.model_validate(yaml.safe_load(path.read_text()))


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(ALERTING_DIR),
        variable_start_string="<<",
        variable_end_string=">>",
        block_start_string="<%",
        block_end_string="%>",
        comment_start_string="<#",
        comment_end_string="#>",
        undefined=jinja2.StrictUndefined,
        # A line holding only a `<% %>` tag leaves nothing behind in the YAML.
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_rules(
    profile: Profile,
    directory: Path,
    services: Sequence[str] = SERVICES,
    links: AlertLinks = DEFAULT_LINKS,
) -> list[Path]:
    """`<service>.rules.yml` per service under `directory` (promtool unit tests render them this way)."""
    unknown = set(services) - set(SERVICES)
    if unknown:
        raise ValueError(f"no rules for {', '.join(sorted(unknown))}; known: {', '.join(SERVICES)}")
    evaluation = duration_seconds(profile.prometheus.evaluation_interval)
    context = {
        "profile": profile,
        "links": links,
        "f": profile.for_,
        "w": profile.windows,
        "seconds": {name: int(duration_seconds(value)) for name, value in profile.windows},
        # The recorded rate gets one sample per evaluation: ask for half the window's worth.
        "baseline_min_samples": int(duration_seconds(profile.windows.traffic_baseline) / evaluation / 2),
    }
    directory.mkdir(parents=True, exist_ok=True)
    env = _environment()
    paths = []
    for service in [*services, AGENT_RULES]:
        path = directory / f"{service}.rules.yml"
        path.write_text(env.get_template(f"rules/{service}.rules.yml.j2").render(**context))
        paths.append(path)
    return paths


def render_monitoring(
    profile: str,
    run_dir: Path,
    ports: Ports,
    webhook_token_file: Path,
    extra_webhook_urls: list[str] | None = None,
    services: Sequence[str] = SERVICES,
    links: AlertLinks | None = None,
) -> MonitoringConfig:
    """Renders prometheus.yml, the rules and alertmanager.yml under `run_dir/monitoring/`.

    `extra_webhook_urls` get every notification the agent gets (the benchmark's baseline receiver).
    `services` are the ones this run scrapes and evaluates rules for (a subset of SERVICES).
    `links`: where the alerts' links point; by default this run's agent.
    """
    loaded = load_profile(profile)
    base = run_dir.resolve() / "monitoring"
    base.mkdir(parents=True, exist_ok=True)
    env = _environment()
    links = links or AlertLinks.at_agent(f"http://{HOST}:{ports.agent}")
    rules_files = render_rules(loaded, base / "rules", services, links)
    webhook_url = f"http://{HOST}:{ports.agent}/webhooks/alertmanager"
    context = {
        "profile": loaded,
        "ports": ports,
        "host": HOST,
        "rules_files": rules_files,
        "services": list(services),
        "webhook_url": webhook_url,
        "webhook_token_file": webhook_token_file.resolve(),
        "extra_webhook_urls": extra_webhook_urls or [],
    }
    prometheus_config = base / "prometheus.yml"
    prometheus_config.write_text(env.get_template("prometheus.yml.j2").render(**context))
    alertmanager_config = base / "alertmanager.yml"
    alertmanager_config.write_text(env.get_template("alertmanager.yml.j2").render(**context))
    return MonitoringConfig(
        profile=loaded,
        run_dir=run_dir.resolve(),
        prometheus_config=prometheus_config,
        rules_files=rules_files,
        alertmanager_config=alertmanager_config,
        prometheus_storage=base / "prometheus-data",
        alertmanager_storage=base / "alertmanager-data",
        prometheus_url=f"http://{HOST}:{ports.prometheus}",
        alertmanager_url=f"http://{HOST}:{ports.alertmanager}",
        webhook_url=webhook_url,
        exporter_timeout_seconds=loaded.exporter_timeout_seconds,
        floor_seconds=loaded.floor_seconds(),
        links=links,
        prometheus_listen=f"{HOST}:{ports.prometheus}",
        alertmanager_listen=f"{HOST}:{ports.alertmanager}",
    )


def prometheus_argv(cfg: MonitoringConfig) -> list[str]:
    return [
        shutil.which("prometheus") or "prometheus",
        f"--config.file={cfg.prometheus_config}",
        f"--storage.tsdb.path={cfg.prometheus_storage}",
        f"--web.listen-address={cfg.prometheus_listen}",
        f"--web.external-url={cfg.prometheus_url}",
        f"--rules.alert.resend-delay={cfg.profile.prometheus.resend_delay}",
        "--web.enable-lifecycle",
        "--log.level=warn",
    ]


def alertmanager_binary() -> str | None:
    """Upstream calls it `alertmanager`; Debian's package `prometheus-alertmanager`."""
    return shutil.which("alertmanager") or shutil.which("prometheus-alertmanager")


def alertmanager_argv(cfg: MonitoringConfig) -> list[str]:
    return [
        alertmanager_binary() or "alertmanager",
        f"--config.file={cfg.alertmanager_config}",
        f"--storage.path={cfg.alertmanager_storage}",
        f"--web.listen-address={cfg.alertmanager_listen}",
        f"--web.external-url={cfg.alertmanager_url}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
