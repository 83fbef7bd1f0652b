"""Investigation checks separate the causes that share symptoms, and revise a wrong diagnosis."""

from __future__ import annotations

import pytest

from agent.diagnosis.deterministic import diagnose
from agent.diagnosis.investigate import investigate
from agent.domain.diagnosis import UNKNOWN, Diagnosis
from agent.knowledge.runbooks import Runbook
from lab.bench.situations import (
    CPU_HOG_UNREACHABLE,
    CPU_HOG_WITH_FULL_POOL,
    DEPENDENCY_AFTER_HARMLESS_RELEASE,
    DEPENDENCY_WITH_FULL_POOL,
    LOCK_WITH_SATURATED_POOL,
    MEMORY_LEAK_AFTER_HARMLESS_RELEASE,
    SITUATIONS,
    UNEXPLAINED_ALERT,
    variant,
)

CONFUSABLE = [
    (LOCK_WITH_SATURATED_POOL, "db-pool-exhaustion", "db-lock-contention"),
    (SITUATIONS["db-lock-contention"], "db-pool-exhaustion", "db-lock-contention"),
    (SITUATIONS["db-pool-exhaustion"], "db-lock-contention", "db-pool-exhaustion"),
    (SITUATIONS["traffic-surge"], "cpu-saturation", "traffic-surge"),
    (SITUATIONS["cpu-saturation"], "traffic-surge", "cpu-saturation"),
    (SITUATIONS["bad-release"], "dependency-outage", "bad-release"),
    (SITUATIONS["dependency-outage"], "bad-release", "dependency-outage"),
    (DEPENDENCY_AFTER_HARMLESS_RELEASE, "bad-release", "dependency-outage"),
]


@pytest.mark.parametrize(
    ("symptoms", "wrong", "right"), CONFUSABLE, ids=[f"{w}->{r}" for _, w, r in CONFUSABLE]
)
def test_checks_revise_a_confusable_diagnosis(
    runbooks: list[Runbook], symptoms, wrong: str, right: str
) -> None:
    result = investigate(symptoms, runbooks, Diagnosis(diagnosis_id=wrong, confidence=0.7, source="llm"))
    assert result.diagnosis.diagnosis_id == right
    assert result.revised_from == wrong
    assert result.diagnosis.evidence[0].startswith(f"revised from {wrong}")
    assert any(c.runbook_id == wrong and not c.passed for c in result.checks)
    assert all(c.passed for c in result.checks if c.runbook_id == right and c.answered)


CASCADES = [
    (CPU_HOG_WITH_FULL_POOL, "cpu-saturation"),
    (CPU_HOG_UNREACHABLE, "cpu-saturation"),
    (MEMORY_LEAK_AFTER_HARMLESS_RELEASE, "memory-leak"),
    (DEPENDENCY_WITH_FULL_POOL, "dependency-outage"),
]


@pytest.mark.parametrize(
    ("symptoms", "root"), CASCADES, ids=[f"{r}-{i}" for i, (_, r) in enumerate(CASCADES)]
)
def test_a_cascade_ends_at_its_root_cause(runbooks: list[Runbook], symptoms, root: str) -> None:
    """What the workflow does: diagnose, then investigate; the result is acted on at confidence >= 0.5."""
    result = investigate(symptoms, runbooks, diagnose(symptoms, runbooks, []))
    assert result.diagnosis.diagnosis_id == root, (result.diagnosis.candidates, result.diagnosis.evidence)
    assert result.diagnosis.confidence >= 0.5


def test_a_release_change_alone_is_not_a_bad_release(runbooks: list[Runbook]) -> None:
    """A harmless deploy minutes before a memory leak: the rival's exclusion checks all pass, its own
    looks-for-the-cause checks (errors, exceptions) do not, so it cannot take the diagnosis."""
    wrong = Diagnosis(diagnosis_id="memory-leak", confidence=0.45)
    result = investigate(MEMORY_LEAK_AFTER_HARMLESS_RELEASE, runbooks, wrong)
    assert result.revised_from is None and result.diagnosis.diagnosis_id == "memory-leak"


@pytest.mark.parametrize("expected", sorted(SITUATIONS))
def test_checks_confirm_a_right_diagnosis(runbooks: list[Runbook], expected: str) -> None:
    before = diagnose(SITUATIONS[expected], runbooks, [])
    result = investigate(SITUATIONS[expected], runbooks, before)
    assert result.revised_from is None
    assert result.diagnosis.diagnosis_id == expected
    assert result.diagnosis.confidence >= before.confidence
    own = [c for c in result.checks if c.runbook_id == expected]
    assert own and any(c.passed for c in own)


def test_pool_checks_name_the_distinguishing_questions(runbooks: list[Runbook]) -> None:
    result = investigate(
        LOCK_WITH_SATURATED_POOL, runbooks, Diagnosis(diagnosis_id="db-pool-exhaustion", confidence=0.7)
    )
    failed = {c.name for c in result.checks if c.runbook_id == "db-pool-exhaustion" and not c.passed}
    assert failed == {"is query latency up", "are errors lock errors"}
    detail = next(
        c.detail
        for c in result.checks
        if c.name == "is query latency up" and c.runbook_id == "db-pool-exhaustion"
    )
    assert "820 ms" in detail


def test_unknown_stays_unknown(runbooks: list[Runbook]) -> None:
    before = diagnose(UNEXPLAINED_ALERT, runbooks, [])
    assert investigate(UNEXPLAINED_ALERT, runbooks, before).diagnosis.diagnosis_id == UNKNOWN


def test_unanswerable_checks_neither_confirm_nor_contradict(runbooks: list[Runbook]) -> None:
    down = SITUATIONS["service-down"]
    result = investigate(down, runbooks, diagnose(down, runbooks, []))
    assert result.diagnosis.diagnosis_id == "service-down"
    assert any(not c.answered and not c.passed for c in result.checks)


def test_a_full_disk_right_after_a_release_stays_a_full_disk(runbooks: list[Runbook]) -> None:
    """Seen on the lab: a rollback minutes before a disk filled made the checks hand the page to
    bad-release, whose only action rolled back a healthy release. Checks refine, they do not overrule
    much stronger evidence."""
    symptoms = variant(SITUATIONS["disk-full"], release_age_seconds=180.0)
    diagnosis = diagnose(symptoms, runbooks, [])
    assert diagnosis.diagnosis_id == "disk-full"
    result = investigate(symptoms, runbooks, diagnosis)
    assert result.diagnosis.diagnosis_id == "disk-full"
    assert result.revised_from is None
