from __future__ import annotations

from pathlib import Path

import pytest

from agent.knowledge.runbooks import Runbook, load_runbooks

RUNBOOKS = Path(__file__).resolve().parents[3] / "runbooks"


@pytest.fixture(scope="session")
def runbooks() -> list[Runbook]:
    return load_runbooks(RUNBOOKS)
