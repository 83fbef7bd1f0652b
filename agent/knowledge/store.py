"""The knowledge store seam: runbooks and the memory of past incidents, searchable by symptom text.

The embedded file store (`embedded.py`) is the default and always the record; with WEAVIATE_URL set,
`weaviate_store.py` implements the same protocol over it (Weaviate as the index, the file as the fallback)
without the workflow noticing. Both rank the same way and fill `similarity` (the token cosine) the same
way; the embeddings' cosine, when an embedder is loaded, is the separate `semantic_similarity`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from agent.knowledge.embedder import Embedder
    from agent.knowledge.runbooks import Runbook


def _now() -> datetime:
    return datetime.now(UTC)


class IncidentMemory(BaseModel):
    """What the agent learned from one finished incident."""

    incident_id: str
    symptoms_text: str
    diagnosis_id: str
    root_cause: str = ""
    actions_tried: list[str] = Field(default_factory=list)
    actions_worked: list[str] = Field(default_factory=list)
    actions_failed: list[str] = Field(default_factory=list)
    outcome: Literal["resolved", "escalated", "failed"]
    time_to_mitigate_seconds: float | None = None
    created_at: datetime = Field(default_factory=_now)


class ScoredRunbook(BaseModel):
    runbook_id: str
    score: float = Field(description="ranking score, comparable only within one search")
    snippet: str = ""
    title: str = ""
    semantic_similarity: float | None = Field(
        default=None, ge=0, le=1, description="embeddings' cosine; None when ranking is lexical only"
    )


class ScoredIncident(BaseModel):
    incident_id: str
    score: float = Field(description="ranking score, comparable only within one search")
    similarity: float = Field(ge=0, le=1, description="token cosine similarity of the symptom texts")
    semantic_similarity: float | None = Field(
        default=None, ge=0, le=1, description="embeddings' cosine; None when ranking is lexical only"
    )
    memory: IncidentMemory

    @property
    def diagnosis_id(self) -> str:
        return self.memory.diagnosis_id

    @property
    def outcome(self) -> str:
        return self.memory.outcome


class SyncReport(BaseModel):
    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "removed": len(self.removed),
            "unchanged": len(self.unchanged),
        }


class KnowledgeStore(Protocol):
    def sync_runbooks(self, runbooks: list[Runbook]) -> SyncReport: ...

    def search_runbooks(self, query: str, k: int = 5) -> list[ScoredRunbook]: ...

    def add_incident(self, memory: IncidentMemory) -> None: ...

    def search_incidents(self, query: str, k: int = 5) -> list[ScoredIncident]: ...


def open_knowledge_store(path: Path | str, embedder: Embedder | None = None) -> KnowledgeStore:
    """The embedded store in one local file (created on first write; a corrupt file is set aside).

    The Weaviate store is opened by `agent.loaders.load_knowledge` over this one, as its record.
    """
    from agent.knowledge.embedded import EmbeddedKnowledgeStore

    return EmbeddedKnowledgeStore(Path(path), embedder=embedder)
