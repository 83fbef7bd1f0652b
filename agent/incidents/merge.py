"""Adding alerts to an open incident: new keys recorded, each alert's latest state kept, a timeline line.

An open incident stops growing at its limits (`IncidentLimits`): it keeps the most relevant alerts
(firing before resolved, one of each alert name before a second of any, newest first), remembers the
newest keys and fingerprints, and counts every alert it did not keep in `alerts_dropped`; the timeline
says so once, the first time. An alert flood then costs one bounded read-modify-write per notification,
whatever its size, instead of a document growing with every page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.domain.alerts import AlertSummary
from agent.domain.limits import IncidentLimits
from agent.incidents.models import Incident, TimelineEntry
from agent.incidents.store import IncidentStore

NAMED_IN_TIMELINE = 10  # distinct alert names a merge's timeline line lists


@dataclass
class Merged:
    """What one merge did: the alerts new to the incident (kept or counted), how many of those it did
    not keep, and whether the incident had finished meanwhile (nothing merged: the caller opens anew)."""

    new: list[AlertSummary] = field(default_factory=list)
    dropped: int = 0
    finished: bool = False


async def merge_alerts(
    store: IncidentStore,
    incident_id: str,
    alerts: Sequence[AlertSummary],
    limits: IncidentLimits,
    *,
    step: str = "intake",
    how: str = "notification merged",
    data: dict[str, Any] | None = None,
) -> Merged:
    """Merge what the incident has not seen yet (by key), in one read-modify-write under the store's lock."""
    merged = Merged()

    def mutate(incident: Incident) -> None:
        nonlocal merged
        merged = merge_into(incident, alerts, limits, step=step, how=how, data=data)

    await store.update(incident_id, mutate)
    return merged


def merge_into(
    incident: Incident,
    alerts: Sequence[AlertSummary],
    limits: IncidentLimits,
    *,
    step: str = "intake",
    how: str = "notification merged",
    data: dict[str, Any] | None = None,
) -> Merged:
    """`merge_alerts` on an incident in hand (the store calls it under its lock)."""
    if incident.is_final:
        return Merged(finished=True)
    seen = set(incident.seen_keys)
    keyed = {key: a for a in alerts if (key := a.dedup_key()) not in seen}
    new = list(keyed.values())
    if not new:
        return Merged()
    upsert_alerts(incident.alerts, new)
    incident.alerts, dropped = keep_most_relevant(incident.alerts, limits.max_alerts)
    incident.alerts_dropped += dropped
    incident.seen_keys = newest([*incident.seen_keys, *keyed], limits.max_keys)
    kept = {a.fingerprint for a in incident.alerts if a.fingerprint}
    fingerprints = [*incident.fingerprints, *(a.fingerprint for a in new if a.fingerprint)]
    incident.fingerprints = newest(fingerprints, limits.max_fingerprints, always=kept)
    if dropped and incident.alerts_dropped == dropped:
        incident.timeline.append(full_entry(limits))
    if dropped < len(new):  # something kept: worth a line; only counted: the count says it
        incident.timeline.append(_merged_line(new, step, how, data))
    return Merged(new=new, dropped=dropped)


def bounded_alerts(alerts: Sequence[AlertSummary], limits: IncidentLimits) -> tuple[list[AlertSummary], int]:
    """A new incident's alerts: the same bound as a merge (most relevant kept, the rest counted)."""
    return keep_most_relevant(list(_unique(alerts)), limits.max_alerts)


def keep_most_relevant(alerts: list[AlertSummary], limit: int) -> tuple[list[AlertSummary], int]:
    """At most `limit` alerts, in their order: firing before resolved, one of each name before a second
    of any, newest first; and how many were left out."""
    if len(alerts) <= limit:
        return alerts, 0
    newest_first = sorted(
        range(len(alerts)), key=lambda n: (alerts[n].status != "firing", -_starts(alerts[n]))
    )
    names: set[str] = set()
    repeats: set[int] = set()
    for n in newest_first:
        if alerts[n].name in names:
            repeats.add(n)
        names.add(alerts[n].name)
    order = sorted(newest_first, key=lambda n: (alerts[n].status != "firing", n in repeats))
    keep = set(order[:limit])
    return [a for n, a in enumerate(alerts) if n in keep], len(alerts) - limit


def _starts(alert: AlertSummary) -> float:
    return alert.starts_at.timestamp() if alert.starts_at else float("-inf")


def newest(values: Sequence[str], limit: int, always: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """`values` without repeats (each at its last place), the newest `limit` of them, `always` kept."""
    unique = list(dict.fromkeys(reversed(values)))[::-1]
    if len(unique) <= limit:
        return unique
    drop = len(unique) - limit
    kept = []
    for value in unique:
        if drop and value not in always:
            drop -= 1
            continue
        kept.append(value)
    return kept


def upsert_alerts(alerts: list[AlertSummary], new: Sequence[AlertSummary]) -> None:
    """Each new alert replaces the known one with its fingerprint (its latest state), or is added."""
    at = {a.fingerprint: n for n, a in enumerate(alerts) if a.fingerprint}
    for alert in new:
        if alert.fingerprint in at:
            alerts[at[alert.fingerprint]] = alert
        else:
            if alert.fingerprint:
                at[alert.fingerprint] = len(alerts)
            alerts.append(alert)


def _unique(alerts: Sequence[AlertSummary]) -> list[AlertSummary]:
    return list({a.dedup_key(): a for a in alerts}.values())


def full_entry(limits: IncidentLimits) -> TimelineEntry:
    return TimelineEntry(
        step="intake",
        message=f"incident full: it keeps {limits.max_alerts} alerts (firing, one of each name, newest "
        "first); the others are counted in alerts_dropped, not stored",
        data={"max_alerts": limits.max_alerts},
    )


def _merged_line(new: list[AlertSummary], step: str, how: str, data: dict[str, Any] | None) -> TimelineEntry:
    counts: dict[str, int] = {}
    for alert in new:
        counts[f"{alert.name} {alert.status}"] = counts.get(f"{alert.name} {alert.status}", 0) + 1
    named = [f"{what} x{n}" if n > 1 else what for what, n in list(counts.items())[:NAMED_IN_TIMELINE]]
    more = len(counts) - len(named)
    described = ", ".join(named) + (f" and {more} more" if more else "")
    note = (
        " (recorded; recovery is decided by verification)" if any(a.status == "resolved" for a in new) else ""
    )
    return TimelineEntry(
        step=step,
        message=f"{how}: {described}{note}",
        data={"alerts": sorted({a.name for a in new})[: NAMED_IN_TIMELINE * 2], **(data or {})},
    )
