"""The agent's own alerts on a real Alertmanager: escalations and approval requests reach the people's
receiver with the service's routing labels and links that open, hold while they should, resolve when
they stop; an Alertmanager that is down blocks nothing and is retried; what is held survives a restart."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.app import create_app
from agent.composition import Parts
from agent.domain.alerts import AlertSummary
from agent.domain.limits import AlertLimits
from agent.incidents.models import Incident
from agent.paging.alerts import ESCALATED, Links, escalation_alert
from lab.runner.ports import free_port
from lab.standins import notification

from ..agent_testkit import (
    LabUrls,
    ServedApp,
    WorkflowFactory,
    agent_settings,
    lab_catalog,
    standin_env,
    standin_reasoning,
    standin_runbooks,
)
from .real_alertmanager import RealAlertmanager, WebhookReceiver, routing, wait_for

pytestmark = pytest.mark.timeout(90)
EXTERNAL = "https://sre-agent.example.com"
MYSTERY = {"alertname": "TargetMystery", "service": "target", "severity": "critical", "instance": "t:8000"}
POOL = {**MYSTERY, "alertname": "TargetDbPoolExhausted"}


@pytest.fixture
def agent_at(tmp_path: Path, lab_urls: LabUrls) -> Iterator[Callable[..., ServedApp]]:
    """The agent's real app against the lab stand-ins, on a port chosen first (its EXTERNAL_URL)."""
    started: list[ServedApp] = []

    def start(port: int, **overrides: Any) -> ServedApp:
        settings = agent_settings(tmp_path, lab_urls, EXTERNAL_URL=f"http://127.0.0.1:{port}", **overrides)
        parts = Parts(
            reasoning=standin_reasoning(),
            runbooks=standin_runbooks(),
            catalog=lab_catalog(lab_urls),
            env=standin_env(lab_urls),
        )
        started.append(ServedApp(create_app(settings, parts), port).__enter__())
        return started[-1]

    yield start
    for served in reversed(started):
        served.__exit__()


def people_alert(people: WebhookReceiver, alertname: str, status: str) -> dict[str, Any] | None:
    found = people.find(alertname, status)
    if found is None:
        return None
    return next(
        a for a in found[2]["alerts"] if a["labels"]["alertname"] == alertname and a["status"] == status
    )


def finished(agent: ServedApp, status: str) -> dict[str, Any] | None:
    incidents = httpx.get(f"{agent.url}/agent/incidents", timeout=5).json()["incidents"]
    return next((i for i in incidents if i["status"] == status), None)


def metric(agent: ServedApp, name: str, **labels: str) -> float:
    text = httpx.get(f"{agent.url}/metrics", timeout=5).text
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{name}\{{{wanted}\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_an_escalation_pages_people_and_resolves_when_its_alerts_stop(
    tmp_path: Path, served_agent: Callable[..., ServedApp]
) -> None:
    am = RealAlertmanager(tmp_path / "am", free_port())
    agent = served_agent(ALERTMANAGER_URL=am.url, EXTERNAL_URL=EXTERNAL, AGENT_ALERTS_RESEND_SECONDS=1)
    logs = [am.log]
    with (
        WebhookReceiver().serve(port := free_port()) as people,
        am.running(routing(agent.url, f"http://127.0.0.1:{port}/people")),
    ):
        am.fire(MYSTERY)  # no runbook knows it: the agent escalates
        incident = wait_for(lambda: finished(agent, "escalated"), 30, "the escalated incident", logs)
        alert = wait_for(
            lambda: people_alert(people, ESCALATED, "firing"), 30, "the escalation at people", logs
        )

        labels = alert["labels"]
        assert labels == {
            "alertname": ESCALATED,
            "incident": incident["id"],
            "service": "target",
            "severity": "critical",
            "instance": "t:8000",
            "team": "orders",  # the catalog entry's escalation label
        }
        notes = alert["annotations"]
        link = f"{EXTERNAL}/agent/incidents/{incident['id']}"
        assert notes["incident_url"] == link and alert["generatorURL"] == link
        assert notes["summary"].startswith("target: needs a person: diagnosis unknown")
        assert "Alerts: TargetMystery." in notes["description"] and link in notes["description"]
        assert notes["diagnosis"] == "unknown"
        assert people.find("TargetMystery", "firing") is None, "the original page reached people"

        # It holds while the incident's alerts fire (re-posted every second, each ending 4 s later) ...
        before = metric(agent, "sre_agent_alertmanager_requests_total", operation="post_alerts", result="ok")
        wait_for(
            lambda: (
                metric(agent, "sre_agent_alertmanager_requests_total", operation="post_alerts", result="ok")
                >= before + 3
            ),
            10,
            "re-posts",
            logs,
        )
        assert [a["status"]["state"] for a in am.alerts(ESCALATED)] == ["active"]
        assert metric(agent, "sre_agent_alerts_firing", alertname=ESCALATED) == 1
        # ... and resolves once they stop.
        am.fire(MYSTERY, resolved=True)
        wait_for(lambda: people_alert(people, ESCALATED, "resolved"), 30, "the escalation resolved", logs)
        assert am.alerts(ESCALATED) == []
        assert metric(agent, "sre_agent_alerts_firing", alertname=ESCALATED) == 0


def test_an_approval_request_carries_the_call_that_approves_it(
    tmp_path: Path, agent_at: Callable[..., ServedApp]
) -> None:
    curl = shutil.which("curl") or pytest.skip("curl not installed")
    am = RealAlertmanager(tmp_path / "am", free_port())
    token = "approver-token"
    agent = agent_at(
        free_port(),
        ALERTMANAGER_URL=am.url,
        AGENT_MODE="approval",
        AGENT_ALERTS_RESEND_SECONDS=1,
        API_TOKEN=token,
    )
    logs = [am.log]
    with (
        WebhookReceiver().serve(port := free_port()) as people,
        am.running(routing(agent.url, f"http://127.0.0.1:{port}/people")),
    ):
        am.fire(POOL)
        alert = wait_for(
            lambda: people_alert(people, "SREAgentApprovalNeeded", "firing"), 30, "the approval request", logs
        )
        notes = alert["annotations"]
        assert notes["summary"] == "target: approve remediate-db-pool-exhaustion? (db-pool-exhaustion)"
        assert "approval mode" in notes["description"]
        assert notes["runbook_url"] == f"{agent.url}/agent/runbooks/db-pool-exhaustion.md"
        assert token not in str(alert), "the token itself is never in a notification"
        # A person runs the annotation's call as it is, with their own token in the environment.
        command = notes["approve"]
        assert command.startswith('curl -X POST -H "Authorization: Bearer $API_TOKEN"')
        assert command.endswith(f"{agent.url}/agent/incidents/{alert['labels']['incident']}/approve")
        done = subprocess.run(
            ["bash", "-c", command.replace("curl ", f"{curl} -sf ", 1)],
            env={"API_TOKEN": token, "PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert done.returncode == 0, done.stderr
        assert '"decision":"approved"' in done.stdout

        incident = wait_for(lambda: finished(agent, "resolved"), 30, "the approved fix verified", logs)
        assert [a["status"] for a in incident["actions"]] == ["succeeded"]
        wait_for(
            lambda: people_alert(people, "SREAgentApprovalNeeded", "resolved"),
            30,
            "the request resolved",
            logs,
        )
        assert people.find(ESCALATED, "firing") is None


def test_an_alertmanager_that_is_down_blocks_nothing_and_is_retried(
    tmp_path: Path, served_agent: Callable[..., ServedApp]
) -> None:
    am = RealAlertmanager(tmp_path / "am", free_port())  # not started yet
    agent = served_agent(ALERTMANAGER_URL=am.url, AGENT_ALERTS_RESEND_SECONDS=1)
    trigger = {"service": "target", "reason": "checkout is slow, have a look"}
    assert httpx.post(f"{agent.url}/agent/trigger", json=trigger, timeout=5).status_code == 202
    incident = wait_for(lambda: finished(agent, "escalated"), 15, "the escalation, Alertmanager down", [])
    wait_for(
        lambda: (
            metric(agent, "sre_agent_alertmanager_requests_total", operation="post_alerts", result="error")
            >= 2
        ),
        10,
        "failed posts counted and retried",
        [],
    )
    health = httpx.get(f"{agent.url}/health", timeout=5).json()
    assert "paging" in health["degraded"] and health["agent"]["paging"]["firing"] == 1
    assert "not reaching Alertmanager (unreachable: ConnectError)" in health["agent"]["paging"]["reason"]
    with (
        WebhookReceiver().serve(port := free_port()) as people,
        am.running(routing(agent.url, f"http://127.0.0.1:{port}/people")),
    ):
        alert = wait_for(
            lambda: people_alert(people, ESCALATED, "firing"), 30, "the escalation, once up", [am.log]
        )
        assert alert["labels"]["incident"] == incident["id"]
        assert httpx.get(f"{agent.url}/health", timeout=5).json()["agent"]["paging"]["ok"] is True
        # a manual incident has no alert at Alertmanager to watch: it holds until a person resolves it
        resolution = {"diagnosis_id": "db-pool-exhaustion", "root_cause": "a slow query", "by": "alice"}
        answer = httpx.post(
            f"{agent.url}/agent/incidents/{incident['id']}/resolution", json=resolution, timeout=5
        )
        assert answer.status_code == 200, answer.text
        wait_for(
            lambda: people_alert(people, ESCALATED, "resolved"), 30, "resolved by the resolution", [am.log]
        )


def test_alerts_no_service_owns_come_back_to_people_as_an_escalation(
    tmp_path: Path, served_agent: Callable[..., ServedApp]
) -> None:
    """UNOWNED_ALERTS=escalate, agent first: a page nobody in the catalog owns still reaches a person."""
    am = RealAlertmanager(tmp_path / "am", free_port())
    agent = served_agent(ALERTMANAGER_URL=am.url, AGENT_ALERTS_RESEND_SECONDS=1, UNOWNED_ALERTS="escalate")
    billing = {"alertname": "DiskFull", "service": "billing", "severity": "critical"}
    with (
        WebhookReceiver().serve(port := free_port()) as people,
        am.running(routing(agent.url, f"http://127.0.0.1:{port}/people")),
    ):
        am.fire(billing)
        alert = wait_for(lambda: people_alert(people, ESCALATED, "firing"), 30, "the escalation", [am.log])
        assert {k: v for k, v in alert["labels"].items() if k != "incident"} == {
            "alertname": ESCALATED,
            "service": "billing",
            "severity": "critical",
        }
        assert "alerts no service owns: needs a person" in alert["annotations"]["summary"]
        am.fire(billing, resolved=True)
        wait_for(lambda: people_alert(people, ESCALATED, "resolved"), 30, "resolved with its alert", [am.log])


def test_the_agents_own_alerts_sent_back_to_it_are_never_a_page(
    served_agent: Callable[..., ServedApp],
) -> None:
    agent = served_agent()
    own = {
        "status": "firing",
        "labels": {"alertname": ESCALATED, "service": "target", "incident": "inc-1"},
        "annotations": {},
        "startsAt": "2026-11-24T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "fa",
    }
    assert (
        httpx.post(f"{agent.url}/webhooks/alertmanager", json=notification([own]), timeout=5).status_code
        == 202
    )
    wait_for(
        lambda: metric(agent, "sre_agent_alerts_unowned_total", reason="agent_alert") == 1, 5, "counted", []
    )
    assert httpx.get(f"{agent.url}/agent/incidents", timeout=5).json()["incidents"] == []


async def test_what_is_held_survives_a_restart(workflows: WorkflowFactory) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    first = await workflows.build(ALERTMANAGER_URL=dead)
    await first.store.save(Incident(id="inc-held", service="target", status="escalated"))
    assert first.deps.handover is not None and first.deps.handover.alerts is not None
    await first.deps.handover.escalated("inc-held")
    assert not await first.deps.handover.alerts.flush()  # nobody answers
    await workflows.close(first)

    again = await workflows.build(ALERTMANAGER_URL=dead)
    assert again.deps.handover is not None and again.deps.handover.alerts is not None
    (held,) = again.deps.handover.alerts.held
    assert (held.incident_id, held.alertname, held.ends_at) == ("inc-held", ESCALATED, None)
    assert again.metric("sre_agent_alerts_firing", alertname=ESCALATED) == 1


async def test_an_alert_alertmanager_refuses_is_dropped_and_the_rest_delivered(
    tmp_path: Path, workflows: WorkflowFactory
) -> None:
    am = RealAlertmanager(tmp_path / "am", free_port())
    workflow = await workflows.build(ALERTMANAGER_URL=am.url)
    assert workflow.deps.handover is not None and workflow.deps.handover.alerts is not None
    alerts = workflow.deps.handover.alerts
    for incident_id in ("inc-good", "inc-bad"):
        await workflow.store.save(Incident(id=incident_id, service="target", status="escalated"))
        await workflow.deps.handover.escalated(incident_id)
    bad = next(a for a in alerts.held if a.incident_id == "inc-bad")
    bad.labels["bad-name"] = "Alertmanager 0.25 refuses this name"  # as a hand-edited state could hold
    with am.running(routing("http://127.0.0.1:9", "http://127.0.0.1:9")):
        assert await alerts.flush()
        assert [a["labels"]["incident"] for a in am.alerts(ESCALATED)] == ["inc-good"]
    assert [a.incident_id for a in alerts.held] == ["inc-good"] and alerts.last_error is None
    assert (
        workflow.metric("sre_agent_alertmanager_requests_total", operation="post_alerts", result="error") == 1
    )


async def test_without_an_alertmanager_url_or_when_off_nothing_is_posted(workflows: WorkflowFactory) -> None:
    for overrides in ({}, {"ALERTMANAGER_URL": "http://127.0.0.1:9", "AGENT_ALERTS_ENABLED": False}):
        workflow = await workflows.build(**overrides)
        assert workflow.deps.handover is not None
        assert workflow.deps.handover.alerts is None and workflow.deps.handover.silences is None
        await workflows.close(workflow)


def test_labels_and_annotations_are_bounded_and_names_alertmanager_refuses_left_out() -> None:
    limits = AlertLimits(max_pairs=8, max_label_chars=64, max_annotation_chars=300, max_alert_chars=2048)
    noisy = {
        "alertname": "X",
        "service": "target",
        "bad-name": "v",
        "empty": "",
        **{f"l{i}": "v" * 500 for i in range(20)},
    }
    incident = Incident(
        id="inc-big",
        service="target",
        escalation_reason="r" * 5000,
        alerts=[AlertSummary(name="X", labels=noisy, annotations={"runbook_url": "runbooks/x.md"})],
    )
    alert = escalation_alert(incident, Links(EXTERNAL), limits, {"team": "orders", "9bad": "x"})
    assert alert.labels["alertname"] == ESCALATED and alert.labels["incident"] == "inc-big"
    assert not {"bad-name", "empty", "9bad"} & set(alert.labels)
    assert len(alert.labels) <= limits.max_pairs + 2
    assert all(len(v) <= limits.max_label_chars for v in alert.labels.values())
    assert all(len(v) <= limits.max_annotation_chars for v in alert.annotations.values())
    assert sum(
        map(len, [*alert.labels, *alert.labels.values(), *alert.annotations, *alert.annotations.values()])
    ) <= (limits.max_alert_chars + 64)
    assert "runbook_url" not in alert.annotations  # a relative link opens nowhere: left out
