"""Hostile input against the chaos API, generated from its OpenAPI document (schemathesis), served on a
real port with its hooks answered by the recording transport: no 5xx but the documented ones, only
documented statuses and shapes."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import allow_header_conformance

from lab.chaos.app import create_app
from lab.chaos.config import Settings

from .hook_recorder import HOOK_TOKEN, HookRecorder

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
TOKEN = "chaos-fuzz"
SETTINGS = Settings(
    api_token=TOKEN,
    hook_token=HOOK_TOKEN,
    target_url="http://target:8000",
    dependency_url="http://dependency:8001",
    loadgen_url="http://loadgen:8002",
)

schema = schemathesis.openapi.from_dict(create_app(SETTINGS).openapi())


@pytest.fixture(scope="module")
def chaos_url(session_servers) -> str:  # type: ignore[no-untyped-def]
    http = httpx.AsyncClient(transport=httpx.MockTransport(HookRecorder()))
    return str(session_servers.serve(create_app(SETTINGS, http=http)))


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_crashes_the_chaos_server_or_breaks_its_contract(
    chaos_url: str, case: schemathesis.Case
) -> None:
    # What the document says is invalid is refused. Starlette answers OPTIONS on a path served by two
    # routes with the first one's Allow.
    case.call_and_validate(
        base_url=chaos_url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        excluded_checks=[allow_header_conformance],
    )
