"""The SQLite incident history: filters, open-incident lookup, the action ledger, persistent flags, pages
of summaries and retention."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

from agent.domain.diagnosis import Diagnosis
from agent.incidents.models import Incident, IncidentSummary, utcnow
from agent.incidents.sqlite import SqliteHistory
from agent.incidents.store import IncidentStore


def test_filters_and_open_lookup(tmp_path: Path) -> None:
    store = SqliteHistory(tmp_path / "incidents.db")
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
    store = SqliteHistory(tmp_path / "incidents.db")
    store.log_action("k1", "a", "restart-target", "intent")
    store.log_action("k1", "a", "restart-target", "succeeded")
    store.set_state("kill_switch_engaged", True)
    store.close()
    again = SqliteHistory(tmp_path / "incidents.db")
    assert [(i, a) for i, a, _ in again.actions_in_last(60)] == [("a", "restart-target")]
    assert again.get_state("kill_switch_engaged") is True
    again.close()


def test_alert_keys_are_indexed_for_intake_and_backfilled_for_an_older_history(tmp_path: Path) -> None:
    path = tmp_path / "incidents.db"
    store = SqliteHistory(path)
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
    reopened = SqliteHistory(path)
    assert reopened.seen_since({"fp3|t1|firing"}, since) == {"fp3|t1|firing"}
    assert reopened.count_unfinished() == 1  # "old" is open, "new" resolved
    reopened.close()


def test_a_history_from_before_stored_summaries_is_paged_from_its_documents(tmp_path: Path) -> None:
    """An older file has no `summary` column: it gains one; its rows are summarised from their documents
    until they are written again."""
    path = tmp_path / "incidents.db"
    old = _finished("inc-old", days_ago=2, diagnosis=Diagnosis(diagnosis_id="disk-full", confidence=0.8))
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "CREATE TABLE incidents (id TEXT PRIMARY KEY, status TEXT NOT NULL, service TEXT NOT NULL,"
            " group_key TEXT NOT NULL, diagnosis_id TEXT, opened_at TEXT NOT NULL, closed_at TEXT,"
            " body TEXT NOT NULL)"
        )
        db.execute(
            "INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (old.id, old.status, old.service, old.group_key, "disk-full", old.opened_at.isoformat(),
             old.closed_at.isoformat() if old.closed_at else None, old.model_dump_json()),
        )  # fmt: skip
    store = SqliteHistory(path)
    store.save(_finished("inc-new", days_ago=1))
    pages = {s.place[1]: IncidentSummary.model_validate_json(s.json) for s in store.summaries()}
    assert pages["inc-old"] == IncidentSummary.model_validate(old.model_dump())
    assert pages["inc-new"].id == "inc-new"
    stored = dict(store._db.execute("SELECT id, summary IS NOT NULL FROM incidents").fetchall())
    assert stored == {"inc-old": 0, "inc-new": 1}
    store.close()


def _finished(incident_id: str, days_ago: float, **fields: object) -> Incident:
    at = utcnow() - timedelta(days=days_ago)
    return Incident(id=incident_id, status="resolved", opened_at=at, closed_at=at, **fields)  # type: ignore[arg-type]


async def test_pages_of_summaries_continue_where_the_last_ended(tmp_path: Path) -> None:
    store = await IncidentStore.open(tmp_path / "incidents.db")
    for n in range(7):
        await store.save(_finished(f"inc-{n}", days_ago=7 - n, seen_keys=[f"k{n}"]))
    first = [(IncidentSummary.model_validate_json(s.json), s.place) for s in await store.summaries(limit=3)]
    assert [s.id for s, _ in first] == ["inc-6", "inc-5", "inc-4"]
    second = [
        (IncidentSummary.model_validate_json(s.json), s.place)
        for s in await store.summaries(limit=3, before=first[-1][1])
    ]
    assert [s.id for s, _ in second] == ["inc-3", "inc-2", "inc-1"]
    await store.prune(
        utcnow() - timedelta(days=4.5), keep=100
    )  # the page's last incident deleted: still a place
    assert await store.summaries(limit=3, before=second[-1][1]) == []
    (left,) = await store.summaries(limit=3, before=first[-1][1])
    assert left.place[1] == "inc-3"
    assert set(IncidentSummary.model_fields) == set(json.loads(left.json))  # every field, and no other
    await store.close()


async def test_retention_deletes_old_and_surplus_finished_incidents_never_open_ones(tmp_path: Path) -> None:
    store = await IncidentStore.open(tmp_path / "incidents.db")
    await store.save(_finished("old", days_ago=40, seen_keys=["fp-old|t|firing"]))
    for n in range(4):
        await store.save(_finished(f"recent-{n}", days_ago=4 - n))
    await store.save(Incident(id="open", status="diagnosing", opened_at=utcnow() - timedelta(days=90)))
    await store.log_action("k-old", "old", "restart", "succeeded")
    store.history._db.execute("UPDATE action_log SET ts = ?", ((utcnow() - timedelta(days=40)).isoformat(),))
    await store.log_action("k-new", "recent-3", "restart", "succeeded")

    deleted = await store.prune(utcnow() - timedelta(days=30), keep=3)
    assert deleted == ["old", "recent-0", "recent-1"]  # by age, then the oldest finished beyond 3 in all
    assert [i.id for i in await store.find(limit=10)] == ["recent-3", "recent-2", "open"]
    assert await store.seen_since({"fp-old|t|firing"}, utcnow() - timedelta(days=400)) == set()
    assert [a for _, a, _ in await store.actions_in_last(100 * 86400)] == ["restart"]  # the old row went
    assert await store.prune(utcnow() - timedelta(days=30), keep=3) == []
    await store.close()
