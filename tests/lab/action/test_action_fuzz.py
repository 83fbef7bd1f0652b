"""Hostile input against the action server, generated from its OpenAPI document (schemathesis): no
5xx but the documented ones, only documented statuses and shapes. Served by uvicorn on a real port,
calling a stand-in of the target's admin API; it supervises nothing, so restart-target is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import allow_header_conformance

from lab.action.app import create_app

from .admin_standin import ACTION_TOKEN, AdminStandIn, action_settings

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")


schema = schemathesis.openapi.from_dict(
    create_app(action_settings(Path("/nonexistent"), "http://127.0.0.1:9")).openapi()
)


@pytest.fixture(scope="module")
def action_url(session_servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with AdminStandIn().serve() as standin:
        yield session_servers.serve(create_app(action_settings(tmp_path_factory.mktemp("fuzz"), standin.url)))


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_crashes_the_action_server_or_breaks_its_contract(
    action_url: str, case: schemathesis.Case
) -> None:
    # What the document says is invalid is refused (a body that is not an object, nested too deep).
    # Starlette answers OPTIONS on a path served by two routes with the first one's Allow.
    case.call_and_validate(
        base_url=action_url,
        headers={"Authorization": f"Bearer {ACTION_TOKEN}"},
        excluded_checks=[allow_header_conformance],
    )
