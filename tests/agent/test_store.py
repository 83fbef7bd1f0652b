"""The SQLite incident history: filters, open-incident lookup, the action ledger, persistent flags."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from agent.diagnosis.models import Diagnosis
from agent.incidents.models import Incident, utcnow
from agent.incidents.store import IncidentStore


def test_filters_and_open_lookup(tmp_path: Path) -> None:
    store = IncidentStore(tmp_path / "incidents.db")
    old = Incident(
        id="a",
        status="resolved",
        group_key="g1",
        opened_at=utcnow() - timedelta(days=2),
        diagnosis=Diagnosis(diagnosis_id="disk-full", confidence=0.8),
    )
    new = Incident(id="b", status="diagnosing", group_key="g2", service="other")
    store.save(old)
    store.save(new)
    assert [i.id for i in store.find()] == ["b", "a"]
    assert [i.id for i in store.find(status="resolved")] == ["a"]
    assert [i.id for i in store.find(diagnosis="disk-full")] == ["a"]
    assert [i.id for i in store.find(service="other")] == ["b"]
    assert [i.id for i in store.find(since=utcnow() - timedelta(days=1))] == ["b"]
    assert store.find_open("g2", "target").id == "b"
    assert store.find_open("g9", "other").id == "b"
    assert store.find_open("g1", "target") is None  # finished incidents do not take new alerts
    store.append("b", "gather", "hello", {"x": 1})
    assert store.get("b").timeline[-1].message == "hello"
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_action_ledger_and_state_survive_reopening(tmp_path: Path) -> None:
    store = IncidentStore(tmp_path / "incidents.db")
    store.log_action("k1", "a", "restart-target", "intent")
    store.log_action("k1", "a", "restart-target", "succeeded")
    store.set_state("kill_switch_engaged", True)
    store.close()
    again = IncidentStore(tmp_path / "incidents.db")
    assert [(i, a) for i, a, _ in again.actions_in_last(60)] == [("a", "restart-target")]
    assert again.get_state("kill_switch_engaged") is True
    again.close()
