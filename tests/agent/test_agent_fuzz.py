"""Hostile input against the agent's HTTP API, generated from its own OpenAPI document (schemathesis):
no answer is a 5xx, every answer is one the document declares, in the shape it declares.

The agent runs for real (app factory, lifespan, SQLite, checkpointer) in dry-run mode on a real port,
against the HTTP stand-ins of the lab, so generated webhooks may open incidents but never act.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from agent_testkit import Lab, ServedApp, agent_app, agent_settings, standin_reasoning, standin_runbooks
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.specs.openapi.checks import negative_data_rejection

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
schema = schemathesis.openapi.from_dict(agent_app(agent_settings(Path("/nonexistent"), None), None).openapi())


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_crashes_the_agent_or_breaks_its_contract(agent_url: str, case: schemathesis.Case) -> None:
    # pydantic's lax mode takes 0/1 for a boolean and an epoch number for a date-time on purpose, so
    # "schema-invalid data was accepted" is not a defect here; everything else is checked.
    case.call_and_validate(base_url=agent_url, headers=AUTH, excluded_checks=[negative_data_rejection])
