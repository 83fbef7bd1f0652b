"""What the workflow passes between gather, diagnose and investigate.

`Symptoms` is the snapshot gather builds from what an on-call engineer can read (the alert, the
target's public endpoints and logs, PromQL). Runbook signals name its fields (see `as_signals`), so
people tune diagnosis in runbooks/ rather than in code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

UNKNOWN = "unknown"

SignalValue = float | bool | str | None


class AlertSummary(BaseModel):
    name: str
    status: Literal["firing", "resolved"] = "firing"
    severity: str = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = None
    fingerprint: str = ""


class Symptoms(BaseModel):
    """All optional: a source that could not be read leaves its fields None and says so in `gaps`."""

    alerts: list[AlertSummary] = Field(default_factory=list)
    target_reachable: bool = True
    health_status: str | None = None
    failing_checks: list[str] = Field(default_factory=list)
    check_details: dict[str, str] = Field(default_factory=dict)
    error_rate_percent: float | None = None
    avg_latency_ms: float | None = None
    p95_latency_ms: float | None = None
    requests_per_second: float | None = None
    baseline_rps: float | None = Field(default=None, description="normal request rate before the incident")
    throttled_per_second: float | None = None
    db_query_avg_ms: float | None = None
    dependency_avg_ms: float | None = None
    pool_utilization_ratio: float | None = None
    pool_checked_out: int | None = None
    pool_waiting: int | None = None
    memory_rss_bytes: float | None = None
    memory_growth_bytes_per_second: float | None = None
    cpu_ratio: float | None = Field(default=None, description="cores used by the target")
    disk_used_ratio: float | None = None
    release: str | None = None
    release_changed_seconds_ago: float | None = None
    rate_limit_enabled: bool | None = None
    dependency_fallback_enabled: bool | None = None
    log_error_count: int = 0
    log_error_signatures: dict[str, int] = Field(
        default_factory=dict, description="normalised error messages (numbers and ids stripped) → count"
    )
    log_samples: list[str] = Field(default_factory=list, description="a few recent error lines, truncated")
    gaps: list[str] = Field(
        default_factory=list, description="sources that could not be read, e.g. 'prometheus'"
    )

    def alert_names(self) -> set[str]:
        return {a.name for a in self.alerts if a.status == "firing"}

    def as_signals(self) -> dict[str, SignalValue]:
        """Flat name → value view that runbook `signals` and investigation checks are written against.

        Derived signals: `rps_over_baseline` (ratio), `alert:<Name>` (bool), `check_failing:<name>` (bool),
        `log:<substring>` is resolved by the matcher against `log_error_signatures`.
        """
        signals: dict[str, SignalValue] = {
            name: value
            for name, value in self.model_dump(
                exclude={
                    "alerts",
                    "failing_checks",
                    "check_details",
                    "log_error_signatures",
                    "log_samples",
                    "gaps",
                }
            ).items()
        }
        if self.requests_per_second is not None and self.baseline_rps:
            signals["rps_over_baseline"] = self.requests_per_second / self.baseline_rps
        else:
            signals["rps_over_baseline"] = None
        for name in self.alert_names():
            signals[f"alert:{name}"] = True
        for check in self.failing_checks:
            signals[f"check_failing:{check}"] = True
        return signals


DiagnosisSource = Literal["deterministic", "llm", "memory"]


class Diagnosis(BaseModel):
    """A known runbook id or `unknown`; confidence is 0..1; evidence lines are what a human would check."""

    diagnosis_id: str = UNKNOWN
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    root_cause: str = ""
    evidence: list[str] = Field(default_factory=list)
    source: DiagnosisSource = "deterministic"
    candidates: list[tuple[str, float]] = Field(
        default_factory=list, description="runbook ids and their scores, best first"
    )

    @property
    def is_known(self) -> bool:
        return self.diagnosis_id != UNKNOWN
