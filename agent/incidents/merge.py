"""Adding alerts to an open incident: new keys recorded, each alert's latest state kept, a timeline line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent.domain.alerts import AlertSummary
from agent.incidents.models import Incident, TimelineEntry
from agent.incidents.store import IncidentStore


def merge_alerts(
    store: IncidentStore,
    incident_id: str,
    alerts: Sequence[AlertSummary],
    *,
    step: str = "intake",
    how: str = "notification merged",
    data: dict[str, Any] | None = None,
) -> list[AlertSummary]:
    """Merge what the incident has not seen yet (by key); returns those alerts (empty: nothing new)."""
    incident = store.get(incident_id)
    seen = set(incident.seen_keys)
    new = [a for a in alerts if a.dedup_key() not in seen]
    if not new:
        return []

    def mutate(i: Incident) -> None:
        i.seen_keys = sorted({*i.seen_keys, *(a.dedup_key() for a in new)})
        i.fingerprints = sorted({*i.fingerprints, *(a.fingerprint for a in new if a.fingerprint)})
        for alert in new:
            upsert_alert(i.alerts, alert)
        described = ", ".join(f"{a.name} {a.status}" for a in new)
        note = (
            " (recorded; recovery is decided by verification)"
            if any(a.status == "resolved" for a in new)
            else ""
        )
        i.timeline.append(
            TimelineEntry(
                step=step,
                message=f"{how}: {described}{note}",
                data={"alerts": [a.name for a in new], **(data or {})},
            )
        )

    store.update(incident_id, mutate)
    return new


def upsert_alert(alerts: list[AlertSummary], alert: AlertSummary) -> None:
    for index, known in enumerate(alerts):
        if alert.fingerprint and known.fingerprint == alert.fingerprint:
            alerts[index] = alert
            return
    alerts.append(alert)
