from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..helpers.target_standin import TargetStandIn


@pytest.fixture(scope="module")
def standin_server() -> Iterator[TargetStandIn]:
    with TargetStandIn().serve() as standin:
        yield standin


@pytest.fixture
def standin(standin_server: TargetStandIn) -> Iterator[TargetStandIn]:
    """The module's stand-in, reset to healthy before and after each test."""
    standin_server.healthy()
    yield standin_server
    standin_server.healthy()
