"""The deterministic diagnosis path reaches the same answer with the embedded and the Weaviate store.

Past incidents come from the store (as in the diagnose node), so retrieval and `similarity` both matter.
The two BM25s differ (rank_bm25's Okapi IDF, Weaviate's Lucene IDF), so lower-ranked incidents may differ;
the best hits, the similarity of any incident both return, and the diagnosis must not. With the
embedder, Weaviate only picks candidates and the record ranks them, so every score must be the same.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.diagnosis.deterministic import diagnose
from agent.diagnosis.symptoms_text import symptoms_query
from agent.domain.signals import Symptoms
from agent.knowledge.embedder import SentenceTransformerEmbedder
from agent.knowledge.runbooks import Runbook
from agent.knowledge.store import IncidentMemory, KnowledgeStore, open_knowledge_store
from agent.knowledge.weaviate_store import WeaviateKnowledgeStore
from lab.bench.situations import DEPENDENCY_AFTER_HARMLESS_RELEASE, LOCK_WITH_SATURATED_POOL, SITUATIONS

PAST = {  # incident id → (situation it looked like, what it turned out to be, outcome)
    "inc-pool": ("db-pool-exhaustion", "db-pool-exhaustion", "resolved"),
    "inc-lock": ("db-lock-contention", "db-lock-contention", "resolved"),
    "inc-dep": ("dependency-outage", "dependency-outage", "resolved"),
    "inc-release": ("bad-release", "bad-release", "failed"),
}


def remember(store: KnowledgeStore, runbooks: list[Runbook]) -> None:
    store.sync_runbooks(runbooks)
    for incident_id, (looked_like, diagnosis, outcome) in PAST.items():
        store.add_incident(
            IncidentMemory(
                incident_id=incident_id,
                symptoms_text=symptoms_query(SITUATIONS[looked_like]),
                diagnosis_id=diagnosis,
                outcome=outcome,  # type: ignore[arg-type]
            )
        )


@pytest.mark.parametrize(
    "symptoms",
    [
        SITUATIONS["db-pool-exhaustion"],
        SITUATIONS["db-lock-contention"],
        SITUATIONS["bad-release"],
        SITUATIONS["disk-full"],
        LOCK_WITH_SATURATED_POOL,
        DEPENDENCY_AFTER_HARMLESS_RELEASE,
    ],
    ids=["pool", "lock", "release", "disk", "lock-with-full-pool", "dependency-after-release"],
)
def test_either_store_gives_the_same_diagnosis(
    tmp_path: Path,
    runbooks: list[Runbook],
    weaviate_store: Callable[..., WeaviateKnowledgeStore],
    symptoms: Symptoms,
) -> None:
    embedded = open_knowledge_store(tmp_path / "embedded.json")
    weaviate = weaviate_store(tmp_path / "record.json")
    weaviate.start([])
    for store in (embedded, weaviate):
        remember(store, runbooks)

    query = symptoms_query(symptoms)
    answers, similarities = [], []
    for store in (embedded, weaviate):
        past = store.search_incidents(query, k=3)
        diagnosis = diagnose(symptoms, runbooks, past)
        top_runbook = store.search_runbooks(query, k=1)[0].runbook_id
        answers.append(
            (
                diagnosis.diagnosis_id,
                diagnosis.confidence,
                diagnosis.evidence,
                top_runbook,
                past[0].incident_id,
            )
        )
        similarities.append({p.incident_id: p.similarity for p in past})
    assert answers[0] == answers[1]
    both = similarities[0].keys() & similarities[1].keys()
    assert len(both) >= 2 and all(similarities[0][i] == similarities[1][i] for i in both)
    assert not weaviate.fallbacks, "the Weaviate side was answered by Weaviate"


@pytest.mark.parametrize("symptoms", list(SITUATIONS.values()), ids=list(SITUATIONS))
def test_hybrid_ranking_keeps_the_diagnosis(
    tmp_path: Path, runbooks: list[Runbook], minilm: SentenceTransformerEmbedder, symptoms: Symptoms
) -> None:
    """The embedder reorders retrieval, not the meaning of `similarity`: the deterministic diagnosis holds."""
    lexical = open_knowledge_store(tmp_path / "lexical.json")
    hybrid = open_knowledge_store(tmp_path / "hybrid.json", embedder=minilm)
    query = symptoms_query(symptoms)
    answers, similarities = [], []
    for store in (lexical, hybrid):
        remember(store, runbooks)
        past = store.search_incidents(query, k=3)
        diagnosis = diagnose(symptoms, runbooks, past)
        answers.append(
            (diagnosis.diagnosis_id, diagnosis.confidence, store.search_runbooks(query, k=1)[0].runbook_id)
        )
        similarities.append({p.incident_id: p.similarity for p in past})
    assert answers[0] == answers[1]
    both = similarities[0].keys() & similarities[1].keys()
    assert all(similarities[0][i] == similarities[1][i] for i in both)


@pytest.mark.parametrize("symptoms", list(SITUATIONS.values()), ids=list(SITUATIONS))
def test_with_the_embedder_weaviate_and_the_file_give_the_same_retrieval_and_diagnosis(
    tmp_path: Path,
    runbooks: list[Runbook],
    minilm: SentenceTransformerEmbedder,
    weaviate_store: Callable[..., WeaviateKnowledgeStore],
    symptoms: Symptoms,
) -> None:
    """Hybrid: Weaviate picks the candidates, the record ranks them, so the whole answer is the file's."""
    embedded = open_knowledge_store(tmp_path / "embedded.json", embedder=minilm)
    weaviate = weaviate_store(tmp_path / "record.json", embedder=minilm)
    weaviate.start([])
    query = symptoms_query(symptoms)
    answers = []
    for store in (embedded, weaviate):
        remember(store, runbooks)
        past = store.search_incidents(query, k=3)
        scores = [(p.incident_id, p.score, p.similarity, p.semantic_similarity) for p in past]
        answers.append((diagnose(symptoms, runbooks, past), scores, store.search_runbooks(query, k=3)))
    assert answers[0] == answers[1]  # scores only: each store remembered the incidents at its own time
    assert not weaviate.fallbacks, "the Weaviate side was answered by Weaviate"
