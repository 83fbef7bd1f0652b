"""Rendered Prometheus / Alertmanager configs pass the tools' own checks; rules pass their unit tests."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.runner import observability
from lab.runner.components import LabPaths
from lab.runner.monitoring import (
    ALERTING_DIR,
    SERVICES,
    MonitoringConfig,
    alertmanager_argv,
    duration_seconds,
    load_profile,
    prometheus_argv,
    render_monitoring,
    render_rules,
)
from lab.runner.ports import Ports

from ..helpers.binaries import require_binary

PROFILES = ("lab", "production")
ALERTS_BY_SERVICE = {
    "target": {
        "TargetDown",
        "TargetHighErrorRatio",
        "TargetHighLatency",
        "TargetDbPoolSaturated",
        "TargetDbPoolExhausted",
        "TargetMemoryGrowth",
        "TargetCpuSaturated",
        "TargetDataDiskAlmostFull",
        "TargetTrafficSurge",
        "TargetErrorsAfterRelease",
        "TargetHealthCheckFailing",
    },
    "worker": {
        "WorkerDown",
        "WorkerJobsFailing",
        "WorkerNotConsuming",
        "WorkerConsumersSaturated",
        "WorkerBacklogGrowing",
        "WorkerMemoryGrowth",
    },
    "sre-agent": {"SREAgentFollowUpOpen", "SREAgentDown"},
}
ALERTS = set().union(*ALERTS_BY_SERVICE.values())
# The runbooks people maintain: an alert's runbook_url must name one of them.
RUNBOOKS = {path.stem for path in (ALERTING_DIR.parent / "runbooks").glob("*.md")}
UNIT_TESTS = sorted((ALERTING_DIR / "tests").glob("*.test.yml"))


def run(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{' '.join(argv)}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(params=PROFILES)
def rendered(request: pytest.FixtureRequest, tmp_path: Path) -> MonitoringConfig:
    token = tmp_path / "webhook-token"
    token.write_text("s3cret\n")
    return render_monitoring(request.param, tmp_path / "run", Ports.free(), token)


def rules(rendered: MonitoringConfig) -> dict[str, list[dict[str, Any]]]:
    """Rules per service, from the rendered `<service>.rules.yml` files."""
    return {
        path.name.removesuffix(".rules.yml"): [
            rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]
        ]
        for path in rendered.rules_files
    }


def test_prometheus_config_and_rules_pass_promtool(rendered: MonitoringConfig) -> None:
    promtool = require_binary("promtool")
    run([promtool, "check", "config", str(rendered.prometheus_config)])
    output = run([promtool, "check", "rules", *map(str, rendered.rules_files)]).stdout
    assert output.count("SUCCESS") == len(rendered.rules_files) == len(SERVICES) + 1  # + the agent's own
    config = yaml.safe_load(rendered.prometheus_config.read_text())
    assert config["rule_files"] == [str(path) for path in rendered.rules_files]


def scrape_targets(cfg: MonitoringConfig) -> dict[str, list[str]]:
    config = yaml.safe_load(cfg.prometheus_config.read_text())
    return {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}


def test_a_run_scrapes_and_evaluates_only_the_services_it_runs(tmp_path: Path) -> None:
    token = tmp_path / "webhook-token"
    token.write_text("s3cret\n")
    ports = Ports.free()
    every = render_monitoring("lab", tmp_path / "every", ports, token)
    assert scrape_targets(every)["worker"] == [f"127.0.0.1:{ports.worker}"]
    assert scrape_targets(every)["target"] == [f"127.0.0.1:{ports.exporter}"]
    cfg = render_monitoring("lab", tmp_path / "run", ports, token, services=("target",))
    assert [path.name for path in cfg.rules_files] == ["target.rules.yml", "sre-agent.rules.yml"]
    assert set(scrape_targets(cfg)) == {"prometheus", "target", "sre-agent"}
    with pytest.raises(ValueError, match="no rules for queue"):
        render_rules(load_profile("lab"), tmp_path / "rules", ("target", "queue"))


def test_the_native_lab_scrapes_the_services_it_has_code_for(tmp_path: Path) -> None:
    token = tmp_path / "webhook-token"
    token.write_text("s3cret\n")
    cfg = observability.render("lab", LabPaths.under(tmp_path), Ports.free(), token, [])
    assert "target" in observability.lab_services()
    expected = [f"{s}.rules.yml" for s in (*observability.lab_services(), "sre-agent")]
    assert [path.name for path in cfg.rules_files] == expected
    assert set(scrape_targets(cfg)) == {"prometheus", "sre-agent", *observability.lab_services()}


def test_alertmanager_config_passes_amtool(rendered: MonitoringConfig) -> None:
    amtool = require_binary("amtool")
    run([amtool, "check-config", str(rendered.alertmanager_config)])
    config = yaml.safe_load(rendered.alertmanager_config.read_text())
    assert config["route"]["group_by"] == ["service"]
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    webhook = receivers["sre-agent"]["webhook_configs"][0]
    # the agent's own alerts go to people, never back to the agent
    assert config["route"]["routes"][0] == {"receiver": "people", "matchers": ['service="sre-agent"']}
    assert webhook["url"] == rendered.webhook_url
    assert webhook["url"].endswith("/webhooks/alertmanager")
    assert webhook["send_resolved"] is True
    assert webhook["max_alerts"] == 0
    assert webhook["http_config"]["authorization"]["credentials_file"].endswith("webhook-token")
    assert "s3cret" not in rendered.alertmanager_config.read_text()
    # what the agent hands over goes to people, and only there
    assert config["route"]["routes"][1] == {
        "receiver": "people",
        "matchers": ['alertname=~"SREAgentEscalated|SREAgentApprovalNeeded"'],
    }
    down = config["inhibit_rules"][0]
    assert down["source_matchers"] == ['alertname="TargetDown"'] and down["equal"] == ["service"]
    by_source = {tuple(rule["source_matchers"]): rule for rule in config["inhibit_rules"]}
    worker = by_source[('alertname="WorkerDown"',)]
    assert worker["target_matchers"] == ['alertname!="WorkerDown"'] and worker["equal"] == ["service"]


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"alertname": "TargetDbPoolExhausted", "service": "target", "severity": "critical"}, "sre-agent"),
        ({"alertname": "WorkerDown", "service": "worker"}, "sre-agent"),
        ({"alertname": "SREAgentEscalated", "service": "target", "team": "orders"}, "people"),
        ({"alertname": "SREAgentApprovalNeeded", "service": "worker", "team": "billing"}, "people"),
        ({"alertname": "SREAgentFollowUpOpen", "service": "sre-agent"}, "people"),
        ({"alertname": "SREAgentDown", "service": "sre-agent", "job": "sre-agent"}, "people"),
    ],
)
def test_pages_go_to_the_agent_and_what_it_hands_over_to_people(
    rendered: MonitoringConfig, labels: dict[str, str], receivers: str
) -> None:
    """`amtool config routes test`: Alertmanager's own routing of the rendered config, agent first."""
    amtool = require_binary("amtool")
    pairs = [f"{name}={value}" for name, value in labels.items()]
    config = f"--config.file={rendered.alertmanager_config}"
    result = run([amtool, "config", "routes", "test", config, *pairs])
    assert result.stdout.strip() == receivers


def test_every_alert_is_labelled_and_points_at_a_runbook(rendered: MonitoringConfig) -> None:
    by_service = rules(rendered)
    agent = rendered.links.agent
    assert agent.startswith("http://127.0.0.1:") and rendered.links.runbooks == f"{agent}/agent/runbooks"
    assert {s: {r["alert"] for r in rs if "alert" in r} for s, rs in by_service.items()} == ALERTS_BY_SERVICE
    without_runbook = {}
    for service, service_rules in by_service.items():
        for rule in (r for r in service_rules if "alert" in r):
            name = rule["alert"]
            assert rule["labels"]["service"] == service, name
            assert rule["labels"]["severity"] in {"warning", "critical"}, name
            assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), name
            url = rule["annotations"]["runbook_url"]
            if service == "sre-agent":  # the incidents they are about, or Prometheus's view of the agent
                opens = (f"{rendered.links.agent}/agent/incidents?", "{{ $externalURL }}/")
                assert url.startswith(opens), name
                assert rule["for"] == rendered.profile.for_[name]
                continue
            # absolute, so a notification's link opens: the runbooks as this run's agent serves them
            assert url.startswith(f"{rendered.links.runbooks}/") and url.endswith(".md"), name
            ids = set(re.findall(r"(?:runbooks/|}})([a-z-]+)(?:\.md|{{)", url))
            assert ids, name
            if ids - RUNBOOKS:
                without_runbook[name] = sorted(ids - RUNBOOKS)
            assert rule["for"] == rendered.profile.for_[name]
    for path in rendered.rules_files:
        text = path.read_text().lower()
        assert not any(word in text for word in ("chaos", "attack", "inject", "fault")), path.name
    assert without_runbook == {}, "runbook_url names no file in runbooks/"


def test_profiles_differ_only_in_timing_and_give_a_floor_per_alert() -> None:
    lab, production = load_profile("lab"), load_profile("production")
    assert set(lab.for_) == set(production.for_) == ALERTS
    assert lab.floor_seconds()["TargetDbPoolExhausted"] == 1 + 1 + 5 + 1
    assert production.floor_seconds()["TargetDown"] == 15 + 15 + 120 + 30
    for profile in (lab, production):
        timing = profile.prometheus
        assert duration_seconds(timing.scrape_timeout) <= duration_seconds(timing.scrape_interval)
        assert profile.exporter_timeout_seconds < duration_seconds(timing.scrape_timeout)
    assert max(lab.floor_seconds().values()) < 30 < min(production.floor_seconds().values())


def test_a_backlog_draining_after_a_restart_cannot_page() -> None:
    """Right after a restart, the age's rate window still holds samples from before the downtime, so its
    slope can read as rising while the backlog drains: the age threshold or `for` must outlast the window."""
    template = (ALERTING_DIR / "rules" / "worker.rules.yml.j2").read_text()
    threshold = float(re.findall(r'queue_oldest_message_age_seconds\{job="worker"\} > (\d+)', template)[0])
    for profile in map(load_profile, PROFILES):
        window = duration_seconds(profile.windows.rate)
        hold = duration_seconds(profile.for_["WorkerBacklogGrowing"])
        assert threshold >= window or hold >= window, profile.name
    with pytest.raises(ValueError, match="unknown monitoring profile"):
        load_profile("staging")


def test_command_lines_use_the_run_dir_and_the_profile(rendered: MonitoringConfig) -> None:
    prometheus = prometheus_argv(rendered)
    assert f"--config.file={rendered.prometheus_config}" in prometheus
    assert f"--storage.tsdb.path={rendered.prometheus_storage}" in prometheus
    assert str(rendered.prometheus_storage).startswith(str(rendered.run_dir))
    assert f"--rules.alert.resend-delay={rendered.profile.prometheus.resend_delay}" in prometheus
    alertmanager = alertmanager_argv(rendered)
    assert Path(alertmanager[0]).name in {"alertmanager", "prometheus-alertmanager"}
    assert "--cluster.listen-address=" in alertmanager
    assert f"--storage.path={rendered.alertmanager_storage}" in alertmanager
    assert f"--web.external-url={rendered.alertmanager_url}" in alertmanager


@pytest.mark.parametrize("unit_test", UNIT_TESTS, ids=lambda path: path.name)
def test_rules_unit_tests_with_the_lab_profile(unit_test: Path, tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    render_rules(load_profile("lab"), tmp_path)
    shutil.copy(unit_test, tmp_path / unit_test.name)
    run([promtool, "test", "rules", unit_test.name], cwd=tmp_path)


def test_every_alert_has_a_unit_test_that_fires_it() -> None:
    fired: set[str] = set()
    for unit_test in UNIT_TESTS:
        for case in yaml.safe_load(unit_test.read_text())["tests"]:
            checks = case.get("alert_rule_test", [])
            fired |= {check["alertname"] for check in checks if check.get("exp_alerts")}
    assert fired == ALERTS


def test_every_recording_rule_has_a_unit_test_that_evaluates_it(tmp_path: Path) -> None:
    rendered = render_rules(load_profile("lab"), tmp_path)
    recorded = {
        rule["record"]
        for path in rendered
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    evaluated = " ".join(
        check["expr"]
        for unit_test in UNIT_TESTS
        for case in yaml.safe_load(unit_test.read_text())["tests"]
        for check in case.get("promql_expr_test", [])
    )
    assert {name for name in recorded if not re.search(rf"{re.escape(name)}(?![\w:])", evaluated)} == set()
