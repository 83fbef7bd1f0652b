"""The silence held while a fix is verified, on a real Alertmanager: exact, named, bounded, and removed
when verification ends (the fix held, or it did not and the incident escalates)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.domain.alerts import AlertSummary
from agent.incidents.models import Incident
from lab.runner.ports import free_port

from ..agent_testkit import Lab, ServedApp, WorkflowFactory, standin_runbooks
from .real_alertmanager import RealAlertmanager, WebhookReceiver, routing, wait_for

pytestmark = pytest.mark.timeout(90)
POOL = {
    "alertname": "TargetDbPoolExhausted",
    "service": "target",
    "severity": "critical",
    "instance": "t:8000",
}
OTHER = {**POOL, "instance": "t:2"}  # the same alert on another instance: not this incident's


def slow_verification(hold: float, deadline: float) -> list[Any]:
    """The kit's runbooks, the pool's verified over `hold` seconds: long enough to look at the silence."""
    runbooks = standin_runbooks()
    pool = runbooks[0]
    spec = pool.verification.model_copy(update={"hold_seconds": hold, "deadline_seconds": deadline})
    return [pool.model_copy(update={"verification": spec}), *runbooks[1:]]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def incident_in(agent: ServedApp, status: str) -> dict[str, Any] | None:
    incidents = httpx.get(f"{agent.url}/agent/incidents", timeout=5).json()["incidents"]
    return next((i for i in incidents if i["status"] == status), None)


def state_of(am: RealAlertmanager, labels: dict[str, str]) -> dict[str, Any] | None:
    return next((a["status"] for a in am.alerts(labels["alertname"]) if a["labels"] == labels), None)


@pytest.mark.parametrize("fixed", [True, False], ids=["the fix holds", "the fix fails"])
def test_the_incidents_alerts_are_silenced_while_verifying_and_no_longer_after(
    tmp_path: Path, lab: Lab, served_agent: Callable[..., ServedApp], fixed: bool
) -> None:
    if not fixed:
        lab.fix_action = None  # the action runs, nothing gets better: verification fails, attempts run out
    am = RealAlertmanager(tmp_path / "am", free_port())
    agent = served_agent(
        runbooks=slow_verification(hold=2.0, deadline=4.0),
        ALERTMANAGER_URL=am.url,
        SILENCE_WHILE_VERIFYING=True,
        SILENCE_MAX_SECONDS=3.0,
        VERIFY_HOLD_SECONDS=2.0,
        VERIFY_DEADLINE_SECONDS=4.0,
        VERIFY_POLL_SECONDS=0.2,
        MAX_ATTEMPTS=1,
    )
    logs = [am.log]
    with (
        WebhookReceiver().serve(port := free_port()) as people,
        am.running(routing(agent.url, f"http://127.0.0.1:{port}/people")),
    ):
        am.fire(POOL)
        wait_for(lambda: incident_in(agent, "verifying"), 30, "verification", logs)
        silenced = wait_for(
            lambda: (s := state_of(am, POOL)) and s["state"] == "suppressed" and s,
            10,
            "the alert silenced",
            logs,
        )
        (silence_id,) = silenced["silencedBy"]
        am.fire(OTHER)  # once the silence is made: its exact matchers must not mute another instance
        other = wait_for(lambda: state_of(am, OTHER), 10, "the other alert at Alertmanager", logs)
        assert other == {"state": "active", "silencedBy": [], "inhibitedBy": []}
        silence = httpx.get(f"{am.url}/api/v2/silence/{silence_id}", timeout=5).json()
        assert silence["createdBy"] == "sre-agent"
        assert {(m["name"], m["value"], m["isEqual"], m["isRegex"]) for m in silence["matchers"]} == {
            (name, value, True, False) for name, value in POOL.items()
        }
        starts, ends = (
            datetime.fromisoformat(silence[k].replace("Z", "+00:00")) for k in ("startsAt", "endsAt")
        )
        assert (ends - starts).total_seconds() <= 3.0 + 0.5  # SILENCE_MAX_SECONDS, not the 4 s deadline
        incident = wait_for(
            lambda: incident_in(agent, "resolved" if fixed else "failed"), 30, "the incident closed", logs
        )
        assert (
            incident["id"] in silence["comment"]
            and f"/agent/incidents/{incident['id']}" in silence["comment"]
        )

        gone = httpx.get(f"{am.url}/api/v2/silence/{silence_id}", timeout=5).json()
        assert gone["status"]["state"] == "expired"
        if fixed:  # removed when the fix held, before it would have run out
            assert at(gone["endsAt"]) < ends
        else:  # the 4 s deadline outlasts SILENCE_MAX_SECONDS: it ran out, and its removal did no harm
            assert at(gone["endsAt"]) <= ends
        assert state_of(am, POOL)["state"] == "active"  # type: ignore[index]
        detail = httpx.get(f"{agent.url}/agent/incidents/{incident['id']}", timeout=5).json()
        assert detail["silences"] == []
        messages = [e["message"] for e in detail["timeline"]]
        assert any(m.startswith("silenced 1 alert(s) at Alertmanager while verifying") for m in messages)
        assert "removed 1 silence(s) at Alertmanager" in messages
        assert people.find("TargetDbPoolExhausted", "firing") is None  # agent first: the page was the agent's
        if not fixed:
            wait_for(lambda: people.find("SREAgentEscalated", "firing"), 30, "the escalation at people", logs)


async def test_alerts_whose_labels_were_cut_or_redacted_are_not_silenced(workflows: WorkflowFactory) -> None:
    """No exact matcher matches an alert whose labels are not its own: none is made (and nothing is sent)."""
    workflow = await workflows.build(
        ALERTMANAGER_URL=f"http://127.0.0.1:{free_port()}", SILENCE_WHILE_VERIFYING=True
    )
    cut = AlertSummary(name="A", labels={"alertname": "A", "path": "/x…[cut]"})
    redacted = AlertSummary(name="B", labels={"alertname": "B", "dsn": "[redacted]"})
    await workflow.store.save(Incident(id="inc-cut", service="target", alerts=[cut, redacted]))
    assert workflow.deps.handover is not None
    assert await workflow.deps.handover.silence("inc-cut", 60) is None
    assert (
        workflow.metric("sre_agent_alertmanager_requests_total", operation="create_silence", result="error")
        == 0
    )
