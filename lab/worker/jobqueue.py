"""The job queue: a SQLite file (WAL), jobs ordered per partition (a Kafka partition, an SQS FIFO group).

A job's partition is crc32(key) % partitions, stable across processes (Python's `hash` is salted per
process), so one key's jobs always queue behind each other. A partition's head is its lowest-id job that
is ready or in flight; only a ready head whose retry time has come can be claimed, so a head is handled
by one consumer at a time and a job that keeps failing holds back its partition, and only its partition.
Every state change is conditional on the state it leaves: a job dead-lettered while a consumer works on
it is never committed as done. Writes in this process are serialised by one lock (no busy waits);
reads (the metrics) use their own connections, which WAL never blocks.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

BUSY_TIMEOUT_SECONDS = 5.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    partition INTEGER NOT NULL,
    key TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('ready', 'in_flight', 'done', 'dead_letter')),
    attempts INTEGER NOT NULL DEFAULT 0,
    enqueued_at REAL NOT NULL,
    available_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_pending ON jobs (partition, id) WHERE state IN ('ready', 'in_flight');
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, updated_at);
"""
PENDING = "state IN ('ready', 'in_flight')"
WAITING = "state IN ('ready', 'in_flight', 'dead_letter')"

Write = Callable[[sqlite3.Connection], object]
T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    id: int
    partition: int
    key: str
    payload: str
    attempts: int


@dataclass(frozen=True)
class QueueSnapshot:
    ready: int
    in_flight: int
    dead_letter: int
    oldest_enqueued_at: float | None


@dataclass(frozen=True)
class Head:
    """The job at the front of one partition."""

    partition: int
    job_id: int
    state: str
    attempts: int
    enqueued_at: float
    last_error: str | None


def partition_of(key: str, partitions: int) -> int:
    return zlib.crc32(key.encode()) % partitions


class JobQueue:
    def __init__(self, path: Path, partitions: int, extra_schema: str = "") -> None:
        self.path = path
        self.partitions = partitions
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._next_partition = 0
        self._conn().executescript(SCHEMA + extra_schema)

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; transactions are explicit)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` inside BEGIN IMMEDIATE … COMMIT under the write lock; rolled back if it raises."""
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    def enqueue(self, key: str, payload: str) -> tuple[int, int]:
        """Appends a job to its key's partition; returns (job id, partition)."""
        partition = partition_of(key, self.partitions)
        now = time.time()

        def insert(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO jobs (partition, key, payload, state, enqueued_at, available_at, updated_at)"
                " VALUES (?, ?, ?, 'ready', ?, ?, ?)",
                (partition, key, payload, now, now, now),
            )
            return int(cursor.lastrowid or 0)

        return self._transaction(insert), partition

    def recover(self) -> int:
        """On start: jobs the previous process left in flight were never committed; they are ready again."""

        def requeue(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "UPDATE jobs SET state = 'ready', updated_at = ? WHERE state = 'in_flight'", (time.time(),)
            ).rowcount

        return self._transaction(requeue)

    def claim(self) -> Job | None:
        """The next claimable partition head, now in flight; partitions are visited round-robin."""
        with self._write_lock:
            start = self._next_partition
            self._next_partition = (start + 1) % self.partitions
        order = [(start + i) % self.partitions for i in range(self.partitions)]

        def take(conn: sqlite3.Connection) -> Job | None:
            now = time.time()
            for partition in order:
                row = conn.execute(
                    f"SELECT id, key, payload, state, attempts, available_at FROM jobs"
                    f" WHERE partition = ? AND {PENDING} ORDER BY id LIMIT 1",
                    (partition,),
                ).fetchone()
                if row is None or row[3] != "ready" or row[5] > now:
                    continue
                conn.execute(
                    "UPDATE jobs SET state = 'in_flight', updated_at = ? WHERE id = ?", (now, row[0])
                )
                return Job(id=row[0], partition=partition, key=row[1], payload=row[2], attempts=row[4])
            return None

        return self._transaction(take)

    def complete(self, job_id: int, write: Write) -> bool:
        """Commits the job as done together with its `write`; False (nothing written) if it left in_flight."""

        def commit(conn: sqlite3.Connection) -> bool:
            done = conn.execute(
                "UPDATE jobs SET state = 'done', updated_at = ? WHERE id = ? AND state = 'in_flight'",
                (time.time(), job_id),
            ).rowcount
            if done:
                write(conn)
            return bool(done)

        return self._transaction(commit)

    def fail(self, job_id: int, error: str, backoff_seconds: float) -> int:
        """Ready again after the backoff, one more attempt; returns the attempts (0: it left in_flight)."""

        def retry(conn: sqlite3.Connection) -> int:
            now = time.time()
            row = conn.execute(
                "UPDATE jobs SET state = 'ready', attempts = attempts + 1, available_at = ?,"
                " last_error = ?, updated_at = ? WHERE id = ? AND state = 'in_flight' RETURNING attempts",
                (now + backoff_seconds, error[:500], now, job_id),
            ).fetchone()
            return int(row[0]) if row else 0

        return self._transaction(retry)

    def dead_letter(self, min_attempts: int) -> int:
        """Moves waiting jobs that failed at least `min_attempts` times to dead_letter; returns how many.

        A job being retried at this moment (in flight) counts as waiting: its consumer's commit will find
        it gone.
        """

        def move(conn: sqlite3.Connection) -> int:
            return conn.execute(
                f"UPDATE jobs SET state = 'dead_letter', updated_at = ? WHERE {PENDING} AND attempts >= ?",
                (time.time(), min_attempts),
            ).rowcount

        return self._transaction(move)

    def prune(self, older_than_seconds: float) -> int:
        """Deletes done jobs committed more than `older_than_seconds` ago, so the file stays small."""

        def delete(conn: sqlite3.Connection) -> int:
            cutoff = time.time() - older_than_seconds
            return conn.execute(
                "DELETE FROM jobs WHERE state = 'done' AND updated_at < ?", (cutoff,)
            ).rowcount

        return self._transaction(delete)

    def snapshot(self) -> QueueSnapshot:
        """Counts per state and the oldest waiting job, read in one transaction (never blocks the writers)."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            counts = dict(
                conn.execute(f"SELECT state, COUNT(*) FROM jobs WHERE {WAITING} GROUP BY state").fetchall()
            )
            oldest = conn.execute(f"SELECT MIN(enqueued_at) FROM jobs WHERE {PENDING}").fetchone()[0]
        finally:
            conn.execute("COMMIT")
        return QueueSnapshot(
            ready=counts.get("ready", 0),
            in_flight=counts.get("in_flight", 0),
            dead_letter=counts.get("dead_letter", 0),
            oldest_enqueued_at=oldest,
        )

    def heads(self) -> list[Head]:
        """The head of every partition that has one."""
        rows = (
            self._conn()
            .execute(
                f"SELECT j.partition, j.id, j.state, j.attempts, j.enqueued_at, j.last_error FROM jobs j"
                f" JOIN (SELECT partition, MIN(id) AS id FROM jobs WHERE {PENDING} GROUP BY partition) h"
                f" ON j.id = h.id ORDER BY j.partition"
            )
            .fetchall()
        )
        return [Head(*row) for row in rows]

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
