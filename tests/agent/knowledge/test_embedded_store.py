"""The embedded knowledge store: one file that survives restarts, edits, deletions and corruption."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from agent.knowledge.embedded import runbook_document
from agent.knowledge.runbooks import load_runbooks
from agent.knowledge.store import open_knowledge_store
from agent.knowledge.text import blended_score, cosine, tokenize

from .knowledge_kit import RUNBOOKS, memory


def test_persists_across_reopen(tmp_path: Path, runbook_dir: Path) -> None:
    path = tmp_path / "store" / "knowledge.json"
    store = open_knowledge_store(path)
    assert store.sync_runbooks(load_runbooks(runbook_dir)).added
    store.add_incident(memory("inc-1", "data disk full no space left on device"))

    reopened = open_knowledge_store(path)
    report = reopened.sync_runbooks(load_runbooks(runbook_dir))
    assert not report.changed and len(report.unchanged) == len(load_runbooks(runbook_dir))
    assert reopened.search_runbooks("no space left on device disk full")[0].runbook_id == "disk-full"
    found = reopened.search_incidents("disk full no space")
    assert [f.incident_id for f in found] == ["inc-1"]
    assert found[0].memory.actions_worked == ["clean-disk"] and 0 < found[0].similarity <= 1
    assert not list(path.parent.glob("*.tmp")), "atomic writes leave no temp file behind"


def test_edited_runbook_is_reindexed_without_duplicates(tmp_path: Path, runbook_dir: Path) -> None:
    store = open_knowledge_store(tmp_path / "k.json")
    store.sync_runbooks(load_runbooks(runbook_dir))
    file = runbook_dir / "disk-full.md"
    file.write_text(file.read_text() + "\nAlso seen as the quokka condition.\n")

    report = store.sync_runbooks(load_runbooks(runbook_dir))
    assert report.updated == ["disk-full"] and not report.added and not report.removed
    hits = store.search_runbooks("quokka condition", k=9)
    assert [h.runbook_id for h in hits] == ["disk-full"]
    saved = json.loads((tmp_path / "k.json").read_text())
    assert sorted(d["metadata"]["id"] for d in saved["runbooks"]) == sorted(
        r.id for r in load_runbooks(runbook_dir)
    )


def test_deleted_runbook_is_removed(tmp_path: Path, runbook_dir: Path) -> None:
    store = open_knowledge_store(tmp_path / "k.json")
    store.sync_runbooks(load_runbooks(runbook_dir))
    (runbook_dir / "memory-leak.md").unlink()

    assert store.sync_runbooks(load_runbooks(runbook_dir)).removed == ["memory-leak"]
    assert all(
        h.runbook_id != "memory-leak" for h in store.search_runbooks("memory growing leak resident", k=9)
    )
    assert "memory-leak" not in open_knowledge_store(tmp_path / "k.json").runbook_ids()


def test_corrupt_file_is_set_aside_and_rebuilt(tmp_path: Path, runbook_dir: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text('{"version": 1, "runbooks": [tru')

    store = open_knowledge_store(path)
    assert list(tmp_path.glob("k.json.corrupt-*")), "the unreadable file is kept for a human"
    assert store.sync_runbooks(load_runbooks(runbook_dir)).added
    assert json.loads(path.read_text())["version"] == 1
    assert (
        open_knowledge_store(path).search_runbooks("database is locked")[0].runbook_id == "db-lock-contention"
    )


def test_incidents_upsert_by_id(tmp_path: Path) -> None:
    store = open_knowledge_store(tmp_path / "k.json")
    store.add_incident(memory("inc-1", "disk full"))
    store.add_incident(memory("inc-1", "disk full again", diagnosis="disk-full"))
    store.add_incident(
        memory("inc-2", "traffic surge request rate above baseline", diagnosis="traffic-surge")
    )
    assert [i.incident_id for i in store.search_incidents("disk full", k=5)] == ["inc-1"]
    assert store.search_incidents("traffic surge")[0].incident_id == "inc-2"
    assert store.search_incidents("") == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("target down not answering health endpoint unreachable", "service-down"),
        ("QueuePool limit reached connection timed out pool exhausted", "db-pool-exhaustion"),
        ("database is locked slow queries", "db-lock-contention"),
        ("resident memory keeps growing", "memory-leak"),
        ("cpu saturated at normal traffic", "cpu-saturation"),
        ("errors started right after the new release", "bad-release"),
        ("inventory service timed out dependency check failing", "dependency-outage"),
        ("requests per second far above baseline", "traffic-surge"),
        ("no space left on device", "disk-full"),
    ],
)
def test_search_ranks_the_right_runbook_first(tmp_path: Path, query: str, expected: str) -> None:
    store = open_knowledge_store(tmp_path / "k.json")
    store.sync_runbooks(load_runbooks(RUNBOOKS))
    assert store.search_runbooks(query)[0].runbook_id == expected


class ConstantEmbedder:
    """Every text means the same: the semantic half of the blend cannot reorder anything."""

    model_id = "constant-2"

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.tile(np.array([1.0, 0.0], dtype=np.float32), (len(texts), 1))


def test_embedder_seam_blends_without_breaking_lexical_order(tmp_path: Path) -> None:
    store = open_knowledge_store(tmp_path / "k.json", embedder=ConstantEmbedder())
    store.sync_runbooks(load_runbooks(RUNBOOKS))
    assert store.search_runbooks("no space left on device")[0].runbook_id == "disk-full"


@pytest.mark.parametrize(
    "query",
    ["database is locked", "no space left on device disk full", "pool pool exhausted QueuePool", "zzz"],
)
def test_vectorized_ranking_gives_rank_bm25s_scores(tmp_path: Path, query: str) -> None:
    """The store scores over postings with numpy; the numbers are the per-document reference formulas'."""
    runbooks = load_runbooks(RUNBOOKS)
    store = open_knowledge_store(tmp_path / "k.json")
    store.sync_runbooks(runbooks)
    tokens = [tokenize(runbook_document(r).page_content) for r in runbooks]
    q = tokenize(query)
    bm25 = BM25Okapi(tokens).get_scores(q)
    reference = sorted(
        (
            (round(blended_score(float(bm25[i]), float(max(bm25)), cosine(q, t)), 4), runbooks[i].id)
            for i, t in enumerate(tokens)
            if cosine(q, t) > 0
        ),
        key=lambda r: r[0],
        reverse=True,
    )
    assert [(h.score, h.runbook_id) for h in store.search_runbooks(query, k=9)] == reference


def test_vector_file_is_compacted_when_stale_rows_outnumber_live_ones(tmp_path: Path) -> None:
    store = open_knowledge_store(tmp_path / "k.json", embedder=ConstantEmbedder())
    rows = tmp_path / "k.json.vectors" / "constant-2.f32"
    row = 32 + 2 * 4  # sha256 + two float32
    for n in range(4):  # the same incident re-remembered with a new text each time
        store.add_incident(memory("inc-1", f"disk full {'again ' * n}"))
        store.search_incidents("disk full")
    assert rows.stat().st_size <= 2 * row, "the stale vectors were dropped"
    assert store.search_incidents("disk full")[0].incident_id == "inc-1"
