"""diagnose: the service's candidate runbooks + similar past incidents → a Diagnosis; the LLM when
configured, else (or on any LLM failure, counted by reason) the deterministic diagnoser.

With an LLM the deterministic diagnosis is still made: the timeline records whether the model agreed
with it, and an answer naming a runbook the measured evidence does not support is not acted on
(fallback reason `unsupported`): a model can choose between explanations of the evidence, not invent
one. "unknown" is always accepted, since it only escalates.

Another problem on the same service: problems other open incidents of the service are already handling
are set aside, so this incident finds what else is wrong. When nothing else explains the evidence and
one of those would, this incident is that problem after all: it is merged into that incident.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.domain.diagnosis import UNKNOWN, Diagnosis
from agent.domain.signals import Symptoms
from agent.incidents.merge import merge_alerts
from agent.workflow.deps import WorkflowDeps
from agent.workflow.state import AgentState


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident_id = state["incident_id"]
    await deps.set_step(incident_id, "diagnose")
    incident = await deps.store.get(incident_id)
    service = deps.service(incident.service)
    symptoms = Symptoms.model_validate(state["symptoms"])
    runbooks = deps.runbooks_for(service)
    handled = await deps.handled_elsewhere(incident)
    candidates = [rb for rb in runbooks if rb.id not in handled]
    past = await _past_incidents(deps, symptoms)
    deterministic: Diagnosis = deps.reasoning.diagnose(symptoms, candidates, past)
    if handled and not _conclusive(deps, service, deterministic):
        whole: Diagnosis = deps.reasoning.diagnose(symptoms, runbooks, past)
        if whole.diagnosis_id in handled:
            merged = await _merge(deps, incident_id, handled[whole.diagnosis_id], whole)
            if merged is not None:
                return merged
    diagnosis = deterministic
    llm = LLMVerdict()
    if deps.reasoning.llm is not None:
        llm = await _llm_diagnosis(deps, service, symptoms, candidates, past, deterministic)
        diagnosis = llm.diagnosis or deterministic
    deps.metrics.diagnosis_confidence.labels(diagnosis=diagnosis.diagnosis_id).observe(diagnosis.confidence)

    def mutate(incident: Any) -> None:
        incident.diagnosis = diagnosis
        incident.evidence = list(diagnosis.evidence)

    await deps.store.update(incident_id, mutate)
    if deps.annotations is not None:
        deps.annotations.open_incident(
            incident_id,
            diagnosis.diagnosis_id,
            f"{incident_id}: {incident.service} {diagnosis.diagnosis_id} ({diagnosis.confidence:.0%})",
        )
    entry = await deps.record(
        incident_id,
        "diagnose",
        f"diagnosis {diagnosis.diagnosis_id} (confidence {diagnosis.confidence:.2f}, {diagnosis.source})",
        {
            "diagnosis": diagnosis.diagnosis_id,
            "confidence": diagnosis.confidence,
            "evidence": diagnosis.evidence,
            "candidates": diagnosis.candidates,
            "runbooks_for_service": len(runbooks),
            "set_aside": sorted(handled),
            "similar_incidents": [_past_id(p) for p in past],
            "source": diagnosis.source,
            "llm_calls": int(deps.reasoning.llm is not None),
            "llm_tokens": llm.tokens,
            **llm.timeline_data(deterministic),
        },
    )
    return {
        "diagnosis": diagnosis.model_dump(mode="json"),
        "confidence": diagnosis.confidence,
        "root_cause": diagnosis.root_cause,
        "past_incidents": [p.memory.model_dump(mode="json") for p in past if hasattr(p, "memory")],
        "timeline": [entry],
    }


def _conclusive(deps: WorkflowDeps, service: Any, diagnosis: Diagnosis) -> bool:
    return diagnosis.is_known and diagnosis.confidence >= deps.limits(service).min_confidence


async def _merge(deps: WorkflowDeps, incident_id: str, into: str, whole: Diagnosis) -> dict[str, Any] | None:
    """This incident is a problem another incident of the service is already handling: its alerts go
    there (that incident's verification watches them) and this one closes as merged. None when that
    incident finished meanwhile: this one goes on by itself."""
    incident = await deps.store.get(incident_id)
    limits = deps.settings.incident_limits()
    how = f"alerts of {incident_id} merged"
    if (await merge_alerts(deps.store, into, incident.alerts, limits, step="intake", how=how)).finished:
        return None

    def mutate(i: Any) -> None:
        i.merged_into = into
        i.diagnosis = whole

    await deps.store.update(incident_id, mutate)
    entry = await deps.record(
        incident_id,
        "diagnose",
        f"the same problem as {into} ({whole.diagnosis_id}): merged into it",
        {"diagnosis": whole.diagnosis_id, "merged_into": into, "evidence": whole.evidence},
    )
    return {
        "diagnosis": whole.model_dump(mode="json"),
        "confidence": whole.confidence,
        "merged_into": into,
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


@dataclass
class LLMVerdict:
    """What the LLM said, whether it is acted on (`diagnosis`), and why not (`fallback_reason`)."""

    diagnosis: Diagnosis | None = None
    answer: str | None = None  # the runbook id it named, valid or not; None: no usable answer
    fallback_reason: str | None = None
    tokens: int = 0
    called: bool = False

    def timeline_data(self, deterministic: Diagnosis) -> dict[str, Any]:
        if not self.called:
            return {}
        agreed = None if self.answer is None else self.answer == deterministic.diagnosis_id
        return {
            "llm_answer": self.answer,
            "llm_fallback": self.fallback_reason,
            "llm_agreed": agreed,
            "deterministic_diagnosis": deterministic.diagnosis_id,
        }


async def _llm_diagnosis(
    deps: WorkflowDeps,
    service: Any,
    symptoms: Symptoms,
    runbooks: list[Any],
    past: list[Any],
    deterministic: Diagnosis,
) -> LLMVerdict:
    """The LLM's diagnosis (None: fall back) and the tokens it cost, counted in metrics either way."""
    llm = deps.reasoning.llm
    assert llm is not None
    allowed = sorted(service.entry.actions.allowed) if service is not None else []
    try:
        outcome = await llm.diagnose(symptoms, runbooks, past, allowed)
    except Exception as exc:  # any LLM failure falls back; the reason is a bounded label
        deps.log.warning("llm_failed", error=type(exc).__name__)
        deps.metrics.llm_calls_total.labels(result="error").inc()
        deps.metrics.llm_fallbacks_total.labels(reason="exception").inc()
        return LLMVerdict(fallback_reason="exception", called=True)
    prompt = int(getattr(outcome, "prompt_tokens", 0) or 0)
    completion = int(getattr(outcome, "completion_tokens", 0) or 0)
    deps.metrics.llm_tokens_total.labels(kind="prompt").inc(prompt)
    deps.metrics.llm_tokens_total.labels(kind="completion").inc(completion)
    verdict = LLMVerdict(tokens=prompt + completion, called=True)
    if outcome.diagnosis is None:
        reason = _bounded_reason(outcome.fallback_reason)
        deps.metrics.llm_calls_total.labels(result="invalid").inc()
        deps.metrics.llm_fallbacks_total.labels(reason=reason).inc()
        verdict.fallback_reason = reason
        return verdict
    deps.metrics.llm_calls_total.labels(result="ok").inc()
    verdict.answer = outcome.diagnosis.diagnosis_id
    if not _supported(deps, symptoms, runbooks, past, deterministic, verdict.answer):
        deps.metrics.llm_fallbacks_total.labels(reason="unsupported").inc()
        verdict.fallback_reason = "unsupported"
        return verdict
    # The evidence's ranking stays beside the model's choice: investigate asks the rivals' checks too.
    verdict.diagnosis = outcome.diagnosis.model_copy(update={"candidates": deterministic.candidates})
    return verdict


def _supported(
    deps: WorkflowDeps,
    symptoms: Symptoms,
    runbooks: list[Any],
    past: list[Any],
    deterministic: Diagnosis,
    answer: str,
) -> bool:
    if answer in (UNKNOWN, deterministic.diagnosis_id):
        return True
    if deps.reasoning.supported is None:
        return answer in {rid for rid, _ in deterministic.candidates}
    return answer in deps.reasoning.supported(symptoms, runbooks, past)


FALLBACK_REASONS = ("timeout", "unparsable", "unknown_id", "unsupported", "error")


def _bounded_reason(reason: str | None) -> str:
    text = (reason or "error").lower()
    return next((r for r in FALLBACK_REASONS if r in text.replace(" ", "_")), "other")
