"""The lock holder really blocks writers, and kill-blocking-queries really finds and ends it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from fastapi.testclient import TestClient

from lab.action.blocking import find_lock_holders, kill_blocking, parse_proc_locks
from lab.chaos.app import create_app
from lab.chaos.config import Settings


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "orders.db"
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)")
    connection.commit()
    connection.close()
    yield path


@pytest.fixture
def holder(db: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "lab.chaos.lock_holder", str(db), "--seconds", "60"], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"locked"
    yield process
    process.kill()
    process.wait()


def _write(db: Path, timeout: float = 0.2) -> None:
    connection = sqlite3.connect(db, timeout=timeout)
    try:
        connection.execute("INSERT INTO orders (item) VALUES ('widget')")
        connection.commit()
    finally:
        connection.close()


def test_the_holder_blocks_writers_and_kill_blocking_ends_it(
    db: Path, holder: subprocess.Popen[bytes]
) -> None:
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _write(db)
    holders = find_lock_holders(db)
    assert holder.pid in [h.pid for h in holders]

    result = kill_blocking(db, protected=set())
    assert [h.pid for h in result.terminated] == [holder.pid]
    assert result.terminated[0].held_seconds is not None
    assert "lab.chaos.lock_holder" in result.terminated[0].command
    holder.wait(5)
    _write(db)
    assert sqlite3.connect(db).execute("SELECT count(*) FROM orders").fetchone() == (1,)


def test_protected_and_young_processes_are_left_alone(db: Path, holder: subprocess.Popen[bytes]) -> None:
    protected = kill_blocking(db, protected={holder.pid})
    assert protected.terminated == [] and protected.skipped[0].pid == holder.pid
    young = kill_blocking(db, protected=set(), min_age_seconds=3600)
    assert young.terminated == [] and "younger" in young.skipped[0].reason
    assert holder.poll() is None


def test_our_own_connection_is_never_a_victim(db: Path) -> None:
    connection = sqlite3.connect(db)
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = kill_blocking(db, protected=set())
        assert result.terminated == []
        assert [h.pid for h in result.holders] == [os.getpid()]
    finally:
        connection.rollback()
        connection.close()


def test_parse_proc_locks_reads_posix_lines_and_waiters() -> None:
    text = (
        "1: POSIX  ADVISORY  WRITE 14248 fe:00:2148207 120 120\n"
        "2: -> POSIX  ADVISORY  WRITE 99 fe:00:2148207 120 120\n"
        "3: OFDLCK ADVISORY  READ  -1 00:2c:5678 128 128\n"
        "garbage\n"
    )
    entries = parse_proc_locks(text)
    assert [(e.pid, e.mode, e.device, e.inode) for e in entries] == [
        (14248, "WRITE", (0xFE, 0), 2148207),
        (99, "WRITE", (0xFE, 0), 2148207),
    ]


def test_slow_queries_attack_spawns_the_holder_and_stop_ends_it(db: Path) -> None:
    with TestClient(create_app(Settings(target_db_path=db))) as client:
        attack = client.post("/api/v1/break/slow_queries", json={"hold_seconds": 30}).json()
        pid = attack["details"]["lock_holder_pid"]
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _write(db)
        stopped = client.post(f"/api/v1/break/slow_queries/{attack['attack_id']}/stop")
        assert stopped.status_code == 200
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        _write(db)
        again = client.post("/api/v1/break/slow_queries", json={"hold_seconds": 30})
        assert again.status_code == 200
    # leaving the app stops what is still active
    assert not psutil.pid_exists(again.json()["details"]["lock_holder_pid"])


def test_slow_queries_without_a_database_is_502(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(target_db_path=tmp_path / "none.db"))) as client:
        response = client.post("/api/v1/break/slow_queries")
    assert response.status_code == 502 and "no database" in response.json()["detail"]
