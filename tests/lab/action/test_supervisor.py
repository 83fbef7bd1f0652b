"""The action server supervising a real (stand-in) target process: start, restart, kill-blocking, stop."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from fastapi.testclient import TestClient

from lab.action.app import create_app
from lab.action.config import Settings
from lab.action.supervisor import target_environment
from lab.runner.ports import free_port

TOKEN = "action-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STANDIN = Path(__file__).with_name("reading_target.py")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "orders.db"
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    connection.commit()
    connection.close()
    return path


@pytest.fixture
def settings(tmp_path: Path, db: Path) -> Settings:
    port = free_port()
    return Settings(
        token=TOKEN,
        target_url=f"http://127.0.0.1:{port}",
        target_db_path=db,
        data_dir=tmp_path / "action",
        supervise_target=True,
        target_command=f"{sys.executable} {STANDIN} {db} {port}",
        target_output_file=tmp_path / "target.log",
        restart_deadline_seconds=10,
        stop_grace_seconds=2,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, target_env={"PATH": "/usr/bin:/bin"})) as test_client:
        yield test_client


def _wait_reachable(client: TestClient, reachable: bool = True) -> None:
    for _ in range(100):
        if client.get("/action/verify-target-health", headers=AUTH).json()["reachable"] is reachable:
            return
        time.sleep(0.05)
    raise AssertionError(f"the stand-in target never became reachable={reachable}")


def test_supervised_target_starts_restarts_and_stops(settings: Settings) -> None:
    with TestClient(create_app(settings, target_env={"PATH": "/usr/bin:/bin"})) as client:
        first = int(settings.pid_file().read_text())
        assert psutil.pid_exists(first)
        restarted = client.post("/action/restart-target", headers=AUTH)
        assert restarted.status_code == 200, restarted.text
        changes = restarted.json()["changes"]
        assert changes["old_pid"] == first and changes["new_pid"] != first
        assert not psutil.pid_exists(first)
        second = int(settings.pid_file().read_text())
        assert second == changes["new_pid"]
        assert client.get("/action/verify-target-health", headers=AUTH).json()["is_healthy"] is True
    assert not psutil.pid_exists(second)
    assert not settings.pid_file().exists()


def test_a_crashed_target_stays_down_until_restarted(client: TestClient, settings: Settings) -> None:
    _wait_reachable(client)
    pid = int(settings.pid_file().read_text())
    psutil.Process(pid).kill()
    _wait_reachable(client, reachable=False)
    restarted = client.post("/action/restart-target", headers=AUTH)
    assert restarted.status_code == 200 and restarted.json()["changes"]["old_exit_code"] == -9


def test_kill_blocking_queries_spares_the_target(client: TestClient, settings: Settings, db: Path) -> None:
    _wait_reachable(client)
    target_pid = int(settings.pid_file().read_text())
    holder = subprocess.Popen(
        [sys.executable, "-m", "lab.chaos.lock_holder", str(db), "--seconds", "60"], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        response = client.post("/action/kill-blocking-queries", headers=AUTH)
        assert response.status_code == 200
        changes = response.json()["changes"]
        assert [h["pid"] for h in changes["terminated"]] == [holder.pid]
        assert target_pid in [s["pid"] for s in changes["skipped"]]
        assert str(holder.pid) in response.json()["detail"]
        # how many were ended and for how long they held, never their command lines or the database's path
        audit = client.get("/action/audit", headers=AUTH).text
        for answer in (response.text, audit):
            assert "lock_holder" not in answer and str(db) not in answer and "command" not in answer
        assert holder.wait(5) is not None
        assert psutil.pid_exists(target_pid)
    finally:
        holder.kill()
        holder.wait()


def test_target_env_drops_our_secrets_and_reads_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "target.env"
    env_file.write_text("# comment\nTARGET_PORT=8123\nTARGET_ADMIN_TOKEN='abc'\n")
    env = target_environment({"ACTION_TOKEN": "x", "TARGET_DATA_DIR": "/d", "PATH": "/bin"}, env_file)
    assert env == {
        "TARGET_DATA_DIR": "/d",
        "PATH": "/bin",
        "TARGET_PORT": "8123",
        "TARGET_ADMIN_TOKEN": "abc",
    }
