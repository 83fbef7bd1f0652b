"""An open incident stops growing: a flood of notifications merging into it keeps the most relevant
alerts, the newest keys and fingerprints, counts the rest and says so once (before, 60 notifications
of 500 new fingerprints grew one incident to 16.7 MB, rewritten whole at every merge). Retention
deletes old finished incidents with their checkpoints, on the agent's own schedule."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from agent.domain.alerts import AlertSummary
from agent.domain.limits import IncidentLimits
from agent.incidents.merge import keep_most_relevant, newest
from agent.incidents.models import Incident, utcnow
from agent.incidents.retention import prune_history
from agent.incidents.sqlite import SqliteHistory
from agent.incidents.store import IncidentNotFound
from agent.intake.alertmanager import Alert

from .agent_testkit import ServedApp, WorkflowFactory

FLOOD = "TargetHighLatency"


def alert(fingerprint: str, name: str = FLOOD, second: int = 0, status: str = "firing") -> Alert:
    return Alert.model_validate(
        {
            "status": status,
            "labels": {"alertname": name, "service": "target", "instance": fingerprint},
            "annotations": {"summary": "slow"},
            "startsAt": f"2026-11-24T10:{second // 60:02d}:{second % 60:02d}Z",
            "fingerprint": fingerprint,
        }
    )


async def merge(wf: object, alerts: list[Alert]) -> object:
    return await wf.correlator.open_or_merge(  # type: ignore[attr-defined]
        source="alertmanager", service="target", group_key='{}:{service="target"}', alerts=alerts
    )


async def test_a_flood_into_an_open_incident_is_kept_bounded_and_counted(workflows: WorkflowFactory) -> None:
    limits = IncidentLimits(max_alerts=20, max_fingerprints=100)
    wf = await workflows.build(
        interrupt_after=["gather"],  # it stays undiagnosed: every page of the service joins it
        INCIDENT_MAX_ALERTS=limits.max_alerts,
        INCIDENT_MAX_FINGERPRINTS=limits.max_fingerprints,
    )
    opened = await merge(wf, [alert("first", name="TargetDbPoolExhausted")])
    incident_id = opened.incident_id  # type: ignore[attr-defined]
    await wf.runner.wait(incident_id)
    sent = 1
    for batch in range(60):
        alerts = [alert(f"fp-{batch}-{n}", second=batch) for n in range(50)]
        if batch == 30:
            alerts.append(alert("the-odd-one", name="TargetDiskFull", second=batch))
        result = await merge(wf, alerts)
        assert result.incident_ids == [incident_id]  # type: ignore[attr-defined]
        sent += len(alerts)

    incident = await wf.store.get(incident_id)
    assert len(incident.alerts) == limits.max_alerts
    assert incident.alerts_dropped == sent - limits.max_alerts
    names = {a.name for a in incident.alerts}
    assert names == {FLOOD, "TargetDbPoolExhausted", "TargetDiskFull"}  # one of each name kept
    assert {a.fingerprint for a in incident.alerts if a.name == FLOOD} <= {f"fp-59-{n}" for n in range(50)}
    assert len(incident.fingerprints) == limits.max_fingerprints and "first" in incident.fingerprints
    assert len(incident.seen_keys) == limits.max_keys
    full = [e for e in incident.timeline if e.message.startswith("incident full")]
    assert len(full) == 1
    assert len(incident.timeline) <= 65  # one line a notification at most, the flood named once each
    assert len(incident.model_dump_json()) < 100_000

    resent = await merge(wf, [alert("fp-59-1", second=59)])  # a re-send of what it remembers: nothing new
    assert resent.note == "duplicate notification"  # type: ignore[attr-defined]
    assert (await wf.store.get(incident_id)).alerts_dropped == incident.alerts_dropped


async def test_a_new_incident_from_one_huge_notification_is_bounded_too(workflows: WorkflowFactory) -> None:
    wf = await workflows.build(interrupt_after=["gather"], INCIDENT_MAX_ALERTS=10)
    opened = await merge(wf, [alert(f"fp{n}", second=n) for n in range(300)])
    incident = await wf.store.get(opened.incident_id)  # type: ignore[attr-defined]
    assert len(incident.alerts) == 10 and incident.alerts_dropped == 290
    assert sum(e.message.startswith("incident full") for e in incident.timeline) == 1


def test_relevance_firing_first_one_of_each_name_newest_first() -> None:
    def summary(fp: str, name: str, minute: int, status: str = "firing") -> AlertSummary:
        return alert(fp, name, second=minute * 60, status=status).summary()

    alerts = [
        summary("a1", "A", 1),
        summary("a2", "A", 5),
        summary("a3", "A", 3),
        summary("b1", "B", 0, "resolved"),
        summary("c1", "C", 0),
    ]
    kept, dropped = keep_most_relevant(alerts, 3)
    assert [a.fingerprint for a in kept] == ["a2", "a3", "c1"] and dropped == 2  # in their own order
    kept, _ = keep_most_relevant(alerts, 4)
    assert [a.fingerprint for a in kept] == ["a1", "a2", "a3", "c1"]  # firing before resolved
    assert newest(["x", "y", "x", "z", "w"], 2) == ["z", "w"]
    assert newest(["x", "y", "z", "w"], 2, always={"x"}) == ["x", "w"]


async def test_retention_deletes_an_old_finished_incident_with_its_checkpoints(
    workflows: WorkflowFactory,
) -> None:
    wf = await workflows.build()
    done = (await merge(wf, [alert("fp1", name="TargetDbPoolExhausted")])).incident_id  # type: ignore[attr-defined]
    await wf.runner.wait(done)
    assert (await wf.store.get(done)).status == "resolved"
    assert (await wf.runner.graph.aget_state(wf.runner.config(done))).values

    def long_ago(incident: Incident) -> None:
        incident.closed_at = utcnow() - timedelta(days=31)

    await wf.store.update(done, long_ago)
    deleted = await prune_history(wf.store, wf.saver, retention_days=30, keep=1000)
    assert deleted == [done]
    with pytest.raises(IncidentNotFound):
        await wf.store.get(done)
    assert not (await wf.runner.graph.aget_state(wf.runner.config(done))).values


def test_the_agent_prunes_on_its_own_schedule(served_agent: Callable[..., ServedApp], tmp_path: Path) -> None:
    """The background loop, in the real app: beyond INCIDENT_RETENTION_MAX the oldest finished go."""
    history = SqliteHistory(tmp_path / "agent" / "incidents.db")  # the agent's AGENT_DATA_DIR
    for n in range(5):
        at = utcnow() - timedelta(hours=5 - n)
        history.save(Incident(id=f"inc-{n}", status="escalated", opened_at=at, closed_at=at))
    history.close()
    agent = served_agent(RETENTION_CHECK_SECONDS=0.2, INCIDENT_RETENTION_MAX=2)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listed = httpx.get(f"{agent.url}/agent/incidents", timeout=5).json()["incidents"]
        if len(listed) == 2:
            break
        time.sleep(0.05)
    assert [i["id"] for i in listed] == ["inc-4", "inc-3"]
    metrics = httpx.get(f"{agent.url}/metrics", timeout=5).text
    assert "sre_agent_incidents_pruned_total 3.0" in metrics
