"""The knowledge store on Weaviate, used when WEAVIATE_URL is set; the embedded file stays the record.

- Never lose an incident: every write goes to the embedded file first (atomic, as before), then is upserted
  into Weaviate. Weaviate is the index that scales and that other tools can query; losing it loses nothing.
- Weaviate failing at runtime: a call that errors or passes its deadline is answered by the embedded store
  (same ranking), counted through `on_fallback` and logged, and Weaviate is skipped for `retry_after_seconds`.
  Incidents written meanwhile are queued by id and upserted before the next Weaviate search or write; at
  start-up every incident in the file that Weaviate lacks is upserted, so a queue lost with the process is
  rebuilt. Runbooks need no queue: they are re-synced from their files at every start.
- Same answers as the embedded store: `search_text` holds `tokenize()` output, Weaviate's BM25 picks the
  candidates, and they are ranked by `blended_score` with the token cosine, which is also `similarity`.
- With an embedder (the record has a vector cache), ranking is hybrid: every object is written with its
  vector (from the record's cache, so each text is embedded once), Weaviate's hybrid query (the tokens and
  the query's vector) picks the candidates, and the record ranks those candidates with its own hybrid
  formula. Weaviate's hybrid score is a fusion that hides the BM25 it computed, so the ranking cannot be
  rebuilt from its answer; the record holds every document Weaviate has and answers exactly as the file
  fallback does. Objects written without a vector (before the embedder was installed) get one at start.
- Bounded calls: each request has the client's timeout, and each store call a hard deadline on a worker
  thread, because the client retries an unavailable gRPC server with sleeps that add up to a minute.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as DeadlineExceeded
from typing import Any, TypeVar

import grpc
import httpx
import structlog
from pydantic import ValidationError
from weaviate.classes.data import DataObject
from weaviate.classes.query import MetadataQuery
from weaviate.client import WeaviateClient
from weaviate.exceptions import WeaviateBaseError

from agent.knowledge.embedded import EmbeddedKnowledgeStore, snippet
from agent.knowledge.runbooks import Runbook
from agent.knowledge.store import IncidentMemory, ScoredIncident, ScoredRunbook, SyncReport
from agent.knowledge.text import SEMANTIC_WEIGHT, blended_score, cosine, tokenize
from agent.knowledge.weaviate_collections import (
    INCIDENT_RETURN,
    RUNBOOK_RETURN,
    VECTOR,
    Collections,
    ensure_collections,
    incident_from_properties,
    incident_properties,
    object_id,
    runbook_properties,
)

T = TypeVar("T")
log = structlog.get_logger("agent.knowledge")
MIN_CANDIDATES = 50  # BM25 (or hybrid) candidates re-ranked by the blend; more than the shipped runbooks
BATCH_SIZE = 100
START_DEADLINE_FACTOR = 4  # start-up makes several requests (schema, two cursors, batches)
FAILURES = (WeaviateBaseError, grpc.RpcError, httpx.HTTPError, OSError, ValidationError, KeyError)


class WeaviateUnavailable(Exception):
    """Weaviate failed, passed the deadline, or is being skipped after a recent failure."""


class WeaviateKnowledgeStore:
    backend = "weaviate"

    def __init__(
        self,
        client: WeaviateClient,
        record: EmbeddedKnowledgeStore,
        *,
        collections: Collections | None = None,
        deadline_seconds: float = 10.0,
        retry_after_seconds: float = 30.0,
        on_fallback: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.record = record
        self.names = collections or Collections()
        self.deadline_seconds = deadline_seconds
        self.retry_after_seconds = retry_after_seconds
        self.on_fallback = on_fallback
        self.fallbacks: Counter[str] = Counter()
        self._pending: set[str] = set()
        self._skip_until = 0.0
        self._lock = threading.RLock()

    @property
    def hybrid(self) -> bool:
        """Vectors are sent and searched: the record has an embedder."""
        return self.record.vectors is not None

    # ------------------------------------------------------------------ start-up and shutdown
    def start(self, runbooks: list[Runbook]) -> SyncReport:
        """Create missing collections, re-index incidents Weaviate lacks (or holds without a vector, when
        hybrid), sync runbooks; raise if unusable."""
        self.record.sync_runbooks(runbooks)

        def prepare() -> SyncReport:
            created = ensure_collections(self.client, self.names)
            have = {str(o.uuid) for o in self._iterate(self._incidents(), []) if self._complete(o)}
            missing = [m for m in self.record.incidents() if self._incident_id(m) not in have]
            with self._lock:
                self._pending.update(m.incident_id for m in missing)
            self._flush()
            report = self._sync_index(runbooks)
            log.info("weaviate_ready", created=created, reindexed_incidents=len(missing), **report.counts())
            return report

        return self._call(prepare, deadline=START_DEADLINE_FACTOR * self.deadline_seconds)

    def close(self) -> None:
        self.client.close()

    @property
    def pending(self) -> int:
        """Incidents in the record that Weaviate does not have yet."""
        with self._lock:
            return len(self._pending)

    # ------------------------------------------------------------------ the KnowledgeStore protocol
    def sync_runbooks(self, runbooks: list[Runbook]) -> SyncReport:
        report = self.record.sync_runbooks(runbooks)
        try:
            return self._call(lambda: self._sync_index(runbooks))
        except WeaviateUnavailable as exc:
            self._fell_back("sync_runbooks", exc)
            return report

    def search_runbooks(self, query: str, k: int = 5) -> list[ScoredRunbook]:
        terms = tokenize(query)
        if not self._searchable(terms, query):
            return []

        def search() -> list[ScoredRunbook]:
            if self.hybrid:
                found = self._candidates(self.names.runbooks, terms, query, k, "runbook_id")
                return self.record.search_runbooks(query, k, among=found)
            return [
                ScoredRunbook(
                    runbook_id=props["runbook_id"],
                    score=round(score, 4),
                    title=props.get("title") or "",
                    snippet=snippet(props.get("text") or ""),
                )
                for props, score, _ in self._bm25(self.names.runbooks, terms, k, RUNBOOK_RETURN)
            ]

        try:
            return self._call(search)
        except WeaviateUnavailable as exc:
            self._fell_back("search_runbooks", exc)
            return self.record.search_runbooks(query, k)

    def add_incident(self, memory: IncidentMemory) -> None:
        """The record first (so the incident is kept whatever Weaviate does), then the index."""
        self.record.add_incident(memory)
        with self._lock:
            self._pending.add(memory.incident_id)
        try:
            self._call(self._flush)
        except WeaviateUnavailable as exc:
            self._fell_back("add_incident", exc)

    def search_incidents(self, query: str, k: int = 5) -> list[ScoredIncident]:
        terms = tokenize(query)
        if not self._searchable(terms, query):
            return []

        def search() -> list[ScoredIncident]:
            self._flush()  # an incident Weaviate lacks would be missing from its answer
            if self.hybrid:
                found = self._candidates(self.names.incidents, terms, query, k, "incident_id")
                return self.record.search_incidents(query, k, among=found)
            return [
                ScoredIncident(
                    incident_id=props["incident_id"],
                    score=round(score, 4),
                    similarity=round(min(1.0, sim), 4),
                    memory=incident_from_properties(props),
                )
                for props, score, sim in self._bm25(self.names.incidents, terms, k, INCIDENT_RETURN)
            ]

        try:
            return self._call(search)
        except WeaviateUnavailable as exc:
            self._fell_back("search_incidents", exc)
            return self.record.search_incidents(query, k)

    # ------------------------------------------------------------------ Weaviate calls (worker thread)
    def _call(self, fn: Callable[[], T], deadline: float | None = None) -> T:
        if time.monotonic() < self._skip_until:
            raise WeaviateUnavailable("skipped after a recent failure")
        limit = deadline or self.deadline_seconds
        future: Future[T] = Future()
        # A daemon thread, not a pool: a call past its deadline may sleep through a minute of client
        # retries, and must neither hold a worker the next call needs nor keep the process from exiting.
        threading.Thread(target=_run, args=(fn, future), name="weaviate-call", daemon=True).start()
        try:
            return future.result(timeout=limit)
        except DeadlineExceeded as exc:
            self._skip_until = time.monotonic() + self.retry_after_seconds
            raise WeaviateUnavailable(f"no answer within {limit:g}s") from exc
        except FAILURES as exc:
            self._skip_until = time.monotonic() + self.retry_after_seconds
            raise WeaviateUnavailable(type(exc).__name__) from exc

    def _fell_back(self, operation: str, exc: Exception) -> None:
        self.fallbacks[operation] += 1
        if self.on_fallback is not None:
            self.on_fallback(operation)
        log.warning("weaviate_fallback", operation=operation, error=str(exc)[:200], pending=self.pending)

    def _bm25(
        self, collection: str, terms: list[str], k: int, returned: list[str]
    ) -> list[tuple[dict[str, Any], float, float]]:
        """(properties, blended score, token cosine), best first; as the embedded store ranks."""
        answer = self.client.collections.use(collection).query.bm25(
            query=" ".join(terms),
            query_properties=["search_text"],
            limit=max(MIN_CANDIDATES, 5 * k),
            return_metadata=MetadataQuery(score=True),
            return_properties=returned,
        )
        found = [(dict(o.properties), float(o.metadata.score or 0.0)) for o in answer.objects]
        top = max((bm25 for _, bm25 in found), default=0.0)
        ranked = []
        for props, bm25 in found:
            sim = cosine(terms, str(props.get("search_text") or "").split())
            if sim > 0:
                ranked.append((props, blended_score(bm25, top, sim), sim))
        ranked.sort(key=lambda r: r[1], reverse=True)
        return ranked[:k]

    def _searchable(self, terms: list[str], query: str) -> bool:
        """A query of stop words alone still has a meaning to search by, when hybrid (as in the record)."""
        return bool(terms) or (self.hybrid and bool(query.strip()))

    def _candidates(self, collection: str, terms: list[str], query: str, k: int, key: str) -> set[str]:
        """The ids Weaviate's hybrid query finds for the tokens and the query's vector."""
        answer = self.client.collections.use(collection).query.hybrid(
            query=" ".join(terms) or None,  # None: the vector alone
            vector=self.record.query_vector(query).tolist(),
            target_vector=VECTOR,
            alpha=SEMANTIC_WEIGHT,
            query_properties=["search_text"],
            limit=max(MIN_CANDIDATES, 5 * k),
            return_properties=[key],
        )
        return {str(o.properties[key]) for o in answer.objects}

    def _iterate(self, collection: Any, properties: list[str]) -> Iterable[Any]:
        """Every object, with its vector when hybrid (to find the ones written without one)."""
        return collection.iterator(
            return_properties=properties, include_vector=[VECTOR] if self.hybrid else False
        )

    def _complete(self, obj: Any) -> bool:
        """Indexed as this store indexes: with a vector when hybrid."""
        return not self.hybrid or bool(obj.vector.get(VECTOR))

    def _sync_index(self, runbooks: list[Runbook]) -> SyncReport:
        """Add and replace runbooks by content hash (and when hybrid, the ones held without a vector),
        delete the ones whose file is gone."""
        collection = self.client.collections.use(self.names.runbooks)
        indexed = {
            str(o.properties["runbook_id"]): (
                o.uuid,
                o.properties.get("content_hash") if self._complete(o) else None,
            )
            for o in self._iterate(collection, ["runbook_id", "content_hash"])
        }
        wanted = {rb.id: rb for rb in runbooks}
        report = SyncReport(removed=sorted(set(indexed) - set(wanted)))
        changed = []
        for runbook_id, rb in wanted.items():
            current = indexed.get(runbook_id)
            if current is not None and current[1] == rb.content_hash:
                report.unchanged.append(runbook_id)
                continue
            (report.updated if current is not None else report.added).append(runbook_id)
            changed.append(rb)
        written = [(object_id(self.names.runbooks, rb.id), runbook_properties(rb)) for rb in changed]
        self._upsert(collection.data, written, [props["text"] for _, props in written])
        for runbook_id in report.removed:
            collection.data.delete_by_id(indexed[runbook_id][0])
        log.info("runbooks_synced", store="weaviate", **report.counts())
        return report

    def _flush(self) -> None:
        """Upsert the incidents Weaviate lacks; an id stays queued until its write succeeded.

        The lock is never held across a request: a call past its deadline may still be asleep in the
        client's retries, and the next `add_incident` must not wait for it.
        """
        with self._lock:
            ids = set(self._pending)
        if not ids:
            return
        memories = [m for m in self.record.incidents() if m.incident_id in ids]
        with self._lock:  # an id the record does not hold has nothing to index
            self._pending.difference_update(ids - {m.incident_id for m in memories})
        data = self._incidents().data
        for start in range(0, len(memories), BATCH_SIZE):
            batch = memories[start : start + BATCH_SIZE]
            self._upsert(
                data,
                [(self._incident_id(m), incident_properties(m)) for m in batch],
                [m.symptoms_text for m in batch],
            )
            with self._lock:
                self._pending.difference_update(m.incident_id for m in batch)

    def _upsert(self, data: Any, objects: list[tuple[str, dict[str, Any]]], texts: list[str]) -> None:
        """Insert or replace `objects`; when hybrid, each with its text's vector from the record's cache."""
        if not objects:
            return
        if not self.hybrid:
            batch = [DataObject(properties=props, uuid=uuid) for uuid, props in objects]
        else:
            vectors = self.record.text_vectors(texts)
            batch = [
                DataObject(properties=props, uuid=uuid, vector={VECTOR: vector.tolist()})
                for (uuid, props), vector in zip(objects, vectors, strict=True)
            ]
        result = data.insert_many(batch)
        if result.has_errors:
            first = next(iter(result.errors.values()))
            raise WeaviateUnavailable(f"{len(result.errors)} objects rejected: {first.message[:200]}")

    def _incidents(self) -> Any:
        return self.client.collections.use(self.names.incidents)

    def _incident_id(self, memory: IncidentMemory) -> str:
        return object_id(self.names.incidents, memory.incident_id)


def _run(fn: Callable[[], T], future: Future[T]) -> None:
    try:
        future.set_result(fn())
    except BaseException as exc:  # handed to the caller, who decides
        future.set_exception(exc)
