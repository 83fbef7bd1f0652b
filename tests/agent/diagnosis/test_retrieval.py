"""The symptoms text of each situation finds its runbook first in the embedded store, with or without
the embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.diagnosis.symptoms_text import parse_pattern, pattern_tags, symptoms_query
from agent.knowledge.runbooks import Runbook
from agent.knowledge.store import open_knowledge_store
from lab.bench.situations import SITUATIONS, variant


@pytest.mark.parametrize("ranking", ["lexical", "hybrid"])
@pytest.mark.parametrize("expected", sorted(SITUATIONS))
def test_symptoms_text_retrieves_the_runbook(
    tmp_path: Path, runbooks: list[Runbook], expected: str, ranking: str, request: pytest.FixtureRequest
) -> None:
    embedder = request.getfixturevalue("minilm") if ranking == "hybrid" else None
    store = open_knowledge_store(tmp_path / "k.json", embedder=embedder)
    store.sync_runbooks(runbooks)
    assert store.search_runbooks(symptoms_query(SITUATIONS[expected]))[0].runbook_id == expected


def test_symptoms_text_is_words_and_a_stable_pattern() -> None:
    symptoms = SITUATIONS["db-lock-contention"]
    text = symptoms_query(symptoms)
    assert "database is locked" in text and "slow database queries" in text
    assert parse_pattern(text) == set(pattern_tags(symptoms))
    # the same failure with other numbers reads the same
    again = variant(symptoms, db_query_avg_seconds=1.5, error_ratio=0.33)
    assert symptoms_query(again) == text
    assert parse_pattern("no pattern here") is None
