"""The deterministic diagnoser: runbook signals, the alerts they explain, and memory of past incidents.

Score of a runbook = sum of matched signal weights - sum of matched counter-signal weights
+ ALERT_WEIGHT per firing alert it lists (capped) + memory of resolved incidents with the same pattern.
A runbook needs MIN_EVIDENCE of signal (or memory) evidence to be the diagnosis: alerts alone do not
diagnose, so a healthy-looking snapshot with an alert nothing explains stays `unknown`.

Confidence = strength * (0.4 + 0.6 * margin): strength saturates with the winner's score, margin is
how far ahead of the runner-up it is (two runbooks explaining the same evidence means "not sure").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.diagnosis.signals import SignalView
from agent.diagnosis.symptoms_text import (
    SAME_PATTERN_MIN_OVERLAP,
    SAME_PATTERN_MIN_SIMILARITY,
    same_pattern,
    symptoms_query,
)
from agent.domain.diagnosis import UNKNOWN, Diagnosis
from agent.domain.signals import Symptoms
from agent.knowledge.runbooks import Runbook
from agent.knowledge.store import ScoredIncident

ALERT_WEIGHT = 0.75
ALERT_CAP = 3
MIN_EVIDENCE = 2.0
STRENGTH_SCALE = 3.0
MEMORY_WEIGHT = 4.0
MEMORY_MIN_SIMILARITY = SAME_PATTERN_MIN_SIMILARITY
MEMORY_MIN_PATTERN_OVERLAP = SAME_PATTERN_MIN_OVERLAP
MEMORY_FAILED_WEIGHT = 1.5
UNKNOWN_CONFIDENCE = 0.1
MAX_CANDIDATES = 5


@dataclass
class RunbookScore:
    runbook: Runbook
    evidence_score: float = 0.0  # matched signals (and memory): what can make it the diagnosis
    against_score: float = 0.0
    alert_score: float = 0.0
    memory_score: float = 0.0
    evidence: list[str] = field(default_factory=list)
    against: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    memory: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return self.evidence_score + self.memory_score - self.against_score + self.alert_score

    @property
    def eligible(self) -> bool:
        return self.evidence_score + self.memory_score >= MIN_EVIDENCE and self.total > 0


def score_runbooks(symptoms: Symptoms, runbooks: Sequence[Runbook]) -> list[RunbookScore]:
    """Each runbook's signal, counter-signal and alert score, best first (no memory)."""
    view = SignalView(symptoms)
    firing = symptoms.alert_names()
    scores = []
    for rb in runbooks:
        s = RunbookScore(rb)
        for sig in rb.signals:
            obs = view.observe(sig.signal, sig.op, sig.value)
            if obs.matched:
                s.evidence_score += sig.weight
                s.evidence.append(view.describe(sig.description, sig.signal, sig.op, sig.value))
        for sig in rb.counter_signals:
            obs = view.observe(sig.signal, sig.op, sig.value)
            if obs.matched:
                s.against_score += sig.weight
                s.against.append(view.describe(sig.description, sig.signal, sig.op, sig.value))
        s.alerts = sorted(firing & set(rb.alerts))
        s.alert_score = ALERT_WEIGHT * min(len(s.alerts), ALERT_CAP)
        scores.append(s)
    scores.sort(key=lambda s: s.total, reverse=True)
    return scores


def confidence(top: float, runner_up: float) -> float:
    if top <= 0:
        return 0.0
    strength = 1 - math.exp(-top / STRENGTH_SCALE)
    margin = (top - max(runner_up, 0.0)) / top
    return round(min(0.99, max(0.0, strength * (0.4 + 0.6 * margin))), 3)


def diagnose(
    symptoms: Symptoms, runbooks: Sequence[Runbook], past: Sequence[ScoredIncident] = ()
) -> Diagnosis:
    scores = score_runbooks(symptoms, runbooks)
    without_memory = next((s for s in scores if s.eligible), None)
    _apply_memory(symptoms, scores, past)
    scores.sort(key=lambda s: s.total, reverse=True)
    candidates = [(s.runbook.id, round(s.total, 2)) for s in scores if s.total > 0][:MAX_CANDIDATES]
    best = next((s for s in scores if s.eligible), None)
    if best is None:
        return _unknown(symptoms, scores, candidates)
    runner_up = max((s.total for s in scores if s is not best), default=0.0)
    from_memory = without_memory is None or without_memory.runbook.id != best.runbook.id
    evidence = [*best.memory, *best.evidence]
    if best.alerts:
        evidence.append("explains firing alert(s): " + ", ".join(best.alerts))
    evidence += [f"against: {line}" for line in best.against]
    unexplained = sorted(symptoms.alert_names() - set(best.runbook.alerts))
    if unexplained:
        evidence.append("not explained by this runbook: " + ", ".join(unexplained))
    if symptoms.gaps:
        evidence.append("could not read: " + ", ".join(symptoms.gaps))
    return Diagnosis(
        diagnosis_id=best.runbook.id,
        confidence=confidence(best.total, runner_up),
        root_cause=best.runbook.title,
        evidence=evidence,
        source="memory" if from_memory else "deterministic",
        candidates=candidates,
    )


def supported(
    symptoms: Symptoms, runbooks: Sequence[Runbook], past: Sequence[ScoredIncident] = ()
) -> set[str]:
    """Runbook ids the measured evidence could make the diagnosis (eligible: enough signal or memory
    evidence): the choices an LLM's answer may be acted on from."""
    scores = score_runbooks(symptoms, runbooks)
    _apply_memory(symptoms, scores, past)
    return {s.runbook.id for s in scores if s.eligible}


def _apply_memory(symptoms: Symptoms, scores: list[RunbookScore], past: Sequence[ScoredIncident]) -> None:
    """A finished incident with the same pattern lends its diagnosis as evidence (a failed one doubts it)."""
    if not past:
        return
    by_id = {s.runbook.id: s for s in scores}
    query = symptoms_query(symptoms)
    for incident in past:
        memory = incident.memory
        target = by_id.get(memory.diagnosis_id)
        if target is None or memory.outcome == "escalated":
            continue
        similarity = same_pattern(query, memory.symptoms_text)
        if similarity is None:
            continue
        if memory.outcome == "resolved":
            target.memory_score = max(target.memory_score, MEMORY_WEIGHT * similarity)
            worked = ", ".join(memory.actions_worked) or "its actions"
            target.memory.append(
                f"past incident {memory.incident_id} with the same pattern (similarity {similarity:.0%}) "
                f"was {memory.diagnosis_id}, resolved by {worked}"
            )
        else:
            target.against_score += MEMORY_FAILED_WEIGHT * similarity
            target.against.append(
                f"past incident {memory.incident_id} with the same pattern was diagnosed "
                f"{memory.diagnosis_id} and its actions failed"
            )


def _unknown(
    symptoms: Symptoms, scores: list[RunbookScore], candidates: list[tuple[str, float]]
) -> Diagnosis:
    explained = {a for s in scores for a in s.runbook.alerts}
    unexplained = sorted(symptoms.alert_names() - explained)
    evidence = []
    if unexplained:
        evidence.append("no runbook explains alert(s): " + ", ".join(unexplained))
    weak = [s for s in scores if s.total > 0]
    if weak:
        evidence.append(
            "no runbook has enough evidence; closest: "
            + ", ".join(
                f"{s.runbook.id} ({s.evidence_score:g} evidence, {len(s.alerts)} alerts)" for s in weak[:3]
            )
        )
    else:
        evidence.append("no runbook signal matches these symptoms")
    if symptoms.gaps:
        evidence.append("could not read: " + ", ".join(symptoms.gaps))
    return Diagnosis(
        diagnosis_id=UNKNOWN,
        confidence=UNKNOWN_CONFIDENCE,
        root_cause="no runbook matches the symptoms",
        evidence=evidence,
        candidates=candidates,
    )
