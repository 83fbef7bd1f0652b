"""The shipped runbooks name every symptom of the lab's situations they diagnose, so a lab incident the
agent resolves cleanly proposes no amendment (agent/learning/amendments.py would otherwise be noise)."""

from __future__ import annotations

import pytest

from agent.incidents.models import Incident
from agent.knowledge.runbooks import Runbook
from agent.learning.amendments import new_symptoms

from .situations import SITUATIONS


@pytest.mark.parametrize("diagnosis", sorted(SITUATIONS))
def test_no_symptom_of_a_situation_is_new_to_its_runbook(runbooks: list[Runbook], diagnosis: str) -> None:
    runbook = next(rb for rb in runbooks if rb.id == diagnosis)
    assert new_symptoms(Incident(id="inc-lab"), runbook, SITUATIONS[diagnosis]) == []
