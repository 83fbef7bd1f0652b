"""The webhook answers as fast with an incident merging a flood and four readers paging the history as
an idle twin agent does beside it (p99 within 2x of the twin's, probed at the same moments, plus the
suite's scheduling noise): the event loop does no incident-store or flood-parsing work. Real agent
processes (`python -m agent`, uvicorn, SQLite), stand-ins for the lab's services. Before, the same
flood grew one incident to 16.7 MB and webhook answers took seconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.agent_process import ROOT, AgentProcess
from lab.bench.merge_flood import ALERTS_PER_NOTIFICATION, FLOOD_NOTIFICATIONS, run_flood, seed_history
from lab.runner.ports import free_port

from .agent_testkit import ACTION_TOKEN, LabUrls, firing_alert

SUITE_NOISE_SECONDS = 0.05
WEBHOOK_TOKEN = "flood-hook-secret"
API_TOKEN = "flood-api-secret"


@pytest.fixture
def agents(tmp_path: Path, lab_urls: LabUrls) -> Iterator[tuple[AgentProcess, AgentProcess]]:
    """The agent that takes the flood and its twin: the same configuration and history, started alike."""
    started = [_agent(tmp_path / name, lab_urls) for name in ("agent", "twin")]
    try:
        for agent in started:
            agent.start()
        yield started[0], started[1]
    finally:
        for agent in started:
            agent.stop()


def _agent(folder: Path, lab_urls: LabUrls) -> AgentProcess:
    data = folder / "data"
    seed_history(data / "incidents.db")
    env = {
        "PORT": str(free_port()),
        "TARGET_API_BASE_URL": lab_urls.target,
        "ACTION_SERVER_URL": lab_urls.action,
        "PROMETHEUS_URL": lab_urls.prometheus,
        "ACTION_TOKEN": ACTION_TOKEN,
        "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "API_TOKEN": API_TOKEN,
        "AGENT_MODE": "approval",  # the paged incident waits for a human, open, while the flood merges
        "AGENT_DATA_DIR": str(data),
        "VECTOR_STORE_PATH": str(data / "knowledge.json"),
        "EMBEDDING_MODEL": "",
        "RUNBOOKS_PATH": str(ROOT / "runbooks"),
        "PROPOSED_RUNBOOKS_ENABLED": "false",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LOG_LEVEL": "WARNING",
    }
    return AgentProcess(env, folder / "agent.log")


def test_webhook_p99_is_unaffected_by_a_merging_incident_and_readers(
    agents: tuple[AgentProcess, AgentProcess],
) -> None:
    agent, twin = agents
    result = run_flood(agent.url, twin.url, firing_alert(), WEBHOOK_TOKEN, API_TOKEN)
    print(result.summary())
    # Beside other tests on two cores, the flooded agent (real work: 5,000 alerts a second) gets less of
    # the CPU than its idle twin, a few scheduler slices at its p99 (2.31x once, 42.5 against 18.4 ms).
    # On its own, `python -m lab reliability` holds the 2x bound itself (1.19x); what this test catches
    # took seconds (2.7 s per webhook answer, 7 s stalls).
    assert result.loaded_p99 <= result.bound + SUITE_NOISE_SECONDS, result.summary()
    assert set(result.codes) == {202}, result.codes
    assert result.flood_accepted == FLOOD_NOTIFICATIONS and result.reads >= 4
    sent = 1 + FLOOD_NOTIFICATIONS * ALERTS_PER_NOTIFICATION
    assert result.incident_alerts == 100 and result.alerts_dropped == sent - 100, result.summary()
