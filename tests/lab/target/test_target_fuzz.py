"""Hostile input against the target's public API, generated from its own OpenAPI document (schemathesis),
sent to a real target process: no 5xx, only documented statuses and shapes, nothing blind-breaking in
any answer (the fixture scans every target it started)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import allow_header_conformance, negative_data_rejection

from lab.target.app import create_app
from lab.target.config import Settings

from .target_testkit import Target

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")

# The document the target serves, built without starting it (the hidden hooks are not in it).
schema = schemathesis.openapi.from_dict(create_app(Settings(_env_file=None)).openapi())  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def target(start_module_target) -> Iterator[Target]:  # type: ignore[no-untyped-def]
    yield start_module_target()


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_crashes_the_target_or_breaks_its_contract(target: Target, case: schemathesis.Case) -> None:
    # pydantic's lax mode takes "1" for an int on purpose: "schema-invalid data accepted" is no defect.
    # Starlette answers OPTIONS on a path served by two routes (GET, POST) with the first one's Allow.
    case.call_and_validate(
        base_url=target.url, excluded_checks=[negative_data_rejection, allow_header_conformance]
    )
