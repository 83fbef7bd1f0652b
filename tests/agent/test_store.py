"""The SQLite incident history: filters, open-incident lookup, the action ledger, persistent flags."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from agent.domain.diagnosis import Diagnosis
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
    assert [i.id for i in store.open_for_service("other")] == ["b"]
    assert store.open_for_service("target") == []  # finished incidents do not take new alerts
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


def test_alert_keys_are_indexed_for_intake_and_backfilled_for_an_older_history(tmp_path: Path) -> None:
    path = tmp_path / "incidents.db"
    store = IncidentStore(path)
    old = Incident(id="old", seen_keys=["fp1|t0|firing"], opened_at=utcnow() - timedelta(hours=8))
    new = Incident(id="new", seen_keys=["fp2|t1|firing", "fp3|t1|firing"], status="resolved")
    store.save(old)
    store.save(new)
    since = utcnow() - timedelta(hours=6)
    assert store.seen_since({"fp1|t0|firing", "fp2|t1|firing", "fp9|t9|firing"}, since) == {"fp2|t1|firing"}
    assert store.seen_since(set(), since) == set()
    # a history from before the key table: its keys are indexed when the store opens it
    store._db.execute("DELETE FROM alert_keys")
    store.close()
    reopened = IncidentStore(path)
    assert reopened.seen_since({"fp3|t1|firing"}, since) == {"fp3|t1|firing"}
    assert reopened.count_unfinished() == 1  # "old" is open, "new" resolved
    reopened.close()
