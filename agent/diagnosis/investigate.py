"""Investigation: the runbooks' checks, asked of the diagnosed runbook and its closest rivals.

Checks are the questions that tell apart causes with the same symptoms ("is the request rate above
baseline", "are errors lock errors"). Each runbook says which answer it expects. When the diagnosed
runbook's checks are mostly contradicted and a rival's are confirmed, the diagnosis is revised to the
rival; otherwise the confidence moves with the answers (confirmations remove part of the remaining
doubt, each contradiction costs a fixed step).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, Field

from agent.diagnosis.deterministic import STRENGTH_SCALE, RunbookScore, score_runbooks
from agent.diagnosis.signals import SignalView
from agent.domain.diagnosis import UNKNOWN, Diagnosis
from agent.domain.signals import SignalValue, Symptoms
from agent.knowledge.runbooks import Runbook

RIVALS = 3
REVISE_MIN_SCORE_SHARE = 0.5
REVISE_MARGIN = 0.3  # a rival's checks must agree this much better than the diagnosis's own
CONFIRM_GAIN = 0.5  # share of the remaining doubt removed when every answered check confirms
CONTRADICT_STEP = 0.12


class CheckResult(BaseModel):
    """`passed`: the observation agrees with what `runbook_id` predicts; unanswerable checks do not pass."""

    name: str
    passed: bool
    detail: str
    runbook_id: str = ""
    signal: str = ""
    observed: SignalValue = None
    answered: bool = True
    expect: bool = Field(default=True, description="True: the check looks for the cause; False: it rules out")


class Investigation(BaseModel):
    checks: list[CheckResult] = Field(default_factory=list)
    diagnosis: Diagnosis
    revised_from: str | None = None


def run_checks(view: SignalView, runbook: Runbook) -> list[CheckResult]:
    results = []
    for check in runbook.checks:
        obs = view.observe(check.signal, check.op, check.value)
        if obs.matched is None:
            results.append(
                CheckResult(
                    name=check.name,
                    passed=False,
                    runbook_id=runbook.id,
                    signal=check.signal,
                    answered=False,
                    detail=f"{runbook.id}: cannot tell ({check.signal} unknown)",
                )
            )
            continue
        answer = "yes" if obs.matched else "no"
        agrees = obs.matched == check.expect
        verdict = "as expected" if agrees else f"contradicts {runbook.id}"
        detail = (
            f"{runbook.id}: {answer} ({check.signal} {view.show(check.signal, obs.observed)}, {check.op} "
            f"{view.show(check.signal, check.value)}): {verdict}"
        )
        if not agrees and check.why:
            detail += f"; {check.why}"
        results.append(
            CheckResult(
                name=check.name,
                passed=agrees,
                detail=detail,
                runbook_id=runbook.id,
                signal=check.signal,
                observed=obs.observed,
                expect=check.expect,
            )
        )
    return results


def agreement(results: Sequence[CheckResult]) -> float:
    """(confirmed - contradicted) / answered, -1..1; 0 when nothing could be answered."""
    answered = [r for r in results if r.answered]
    if not answered:
        return 0.0
    return sum(1 if r.passed else -1 for r in answered) / len(answered)


def confirms_its_cause(results: Sequence[CheckResult]) -> bool:
    """More of the runbook's own looks-for-the-cause checks (expect: true) confirm than contradict.

    Checks that only rule out other causes ("is the dependency failing: no") pass on any quiet
    system, so they refine a diagnosis but cannot by themselves hand it to a rival.
    """
    positive = [r for r in results if r.answered and r.expect]
    return sum(1 if r.passed else -1 for r in positive) > 0


def explains_contradiction(contradicted: Sequence[CheckResult], rival: Sequence[CheckResult]) -> bool:
    """The rival confirms, as its own cause, what contradicts the diagnosis: "is CPU saturated? yes"
    contradicts a connection leak and is what cpu-saturation looks for."""
    found = {r.signal for r in rival if r.passed and r.expect}
    return any(c.signal in found for c in contradicted)


def investigate(symptoms: Symptoms, runbooks: Sequence[Runbook], diagnosis: Diagnosis) -> Investigation:
    by_id = {rb.id: rb for rb in runbooks}
    view = SignalView(symptoms)
    scores = {s.runbook.id: s for s in score_runbooks(symptoms, runbooks)}
    current = diagnosis.diagnosis_id if diagnosis.diagnosis_id in by_id else None
    rivals = _rivals(current, diagnosis, scores)
    results = {rid: run_checks(view, by_id[rid]) for rid in ([current] if current else []) + rivals}
    checks = [r for rid in results for r in results[rid]]
    if current is None:
        return Investigation(checks=checks, diagnosis=diagnosis)

    own = agreement(results[current])
    contradicted = [r for r in results[current] if r.answered and not r.passed]
    confirmed = [r for r in results[current] if r.passed]
    # A rival must agree better with the checks AND carry comparable evidence of its own: checks refine
    # a diagnosis, they do not hand it to a runbook the symptoms barely match.
    floor = REVISE_MIN_SCORE_SHARE * scores[current].total if current in scores else 0.0
    better = [
        rid
        for rid in rivals
        if scores[rid].eligible
        and scores[rid].total >= floor
        and confirms_its_cause(results[rid])
        and (
            agreement(results[rid]) >= own + REVISE_MARGIN
            or explains_contradiction(contradicted, results[rid])
        )
    ]
    if contradicted and better:
        winner = max(better, key=lambda rid: (agreement(results[rid]), scores[rid].total))
        revised = _revised(diagnosis, scores[winner], results[winner], contradicted)
        return Investigation(checks=checks, diagnosis=revised, revised_from=current)

    conf = diagnosis.confidence
    conf += (1 - conf) * CONFIRM_GAIN * max(own, 0.0) - CONTRADICT_STEP * len(contradicted)
    evidence = list(diagnosis.evidence)
    evidence += [f"check as expected: {_answered(r)}" for r in confirmed]
    evidence += [f"check contradicts: {_answered(r)}" for r in contradicted]
    updated = diagnosis.model_copy(
        update={"confidence": round(min(0.99, max(0.0, conf)), 3), "evidence": evidence}
    )
    return Investigation(checks=checks, diagnosis=updated)


def _answered(result: CheckResult) -> str:
    """The question with the answer observed, e.g. "is the dependency failing? no"."""
    said_yes = result.passed == result.expect
    return f"{result.name}? {'yes' if said_yes else 'no'}"


def _rivals(current: str | None, diagnosis: Diagnosis, scores: dict[str, RunbookScore]) -> list[str]:
    ordered = [rid for rid, _ in diagnosis.candidates if rid in scores]
    ordered += [rid for rid, s in scores.items() if s.total > 0]
    rivals: list[str] = []
    for rid in ordered:
        if rid != current and rid != UNKNOWN and rid not in rivals:
            rivals.append(rid)
    return rivals[:RIVALS]


def _revised(
    before: Diagnosis, winner: RunbookScore, results: list[CheckResult], contradicted: list[CheckResult]
) -> Diagnosis:
    strength = 1 - math.exp(-winner.total / STRENGTH_SCALE)
    conf = min(0.95, 0.45 + 0.35 * agreement(results) + 0.15 * strength)
    evidence = [
        f"revised from {before.diagnosis_id}: checks contradict it ("
        + "; ".join(r.name for r in contradicted)
        + ")"
    ]
    evidence += [f"check as expected: {_answered(r)}" for r in results if r.passed]
    evidence += winner.evidence
    return Diagnosis(
        diagnosis_id=winner.runbook.id,
        confidence=round(conf, 3),
        root_cause=winner.runbook.title,
        evidence=evidence,
        source="deterministic",
        candidates=before.candidates,
    )
