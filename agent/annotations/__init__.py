"""Grafana annotations for incidents: the trail SREs see on their dashboards.

What the workflow's nodes call (the app builds one `GrafanaAnnotator` per lifespan):
- diagnose/plan (once the diagnosis is known): `open_incident(incident_id, diagnosis, text)`
- execute (per action): `add_event(incident_id, diagnosis, text, tags=[action, result], key=...)`
- learn: `close_incident(incident_id, diagnosis, outcome, text, opened_at=...)`
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from agent.annotations.grafana import GrafanaAnnotator
from agent.annotations.metrics import AnnotationMetrics


class IncidentAnnotations(Protocol):
    """The seam the nodes depend on; `GrafanaAnnotator` is the implementation, tests may pass a fake."""

    def open_incident(self, incident_id: str, diagnosis: str, text: str, tags: Sequence[str] = ()) -> str: ...

    def add_event(
        self, incident_id: str, diagnosis: str, text: str, tags: Sequence[str] = (), key: str | None = None
    ) -> str: ...

    def close_incident(
        self,
        incident_id: str,
        diagnosis: str,
        outcome: str,
        text: str | None = None,
        tags: Sequence[str] = (),
        opened_at: datetime | None = None,
    ) -> str: ...


__all__ = ["AnnotationMetrics", "GrafanaAnnotator", "IncidentAnnotations"]
