"""Alertmanager webhook payload, version 4.

Unknown fields are ignored (newer Alertmanagers add `notification_reason`, `routeLabels`). An alert's
state is its `status`: a firing alert carries a zero-year or future `endsAt`, so `endsAt` is never read
for that.

Bounded on the way in, so one hostile or runaway notification cannot make the incident store, the
timeline or the LLM prompt unbounded: at most `MAX_PAIRS` labels and annotations per alert (the
ones the agent reads first), keys and values cut at fixed lengths with a marker, and
`capped()` keeps at most N alerts (firing first), like Alertmanager's own `max_alerts`.

Secrets in labels, annotations and the group key are redacted here (`agent.redaction`), so no incident,
timeline, checkpoint, log line or prompt ever holds them; after the cut, so the work is bounded too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.domain.alerts import AlertSummary
from agent.redaction import Redacted, redact_pairs

AlertStatus = Literal["firing", "resolved"]
MAX_PAIRS = 64
MAX_KEY_CHARS = 128
MAX_LABEL_CHARS = 1024
MAX_ANNOTATION_CHARS = 8192
CUT = "…[cut]"
READ_FIRST = ("alertname", "service", "severity", "summary", "description")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(CUT)] + CUT


def redacted(pairs: dict[str, str], value_limit: int) -> dict[str, str]:
    """Bounded, secrets redacted, bounded again (a short secret's mark is longer than the secret)."""
    return bounded(redact_pairs(bounded(pairs, value_limit)), value_limit)


def bounded(pairs: dict[str, str], value_limit: int) -> dict[str, str]:
    """At most MAX_PAIRS pairs (the names the agent reads first kept), each key and value cut to size."""
    if len(pairs) <= MAX_PAIRS and all(
        len(k) <= MAX_KEY_CHARS and len(v) <= value_limit for k, v in pairs.items()
    ):
        return pairs
    keys = [k for k in READ_FIRST if k in pairs] + sorted(k for k in pairs if k not in READ_FIRST)
    return {_cut(k, MAX_KEY_CHARS): _cut(pairs[k], value_limit) for k in keys[:MAX_PAIRS]}


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = ""

    @field_validator("labels")
    @classmethod
    def _bounded_labels(cls, value: dict[str, str]) -> dict[str, str]:
        return redacted(value, MAX_LABEL_CHARS)

    @field_validator("annotations")
    @classmethod
    def _bounded_annotations(cls, value: dict[str, str]) -> dict[str, str]:
        return redacted(value, MAX_ANNOTATION_CHARS)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "unnamed")

    def dedup_key(self) -> str:
        return self.summary().dedup_key()

    def summary(self) -> AlertSummary:
        return AlertSummary(
            name=self.name,
            status=self.status,
            severity=self.labels.get("severity", "warning"),
            labels=self.labels,
            annotations=self.annotations,
            starts_at=self.startsAt,
            fingerprint=self.fingerprint,
        )


class WebhookNotification(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: Literal["4"] = Field(default="4", description="the only webhook payload version there is")
    groupKey: Redacted = ""
    truncatedAlerts: int = Field(default=0, ge=0)
    status: AlertStatus
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert] = Field(min_length=1)

    @field_validator("groupLabels", "commonLabels")
    @classmethod
    def _bounded_labels(cls, value: dict[str, str]) -> dict[str, str]:
        return redacted(value, MAX_LABEL_CHARS)

    @field_validator("commonAnnotations")
    @classmethod
    def _bounded_annotations(cls, value: dict[str, str]) -> dict[str, str]:
        return redacted(value, MAX_ANNOTATION_CHARS)

    def capped(self, max_alerts: int) -> tuple[WebhookNotification, int]:
        """At most `max_alerts` alerts, firing ones first; and how many were left out."""
        if len(self.alerts) <= max_alerts:
            return self, 0
        ordered = sorted(self.alerts, key=lambda a: a.status != "firing")
        return self.model_copy(update={"alerts": ordered[:max_alerts]}), len(self.alerts) - max_alerts
