"""Hostile input against the agent's HTTP API, generated from its own OpenAPI document (schemathesis):
no answer is a 5xx, every answer is one the document declares, in the shape it declares, and what the
document says is invalid is refused (a number for a date-time, 0 for a boolean, an unknown runbook id).

The agent runs for real (app factory, lifespan, SQLite, checkpointer) in dry-run mode on a real port,
against the HTTP stand-ins of the lab, so generated webhooks may open incidents but never act. The
document is the app's own, with its runbooks: it lists the runbook ids a resolution may name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import SecretStr

from agent.knowledge.runbooks import RUNBOOK_ID

from .agent_testkit import Lab, ServedApp, agent_app, agent_settings, standin_reasoning, standin_runbooks

# schemathesis's own strategies draw from `random`; nothing this test controls
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
TOKEN = "fuzz-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def agent_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    lab = Lab()
    with ServedApp(lab.combined_app()) as standins:
        urls = type("Urls", (), {"target": standins.url, "action": standins.url, "prometheus": standins.url})
        config = agent_settings(
            Path(tmp_path_factory.mktemp("fuzz")),
            urls,  # type: ignore[arg-type]
            WEBHOOK_TOKEN=SecretStr(TOKEN),
            API_TOKEN=SecretStr(TOKEN),
            AGENT_MODE="dry-run",
        )
        app = agent_app(config, urls, reasoning=standin_reasoning(), runbooks=standin_runbooks())
        with ServedApp(app) as agent:
            yield agent.url


# The document the agent serves at /openapi.json, built without starting it (no lifespan, no I/O).
schema = schemathesis.openapi.from_dict(
    agent_app(agent_settings(Path("/nonexistent"), None), None, runbooks=standin_runbooks()).openapi()
)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_crashes_the_agent_or_breaks_its_contract(agent_url: str, case: schemathesis.Case) -> None:
    case.call_and_validate(base_url=agent_url, headers=AUTH)


def diagnosis_id_field(document: dict) -> dict:
    return dict(document["components"]["schemas"]["ResolutionRequest"]["properties"]["diagnosis_id"])


def test_the_document_lists_the_runbook_ids_a_resolution_may_name(agent_url: str) -> None:
    """The running agent's document lists its runbooks' ids; one reading a folder, built offline, has
    only the pattern (its runbooks are files people edit)."""
    served = diagnosis_id_field(httpx.get(f"{agent_url}/openapi.json", timeout=5).json())
    assert served["enum"] == sorted(runbook.id for runbook in standin_runbooks())
    assert diagnosis_id_field(schema.raw_schema)["enum"] == served["enum"]
    offline = diagnosis_id_field(agent_app(agent_settings(Path("/nonexistent"), None), None).openapi())
    assert "enum" not in offline and offline["pattern"] == RUNBOOK_ID
