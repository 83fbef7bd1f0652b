"""Alertmanager webhook payload, version 4.

Unknown fields are ignored (newer Alertmanagers add `notification_reason`, `routeLabels`). An alert's
state is its `status`: a firing alert carries a zero-year or future `endsAt`, so `endsAt` is never read
for that, but it must be what Alertmanager sends, an RFC 3339 string (`0001-01-01T00:00:00Z`).

Bounded on the way in, so one hostile or runaway notification cannot make the incident store, the
timeline or the LLM prompt unbounded. Oversized text is cut with a mark rather than refused: a 4xx
makes Alertmanager drop the whole notification for good, so refusing a page because one annotation is
long would lose the page. Per alert: at most `max_pairs` labels and annotations (the ones the agent
reads first kept), keys and values cut at fixed lengths, all of them together within `max_alert_chars`;
a fingerprint too long to be Alertmanager's is replaced by a digest of it (still one key per alert);
the group key, receiver and URLs are cut. The limits come from the settings through the validation
context (`model_validate_json(body, context=AlertLimits)`), defaults otherwise. `capped()` keeps at
most N alerts (firing first), like Alertmanager's own `max_alerts`.

Secrets in labels, annotations and the group key are redacted here (`agent.redaction`), so no incident,
timeline, checkpoint, log line or prompt ever holds them; after the cut, so the work is bounded too.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from agent.domain.alerts import AlertSummary, dedup_key
from agent.domain.limits import AlertLimits
from agent.domain.timestamps import Timestamp
from agent.redaction import redact, redact_pairs

AlertStatus = Literal["firing", "resolved"]
CUT = "…[cut]"
READ_FIRST = ("alertname", "service", "severity", "summary", "description")
DEFAULT_LIMITS = AlertLimits()


def _a_number(value: Any) -> Any:
    """JSON's integer: 3 or 3.0, never false or "3" (which lax mode would take)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected an integer")
    return value


Count = Annotated[int, BeforeValidator(_a_number)]


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - len(CUT), 0)] + CUT


def redacted(pairs: dict[str, str], value_limit: int, limits: AlertLimits, budget: int) -> dict[str, str]:
    """Bounded, secrets redacted, bounded again if anything was (a short secret's mark is longer than
    the secret)."""
    cut_to_size = bounded(pairs, value_limit, limits, budget)
    clean = redact_pairs(cut_to_size)
    return cut_to_size if clean is cut_to_size else bounded(clean, value_limit, limits, budget)


def bounded(pairs: dict[str, str], value_limit: int, limits: AlertLimits, budget: int) -> dict[str, str]:
    """At most `max_pairs` pairs (the names the agent reads first kept), each key and value cut to size,
    all of them together within `budget` characters: a value is cut to what is left, and once too little
    is left for a useful one the remaining pairs are left out."""
    if _fits(pairs, value_limit, limits, budget):  # nearly always: C-speed checks only
        return pairs
    keys = [k for k in READ_FIRST if k in pairs] + sorted(k for k in pairs if k not in READ_FIRST)
    kept: dict[str, str] = {}
    for key in keys[: limits.max_pairs]:
        name = cut(key, limits.max_key_chars)
        room = budget - len(name)
        value = pairs[key]
        if len(value) > room and room < 4 * len(CUT):
            break
        kept[name] = cut(value, min(value_limit, room))
        budget -= len(name) + len(kept[name])
    return kept


def size(pairs: dict[str, str]) -> int:
    return sum(map(len, pairs)) + sum(map(len, pairs.values()))


def _fits(pairs: dict[str, str], value_limit: int, limits: AlertLimits, budget: int) -> bool:
    """Two passes over the lengths nearly always: no key is longer than all keys together, nor any value
    than all values, so the longest is looked for only when the totals are over a limit."""
    if len(pairs) > limits.max_pairs:
        return False
    keys, values = sum(map(len, pairs)), sum(map(len, pairs.values()))
    return (
        keys + values <= budget
        and (keys <= limits.max_key_chars or max(map(len, pairs)) <= limits.max_key_chars)
        and (values <= value_limit or max(map(len, pairs.values())) <= value_limit)
    )


def _limits(info: ValidationInfo) -> AlertLimits:
    return info.context if isinstance(info.context, AlertLimits) else DEFAULT_LIMITS


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: Timestamp | None = None
    endsAt: Timestamp | None = Field(default=None, description="`0001-01-01T00:00:00Z` while firing")
    generatorURL: str = ""
    fingerprint: str = ""

    @field_validator("labels")
    @classmethod
    def _bounded_labels(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        limits = _limits(info)
        return redacted(value, limits.max_label_chars, limits, limits.max_alert_chars)

    @field_validator("annotations")
    @classmethod
    def _bounded_annotations(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        limits = _limits(info)
        room = limits.max_alert_chars - size(info.data.get("labels") or {})
        return redacted(value, limits.max_annotation_chars, limits, room)

    @field_validator("generatorURL")
    @classmethod
    def _bounded_url(cls, value: str, info: ValidationInfo) -> str:
        return cut(value, _limits(info).max_text_chars)

    @field_validator("fingerprint")
    @classmethod
    def _bounded_fingerprint(cls, value: str, info: ValidationInfo) -> str:
        if len(value) <= _limits(info).max_fingerprint_chars:
            return value
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:32]

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "unnamed")

    def dedup_key(self) -> str:
        return dedup_key(self.fingerprint, self.name, self.startsAt, self.status)

    def summary(self) -> AlertSummary:
        """Built without validating again: every field was validated (and bounded) on the way in."""
        return AlertSummary.model_construct(
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
    groupKey: str = ""
    truncatedAlerts: Count = Field(default=0, ge=0)
    status: AlertStatus
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert] = Field(min_length=1)

    @field_validator("groupKey")
    @classmethod
    def _bounded_group_key(cls, value: str, info: ValidationInfo) -> str:
        return redact(cut(value, _limits(info).max_group_key_chars))

    @field_validator("receiver", "externalURL")
    @classmethod
    def _bounded_text(cls, value: str, info: ValidationInfo) -> str:
        return cut(value, _limits(info).max_text_chars)

    @field_validator("groupLabels", "commonLabels")
    @classmethod
    def _bounded_labels(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        limits = _limits(info)
        return redacted(value, limits.max_label_chars, limits, limits.max_alert_chars)

    @field_validator("commonAnnotations")
    @classmethod
    def _bounded_annotations(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        limits = _limits(info)
        return redacted(value, limits.max_annotation_chars, limits, limits.max_alert_chars)

    def capped(self, max_alerts: int) -> tuple[WebhookNotification, int]:
        """At most `max_alerts` alerts, firing ones first; and how many were left out."""
        if len(self.alerts) <= max_alerts:
            return self, 0
        ordered = sorted(self.alerts, key=lambda a: a.status != "firing")
        return self.model_copy(update={"alerts": ordered[:max_alerts]}), len(self.alerts) - max_alerts
