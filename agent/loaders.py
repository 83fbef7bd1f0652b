"""Wiring the reasoning parts (knowledge store, diagnosers) into the app, degrading, never failing.

Runbooks are read by `agent.knowledge.library.RunbookLibrary`, which keeps the last good version of a
runbook file that stops parsing and notes it the same way.

Each loader records a note that `/agent/status` shows when a part is missing or broken, so the agent
still starts, pages in, and escalates rather than not running at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import structlog

from agent.config import Settings
from agent.domain.diagnosis import Diagnosis
from agent.domain.signals import Symptoms
from agent.workflow.deps import Reasoning, default_reasoning

log = structlog.get_logger("agent")


def load_knowledge(
    settings: Settings,
    runbooks: list[Any],
    notes: list[str],
    on_fallback: Callable[[str], None] | None = None,
) -> Any | None:
    """The embedded store, or with WEAVIATE_URL the Weaviate store over it (embedded if Weaviate is down)."""
    try:
        from agent.knowledge.store import open_knowledge_store

        # With WEAVIATE_URL too: Weaviate is then sent the vectors and queried hybrid, and the file, its
        # fallback, ranks the same way.
        embedder = load_embedder_safely(settings.EMBEDDING_MODEL, notes)
        record = open_knowledge_store(settings.VECTOR_STORE_PATH, embedder=embedder)
    except Exception as exc:  # diagnosis works without past incidents
        notes.append(f"knowledge store unavailable: {type(exc).__name__}")
        log.warning("knowledge_unavailable", error=type(exc).__name__)
        return None
    if settings.WEAVIATE_URL:
        store = _open_weaviate(settings, record, runbooks, notes, on_fallback)
        if store is not None:
            return store
    try:
        record.sync_runbooks(runbooks)
    except Exception as exc:  # past incidents still help without runbook search
        notes.append(f"runbooks not indexed: {type(exc).__name__}")
        log.warning("runbooks_not_indexed", error=type(exc).__name__)
    return record


def load_embedder_safely(model: str, notes: list[str]) -> Any | None:
    """The embedder for hybrid search, or None (lexical only, with a note unless asked for by `""`)."""
    if not model:
        log.info("knowledge_lexical_only", reason="EMBEDDING_MODEL is empty")
        return None
    try:
        from agent.knowledge.embedder import load_embedder

        return load_embedder(model)
    except Exception as exc:  # EmbedderUnavailable, or numpy missing: search still works lexically
        reason = str(exc)[:200] or type(exc).__name__
        notes.append(f"semantic search off ({reason}): runbooks and incidents are ranked lexically")
        log.warning("embedder_unavailable", model=model, reason=reason)
        return None


def _open_weaviate(
    settings: Settings,
    record: Any,
    runbooks: list[Any],
    notes: list[str],
    on_fallback: Callable[[str], None] | None,
) -> Any | None:
    client = None
    try:
        from agent.knowledge.weaviate_collections import Collections, connect_weaviate
        from agent.knowledge.weaviate_store import WeaviateKnowledgeStore

        timeout = settings.WEAVIATE_TIMEOUT_SECONDS
        client = connect_weaviate(
            settings.WEAVIATE_URL, settings.WEAVIATE_GRPC_PORT, settings.WEAVIATE_API_KEY, timeout
        )
        store = WeaviateKnowledgeStore(
            client,
            record,
            collections=Collections(settings.WEAVIATE_COLLECTION_PREFIX),
            deadline_seconds=2 * timeout,
            on_fallback=on_fallback,
        )
        store.start(runbooks)
        return store
    except Exception as exc:  # Weaviate is an index over the embedded record: the agent runs without it
        if client is not None:
            client.close()
        where = urlsplit(settings.WEAVIATE_URL).netloc.rpartition("@")[2]
        notes.append(
            f"Weaviate at {where} unavailable at start-up ({type(exc).__name__}): using the embedded store"
        )
        log.warning("weaviate_unavailable", error=type(exc).__name__)
        return None


def load_reasoning(settings: Settings, notes: list[str]) -> Reasoning:
    llm = None
    if settings.LLM_MODEL:
        try:
            from agent.diagnosis.llm import LLMDiagnoser

            llm = LLMDiagnoser(  # imports litellm: at start-up, not in the event loop mid-page
                model=settings.LLM_MODEL,
                api_base=settings.LLM_API_BASE or None,
                timeout_seconds=settings.LLM_TIMEOUT_SECONDS,
                api_key=settings.LLM_API_KEY.get_secret_value() or None,
                max_prompt_chars=settings.LLM_MAX_PROMPT_CHARS,
                response_format=settings.LLM_RESPONSE_FORMAT,
            )
        except Exception as exc:
            notes.append(f"LLM diagnoser unavailable: {type(exc).__name__}")
    try:
        return default_reasoning(llm)
    except ImportError as exc:
        notes.append(f"diagnosers unavailable ({exc.name}): every incident escalates")
        return Reasoning(diagnose=_unknown, investigate=_no_checks, symptoms_query=lambda s: "", llm=None)


def _unknown(symptoms: Symptoms, runbooks: list[Any], past: list[Any]) -> Diagnosis:
    return Diagnosis(evidence=["no diagnoser installed"])


class _NoChecks:
    def __init__(self, diagnosis: Diagnosis) -> None:
        self.checks: list[Any] = []
        self.diagnosis = diagnosis


def _no_checks(symptoms: Symptoms, runbooks: list[Any], diagnosis: Diagnosis) -> _NoChecks:
    return _NoChecks(diagnosis)
