"""A diagnosis: a runbook id (or `unknown`), how sure, and the evidence a person would check."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

UNKNOWN = "unknown"
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
