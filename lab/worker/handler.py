"""What a job does: parse its payload, call downstream, and add the amount to the key's balance.

A payload the handler cannot process raises ValueError with a plain message; the consumer retries it,
so such a message stays at the head of its partition until someone moves it aside. The balance write
commits in the same transaction as the job, so a job's effect is applied once.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from typing import Any

from lab.worker.jobqueue import Job, Write

SCHEMA = """
CREATE TABLE IF NOT EXISTS balances (
    key TEXT PRIMARY KEY,
    total REAL NOT NULL,
    jobs INTEGER NOT NULL
);
"""
SIGNS = {"invoice": 1.0, "refund": -1.0}


class ConsumerStopped(Exception):
    """The process is shutting down: the job is left in flight, to be handed out again after the restart."""


class Downstream:
    """The call each job makes to do its work, `seconds` long (a stand-in for a remote service).

    After `stall()` every call from then on blocks until the process shuts down: nothing times out,
    nothing fails, the consumers just never come back.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._stalled = threading.Event()
        self._closing = threading.Event()

    def stall(self) -> None:
        self._stalled.set()

    def close(self) -> None:
        self._closing.set()

    def call(self) -> None:
        if self._stalled.is_set():
            self._closing.wait()
        if self._closing.wait(self.seconds):
            raise ConsumerStopped


def parse_amount(payload: dict[str, Any]) -> float:
    amount = payload.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise ValueError(f"amount must be a number, got {type(amount).__name__}")
    if not math.isfinite(amount):
        raise ValueError("amount must be finite")
    return float(amount)


class JobHandler:
    def __init__(self, downstream: Downstream) -> None:
        self._downstream = downstream

    def process(self, job: Job) -> Write:
        """Does the work; returns the write to commit with the job. Raises ValueError for a bad payload."""
        try:
            payload = json.loads(job.payload)
        except ValueError:
            raise ValueError("payload is not valid JSON") from None
        if not isinstance(payload, dict):
            raise ValueError("payload must be a JSON object")
        kind = payload.get("kind")
        if kind not in SIGNS:
            raise ValueError(f"unknown job kind {str(kind)[:40]!r}")
        amount = SIGNS[kind] * parse_amount(payload)
        self._downstream.call()

        def add_to_balance(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO balances (key, total, jobs) VALUES (?, ?, 1)"
                " ON CONFLICT (key) DO UPDATE SET total = total + excluded.total, jobs = jobs + 1",
                (job.key, amount),
            )

        return add_to_balance
