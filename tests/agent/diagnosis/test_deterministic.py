"""Each situation the lab can produce is diagnosed to its runbook; unexplained alerts stay unknown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.diagnosis.deterministic import diagnose
from agent.diagnosis.symptoms_text import symptoms_query
from agent.domain.diagnosis import UNKNOWN
from agent.knowledge.runbooks import Runbook
from agent.knowledge.store import IncidentMemory, ScoredIncident
from lab.bench.situations import (
    DEPENDENCY_AFTER_HARMLESS_RELEASE,
    LOCK_WITH_SATURATED_POOL,
    SITUATIONS,
    SURGE_WITHOUT_SURGE_ALERT,
    UNEXPLAINED_ALERT,
    alerts,
    snapshot,
)


@pytest.mark.parametrize("expected", sorted(SITUATIONS))
def test_each_situation_is_diagnosed(runbooks: list[Runbook], expected: str) -> None:
    diagnosis = diagnose(SITUATIONS[expected], runbooks, [])
    assert diagnosis.diagnosis_id == expected, diagnosis.evidence
    assert diagnosis.confidence >= 0.6
    assert diagnosis.source == "deterministic"
    assert diagnosis.candidates[0][0] == expected
    assert diagnosis.evidence


@pytest.mark.parametrize(
    ("symptoms", "expected"),
    [
        (LOCK_WITH_SATURATED_POOL, "db-lock-contention"),
        (DEPENDENCY_AFTER_HARMLESS_RELEASE, "dependency-outage"),
        (SURGE_WITHOUT_SURGE_ALERT, "traffic-surge"),
    ],
    ids=["lock-with-full-pool", "dependency-after-release", "surge-without-its-alert"],
)
def test_hard_variants_of_confusable_pairs(runbooks: list[Runbook], symptoms, expected: str) -> None:
    diagnosis = diagnose(symptoms, runbooks, [])
    assert diagnosis.diagnosis_id == expected, diagnosis.candidates
    assert diagnosis.confidence >= 0.6


def test_evidence_quotes_the_values(runbooks: list[Runbook]) -> None:
    evidence = diagnose(SITUATIONS["db-pool-exhaustion"], runbooks, []).evidence
    assert "pool utilization 100% (>= 90%)" in evidence
    assert any("41 error lines mention 'queuepool limit'" in line for line in evidence)
    surge = diagnose(SITUATIONS["traffic-surge"], runbooks, []).evidence
    assert "request rate 7.8x (>= 2.5x)" in surge


def test_an_alert_nothing_explains_is_unknown(runbooks: list[Runbook]) -> None:
    diagnosis = diagnose(UNEXPLAINED_ALERT, runbooks, [])
    assert diagnosis.diagnosis_id == UNKNOWN
    assert diagnosis.confidence < 0.3
    assert any("TargetCertificateExpiringSoon" in line for line in diagnosis.evidence)


def test_a_known_alert_without_evidence_is_unknown(runbooks: list[Runbook]) -> None:
    diagnosis = diagnose(snapshot(alerts=alerts("TargetHighLatency")), runbooks, [])
    assert diagnosis.diagnosis_id == UNKNOWN


def test_no_runbooks_means_unknown() -> None:
    assert diagnose(SITUATIONS["disk-full"], [], []).diagnosis_id == UNKNOWN


# A pattern no runbook's signals cover: stock lookups fail fast with a TLS error (the inventory service's
# certificate), the dependency health probe still passes. A human fixed the first one with the fallback.
TLS_FAILURE = snapshot(
    alerts=alerts("TargetHighErrorRatio"),
    health_status="degraded",
    error_ratio=0.24,
    log_error_count=30,
    log_error_signatures={"stock_lookup_failed: SSLError: certificate verify failed": 30},
)


def remembered(diagnosis_id: str, outcome: str, text: str) -> ScoredIncident:
    memory = IncidentMemory(
        incident_id="inc-first",
        symptoms_text=text,
        diagnosis_id=diagnosis_id,
        outcome=outcome,
        actions_tried=["enable-dependency-fallback"],
        actions_worked=["enable-dependency-fallback"] if outcome == "resolved" else [],
        created_at=datetime.now(UTC),
    )
    return ScoredIncident(incident_id="inc-first", score=1.0, similarity=1.0, memory=memory)


def test_second_occurrence_is_diagnosed_from_memory(runbooks: list[Runbook]) -> None:
    first = diagnose(TLS_FAILURE, runbooks, [])
    assert first.diagnosis_id == UNKNOWN

    past = [remembered("dependency-outage", "resolved", symptoms_query(TLS_FAILURE))]
    second = diagnose(TLS_FAILURE, runbooks, past)
    assert second.diagnosis_id == "dependency-outage"
    assert second.source == "memory"
    assert second.confidence > first.confidence
    assert second.confidence >= 0.5
    assert any("inc-first" in line and "enable-dependency-fallback" in line for line in second.evidence)


def test_memory_raises_confidence_of_an_agreeing_diagnosis(runbooks: list[Runbook]) -> None:
    symptoms = SITUATIONS["cpu-saturation"]
    alone = diagnose(symptoms, runbooks, [])
    helped = diagnose(
        symptoms, runbooks, [remembered("cpu-saturation", "resolved", symptoms_query(symptoms))]
    )
    assert helped.diagnosis_id == alone.diagnosis_id == "cpu-saturation"
    assert helped.confidence > alone.confidence
    assert helped.source == "deterministic"


def test_memory_of_another_pattern_or_an_escalation_lends_nothing(runbooks: list[Runbook]) -> None:
    other = remembered("dependency-outage", "resolved", symptoms_query(SITUATIONS["disk-full"]))
    escalated = remembered("dependency-outage", "escalated", symptoms_query(TLS_FAILURE))
    unknown_id = remembered("made-up-runbook", "resolved", symptoms_query(TLS_FAILURE))
    assert diagnose(TLS_FAILURE, runbooks, [other, escalated, unknown_id]).diagnosis_id == UNKNOWN


def test_a_failed_memory_lowers_confidence(runbooks: list[Runbook]) -> None:
    symptoms = SITUATIONS["cpu-saturation"]
    failed = remembered("cpu-saturation", "failed", symptoms_query(symptoms))
    assert diagnose(symptoms, runbooks, [failed]).confidence < diagnose(symptoms, runbooks, []).confidence
