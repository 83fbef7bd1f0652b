"""The reliability suite's access rows: an agent started without tokens, and a browser's cross-site request.

Without WEBHOOK_TOKEN and API_TOKEN the agent must refuse to start; with ALLOW_UNAUTHENTICATED it starts
and says its routes are open. On that open agent, a page on another site that makes the operator's
browser POST a form to trigger or approve must get nothing done: a foreign Origin is refused (403), a
form body without one too (415), and a Host that is not a localhost name (DNS rebinding) as well (400).
"""

from __future__ import annotations

import contextlib
import time

import httpx

from lab.agent_process import AgentProcess
from lab.bench.reliability_harness import Harness, Row
from lab.standins import notification

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
FOREIGN = {**FORM, "Origin": "http://evil.example"}


def access_scenarios(h: Harness) -> list[Row]:
    refused = h.agent("no-tokens", start=False, WEBHOOK_TOKEN="", API_TOKEN="")
    with contextlib.suppress(RuntimeError):  # "agent did not start": what this row wants
        refused.start(timeout=60)
    assert refused.process is not None
    code = refused.process.poll()
    message = next((line for line in _log(refused) if "refusing to start" in line), "")
    lost = [] if code not in (None, 0) and message else [f"started without tokens (exit {code})"]
    agent = h.agent(
        "dev-open", ALLOW_UNAUTHENTICATED="true", WEBHOOK_TOKEN="", API_TOKEN="", AGENT_MODE="approval"
    )
    access = agent.health()["access"]
    if not access["warning"] or not any('"routes_open"' in line for line in _log(agent)):
        lost.append("the open agent did not say so (/health access.warning, a routes_open log line)")
    reason = message.split(":", 2)[-1].split(",")[0].strip()  # "WEBHOOK_TOKEN and API_TOKEN are empty"
    did = (
        f'without tokens: exit {code}, "refusing to start: {reason}"; with ALLOW_UNAUTHENTICATED: '
        f"started, /health access.open_routes={access['open_routes']}"
    )
    return [Row("open by default refused", did, 0, 0, lost, 0, 0), cross_site(h, agent)]


def cross_site(h: Harness, agent: AgentProcess) -> Row:
    """Form POSTs to trigger and approve, as another site's page would make a browser send them, against
    an open agent holding an incident for approval: none may open an incident or run the action."""
    h.broken_target()
    before = h.mark(agent)
    h.post(agent, notification([h.alert()]), token="")
    incident = _awaiting_approval(agent, before[0])
    approve = f"{agent.url}/agent/incidents/{incident}/approve"
    answers = {
        "trigger, foreign Origin": httpx.post(f"{agent.url}/agent/trigger", headers=FOREIGN, timeout=5),
        "approve, foreign Origin": httpx.post(approve, headers=FOREIGN, timeout=5),
        "approve, a form without Origin": httpx.post(approve, headers=FORM, timeout=5),
        "approve, Host evil.example": httpx.post(
            approve, json={}, headers={"Host": "evil.example"}, timeout=5
        ),
    }
    expected = dict(zip(answers, (403, 403, 415, 400), strict=True))
    lost = [
        f"{what}: {answers[what].status_code}"
        for what, code in expected.items()
        if answers[what].status_code != code
    ]
    still = agent.incident(incident)["status"]
    if still != "awaiting_approval":
        lost.append(f"the incident is {still} after the cross-site requests")
    httpx.post(approve.replace("/approve", "/reject"), json={"by": "reliability"}, timeout=5)
    outcome = h.settle(agent, before, pages=1)
    did = "; ".join(f"{what} {answer.status_code}" for what, answer in answers.items())
    did += f"; the incident still {still}, then rejected: {outcome.summary()}"
    return Row(
        "cross-site request (form POSTs to trigger and approve)",
        did,
        len(outcome.incidents),
        len(outcome.calls),
        outcome.lost + lost,
        1,
        0,
    )


def _awaiting_approval(agent: AgentProcess, known: set[str], timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = [
            i for i in agent.incidents() if i["id"] not in known and i["status"] == "awaiting_approval"
        ]
        if waiting:
            return str(waiting[0]["id"])
        time.sleep(0.2)
    raise TimeoutError("the page did not reach approval")


def _log(agent: AgentProcess) -> list[str]:
    return agent.log.read_text(errors="replace").splitlines() if agent.log.exists() else []
