"""Hybrid search on Weaviate with the real all-MiniLM-L6-v2: the same answers as the file, by meaning too.

The stand-in checks what the client sends (named vectors as float32 bytes in gRPC BatchObjects, the hybrid
Search's query, vector, alpha, target and properties) and answers with a relative-score fusion of its BM25
and the stored vectors' cosine; the record ranks Weaviate's candidates, so its fusion only picks them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from weaviate.util import generate_uuid5

from agent.knowledge.embedded import EmbeddedKnowledgeStore, runbook_document
from agent.knowledge.embedder import SentenceTransformerEmbedder
from agent.knowledge.runbooks import load_runbooks
from agent.knowledge.store import open_knowledge_store
from agent.knowledge.text import tokenize
from agent.knowledge.weaviate_store import WeaviateKnowledgeStore

from ..weaviate_standin import WeaviateStandIn
from .knowledge_kit import REWORDED, RUNBOOKS, CountingEmbedder, memory

OpenStore = Callable[..., WeaviateKnowledgeStore]
DIMENSION = 384


def hybrid_searches(server: WeaviateStandIn) -> list[dict[str, object]]:
    return [c for c in server.calls_of("search") if "alpha" in c]


@pytest.mark.parametrize("query", sorted(REWORDED))
def test_a_reworded_query_is_answered_by_weaviate_as_by_the_file(
    tmp_path: Path,
    minilm: SentenceTransformerEmbedder,
    weaviate_server: WeaviateStandIn,
    weaviate_store: OpenStore,
    query: str,
) -> None:
    runbooks = load_runbooks(RUNBOOKS)
    embedded = open_knowledge_store(tmp_path / "embedded.json", embedder=minilm)
    embedded.sync_runbooks(runbooks)
    store = weaviate_store(tmp_path / "record.json", embedder=minilm)
    store.start(runbooks)

    found = store.search_runbooks(query, k=3)
    assert found[0].runbook_id == REWORDED[query]
    assert found == embedded.search_runbooks(query, k=3)
    assert found[0].semantic_similarity is not None and found[0].semantic_similarity > 0.4
    assert not store.fallbacks

    (search,) = hybrid_searches(weaviate_server)
    vector = search.pop("vector")
    assert search == {
        "kind": "search",
        "collection": "SreRunbook",
        "query": " ".join(tokenize(query)),
        "query_properties": ["search_text"],
        "alpha": 0.5,
        "fusion": "FUSION_TYPE_UNSPECIFIED",  # Weaviate's default; the record's ranking decides anyway
        "target": "default",
        "limit": 50,
        "metadata": ["uuid"],
        "properties": ["runbook_id"],
    }
    assert isinstance(vector, list) and len(vector) == DIMENSION
    np.testing.assert_allclose(vector, minilm.embed([query])[0], atol=1e-6)

    written = {c["uuid"]: c for c in weaviate_server.calls_of("batch")}
    disk = written[str(generate_uuid5("disk-full", "SreRunbook"))]
    assert disk["vectors"] == {"default": DIMENSION}, "a named vector, as the collection declares"
    stored = weaviate_server.vectors["SreRunbook"][disk["uuid"]]["default"]
    text = runbook_document(next(r for r in runbooks if r.id == "disk-full")).page_content
    np.testing.assert_allclose(stored, minilm.embed([text])[0], atol=1e-6)


def test_a_reworded_incident_is_found_in_weaviate_by_meaning(
    tmp_path: Path,
    minilm: SentenceTransformerEmbedder,
    weaviate_server: WeaviateStandIn,
    weaviate_store: OpenStore,
) -> None:
    store = weaviate_store(tmp_path / "record.json", embedder=minilm)
    store.start([])
    store.add_incident(memory("inc-disk", "data disk full: no space left on device"))
    store.add_incident(memory("inc-cpu", "cpu saturated, busy threads", diagnosis="cpu-saturation"))
    assert all(c["vectors"] == {"default": DIMENSION} for c in weaviate_server.calls_of("batch"))

    found = store.search_incidents("the storage volume ran out of room")
    assert [f.incident_id for f in found] == ["inc-disk"]
    assert found[0].similarity == 0, "`similarity` stays the token cosine the diagnoser weighs"
    assert found[0].semantic_similarity is not None and found[0].semantic_similarity > 0.4
    assert found == EmbeddedKnowledgeStore(tmp_path / "record.json", embedder=minilm).search_incidents(
        "the storage volume ran out of room"
    )
    search = hybrid_searches(weaviate_server)[-1]
    assert search["collection"] == "SreIncident" and search["properties"] == ["incident_id"]
    assert search["query"] == "storage volume ran out room"
    assert not store.fallbacks


def test_weaviate_failing_mid_run_leaves_the_same_hybrid_answer_from_the_file(
    tmp_path: Path,
    minilm: SentenceTransformerEmbedder,
    weaviate_server: WeaviateStandIn,
    weaviate_store: OpenStore,
) -> None:
    fallbacks: list[str] = []
    store = weaviate_store(
        tmp_path / "record.json",
        embedder=minilm,
        deadline_seconds=1.0,
        retry_after_seconds=0.0,
        on_fallback=fallbacks.append,
    )
    store.start(load_runbooks(RUNBOOKS))
    store.add_incident(memory("inc-disk", "data disk full: no space left on device"))
    query = "the storage volume ran out of room"
    from_weaviate = (store.search_runbooks(query), store.search_incidents(query))
    assert hybrid_searches(weaviate_server) and not fallbacks

    weaviate_server.stop()
    assert (store.search_runbooks(query), store.search_incidents(query)) == from_weaviate
    assert fallbacks == ["search_runbooks", "search_incidents"]
    assert from_weaviate[0][0].runbook_id == "disk-full"


def test_objects_written_without_vectors_get_them_at_start(
    tmp_path: Path,
    minilm: SentenceTransformerEmbedder,
    weaviate_server: WeaviateStandIn,
    weaviate_store: OpenStore,
) -> None:
    """Collections filled before the extra was installed: the first hybrid start gives objects vectors."""
    runbooks = load_runbooks(RUNBOOKS)
    lexical = weaviate_store(tmp_path / "record.json")
    lexical.start(runbooks)
    lexical.add_incident(memory("inc-disk", "data disk full: no space left on device"))
    assert weaviate_server.calls_of("batch") and all(
        c["vectors"] == {} for c in weaviate_server.calls_of("batch")
    )
    assert not any(weaviate_server.vectors["SreRunbook"].values())

    weaviate_server.calls.clear()
    counting = CountingEmbedder(minilm)
    hybrid = weaviate_store(tmp_path / "record.json", embedder=counting)
    report = hybrid.start(runbooks)
    assert sorted(report.updated) == sorted(r.id for r in runbooks), "re-written, now with their vectors"
    written = weaviate_server.calls_of("batch")
    assert len(written) == len(runbooks) + 1 and all(c["vectors"] == {"default": DIMENSION} for c in written)
    assert str(generate_uuid5("inc-disk", "SreIncident")) in {c["uuid"] for c in written}
    cursors = [c for c in weaviate_server.calls_of("search") if "query" not in c]
    assert cursors and all(c["vectors"] == ["default"] for c in cursors), "read back with their vectors"
    assert len(counting.texts) == len(runbooks) + 1

    weaviate_server.calls.clear()
    again = weaviate_store(tmp_path / "record.json", embedder=CountingEmbedder(minilm))
    assert len(again.start(runbooks).unchanged) == len(runbooks)
    assert not weaviate_server.calls_of("batch"), "nothing re-written once every object has its vector"
    assert again.search_runbooks("the storage volume ran out of room")[0].runbook_id == "disk-full"
