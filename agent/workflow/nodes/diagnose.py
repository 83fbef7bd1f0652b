"""diagnose: runbooks + similar past incidents → a Diagnosis; the LLM when configured, else (or on any LLM
failure, counted by reason) the deterministic diagnoser."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.diagnosis.models import Diagnosis, Symptoms
from agent.workflow.deps import WorkflowDeps
from agent.workflow.state import AgentState


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident_id = state["incident_id"]
    deps.set_step(incident_id, "diagnose")
    symptoms = Symptoms.model_validate(state["symptoms"])
    runbooks = deps.runbooks()
    past = await _past_incidents(deps, symptoms)
    diagnosis: Diagnosis | None = None
    tokens = 0
    if deps.reasoning.llm is not None:
        diagnosis, tokens = await _llm_diagnosis(deps, symptoms, runbooks, past)
    if diagnosis is None:
        diagnosis = deps.reasoning.diagnose(symptoms, runbooks, past)
    deps.metrics.diagnosis_confidence.labels(diagnosis=diagnosis.diagnosis_id).observe(diagnosis.confidence)

    def mutate(incident: Any) -> None:
        incident.diagnosis = diagnosis
        incident.evidence = list(diagnosis.evidence)

    deps.store.update(incident_id, mutate)
    if deps.annotations is not None:
        deps.annotations.open_incident(
            incident_id,
            diagnosis.diagnosis_id,
            f"{incident_id}: diagnosis {diagnosis.diagnosis_id} ({diagnosis.confidence:.0%})",
        )
    entry = deps.record(
        incident_id,
        "diagnose",
        f"diagnosis {diagnosis.diagnosis_id} (confidence {diagnosis.confidence:.2f}, {diagnosis.source})",
        {
            "diagnosis": diagnosis.diagnosis_id,
            "confidence": diagnosis.confidence,
            "evidence": diagnosis.evidence,
            "candidates": diagnosis.candidates,
            "similar_incidents": [_past_id(p) for p in past],
            "llm_calls": int(deps.reasoning.llm is not None),
            "llm_tokens": tokens,
        },
    )
    return {
        "diagnosis": diagnosis.model_dump(mode="json"),
        "confidence": diagnosis.confidence,
        "root_cause": diagnosis.root_cause,
        "past_incidents": [p.memory.model_dump(mode="json") for p in past if hasattr(p, "memory")],
        "timeline": [entry],
    }


async def _past_incidents(deps: WorkflowDeps, symptoms: Symptoms) -> list[Any]:
    """In a thread: the store may wait on Weaviate, and the event loop answers webhooks meanwhile."""
    if deps.knowledge is None:
        return []
    try:
        query = deps.reasoning.symptoms_query(symptoms)
        return list(await asyncio.to_thread(deps.knowledge.search_incidents, query, 3))
    except Exception as exc:  # the knowledge store is an aid: diagnosis goes on without it
        deps.log.warning("knowledge_search_failed", error=type(exc).__name__)
        return []


def _past_id(past: Any) -> str:
    return str(getattr(past, "incident_id", None) or getattr(past, "id", "") or "")


async def _llm_diagnosis(
    deps: WorkflowDeps, symptoms: Symptoms, runbooks: list[Any], past: list[Any]
) -> tuple[Diagnosis | None, int]:
    """The LLM's diagnosis (None: fall back) and the tokens it cost, counted in metrics either way."""
    llm = deps.reasoning.llm
    assert llm is not None
    catalog = await deps.actions.catalog()
    catalog_actions = [a.name for a in catalog.value or []]
    try:
        outcome = await llm.diagnose(symptoms, runbooks, past, catalog_actions)
    except Exception as exc:  # any LLM failure falls back; the reason is a bounded label
        deps.log.warning("llm_failed", error=type(exc).__name__)
        deps.metrics.llm_calls_total.labels(result="error").inc()
        deps.metrics.llm_fallbacks_total.labels(reason="exception").inc()
        return None, 0
    prompt = int(getattr(outcome, "prompt_tokens", 0) or 0)
    completion = int(getattr(outcome, "completion_tokens", 0) or 0)
    deps.metrics.llm_tokens_total.labels(kind="prompt").inc(prompt)
    deps.metrics.llm_tokens_total.labels(kind="completion").inc(completion)
    if outcome.diagnosis is None:
        deps.metrics.llm_calls_total.labels(result="invalid").inc()
        deps.metrics.llm_fallbacks_total.labels(reason=_bounded_reason(outcome.fallback_reason)).inc()
        return None, prompt + completion
    deps.metrics.llm_calls_total.labels(result="ok").inc()
    return outcome.diagnosis, prompt + completion


FALLBACK_REASONS = ("timeout", "unparsable", "unknown_id", "error")


def _bounded_reason(reason: str | None) -> str:
    text = (reason or "error").lower()
    return next((r for r in FALLBACK_REASONS if r in text.replace(" ", "_")), "other")
