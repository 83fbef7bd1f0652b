"""The incident history in SQLite (AGENT_DATA_DIR/incidents.db, WAL): synchronous, thread-safe.

Each incident is one JSON document plus indexed columns to filter on, and its alert keys in a table of
their own: intake asks "which incident is open for this group" and "were these keys seen" per
notification, and must not parse every incident's document to answer (a storm opens hundreds). One
connection behind a lock: a read-modify-write in `update` holds it throughout, so the intake worker and
the workflow can both append to one incident's timeline without losing entries. The `action_log` table
is what the per-hour budget and per-action cooldown count, so they hold across incidents and restarts.

The agent reaches it through `agent.incidents.store.IncidentStore`, which runs every call in a worker
thread: nothing here runs on the event loop.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from agent.incidents.models import FINAL_STATUSES, Incident, IncidentSummary, TimelineEntry, utcnow
from agent.incidents.schema import SCHEMA

MAX_UNOWNED = 1000
# The list view's JSON: written with each document (`summary`), so a page of the history reads it as it
# is; a row written before that column existed has it picked out of its document by SQLite.
_SUMMARY_FIELDS = set(IncidentSummary.model_fields)
_SUMMARY = "COALESCE(summary, json_object({}))".format(
    ", ".join(f"'{name}', json_extract(body, '$.{name}')" for name in IncidentSummary.model_fields)
)


class IncidentNotFound(LookupError):
    pass


class StoredSummary(NamedTuple):
    json: str  # an IncidentSummary, as the stored document has its fields
    place: tuple[str, str]  # (opened_at as stored, id): where the list's order puts it


class SqliteHistory:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        self._migrate()
        self._index_alert_keys()
        # Pages for the API's readers come from a connection of their own: WAL lets it read the last
        # committed state while intake and the workflow write, so dashboards never hold up a merge.
        self._reader_lock = threading.Lock()
        self._reader = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._reader.execute("PRAGMA busy_timeout=5000")

    def _migrate(self) -> None:
        """Columns added since a history file was created (the ledger learned its service, incidents
        their summary)."""
        with self._lock:
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(action_log)")}
            if "service" not in columns:
                self._db.execute("ALTER TABLE action_log ADD COLUMN service TEXT NOT NULL DEFAULT ''")
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(incidents)")}
            if "summary" not in columns:
                self._db.execute("ALTER TABLE incidents ADD COLUMN summary TEXT")

    def _index_alert_keys(self) -> None:
        """A history written before the key table existed gets its keys indexed once."""
        with self._lock:
            if self._db.execute("SELECT 1 FROM alert_keys LIMIT 1").fetchone() is not None:
                return
            rows = self._db.execute("SELECT body FROM incidents").fetchall()
        for (body,) in rows:
            incident = Incident.model_validate_json(body)
            self._save_keys(incident, incident.seen_keys)

    def close(self) -> None:
        with self._lock, self._reader_lock:
            self._db.close()
            self._reader.close()

    def ping(self) -> bool:
        try:
            with self._lock:
                self._db.execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One commit (one WAL sync) for several statements; the lock held throughout."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # incidents
    def save(self, incident: Incident) -> Incident:
        with self._transaction():
            self._write(incident)
            self._save_keys(incident, incident.seen_keys)
        return incident

    def _write(self, incident: Incident) -> None:
        diagnosis_id = incident.diagnosis.diagnosis_id if incident.diagnosis else None
        self._db.execute(
            "INSERT INTO incidents(id, status, service, group_key, diagnosis_id, opened_at, closed_at,"
            " body, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
            " status=excluded.status, service=excluded.service, group_key=excluded.group_key,"
            " diagnosis_id=excluded.diagnosis_id, closed_at=excluded.closed_at, body=excluded.body,"
            " summary=excluded.summary",
            (
                incident.id,
                incident.status,
                incident.service,
                incident.group_key,
                diagnosis_id,
                incident.opened_at.isoformat(),
                incident.closed_at.isoformat() if incident.closed_at else None,
                incident.model_dump_json(),
                incident.model_dump_json(include=_SUMMARY_FIELDS),
            ),
        )

    def _save_keys(self, incident: Incident, keys: Iterable[str], forget: Iterable[str] = ()) -> None:
        """The key index mirrors the incident's (bounded) `seen_keys`: new ones added, dropped ones gone."""
        with self._lock:
            self._db.executemany(
                "INSERT OR IGNORE INTO alert_keys(key, incident_id, opened_at) VALUES (?, ?, ?)",
                [(key, incident.id, incident.opened_at.isoformat()) for key in keys],
            )
            self._db.executemany(
                "DELETE FROM alert_keys WHERE key = ? AND incident_id = ?",
                [(key, incident.id) for key in forget],
            )

    def seen_since(self, keys: set[str], since: datetime) -> set[str]:
        """Those of `keys` that an incident opened since `since` has already seen."""
        if not keys:
            return set()
        placeholders = ",".join("?" for _ in keys)
        with self._lock:
            rows = self._db.execute(
                f"SELECT DISTINCT key FROM alert_keys WHERE key IN ({placeholders}) AND opened_at >= ?",
                (*keys, since.isoformat()),
            ).fetchall()
        return {row[0] for row in rows}

    def open_seen(self, service: str, keys: set[str]) -> tuple[set[str], str | None]:
        """Those of `keys` an unfinished incident of `service` has seen, and the oldest such incident:
        a re-send is recognised from the key index, without reading any incident."""
        final = tuple(FINAL_STATUSES)
        unfinished = f"status NOT IN ({','.join('?' for _ in final)})"
        with self._lock:
            oldest = self._db.execute(
                f"SELECT id FROM incidents WHERE service = ? AND {unfinished} ORDER BY opened_at LIMIT 1",
                (service, *final),
            ).fetchone()
            if oldest is None or not keys:
                return set(), None if oldest is None else oldest[0]
            rows = self._db.execute(
                "SELECT DISTINCT k.key FROM alert_keys k JOIN incidents i ON i.id = k.incident_id"
                f" WHERE k.key IN ({','.join('?' for _ in keys)}) AND i.service = ? AND i.{unfinished}",
                (*keys, service, *final),
            ).fetchall()
        return {row[0] for row in rows}, oldest[0]

    def get(self, incident_id: str) -> Incident:
        with self._lock:
            row = self._db.execute("SELECT body FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        if row is None:
            raise IncidentNotFound(incident_id)
        return Incident.model_validate_json(row[0])

    def update(self, incident_id: str, mutate: Callable[[Incident], None]) -> Incident:
        with self._transaction():
            incident = self.get(incident_id)
            before = set(incident.seen_keys)
            mutate(incident)
            after = set(incident.seen_keys)
            self._write(incident)
            self._save_keys(incident, after - before, forget=before - after)
        return incident

    def append(
        self, incident_id: str, step: str, message: str, data: dict[str, Any] | None = None
    ) -> TimelineEntry:
        entry = TimelineEntry(step=step, message=message, data=data or {})
        self.update(incident_id, lambda incident: incident.timeline.append(entry))
        return entry

    def find(
        self,
        status: str | None = None,
        service: str | None = None,
        diagnosis: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[Incident]:
        clauses, args = self._filters(status, service, diagnosis, since)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT body FROM incidents {where} ORDER BY opened_at DESC LIMIT ?", (*args, limit)
            ).fetchall()
        return [Incident.model_validate_json(row[0]) for row in rows]

    def summaries(
        self,
        status: str | None = None,
        service: str | None = None,
        diagnosis: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        before: tuple[str, str] | None = None,
    ) -> list[StoredSummary]:
        """The list view, newest first, each with its place in that order (opened_at as stored, id):
        pass the last one's as `before` for the next page. Each summary's JSON is stored with its
        document: a page costs no parsing at all, in Python or in SQLite."""
        clauses, args = self._filters(status, service, diagnosis, since)
        if before is not None:
            clauses.append("(opened_at, id) < (?, ?)")
            args += list(before)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._reader_lock:
            rows = self._reader.execute(
                f"SELECT {_SUMMARY}, opened_at, id FROM incidents {where}"
                " ORDER BY opened_at DESC, id DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [StoredSummary(row[0], (row[1], row[2])) for row in rows]

    @staticmethod
    def _filters(
        status: str | None, service: str | None, diagnosis: str | None, since: datetime | None
    ) -> tuple[list[str], list[str]]:
        clauses, args = [], []
        for column, value in (("status", status), ("service", service), ("diagnosis_id", diagnosis)):
            if value:
                clauses.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            clauses.append("opened_at >= ?")
            args.append(since.isoformat())
        return clauses, args

    def prune(self, closed_before: datetime, keep: int) -> list[str]:
        """Delete finished incidents closed before `closed_before`, then the oldest finished ones beyond
        `keep` in all, with their alert keys, and ledger rows older than `closed_before`. An unfinished
        incident is never deleted. Returns the ids deleted (their checkpoints go too)."""
        final = tuple(FINAL_STATUSES)
        placeholders = ",".join("?" for _ in final)
        with self._transaction():
            old = self._db.execute(
                f"SELECT id FROM incidents WHERE status IN ({placeholders})"
                " AND coalesce(closed_at, opened_at) < ?",
                (*final, closed_before.isoformat()),
            ).fetchall()
            ids = [row[0] for row in old]
            self._delete(ids)
            (total,) = self._db.execute("SELECT COUNT(*) FROM incidents").fetchone()
            if total > keep:
                extra = self._db.execute(
                    f"SELECT id FROM incidents WHERE status IN ({placeholders})"
                    " ORDER BY opened_at, id LIMIT ?",
                    (*final, total - keep),
                ).fetchall()
                self._delete([row[0] for row in extra])
                ids += [row[0] for row in extra]
            self._db.execute("DELETE FROM action_log WHERE ts < ?", (closed_before.isoformat(),))
        return ids

    def _delete(self, ids: list[str]) -> None:
        for table, column in (("incidents", "id"), ("alert_keys", "incident_id")):
            self._db.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(i,) for i in ids])

    def unfinished(self) -> list[Incident]:
        placeholders = ",".join("?" for _ in FINAL_STATUSES)
        with self._lock:
            rows = self._db.execute(
                f"SELECT body FROM incidents WHERE status NOT IN ({placeholders}) ORDER BY opened_at",
                tuple(FINAL_STATUSES),
            ).fetchall()
        return [Incident.model_validate_json(row[0]) for row in rows]

    def count_unfinished(self) -> int:
        placeholders = ",".join("?" for _ in FINAL_STATUSES)
        with self._lock:
            row = self._db.execute(
                f"SELECT COUNT(*) FROM incidents WHERE status NOT IN ({placeholders})", tuple(FINAL_STATUSES)
            ).fetchone()
        return int(row[0])

    def open_for_service(self, service: str) -> list[Incident]:
        """The service's unfinished incidents, oldest first (one per problem it has now)."""
        placeholders = ",".join("?" for _ in FINAL_STATUSES)
        with self._lock:
            rows = self._db.execute(
                f"SELECT body FROM incidents WHERE status NOT IN ({placeholders}) AND service = ?"
                " ORDER BY opened_at",
                (*FINAL_STATUSES, service),
            ).fetchall()
        return [Incident.model_validate_json(row[0]) for row in rows]

    # guardrail ledger
    def log_action(self, key: str, incident_id: str, action: str, status: str, service: str = "") -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO action_log(key, incident_id, action, status, ts, service)"
                " VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET status=excluded.status, ts=excluded.ts",
                (key, incident_id, action, status, utcnow().isoformat(), service),
            )

    def actions_since(self, since: datetime, service: str | None = None) -> list[tuple[str, str, datetime]]:
        """(incident_id, action, ts) of every action sent since `since` (for one service, when given);
        `ts` is when the call was sent, then when it ended."""
        query = "SELECT incident_id, action, ts FROM action_log WHERE ts >= ?"
        args: tuple[str, ...] = (since.isoformat(),)
        if service is not None:
            query += " AND service = ?"
            args += (service,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY ts", args).fetchall()
        return [(row[0], row[1], datetime.fromisoformat(row[2])) for row in rows]

    def actions_in_last(self, seconds: float, service: str | None = None) -> list[tuple[str, str, datetime]]:
        return self.actions_since(utcnow() - timedelta(seconds=seconds), service)

    def open_follow_ups(self) -> list[tuple[str, str]]:
        """(service, diagnosis) of every follow-up still open."""
        with self._lock:
            rows = self._db.execute(
                "SELECT i.service, coalesce(i.diagnosis_id, 'unknown') FROM incidents i,"
                " json_each(i.body, '$.follow_ups') f WHERE json_extract(f.value, '$.status') = 'open'"
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    # alerts no catalog service owns
    def record_unowned(self, key: str, alertname: str, labels: dict[str, str], reason: str) -> bool:
        """Remember an alert nobody owns (the newest MAX_UNOWNED kept); True the first time it is seen."""
        now = utcnow().isoformat()
        with self._lock:
            known = self._db.execute("SELECT 1 FROM unowned_alerts WHERE key = ?", (key,)).fetchone()
            self._db.execute(
                "INSERT INTO unowned_alerts(key, alertname, labels, reason, first_seen, last_seen, count)"
                " VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT(key) DO UPDATE SET last_seen=excluded.last_seen,"
                " count=count+1",
                (key, alertname, json.dumps(labels), reason, now, now),
            )
            self._db.execute(
                "DELETE FROM unowned_alerts WHERE key NOT IN"
                " (SELECT key FROM unowned_alerts ORDER BY last_seen DESC LIMIT ?)",
                (MAX_UNOWNED,),
            )
        return known is None

    def unowned(self, limit: int = 20) -> tuple[int, list[dict[str, Any]]]:
        """How many distinct unowned alerts are remembered, and the newest `limit` of them."""
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM unowned_alerts").fetchone()[0]
            rows = self._db.execute(
                "SELECT alertname, labels, reason, first_seen, last_seen, count FROM unowned_alerts"
                " ORDER BY last_seen DESC LIMIT ?",
                (limit,),
            ).fetchall()
        recent = [
            {
                "alertname": r[0],
                "labels": json.loads(r[1]),
                "reason": r[2],
                "first_seen": r[3],
                "last_seen": r[4],
                "notifications": r[5],
            }
            for r in rows
        ]
        return int(total), recent

    # small persistent flags (the kill switch)
    def get_state(self, key: str) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM agent_state WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_state(self, key: str, value: Any) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO agent_state(key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, json.dumps(value)),
            )
