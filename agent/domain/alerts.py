"""An alert as the workflow reads it: name, state, labels, annotations, when it started."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

AlertStatus = Literal["firing", "resolved"]


class AlertSummary(BaseModel):
    name: str
    status: AlertStatus = "firing"
    severity: str = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = None
    fingerprint: str = ""

    def dedup_key(self) -> str:
        return dedup_key(self.fingerprint, self.name, self.starts_at, self.status)


def dedup_key(fingerprint: str, name: str, starts_at: datetime | None, status: str) -> str:
    """Alertmanager re-sends the same alert (HA, repeat_interval): identical keys mean nothing new."""
    starts = starts_at.isoformat() if starts_at else ""
    return f"{fingerprint or name}|{starts}|{status}"
