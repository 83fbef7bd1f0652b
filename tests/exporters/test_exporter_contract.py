"""The exporter's readers against the target's contract (lab/target/schemas.py).

Two definitions on purpose: the target's models are strict (they say what it answers), the exporter's are
lenient (every field optional, unknown keys ignored) so an older or newer target still yields what it does
answer, and the exporter runs without the lab installed. What keeps them one shape is this test: every
field the exporter reads is in the contract, with values the contract allows, and the state labels it
exports are the contract's states.
"""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import BaseModel

from exporters import collector
from exporters.models import HealthBody, HealthCheckBody, MetricsBody, PoolBody
from lab.target import schemas

from ..helpers.target_standin import TargetStandIn

PAIRS: list[tuple[type[BaseModel], type[BaseModel]]] = [
    (HealthBody, schemas.Health),
    (HealthCheckBody, schemas.HealthCheck),
    (MetricsBody, schemas.Metrics),
    (PoolBody, schemas.PoolStatus),
]


@pytest.mark.parametrize(("reader", "contract"), PAIRS, ids=lambda model: model.__name__)
def test_every_field_the_exporter_reads_is_in_the_contract(
    reader: type[BaseModel], contract: type[BaseModel]
) -> None:
    assert set(reader.model_fields) - set(contract.model_fields) == set()


def test_the_stand_in_answers_the_contract_and_the_readers_take_all_of_it() -> None:
    standin = TargetStandIn()
    documents = [
        (HealthBody, schemas.Health, standin.health()),
        (MetricsBody, schemas.Metrics, standin.metrics()),
        (PoolBody, schemas.PoolStatus, standin.pool()),
    ]
    for reader, contract, document in documents:
        answered = contract.model_validate(document).model_dump(mode="json")
        expected = {name: answered[name] for name in reader.model_fields}
        if "checks" in expected:
            check_fields = HealthCheckBody.model_fields
            expected["checks"] = {k: {f: v[f] for f in check_fields} for k, v in expected["checks"].items()}
        assert reader.model_validate(answered).model_dump() == expected, reader.__name__


def test_the_exported_states_are_the_contracts() -> None:
    assert get_args(schemas.HealthStatus) == collector.HEALTH_STATES
    assert get_args(schemas.CheckStatus) == collector.CHECK_STATES
    assert get_args(schemas.PoolHealth) == collector.POOL_STATES
