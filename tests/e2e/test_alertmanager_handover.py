"""Where the people are, end to end: the lab (target, chaos, action server, exporter, Prometheus, a real
Alertmanager, the agent, all as `python -m lab up` starts them) with Alertmanager running the shipped
agent-first example, deploy/alertmanager/agent-first.yml, its people's receiver a Slack stand-in that
records what Slack would get.

One fault, the target's crash, twice:
1. the agent fixes it: people get nothing about it; while the fix is verified the agent holds an exact
   silence on TargetDown at Alertmanager, removed when the incident closes;
2. with the kill switch engaged, the agent can only hand it over: its SREAgentEscalated reaches the
   people's receiver (through Alertmanager, with the incident's labels and link), and resolves once a
   person has restarted the target and TargetDown stops.

What the example's file is changed in, to run here: its placeholders (the agent's address, the two files,
the catalog's services) and its timings (the lab profile's 1 s / 5 s instead of 30 s / 5 min).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.runner.monitoring import alertmanager_binary
from lab.runner.ports import Ports, free_port
from lab.runner.stack import Stack

from ..helpers.pipeline import WebhookReceiver
from .lab_driver import FAST_LAB_ENV, LabDriver

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.timeout(420),
    pytest.mark.skipif(alertmanager_binary() is None, reason="Alertmanager is not installed"),
]
EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "alertmanager" / "agent-first.yml"
AGENT_ENV = {"SILENCE_WHILE_VERIFYING": "true", "AGENT_ALERTS_RESEND_SECONDS": "2"}


def readdressed(stack: Stack, slack_url_file: Path) -> str:
    """The example as it is, but for its placeholders and its timings."""
    replacements = {
        "sre-agent:9001": f"127.0.0.1:{stack.ports.agent}",
        "/etc/alertmanager/sre-agent-webhook.token": str(stack.paths.run_dir / "tokens" / "webhook.token"),
        "/etc/alertmanager/slack-webhook-url": str(slack_url_file),
        'service=~"checkout|payments"': 'service=~"target|worker"',
        "group_wait: 30s": "group_wait: 1s",
        "group_wait: 10s": "group_wait: 1s",
        "group_interval: 5m": "group_interval: 5s",
    }
    text = EXAMPLE.read_text()
    for placeholder, actual in replacements.items():
        assert placeholder in text, placeholder
        text = text.replace(placeholder, actual)
    return text


SLACK_PORT = free_port()


@pytest.fixture(scope="module")
def slack() -> Iterator[WebhookReceiver]:
    """Slack's stand-in: every message Alertmanager's slack_configs posts (the people's receiver)."""
    with WebhookReceiver().serve(SLACK_PORT) as receiver:
        yield receiver


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, slack: WebhookReceiver) -> Iterator[LabDriver]:
    run_dir = tmp_path_factory.mktemp("handover")
    stack = Stack(ports=Ports.free(), run_dir=run_dir, env={**FAST_LAB_ENV, "agent": AGENT_ENV})
    assert stack.monitoring is not None
    slack_url = run_dir / "slack-webhook-url"
    slack_url.write_text(f"http://127.0.0.1:{SLACK_PORT}/slack\n")
    stack.monitoring.alertmanager_config.write_text(readdressed(stack, slack_url))
    with stack:
        driver = LabDriver(stack)
        try:
            yield driver
        finally:
            driver.http.close()


def messages(slack: WebhookReceiver) -> list[tuple[str, str]]:
    """(title, text) of every message posted to the Slack stand-in, in order."""
    with slack.lock:
        bodies = [body for _, _, body in slack.posts]
    return [(a.get("title", ""), a.get("text", "")) for body in bodies for a in body.get("attachments", [])]


def about(slack: WebhookReceiver, word: str) -> list[tuple[str, str]]:
    return [m for m in messages(slack) if word in m[0]]


def agent_get(lab: LabDriver, path: str, **params: Any) -> Any:
    return lab.http.get(f"{lab.urls['agent']}{path}", params=params, timeout=10).json()


def newest(lab: LabDriver) -> dict[str, Any] | None:
    found = agent_get(lab, "/agent/incidents", limit=1)["incidents"]
    return found[0] if found else None


def finished(lab: LabDriver, incident_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] = agent_get(lab, f"/agent/incidents/{incident_id}")
    return found if found["status"] in ("resolved", "escalated", "failed") else None


def agent_silences(lab: LabDriver) -> list[dict[str, Any]]:
    answer = lab.http.get(f"{lab.urls['alertmanager']}/api/v2/silences", timeout=10).json()
    return [s for s in answer if s["createdBy"] == "sre-agent"]


def test_a_fixed_incident_pages_nobody_and_an_escalated_one_reaches_people(
    lab: LabDriver, slack: WebhookReceiver
) -> None:
    api = {"Authorization": f"Bearer {lab.stack.tokens.api}"}
    started = time.monotonic()
    lab.wait_healthy(60)
    # 1. The agent fixes it: people hear nothing; a silence is held while it verifies, removed at close.
    attack = lab.inject("crash")
    incident = lab.wait_for(lambda: (i := newest(lab)) and i["status"] == "verifying" and i, 90, "verifying")
    (silence,) = lab.wait_for(
        lambda: [s for s in agent_silences(lab) if s["status"]["state"] == "active"], 10, "the silence"
    )
    detail = agent_get(lab, f"/agent/incidents/{incident['id']}")
    (down,) = [a for a in detail["alerts"] if a["name"] == "TargetDown"]
    assert {(m["name"], m["value"], m["isEqual"], m["isRegex"]) for m in silence["matchers"]} == {
        (name, value, True, False) for name, value in down["labels"].items()
    }
    assert silence["comment"].endswith(f"{lab.urls['agent']}/agent/incidents/{incident['id']}")
    fixed = lab.wait_for(lambda: finished(lab, incident["id"]), 120, "the fix verified")
    assert fixed["status"] == "resolved", fixed["escalation_reason"]
    assert [a["action"] for a in fixed["actions"]] == ["restart-target"]
    assert [s["status"]["state"] for s in agent_silences(lab) if s["id"] == silence["id"]] == ["expired"]
    assert fixed["silences"] == []
    time.sleep(7)  # a group_interval and more: what Alertmanager would have sent people has been sent
    assert about(slack, "Target") == [] and about(slack, "SREAgentEscalated") == [], messages(slack)
    lab.stop("crash", attack)  # the chaos server's record of it: the process was restarted already
    first_done = time.monotonic()

    # 2. The agent may not act: it hands the crash over, and people get it through Alertmanager.
    engaged = lab.http.post(f"{lab.urls['agent']}/agent/kill-switch", json={"enabled": True}, headers=api)
    assert engaged.status_code == 200 and engaged.json()["kill_switch_engaged"] is True
    lab.inject("crash")
    escalated = lab.wait_for(
        lambda: (i := newest(lab)) and i["id"] != incident["id"] and i["status"] == "escalated" and i,
        90,
        "the escalation",
    )
    firing = lab.wait_for(lambda: about(slack, "[FIRING:1] SREAgentEscalated"), 30, "the escalation in Slack")
    title, text = firing[0]
    assert "target" in title and escalated["id"] in title  # grouped by alertname and service; its labels
    assert "target: needs a person: kill switch engaged" in text
    assert f"{lab.urls['agent']}/agent/incidents/{escalated['id']}" in text
    assert f"Runbook: {lab.urls['agent']}/agent/runbooks/service-down.md" in text
    assert about(slack, "Target") == [], "the original page reached people"
    # A person restarts the target; once TargetDown stops, the escalation resolves.
    lab.act("restart-target")
    lab.wait_for(lambda: about(slack, "[RESOLVED] SREAgentEscalated"), 60, "the escalation resolved in Slack")
    assert about(slack, "Target") == []
    lab.http.post(f"{lab.urls['agent']}/agent/kill-switch", json={"enabled": False}, headers=api)
    # People got what the agent handed over; at most also SREAgentDown, if the agent took longer than that
    # rule's `for` to start (Prometheus starts first) on a busy machine.
    titles = [title for title, _ in messages(slack)]
    assert {title.split()[1] for title in titles} <= {"SREAgentEscalated", "SREAgentDown"}, titles
    print("\n  " + "\n  ".join(titles))
    print(
        f"\n  fixed and silent after {first_done - started:.0f} s; escalated, in Slack and resolved after "
        f"{time.monotonic() - first_done:.0f} s more; {len(messages(slack))} Slack messages in all"
    )
