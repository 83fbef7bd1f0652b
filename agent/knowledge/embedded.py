"""The default knowledge store: one JSON file, BM25 ranking, no server.

Why a file and BM25: the agent must work on one machine with no network (Weaviate's embedded mode
downloads a binary), runbooks are few and written in the same words as the symptoms text, and a JSON
file is something an engineer can open. Writes are atomic (temp file + os.replace); a file that cannot
be read is moved aside as `<name>.corrupt-<time>` and rebuilt (runbooks come back with the next sync,
past incidents are lost and that is logged), never an exception at start-up.

Semantic search is an optional extra (`embedder.py`): with an `Embedder`, ranking is hybrid, the lexical
score blended with the embeddings' cosine, and a document sharing no word with the query is still found
when it means the same; vectors are cached beside the file (`vectors.py`). Without one, ranking is lexical.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from langchain_core.documents import Document
from numpy.typing import NDArray
from pydantic import ValidationError
from rank_bm25 import BM25Okapi

from agent.knowledge.embedder import Embedder
from agent.knowledge.runbooks import Runbook
from agent.knowledge.store import IncidentMemory, ScoredIncident, ScoredRunbook, SyncReport
from agent.knowledge.text import SEMANTIC_MIN_SIMILARITY, hybrid_score, tokenize
from agent.knowledge.vectors import VectorCache

FORMAT_VERSION = 1
log = structlog.get_logger("agent.knowledge")


def runbook_document(runbook: Runbook) -> Document:
    """The searchable text of a runbook: what it explains, its evidence and checks in words, and its body."""
    lines = [runbook.title, " ".join(runbook.alerts)]
    lines += [s.description for s in runbook.signals]
    lines += [f"{s.signal[4:]}" for s in runbook.signals if s.signal.startswith("log:")]
    lines += [c.name for c in runbook.checks]
    lines.append(runbook.body)
    return Document(
        page_content="\n".join(lines),
        metadata={
            "id": runbook.id,
            "title": runbook.title,
            "content_hash": runbook.content_hash,
            "path": runbook.path,
        },
    )


def incident_document(memory: IncidentMemory) -> Document:
    return Document(page_content=memory.symptoms_text, metadata=memory.model_dump(mode="json"))


@dataclass(frozen=True)
class Hit:
    doc: Document
    score: float
    similarity: float  # token cosine, the `similarity` the diagnoser weighs
    semantic: float | None  # embeddings' cosine, when an embedder is present


class _Index:
    """BM25 (and the documents' vectors, with an embedder) over one collection, rebuilt after a change.

    Scores are computed over postings with numpy instead of per document in Python (rank_bm25's
    `get_scores` looks every query term up in every document): the same formulas in the same order, so
    the same floats as `BM25Okapi.get_scores`, `cosine` and `blended_score`, at 100k documents too.
    """

    def __init__(self, docs: list[Document], vectors: VectorCache | None, key: str) -> None:
        self.docs = docs
        self.keys = np.array([d.metadata[key] for d in docs], dtype=object)
        tokens = [tokenize(d.page_content) for d in docs]
        self.bm25 = BM25Okapi(tokens) if docs else None
        counts = [Counter(t) for t in tokens]
        self.norms = np.array([math.sqrt(sum(n * n for n in c.values())) for c in counts])
        self.postings = _postings(counts)
        self.cache = vectors
        self.matrix = vectors.vectors([d.page_content for d in docs]) if vectors and docs else None

    def rank(self, query: str, k: int, among: Collection[str] | None = None) -> list[Hit]:
        """Best first. Lexically, documents sharing no token are left out; semantically, the unrelated.

        `among` (document ids) limits the answer to candidates found elsewhere (Weaviate's hybrid query);
        their scores are the ones the whole collection gives them, so the order is this store's.
        """
        q = tokenize(query)
        semantic = self._semantic(query)
        if self.bm25 is None or (not q and semantic is None):
            return []
        sims = self._cosine(q)
        bm25 = self._bm25(q)
        top = float(bm25.max())
        lexical = 0.5 * np.maximum(bm25, 0.0) / (top if top > 0 else 1.0) + 0.5 * sims
        if semantic is None:
            scores, keep = lexical, sims > 0
        else:
            scores = hybrid_score(lexical, self._coverage(q), semantic)
            keep = (sims > 0) | (semantic >= SEMANTIC_MIN_SIMILARITY)
        if among is not None:
            keep = keep & np.isin(self.keys, list(among))
        candidates = np.flatnonzero(keep)
        best = candidates[np.argsort(-scores[candidates], kind="stable")[:k]]
        return [
            Hit(
                self.docs[i],
                float(scores[i]),
                float(sims[i]),
                None if semantic is None else float(semantic[i]),
            )
            for i in best
        ]

    def _bm25(self, q: list[str]) -> NDArray[np.float64]:
        """`BM25Okapi.get_scores(q)` from the postings (a term in no document adds 0, as there)."""
        assert self.bm25 is not None
        bm = self.bm25
        scores = np.zeros(len(self.docs))
        lengths = bm.k1 * (1 - bm.b + bm.b * np.asarray(bm.doc_len) / bm.avgdl)
        for term in q:  # repeated terms count again, as in rank_bm25
            if term not in self.postings:
                continue
            docs, freq = self.postings[term]
            scores[docs] += (bm.idf.get(term) or 0) * (freq * (bm.k1 + 1) / (freq + lengths[docs]))
        return scores

    def _cosine(self, q: list[str]) -> NDArray[np.float64]:
        """`cosine(q, document tokens)` for every document."""
        counts = Counter(q)
        dots = np.zeros(len(self.docs))
        for term, n in counts.items():
            if term in self.postings:
                docs, freq = self.postings[term]
                dots[docs] += n * freq
        query_norm = math.sqrt(sum(n * n for n in counts.values()))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(dots > 0, dots / (query_norm * self.norms), 0.0)

    def _coverage(self, q: list[str]) -> NDArray[np.float64]:
        """`coverage(q, document terms)` for every document."""
        terms = set(q)
        held = np.zeros(len(self.docs))
        for term in terms & self.postings.keys():
            held[self.postings[term][0]] += 1
        return held / len(terms) if terms else held

    def _semantic(self, query: str) -> NDArray[np.float32] | None:
        if self.cache is None or self.matrix is None or not query.strip():
            return None
        return np.clip(self.matrix @ self.cache.query(query), 0.0, 1.0)


def _postings(counts: list[Counter[str]]) -> dict[str, tuple[NDArray[np.intp], NDArray[np.float64]]]:
    """term → (the documents holding it, how often each holds it)."""
    docs: dict[str, list[int]] = {}
    freqs: dict[str, list[int]] = {}
    for i, count in enumerate(counts):
        for term, n in count.items():
            docs.setdefault(term, []).append(i)
            freqs.setdefault(term, []).append(n)
    return {t: (np.array(docs[t], dtype=np.intp), np.array(freqs[t], dtype=np.float64)) for t in docs}


class EmbeddedKnowledgeStore:
    backend = "embedded"

    def __init__(self, path: Path, embedder: Embedder | None = None) -> None:
        self.path = path
        self.embedder = embedder
        self.vectors = VectorCache(path.with_name(f"{path.name}.vectors"), embedder) if embedder else None
        self._lock = threading.RLock()
        self._runbooks: dict[str, Document] = {}
        self._incidents: dict[str, IncidentMemory] = {}
        self._indexes: dict[str, _Index] = {}
        self._load()

    # ------------------------------------------------------------------ runbooks
    def sync_runbooks(self, runbooks: list[Runbook]) -> SyncReport:
        """Index new and edited runbooks (by content hash), drop the ones whose file is gone."""
        report = SyncReport()
        with self._lock:
            wanted = {rb.id: rb for rb in runbooks}
            for runbook_id in sorted(set(self._runbooks) - set(wanted)):
                del self._runbooks[runbook_id]
                report.removed.append(runbook_id)
            for runbook_id, rb in wanted.items():
                current = self._runbooks.get(runbook_id)
                if current is not None and current.metadata.get("content_hash") == rb.content_hash:
                    report.unchanged.append(runbook_id)
                    continue
                (report.updated if current is not None else report.added).append(runbook_id)
                self._runbooks[runbook_id] = runbook_document(rb)
            if report.changed:
                self._indexes.pop("runbooks", None)
                self._save()
        log.info("runbooks_synced", **report.counts())
        return report

    def search_runbooks(
        self, query: str, k: int = 5, among: Collection[str] | None = None
    ) -> list[ScoredRunbook]:
        with self._lock:
            ranked = self._index("runbooks").rank(query, k, among)
        return [
            ScoredRunbook(
                runbook_id=h.doc.metadata["id"],
                score=round(h.score, 4),
                title=h.doc.metadata.get("title", ""),
                snippet=snippet(h.doc.page_content),
                semantic_similarity=_rounded(h.semantic),
            )
            for h in ranked
        ]

    def runbook_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._runbooks)

    # ------------------------------------------------------------------ incidents
    def add_incident(self, memory: IncidentMemory) -> None:
        """Remember (or update, by incident id) one finished incident."""
        with self._lock:
            self._incidents[memory.incident_id] = memory
            self._indexes.pop("incidents", None)
            self._save()

    def add_incidents(self, memories: list[IncidentMemory]) -> None:
        """Remember many at once with one write (an import, the knowledge bench), not one per incident."""
        with self._lock:
            self._incidents.update((m.incident_id, m) for m in memories)
            self._indexes.pop("incidents", None)
            self._save()

    def search_incidents(
        self, query: str, k: int = 5, among: Collection[str] | None = None
    ) -> list[ScoredIncident]:
        with self._lock:
            ranked = self._index("incidents").rank(query, k, among)
            return [
                ScoredIncident(
                    incident_id=h.doc.metadata["incident_id"],
                    score=round(h.score, 4),
                    similarity=round(min(1.0, h.similarity), 4),
                    semantic_similarity=_rounded(h.semantic),
                    memory=self._incidents[h.doc.metadata["incident_id"]],
                )
                for h in ranked
            ]

    def incidents(self) -> list[IncidentMemory]:
        """Every remembered incident (the Weaviate store re-indexes from this record)."""
        with self._lock:
            return list(self._incidents.values())

    def text_vectors(self, texts: list[str]) -> NDArray[np.float32]:
        """The vectors this store ranks `texts` by (cached), for Weaviate; needs an embedder."""
        assert self.vectors is not None
        with self._lock:  # the cache is not thread-safe, and Weaviate calls run on worker threads
            return self.vectors.vectors(texts)

    def query_vector(self, query: str) -> NDArray[np.float32]:
        """A query's vector as this store searches by it; needs an embedder."""
        assert self.vectors is not None
        with self._lock:
            return self.vectors.query(query)

    def incident_count(self) -> int:
        with self._lock:
            return len(self._incidents)

    # ------------------------------------------------------------------ persistence
    def _index(self, name: str) -> _Index:
        if name not in self._indexes:
            docs = (
                list(self._runbooks.values())
                if name == "runbooks"
                else [incident_document(m) for m in self._incidents.values()]
            )
            self._indexes[name] = _Index(docs, self.vectors, "id" if name == "runbooks" else "incident_id")
            if self.vectors is not None:
                live = [d.page_content for d in self._runbooks.values()]
                self.vectors.compact(live + [m.symptoms_text for m in self._incidents.values()])
        return self._indexes[name]

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
                raise ValueError("unknown format")
            runbooks = {
                r["metadata"]["id"]: Document(page_content=r["page_content"], metadata=r["metadata"])
                for r in data.get("runbooks", [])
            }
            incidents = [IncidentMemory.model_validate(i) for i in data.get("incidents", [])]
        except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
            self._set_aside(exc)
            return
        self._runbooks = runbooks
        self._incidents = {m.incident_id: m for m in incidents}

    def _set_aside(self, exc: Exception) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        try:
            os.replace(self.path, aside)
        except OSError:
            aside = self.path
        log.error(
            "knowledge_store_unreadable", path=str(self.path), moved_to=str(aside), error=type(exc).__name__
        )

    def _save(self) -> None:
        data: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "runbooks": [
                {"page_content": d.page_content, "metadata": d.metadata} for d in self._runbooks.values()
            ],
            "incidents": [m.model_dump(mode="json") for m in self._incidents.values()],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(min(1.0, value), 4)


def snippet(text: str, limit: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
