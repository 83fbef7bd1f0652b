"""Alertmanager webhook payload, version 4.

Unknown fields are ignored (newer Alertmanagers add `notification_reason`, `routeLabels`). An alert's
state is its `status`: a firing alert carries a zero-year or future `endsAt`, so `endsAt` is never read
for that.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.diagnosis.models import AlertSummary

AlertStatus = Literal["firing", "resolved"]


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "unnamed")

    def dedup_key(self) -> str:
        """Alertmanager re-sends the same alert (HA, repeat_interval): identical keys mean nothing new."""
        starts = self.startsAt.isoformat() if self.startsAt else ""
        return f"{self.fingerprint or self.name}|{starts}|{self.status}"

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
    groupKey: str = ""
    truncatedAlerts: int = Field(default=0, ge=0)
    status: AlertStatus
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert] = Field(min_length=1)

    @property
    def service(self) -> str:
        labels = {**self.groupLabels, **self.commonLabels}
        if "service" in labels:
            return labels["service"]
        return next((a.labels["service"] for a in self.alerts if "service" in a.labels), "target")
