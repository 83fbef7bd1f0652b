"""The agent process killed with SIGKILL while an action is in flight, then started again: the incident
finishes exactly once and the action server sees the action exactly once. Real processes, real SQLite
checkpoints and incident store, the real runbooks and diagnoser; stand-ins only for the lab's services.
"""

from __future__ import annotations

import contextlib
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lab.agent_process import ROOT, AgentProcess
from lab.runner.ports import free_port

from .agent_testkit import ACTION_TOKEN, Lab, LabUrls, firing_alert

WEBHOOK_TOKEN = "hook-secret"


@pytest.fixture
def agent_process(tmp_path: Path, lab_urls: LabUrls) -> Iterator[AgentProcess]:
    env = {
        "PORT": str(free_port()),
        "TARGET_API_BASE_URL": lab_urls.target,
        "ACTION_SERVER_URL": lab_urls.action,
        "PROMETHEUS_URL": lab_urls.prometheus,
        "ACTION_TOKEN": ACTION_TOKEN,
        "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "API_TOKEN": "api-secret",
        "AGENT_DATA_DIR": str(tmp_path / "agent"),
        "VECTOR_STORE_PATH": str(tmp_path / "agent" / "knowledge.json"),
        "EMBEDDING_MODEL": "",  # lexical: this test is about restarts, not worth a model load per start
        "RUNBOOKS_PATH": str(ROOT / "runbooks"),
        "PROPOSED_RUNBOOKS_PATH": str(tmp_path / "proposed-runbooks"),
        "VERIFY_HOLD_SECONDS": "1",
        "VERIFY_POLL_SECONDS": "0.2",
        "ACTION_COOLDOWN_SECONDS": "0",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    agent = AgentProcess(env, tmp_path / "agent.log")
    yield agent
    agent.stop()


def test_sigkill_mid_action_then_restart_finishes_the_incident_once(
    lab: Lab, agent_process: AgentProcess
) -> None:
    lab.action_delay_seconds = 3.0  # the action server has done the work but not answered yet
    agent_process.start()
    notification = {
        "version": "4",
        "status": "firing",
        "receiver": "sre-agent",
        "groupKey": '{}:{service="target"}',
        "groupLabels": {"service": "target"},
        "commonLabels": {"service": "target"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "truncatedAlerts": 0,
        "alerts": [firing_alert()],
    }
    answer = httpx.post(
        f"{agent_process.url}/webhooks/alertmanager",
        json=notification,
        headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
        timeout=5,
    )
    assert answer.status_code == 202

    deadline = time.monotonic() + 30
    while not lab.calls and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion"]
    agent_process.kill()

    agent_process.start()
    deadline = time.monotonic() + 60
    incidents = agent_process.incidents()
    while time.monotonic() < deadline and not all(
        i["status"] in {"resolved", "failed", "escalated"} for i in incidents
    ):
        time.sleep(0.2)
        incidents = agent_process.incidents()

    assert len(incidents) == 1, incidents
    assert incidents[0]["status"] == "resolved", agent_process.log.read_text()[-3000:]
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion"]
    detail = httpx.get(f"{agent_process.url}/agent/incidents/{incidents[0]['id']}", timeout=5).json()
    steps = [entry["step"] for entry in detail["timeline"]]
    assert "resume" in steps and steps.count("learn") == 1


def test_the_agent_process_keeps_its_files_to_its_owner(
    tmp_path: Path, lab: Lab, agent_process: AgentProcess
) -> None:
    """Incidents, checkpoints (SQLite and its WAL), knowledge, the outbox and the log: 600 in 700 folders,
    whatever the umask of whoever started it (the test's is the usual 022)."""
    agent_process.start()
    notification = {"version": "4", "status": "firing", "receiver": "sre-agent", "groupKey": "{}:{}",
                    "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "",
                    "truncatedAlerts": 0, "alerts": [firing_alert()]}  # fmt: skip
    headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
    answer = httpx.post(f"{agent_process.url}/webhooks/alertmanager", json=notification, headers=headers)
    assert answer.status_code == 202
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
        i["status"] in {"resolved", "failed", "escalated"} for i in agent_process.incidents()
    ):
        time.sleep(0.2)

    def modes() -> dict[str, int]:
        found = {}
        for path in tmp_path.rglob("*"):
            with contextlib.suppress(FileNotFoundError):  # a rollback journal comes and goes
                found[path.relative_to(tmp_path).as_posix()] = path.stat().st_mode
        return found

    written = modes()  # running: SQLite's -wal and -shm files are there too
    agent_process.stop()
    written |= modes()
    for name in (
        "agent/incidents.db",
        "agent/checkpoints.db",
        "agent/checkpoints.db-wal",
        "agent/knowledge.json",
    ):
        assert name in written, sorted(written)
    assert "agent.log" in written and "agent/annotations.jsonl" in written
    wrong = {
        name: oct(mode & 0o777)
        for name, mode in written.items()
        if mode & 0o777 != (0o700 if stat.S_ISDIR(mode) else 0o600)
    }
    assert wrong == {}
