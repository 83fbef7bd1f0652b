"""restart-target in docker mode: docker-py against a stand-in Engine API whose container is the real target.

No Docker engine runs here: the stand-in serves the documented requests over a real unix socket, and
its "container" is `python -m lab.target` on a free port with its own data dir.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import requests
import urllib3
from docker.errors import DockerException
from fastapi.testclient import TestClient
from pydantic import SecretStr

from lab.action.app import create_app
from lab.action.config import Settings
from lab.action.docker_engine import engine_failure
from lab.runner.ports import free_port

from .engine_standin import API_VERSION, Call, Container, EngineStandIn

ROOT = Path(__file__).resolve().parents[3]
INIT = Path(__file__).with_name("init_standin.py")
TOKEN = "action-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NAME = "sre-target"


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """Short on purpose: a unix socket path must fit in 108 bytes, pytest's tmp_path may not."""
    path = Path(tempfile.mkdtemp(prefix="engine-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def port() -> int:
    return free_port()


def target_container(tmp_path: Path, port: int, init: bool = False) -> Container:
    data = tmp_path / "target-data"
    env = {
        **os.environ,
        "TARGET_PORT": str(port),
        "TARGET_DATA_DIR": str(data),
        "TARGET_LOG_FILE": str(tmp_path / "target.jsonl"),
        "TARGET_ADMIN_TOKEN": "admin-secret",
        "TARGET_DEPENDENCY_URL": f"http://127.0.0.1:{free_port()}",
    }
    argv = [sys.executable, "-m", "lab.target"]
    return Container(NAME, [sys.executable, str(INIT), *argv] if init else argv, env, ROOT, tmp_path / "out")


def wait_answering(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def engine_with(container: Container, socket_dir: Path, port: int) -> EngineStandIn:
    container.start()
    wait_answering(f"http://127.0.0.1:{port}/api/v1/health")
    return EngineStandIn(socket_dir / "docker.sock", [container])


@pytest.fixture
def engine(tmp_path: Path, socket_dir: Path, port: int) -> Iterator[EngineStandIn]:
    with engine_with(target_container(tmp_path, port), socket_dir, port).serve() as standin:
        yield standin


def docker_settings(tmp_path: Path, port: int, socket_path: Path, container: str = NAME) -> Settings:
    return Settings(
        token=SecretStr(TOKEN),
        target_url=f"http://127.0.0.1:{port}",
        target_db_path=tmp_path / "target-data" / "orders.db",
        data_dir=tmp_path / "action",
        restart_mode="docker",
        target_container=container,
        docker_socket=socket_path,
        stop_grace_seconds=1.5,  # the engine's `t` is whole seconds: 2
        restart_deadline_seconds=15,
        request_timeout_seconds=5,
    )


@pytest.fixture
def client(tmp_path: Path, port: int, engine: EngineStandIn) -> Iterator[TestClient]:
    with TestClient(create_app(docker_settings(tmp_path, port, engine.socket))) as test_client:
        yield test_client


def audit(client: TestClient) -> list[dict[str, object]]:
    return client.get("/action/audit", headers=AUTH).json()["records"]  # type: ignore[no-any-return]


def test_restart_target_restarts_the_container_through_the_engine_api(
    client: TestClient, engine: EngineStandIn, port: int
) -> None:
    container = engine.containers[0]
    old_pid = container.pid
    response = client.post("/action/restart-target", headers=AUTH)
    assert response.status_code == 200, response.text
    changes = response.json()["changes"]
    assert changes["old_pid"] == old_pid and changes["new_pid"] == container.pid != old_pid
    assert changes["old_exit_code"] is None  # the engine does not report how a stopped container ended
    assert old_pid is not None and not psutil.pid_exists(old_pid)
    assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5).status_code == 200
    prefix = f"/v{API_VERSION}/containers"
    assert engine.calls[:4] == [
        Call("GET", "/version", {}),  # docker-py's version="auto" negotiation
        Call("GET", f"{prefix}/{NAME}/json", {}),
        Call("POST", f"{prefix}/{NAME}/restart", {"t": "2"}),
        Call("GET", f"{prefix}/{NAME}/json", {}),
    ]
    assert {call.path for call in engine.calls[4:]} <= {f"{prefix}/{NAME}/json"}  # until it answers
    record = audit(client)[0]
    assert record["action"] == "restart-target" and record["status"] == "succeeded"


def test_an_exited_container_is_started_again(client: TestClient, engine: EngineStandIn, port: int) -> None:
    container = engine.containers[0]
    container.crash()
    response = client.post("/action/restart-target", headers=AUTH)
    assert response.status_code == 200, response.text
    changes = response.json()["changes"]
    assert changes["old_pid"] is None and changes["old_exit_code"] == 137
    assert changes["new_pid"] == container.pid
    assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5).status_code == 200


def test_an_engine_error_is_a_502_with_the_engines_message(client: TestClient, engine: EngineStandIn) -> None:
    pid = engine.containers[0].pid
    engine.restart_error = (500, "Cannot restart container sre-target: driver failed programming")
    response = client.post("/action/restart-target", headers=AUTH)
    assert response.status_code == 502 and response.json()["status"] == "failed"
    assert "500" in response.json()["detail"] and "driver failed programming" in response.json()["detail"]
    assert engine.containers[0].pid == pid
    assert audit(client)[0]["http_status"] == 502


def test_an_unknown_container_fails_restart_and_kill_blocking(
    tmp_path: Path, port: int, engine: EngineStandIn
) -> None:
    settings = docker_settings(tmp_path, port, engine.socket, container="sre-targte")
    with TestClient(create_app(settings)) as client:
        response = client.post("/action/restart-target", headers=AUTH)
        assert response.status_code == 502
        detail = response.json()["detail"]
        assert "no container 'sre-targte'" in detail and "No such container: sre-targte" in detail
        blocking = client.post("/action/kill-blocking-queries", headers=AUTH)
        assert blocking.status_code == 502 and "nothing terminated" in blocking.json()["detail"]
        assert [r["http_status"] for r in audit(client)] == [502, 502]


def test_kill_blocking_queries_spares_the_container_and_its_children(
    tmp_path: Path, socket_dir: Path, port: int
) -> None:
    """With compose's `init: true` the engine's State.Pid is the init; the target is its child."""
    container = target_container(tmp_path, port, init=True)
    with engine_with(container, socket_dir, port).serve() as engine:
        init_pid = container.pid
        assert init_pid is not None
        target_pid = psutil.Process(init_pid).children()[0].pid
        db = tmp_path / "target-data" / "orders.db"
        holder = subprocess.Popen(
            [sys.executable, "-m", "lab.chaos.lock_holder", str(db), "--seconds", "60"],
            stdout=subprocess.PIPE,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
            settings = docker_settings(tmp_path, port, engine.socket)
            with TestClient(create_app(settings)) as client:
                response = client.post("/action/kill-blocking-queries", headers=AUTH)
            assert response.status_code == 200, response.text
            changes = response.json()["changes"]
            assert [h["pid"] for h in changes["terminated"]] == [holder.pid]
            assert target_pid in [s["pid"] for s in changes["skipped"]]
            assert psutil.pid_exists(target_pid) and holder.wait(5) is not None
            assert Call("GET", f"/v{API_VERSION}/containers/{NAME}/json", {}) in engine.calls
        finally:
            holder.kill()
            holder.wait()


def test_a_missing_socket_is_a_503_and_the_server_still_starts(tmp_path: Path, socket_dir: Path) -> None:
    absent = socket_dir / "docker.sock"
    with TestClient(create_app(docker_settings(tmp_path, free_port(), absent))) as client:
        assert client.get("/health").status_code == 200
        response = client.post("/action/restart-target", headers=AUTH)
        assert response.status_code == 503
        assert response.json()["detail"] == f"no Docker socket at {absent}: mount the engine's socket there"
        assert audit(client)[0]["http_status"] == 503


def test_a_socket_nobody_listens_on_is_a_503(tmp_path: Path, socket_dir: Path) -> None:
    path = socket_dir / "docker.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # bound, never listening: connect() is refused, as after the engine died
    try:
        with TestClient(create_app(docker_settings(tmp_path, free_port(), path))) as client:
            response = client.post("/action/restart-target", headers=AUTH)
        assert response.status_code == 503 and "nothing answers" in response.json()["detail"]
    finally:
        stale.close()


def test_permission_denied_on_the_socket_names_the_socket() -> None:
    """Tests run as root, who may open any socket: this builds the chain docker-py raises for EACCES."""
    os_error = PermissionError(13, "Permission denied")
    raised = requests.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted.", os_error))
    try:
        raise DockerException(f"Error while fetching server API version: {raised}") from raised
    except DockerException as exc:
        failure = engine_failure(exc, Path("/var/run/docker.sock"), NAME, "inspect", 5)
    assert failure.http_status == 503
    assert failure.reason.startswith("permission denied on the Docker socket /var/run/docker.sock")
