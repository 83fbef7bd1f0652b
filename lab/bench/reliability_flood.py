"""The reliability suite's load rows: the webhook's latency while the agent is busy with data.

"merge flood": an agent in approval mode, its history seeded with past incidents, is paged once; while
that incident waits for a human, 60 notifications of 500 new alerts merge into it and four readers page
through the history (`lab.bench.merge_flood`). A twin agent (the same configuration and history, paged
alike, no flood, no readers) is probed at the same moments. Lost: a webhook p99 over twice the twin's, a
notification refused, an incident that grew past its bound, or anything run.
"""

from __future__ import annotations

from lab.bench.merge_flood import ALERTS_PER_NOTIFICATION, FLOOD_NOTIFICATIONS, run_flood, seed_history
from lab.bench.reliability_harness import API_TOKEN, WEBHOOK_TOKEN, Harness, Row

INCIDENT_MAX_ALERTS = 100  # the agent's default


def load_scenarios(h: Harness) -> list[Row]:
    started = []
    for name in ("flood", "flood-twin"):  # the twin: the same configuration and history, no flood
        started.append(h.agent(name, start=False, AGENT_MODE="approval"))
        seed_history(h.work / name / "agent" / "incidents.db")
        started[-1].start(timeout=60)
    agent, twin = started
    calls_before = len(h.audit())
    h.broken_target()
    try:
        result = run_flood(agent.url, twin.url, h.alert(), WEBHOOK_TOKEN, API_TOKEN)
        paged = [i for i in agent.incidents() if not i["id"].startswith("inc-seed-")]
    finally:
        agent.stop()
        twin.stop()
    lost = []
    if not result.within_bound:
        over = f"{result.loaded_p99 * 1000:.0f} ms over {result.bound * 1000:.0f} ms"
        lost.append(f"webhook p99 {over} (twice its twin's)")
    if set(result.codes) != {202}:
        lost.append(f"answers {dict(result.codes)}")
    sent = 1 + FLOOD_NOTIFICATIONS * ALERTS_PER_NOTIFICATION
    if (result.incident_alerts, result.alerts_dropped) != (INCIDENT_MAX_ALERTS, sent - INCIDENT_MAX_ALERTS):
        lost.append(f"the incident kept {result.incident_alerts} and counted {result.alerts_dropped} dropped")
    calls = len(h.audit()) - calls_before
    return [Row("merge flood", result.summary(), len(paged), calls, lost, 1, 0)]
