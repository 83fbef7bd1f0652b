"""What uvicorn bounds for the agent process (`python -m agent`), and what it does not: oversized headers,
idle keep-alive connections, the connection cap, and the slow client it cannot time out."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lab.agent_process import ROOT, AgentProcess
from lab.runner.ports import free_port

KEEP_ALIVE = 1


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    data = Path(tmp_path_factory.mktemp("limits"))
    env = {
        "PORT": str(free_port()),
        "WEBHOOK_TOKEN": "hook-secret",
        "API_TOKEN": "api-secret",
        "PROMETHEUS_URL": "http://127.0.0.1:9",
        "AGENT_DATA_DIR": str(data / "agent"),
        "VECTOR_STORE_PATH": str(data / "knowledge.json"),
        "RUNBOOKS_PATH": str(ROOT / "runbooks"),
        "EMBEDDING_MODEL": "",
        "PROPOSED_RUNBOOKS_ENABLED": "false",
        "SERVER_KEEP_ALIVE_SECONDS": str(KEEP_ALIVE),
        "SERVER_MAX_CONNECTIONS": "4",
        "SERVER_MAX_HEADER_BYTES": "2048",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    process = AgentProcess(env, data / "agent.log")
    process.start(timeout=60)
    yield process
    process.stop()


def connect(agent: AgentProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", int(agent.env["PORT"])), timeout=5)


def closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    return True


def test_a_request_head_that_grows_past_the_limit_is_refused(agent: AgentProcess) -> None:
    """h11 buffers at most SERVER_MAX_HEADER_BYTES of a head not yet complete: headers without end cost
    that much memory, then a 400 (a complete head read in one go is bounded by the read size instead)."""
    with connect(agent) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"x" * 4096)
        assert sock.recv(65536).startswith(b"HTTP/1.1 400")
    assert httpx.get(f"{agent.url}/health", timeout=5).status_code == 200


def test_an_idle_keep_alive_connection_is_closed(agent: AgentProcess) -> None:
    with connect(agent) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert closed_within(sock, KEEP_ALIVE + 3)


def test_past_the_connection_cap_a_request_gets_503_and_a_slow_client_is_not_timed_out(
    agent: AgentProcess,
) -> None:
    """Half-sent requests hold their connections past any keep-alive (uvicorn has no header deadline) and
    count towards SERVER_MAX_CONNECTIONS: why docs/security.md wants a proxy in front of untrusted clients."""
    slow = [connect(agent) for _ in range(4)]
    try:
        for sock in slow:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the blank line never comes
        assert httpx.get(f"{agent.url}/health", timeout=5).status_code == 503
        assert not closed_within(slow[0], KEEP_ALIVE + 1.5)
    finally:
        for sock in slow:
            sock.close()
    deadline = time.monotonic() + 5
    while httpx.get(f"{agent.url}/health", timeout=5).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
