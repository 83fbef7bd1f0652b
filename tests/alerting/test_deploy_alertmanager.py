"""deploy/alertmanager/: the two ways of running the agent, as Alertmanager itself reads and routes them
(`amtool check-config`, `amtool config routes test`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from ..helpers.binaries import require_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "alertmanager"
CONFIGS = ("agent-first.yml", "agent-beside.yml")
CATALOG_PAGE = {"alertname": "CheckoutHighErrorRatio", "service": "checkout", "severity": "critical"}
OTHER_PAGE = {"alertname": "DiskFull", "service": "billing", "severity": "critical"}
HANDED_OVER = [
    {"alertname": "SREAgentEscalated", "service": "checkout", "team": "payments", "incident": "inc-1"},
    {"alertname": "SREAgentApprovalNeeded", "service": "payments", "incident": "inc-2"},
    {"alertname": "SREAgentFollowUpOpen", "service": "sre-agent", "affected_service": "checkout"},
    {"alertname": "SREAgentDown", "service": "sre-agent", "job": "sre-agent"},
]
ROUTES = {
    # agent first: the agent's services reach people only through what the agent hands over
    "agent-first.yml": [(CATALOG_PAGE, "sre-agent"), (OTHER_PAGE, "people")]
    + [(labels, "people") for labels in HANDED_OVER],
    # beside: the agent and people get the agent's services' pages; the rest is unchanged
    "agent-beside.yml": [(CATALOG_PAGE, "sre-agent,people"), (OTHER_PAGE, "people")]
    + [(labels, "people") for labels in HANDED_OVER],
}


def amtool(*args: str) -> str:
    binary = require_binary("amtool")
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"amtool {' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.parametrize("name", CONFIGS)
def test_the_example_config_passes_amtool(name: str) -> None:
    assert "SUCCESS" in amtool("check-config", str(DEPLOY / name))


@pytest.mark.parametrize(
    ("name", "labels", "receivers"),
    [(name, labels, receivers) for name, cases in ROUTES.items() for labels, receivers in cases],
    ids=lambda value: value if isinstance(value, str) else value.get("alertname"),
)
def test_alertmanager_routes_each_page_as_the_config_says(
    name: str, labels: dict[str, str], receivers: str
) -> None:
    pairs = [f"{key}={value}" for key, value in labels.items()]
    answer = amtool("config", "routes", "test", f"--config.file={DEPLOY / name}", *pairs)
    assert answer.strip() == receivers


def test_the_two_ways_differ_only_in_how_the_agents_services_are_routed() -> None:
    first, beside = (yaml.safe_load((DEPLOY / name).read_text()) for name in CONFIGS)
    assert first["receivers"] == beside["receivers"]
    agent = {**first["route"]["routes"][1], "continue": True}
    assert beside["route"]["routes"] == [*first["route"]["routes"][:1], agent, {"receiver": "people"}]
    (webhook,) = first["receivers"][1]["webhook_configs"]
    assert webhook["send_resolved"] is True and webhook["url"].endswith("/webhooks/alertmanager")
    assert "credentials_file" in webhook["http_config"]["authorization"]  # the token never in the file
