"""An incident as the API shows it: what was paged, what the agent did, with a timeline of every step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.domain.alerts import AlertSummary
from agent.domain.diagnosis import Diagnosis

IncidentStatus = Literal[
    "open",
    "diagnosing",
    "awaiting_approval",
    "remediating",
    "verifying",
    "resolved",
    "escalated",
    "failed",
    "merged",
]
FINAL_STATUSES: frozenset[str] = frozenset({"resolved", "escalated", "failed", "merged"})
UNDIAGNOSED_STEPS: frozenset[str] = frozenset({"open", "gather", "diagnose", "investigate", "observe"})
# handoff: alerts still firing after another incident's fix was verified (the next problem)
IncidentSource = Literal["alertmanager", "manual", "monitor", "handoff"]
ActionStatus = Literal[
    "planned", "intent", "succeeded", "failed", "unknown", "dry-run", "skipped", "rejected"
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class TimelineEntry(BaseModel):
    ts: datetime = Field(default_factory=utcnow)
    step: str
    message: str
    data: dict[str, Any] = Field(default_factory=dict)


class ActionRecord(BaseModel):
    """One call (or planned call) to the action server. `key` makes a re-run after a restart detectable."""

    key: str
    action: str
    runbook_action: str = Field(
        default="", description="the name the runbook plans it under (the catalog maps it to `action`)"
    )
    params: dict[str, Any] = Field(default_factory=dict)
    risk: str = "low"
    attempt: int = 1
    status: ActionStatus = "planned"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class Verification(BaseModel):
    healthy: bool
    method: Literal["promql", "health"]
    attempt: int = 1
    started_at: datetime
    finished_at: datetime
    mitigated_at: datetime | None = Field(
        default=None,
        description="healthy: when the fix's own checks had held for the hold (its alerts stopping, "
        "by `finished_at`, confirmed it)",
    )
    healthy_for_seconds: float = 0.0
    windows_from: str | None = Field(
        default=None,
        description="another incident whose later fix on the service the checks' windows started at: "
        "the service was judged after both fixes",
    )
    polls: int = 0
    detail: str = ""
    last_results: dict[str, Any] = Field(default_factory=dict)


class FollowUp(BaseModel):
    """What a mitigation that worked left for a person: the cause it hides is still there."""

    action: str
    runbook: str
    note: str
    status: Literal["open", "closed"] = "open"
    opened_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    closed_by: str | None = None
    comment: str = ""


class HumanResolution(BaseModel):
    """How a person resolved an incident the agent handed over (`POST /agent/incidents/{id}/resolution`)."""

    diagnosis_id: str
    root_cause: str
    actions_worked: list[str] = Field(default_factory=list)
    by: str = "operator"
    at: datetime = Field(default_factory=utcnow)


class Incident(BaseModel):
    id: str
    status: IncidentStatus = "open"
    step: str = "open"
    source: IncidentSource = "alertmanager"
    service: str = Field(default="", description="the catalog service; empty for alerts nobody owns")
    group_key: str = ""
    fingerprints: list[str] = Field(default_factory=list)
    seen_keys: list[str] = Field(
        default_factory=list, description="fingerprint|startsAt|status already merged"
    )
    alerts: list[AlertSummary] = Field(
        default_factory=list, description="the most relevant alerts, at most INCIDENT_MAX_ALERTS"
    )
    alerts_dropped: int = Field(
        default=0, description="alerts not kept: the incident was at INCIDENT_MAX_ALERTS (see its timeline)"
    )
    reason: str = ""
    timeline: list[TimelineEntry] = Field(default_factory=list)
    diagnosis: Diagnosis | None = None
    evidence: list[str] = Field(default_factory=list)
    investigation: dict[str, Any] = Field(default_factory=dict)
    actions: list[ActionRecord] = Field(default_factory=list)
    verification: list[Verification] = Field(default_factory=list)
    escalation_reason: str | None = None
    escalation_labels: dict[str, str] = Field(
        default_factory=dict, description="the service's catalog labels for routing the escalation (team...)"
    )
    silences: list[str] = Field(
        default_factory=list,
        description="Alertmanager silences the agent holds on this incident's alerts while it verifies a fix",
    )
    resolution: HumanResolution | None = None
    follow_ups: list[FollowUp] = Field(default_factory=list)
    follows: str | None = Field(default=None, description="the incident whose verified fix left these alerts")
    merged_into: str | None = Field(default=None, description="the incident this one turned out to be")
    report: str = ""
    opened_at: datetime = Field(default_factory=utcnow)
    mitigated_at: datetime | None = None
    closed_at: datetime | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def diagnosis_id(self) -> str | None:
        return self.diagnosis.diagnosis_id if self.diagnosis else None

    @property
    def is_diagnosed(self) -> bool:
        """Past investigation with a known diagnosis: it knows which problem it is about."""
        known = self.diagnosis is not None and self.diagnosis.is_known
        return known and self.step not in UNDIAGNOSED_STEPS


class IncidentSummary(BaseModel):
    """The list view: enough to filter and to see where each incident is (no timeline, no alerts).
    The store picks these fields out of each stored incident by name."""

    id: str
    status: IncidentStatus
    step: str
    source: IncidentSource
    service: str
    diagnosis: Diagnosis | None = None
    actions: list[ActionRecord] = Field(default_factory=list)
    opened_at: datetime
    mitigated_at: datetime | None = None
    closed_at: datetime | None = None
