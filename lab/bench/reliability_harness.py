"""The reliability suite's harness: the stand-ins, the agent processes, and what a page left behind.

A scenario pages an agent the way Alertmanager does, then `settle` reads the agent's incident
history and the action server's audit: the new incidents, the calls, and what was lost.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from lab.agent_process import ROOT, AgentProcess
from lab.runner.ports import free_port
from lab.standins import ACTION_TOKEN, Lab, LLMStandIn, ServedApp, firing_alert

WEBHOOK_TOKEN = "reliability-hook-token-7f3a"
API_TOKEN = "reliability-api-token-91c2"
FINAL = {"resolved", "escalated", "failed"}
EXECUTED = {"intent", "succeeded", "failed", "unknown"}
STARTS = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@dataclass
class Row:
    fault: str
    did: str
    incidents: int
    actions: int
    lost: list[str]
    expected_incidents: int
    expected_actions: int

    @property
    def ok(self) -> bool:
        return not self.lost and (self.incidents, self.actions) == (
            self.expected_incidents,
            self.expected_actions,
        )


@dataclass
class Outcome:
    """What one scenario's pages left behind: new incidents (as the agent reports them), audit calls."""

    incidents: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    def executed(self) -> int:
        return sum(1 for i in self.incidents for a in i["actions"] if a["status"] in EXECUTED)

    def summary(self) -> str:
        parts = []
        for incident in self.incidents:
            diagnosis = (incident.get("diagnosis") or {}).get("diagnosis_id", "none")
            source = (incident.get("diagnosis") or {}).get("source", "")
            parts.append(f"{incident['status']}: {diagnosis}" + (f" ({source})" if source else ""))
        return "; ".join(parts) or "no incident"


class Harness:
    """The stand-ins (one port for target + action server + Prometheus, one for the LLM) and the agents."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.lab = Lab()
        self.llm = LLMStandIn(answer={})
        self._servers = [ServedApp(self.lab.combined_app()), ServedApp(self.llm.app)]
        self.agents: list[AgentProcess] = []
        self._ids = itertools.count(1)

    def __enter__(self) -> Harness:
        for server in self._servers:
            server.__enter__()
        self.lab_url = self._servers[0].url
        self.llm.url = f"{self._servers[1].url}/v1"
        return self

    def __exit__(self, *exc: object) -> None:
        for agent in self.agents:
            agent.stop()
        self.llm.release.set()
        for server in reversed(self._servers):
            server.__exit__()

    def agent(self, name: str, start: bool = True, **env: str) -> AgentProcess:
        data = self.work / name
        data.mkdir(parents=True, exist_ok=True)
        values = {
            "PORT": str(free_port()),
            "TARGET_API_BASE_URL": self.lab_url,
            "ACTION_SERVER_URL": self.lab_url,
            "PROMETHEUS_URL": self.lab_url,
            "ACTION_TOKEN": ACTION_TOKEN,
            "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            "API_TOKEN": API_TOKEN,
            "AGENT_DATA_DIR": str(data / "agent"),
            "VECTOR_STORE_PATH": str(data / "knowledge" / "knowledge.json"),
            "RUNBOOKS_PATH": str(ROOT / "runbooks"),
            "EMBEDDING_MODEL": "",  # lexical: each scenario starts an agent; a model load each is ~10 s
            "PROPOSED_RUNBOOKS_PATH": str(data / "proposed-runbooks"),
            "VERIFY_HOLD_SECONDS": "1",
            "VERIFY_POLL_SECONDS": "0.2",
            "VERIFY_DEADLINE_SECONDS": "20",
            "ACTION_COOLDOWN_SECONDS": "0",
            "MAX_ACTIONS_PER_HOUR": "1000",
            "OBSERVE_WINDOW_SECONDS": "2",
            "OBSERVE_INTERVAL_SECONDS": "0.5",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            **env,
        }
        agent = AgentProcess(values, data / "agent.log")
        self.agents.append(agent)
        if start:
            agent.start(timeout=60)
        return agent

    def knowledge_file(self, name: str) -> Path:
        return self.work / name / "knowledge" / "knowledge.json"

    def broken_target(self) -> None:
        """The target's pool is exhausted again; the fix action makes it healthy."""
        self.lab.healthy, self.lab.extra_logs, self.lab.action_delay_seconds = False, [], 0.0

    def alert(self, **changes: Any) -> dict[str, Any]:
        """A pool alert no earlier scenario sent (fingerprint and startsAt unique), so it is a new page."""
        n = next(self._ids)
        starts = (STARTS + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        alert = firing_alert(fingerprint=f"rel{n:05d}", starts=starts)
        for key, value in changes.items():
            alert[key] = {**alert[key], **value} if isinstance(value, dict) else value
        return alert

    def post(
        self, agent: AgentProcess, body: bytes | dict[str, Any], token: str = WEBHOOK_TOKEN
    ) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} | (
            {"Authorization": f"Bearer {token}"} if token else {}
        )
        return httpx.post(f"{agent.url}/webhooks/alertmanager", content=content, headers=headers, timeout=30)

    def audit(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.lab_url}/action/audit", timeout=5).json()["records"])

    def mark(self, agent: AgentProcess) -> tuple[set[str], int]:
        return {i["id"] for i in agent.incidents()}, len(self.audit())

    def settle(
        self, agent: AgentProcess, before: tuple[set[str], int], pages: int, timeout: float = 60
    ) -> Outcome:
        """Waits for `pages` new incidents to finish (or the timeout) and says what is missing."""
        known, calls_before = before
        deadline = time.monotonic() + timeout
        while True:
            new = [i for i in agent.incidents() if i["id"] not in known]
            done = len(new) >= pages and all(i["status"] in FINAL for i in new)
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        time.sleep(0.3)  # a duplicate incident or action would show up now
        new = [agent.incident(i["id"]) for i in agent.incidents() if i["id"] not in known]
        outcome = Outcome(incidents=new, calls=list(reversed(self.audit()))[calls_before:])
        if len(new) < pages:
            outcome.lost.append(f"{pages - len(new)} page(s) accepted without an incident")
        outcome.lost += [f"{i['id']} not finished ({i['status']})" for i in new if i["status"] not in FINAL]
        if len(outcome.calls) > outcome.executed():
            outcome.lost.append(
                f"{len(outcome.calls) - outcome.executed()} action(s) missing from the history"
            )
        return outcome
